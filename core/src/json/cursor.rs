//! A validating JSON cursor for the hot paths: skips values (checking them
//! against the JSON grammar exactly as serde_json does) and reads strings in
//! place, without serde's visitor machinery.
//!
//! It is conservative: every method returns `None` on anything it does not
//! handle, malformed JSON *or* merely unusual JSON (a control character in
//! a string, nesting deeper than [`Cursor::MAX_DEPTH`]). Callers then fall
//! back to serde_json, which gives the authoritative answer and error
//! message. So `Some` means "serde_json would accept this too, with the same
//! result"; `None` means "ask serde_json".

use std::borrow::Cow;

use super::Str;

/// Bytes with every lane set to `b`.
const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}
const LO: u64 = splat(0x01);
const HI: u64 = splat(0x80);

/// Whether `b` holds a byte below 0x20 (a control character). Per target,
/// as memchr does: where the compiler has SIMD to vectorize with, blocks of
/// 64 bytes OR-folded branch-free ([`has_control_folded`]); on wasm32, which
/// must stay SIMD-free for Fluent Bit's runtime and would otherwise test one
/// byte at a time, eight bytes per 64-bit word ([`has_control_swar`]).
#[inline]
fn has_control(b: &[u8]) -> bool {
    if cfg!(target_arch = "wasm32") {
        has_control_swar(b)
    } else {
        has_control_folded(b)
    }
}

fn has_control_folded(b: &[u8]) -> bool {
    let blocks = b.chunks_exact(64);
    let tail = blocks.remainder();
    blocks.into_iter().any(|c| c.iter().fold(0u8, |m, &x| m | u8::from(x < 0x20)) != 0)
        || tail.iter().any(|&x| x < 0x20)
}

/// Whether `b` holds a `\n` or `\r`. memchr2 where memchr has a vector
/// backend; on wasm32 (SIMD-free, and memchr's portable fallback works on
/// 32-bit words there) eight bytes per 64-bit word.
#[inline]
pub(crate) fn has_line_break(b: &[u8]) -> bool {
    if cfg!(target_arch = "wasm32") {
        has_line_break_swar(b)
    } else {
        memchr::memchr2(b'\n', b'\r', b).is_some()
    }
}

/// "Has a zero byte" of `w ^ "\n"×8` and `w ^ "\r"×8`: exact as a yes/no
/// answer.
fn has_line_break_swar(b: &[u8]) -> bool {
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let word = |c: &[u8]| c.try_into().map_or(0, u64::from_le_bytes);
    let blocks = b.chunks_exact(8);
    let tail = blocks.remainder();
    blocks.into_iter().any(|c| {
        let w = word(c);
        zero(w ^ splat(b'\n')) | zero(w ^ splat(b'\r')) != 0
    }) || tail.iter().any(|&x| x == b'\n' || x == b'\r')
}

/// "Has a byte less than 0x20" for eight bytes at a time (exact as a yes/no
/// answer for any bound up to 0x80), the words of a 32-byte block OR-ed
/// before the one branch.
fn has_control_swar(b: &[u8]) -> bool {
    let less = |w: u64| w.wrapping_sub(splat(0x20)) & !w & HI;
    let word = |c: &[u8]| c.try_into().map_or(0, u64::from_le_bytes);
    let blocks = b.chunks_exact(32);
    let tail = blocks.remainder();
    blocks.into_iter().any(|c| c.chunks_exact(8).fold(0, |m, w| m | less(word(w))) != 0)
        || tail.iter().any(|&x| x < 0x20)
}

/// The "has a zero byte" test for `"` and `\` in eight bytes: the lowest
/// flagged lane is exact; lanes above it may be false positives and are
/// never looked at.
#[inline(always)]
fn stops(w: u64) -> u64 {
    let q = w ^ splat(b'"');
    let s = w ^ splat(b'\\');
    ((q.wrapping_sub(LO) & !q) | (s.wrapping_sub(LO) & !s)) & HI
}

/// [`stops`] over sixteen bytes (two words; the borrows that cause false
/// positives do not cross from the low word into the high one, so the
/// lowest flagged lane of the pair is exact).
#[inline(always)]
fn stops16(w: [u8; 16]) -> u128 {
    let v = u128::from_le_bytes(w);
    u128::from(stops(v as u64)) | u128::from(stops((v >> 64) as u64)) << 64
}

/// Sixteen bytes of `b` at `i`, if there are that many.
#[inline(always)]
fn block16(b: &[u8], i: usize) -> Option<[u8; 16]> {
    b.get(i..i.checked_add(16)?).and_then(|c| <[u8; 16]>::try_from(c).ok())
}

/// Offset of the first `"` or `\` in `b` at or after `i`: sixteen bytes at
/// a time, the first block inline (two JSON strings in three are shorter
/// than that in audit events).
#[inline(always)]
fn quote_or_backslash(b: &[u8], i: usize) -> Option<usize> {
    if let Some(w) = block16(b, i) {
        let hit = stops16(w);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        return quote_or_backslash_far(b, i + 16);
    }
    quote_or_backslash_far(b, i)
}

#[inline(never)]
fn quote_or_backslash_far(b: &[u8], mut i: usize) -> Option<usize> {
    while let Some(w) = block16(b, i) {
        let hit = stops16(w);
        if hit != 0 {
            return Some(i + (hit.trailing_zeros() / 8) as usize);
        }
        i += 16;
    }
    while let Some(&c) = b.get(i) {
        if c == b'"' || c == b'\\' {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// The value of four hex digits.
#[inline]
fn hex4(h: &[u8]) -> Option<u16> {
    h.iter().try_fold(0u16, |v, &c| Some(v << 4 | (c as char).to_digit(16)? as u16))
}

/// The text of a string's contents (between the quotes, escapes already
/// validated by [`Cursor::string`]) with its escapes decoded. Surrogate
/// pairs are joined; a lone surrogate gives `None`.
fn unescape(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'\\', b.get(i..)?) {
        out.push_str(raw.get(i..i + k)?);
        i += k;
        let c = match b.get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(b.get(i + 2..i + 6)?)?;
                i += 6;
                let code = match hi {
                    0xD800..=0xDBFF => {
                        if b.get(i..i + 2) != Some(b"\\u") {
                            return None;
                        }
                        let lo = hex4(b.get(i + 2..i + 6)?)?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return None;
                        }
                        i += 6;
                        0x10000 + ((u32::from(hi) - 0xD800) << 10) + (u32::from(lo) - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    v => u32::from(v),
                };
                out.push(char::from_u32(code)?);
                continue;
            }
            _ => return None,
        };
        out.push(c);
        i += 2;
    }
    out.push_str(raw.get(i..)?);
    Some(out)
}

/// The value of a JSON string, given its text (quotes included) already
/// validated as a JSON string (by serde_json or by a [`Cursor`]): borrowed
/// when it holds no escapes, unescaped into a copy when it does — what
/// serde_json reads into a [`Str`]. `None` when it is not a string, or
/// holds a lone surrogate escape (serde_json refuses it; ask serde_json for
/// the error).
pub(crate) fn validated_str(text: &str) -> Option<Str<'_>> {
    let raw = text.strip_prefix('"')?.strip_suffix('"')?;
    // A valid string's contents hold no bare `"`: the search stops at
    // backslashes only.
    if quote_or_backslash(raw.as_bytes(), 0).is_none() {
        return Some(Str(Cow::Borrowed(raw)));
    }
    unescape_valid(raw).map(|u| Str(Cow::Owned(u)))
}

/// [`unescape`] for the contents of a string already validated, tuned for
/// dense two-byte escapes (JSON text inside a JSON string, where every
/// quote is escaped): eight bytes are copied at a time and cut back at the
/// first backslash, found with the SWAR zero-byte test. A `\u` escape hands
/// the rest to [`unescape`].
fn unescape_valid(raw: &str) -> Option<String> {
    let b = raw.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(b.len() + 8);
    let mut i = 0;
    loop {
        if let Some(w) = b.get(i..i + 8).and_then(|c| <[u8; 8]>::try_from(c).ok()) {
            let x = u64::from_le_bytes(w) ^ splat(b'\\');
            let hit = x.wrapping_sub(LO) & !x & HI;
            out.extend_from_slice(&w);
            if hit == 0 {
                i += 8;
                continue;
            }
            // The lowest flagged lane is the first backslash (exact).
            let k = (hit.trailing_zeros() / 8) as usize;
            out.truncate(out.len() - (8 - k));
            i += k;
        } else {
            match b.get(i) {
                None => break,
                Some(&c) if c != b'\\' => {
                    out.push(c);
                    i += 1;
                    continue;
                }
                Some(_) => {}
            }
        }
        // `b[i]` is a backslash.
        let c = match b.get(i + 1)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            _ => {
                out.extend_from_slice(unescape(raw.get(i..)?)?.as_bytes());
                return String::from_utf8(out).ok();
            }
        };
        out.push(c);
        i += 2;
    }
    String::from_utf8(out).ok()
}

/// The end (after the closing quote) of a string in text known to be valid
/// JSON, from `i` inside it: escapes are stepped over, not checked again (a
/// `\u` escape's four hex digits hold no `"` or `\`).
#[inline(always)]
fn valid_string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i = quote_or_backslash(b, i)?;
        if b.get(i) == Some(&b'"') {
            return Some(i + 1);
        }
        i += 2;
    }
}

/// A position in JSON text that holds no control character (see
/// [`Cursor::new`]).
pub struct Cursor<'a> {
    text: &'a str,
    b: &'a [u8],
    /// The next byte to read.
    pub i: usize,
    /// Whether a `\u` escape of a UTF-16 surrogate (`\ud800`–`\udfff`)
    /// was read: only then can the text hold a lone surrogate
    /// ([`super::lone_surrogate`]).
    pub surrogates: bool,
    /// Whether any `\u` escape was read (keys and values alike); its
    /// reader resets it before the value it asks about.
    pub unicode_escapes: bool,
    /// How many levels of arrays and objects [`Cursor::skip`] may open (the
    /// value it starts on counts as one); deeper values give `None`. At most
    /// [`Cursor::MAX_DEPTH`]; see [`Cursor::set_room`].
    room: u32,
}

impl<'a> Cursor<'a> {
    /// Nesting the skipper follows (the levels below the value it starts
    /// on); deeper values are left to serde_json.
    pub const MAX_DEPTH: u32 = 127;

    /// A cursor at the start of `text`; `None` when `text` holds a control
    /// character (below 0x20) anywhere, even as whitespace: strings are then
    /// only searched for their closing quote and escapes (a raw control
    /// character inside a string is an error serde_json reports). Compact
    /// JSON — every line an apiserver writes — has none.
    pub fn new(text: &'a str) -> Option<Self> {
        if has_control(text.as_bytes()) {
            return None;
        }
        Some(Cursor {
            text,
            b: text.as_bytes(),
            i: 0,
            surrogates: false,
            unicode_escapes: false,
            room: Self::MAX_DEPTH,
        })
    }

    /// Let [`Cursor::skip`] open at most `levels` levels of arrays and
    /// objects (capped at [`Cursor::MAX_DEPTH`]). A caller that knows at
    /// which level of the record a skipped value starts uses this to refuse
    /// exactly the records nested deeper than a limit.
    #[inline]
    pub fn set_room(&mut self, levels: u32) {
        self.room = levels.min(Self::MAX_DEPTH);
    }

    /// The levels [`Cursor::skip`] may open (see [`Cursor::set_room`]).
    #[inline]
    pub fn room(&self) -> u32 {
        self.room
    }

    /// A cursor at the start of `text`, which must be a slice of a text
    /// [`Cursor::new`] accepted (so it holds no control character either;
    /// only then are its strings read correctly). For navigating inside a
    /// value already validated, without checking its bytes again.
    pub fn within(text: &'a str) -> Self {
        Cursor { text, b: text.as_bytes(), i: 0, surrogates: false, unicode_escapes: false, room: Self::MAX_DEPTH }
    }

    /// Read a number at the cursor, validated as [`Cursor::skip`] does: its
    /// text.
    pub fn number_text(&mut self) -> Option<&'a str> {
        let start = self.i;
        self.number()?;
        self.text.get(start..self.i)
    }

    /// Read `true` or `false` at the cursor.
    pub fn bool(&mut self) -> Option<bool> {
        if self.literal(b"true").is_some() {
            return Some(true);
        }
        self.literal(b"false").map(|()| false)
    }

    /// Whether the cursor is at the end of the text.
    pub fn at_end(&self) -> bool {
        self.i >= self.b.len()
    }

    /// Skip JSON whitespace (only spaces can occur: see [`Cursor::new`]).
    #[inline(always)]
    pub fn ws(&mut self) {
        while self.b.get(self.i) == Some(&b' ') {
            self.i += 1;
        }
    }

    /// The next byte, not consumed.
    #[inline(always)]
    pub fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Consume `c` if it is the next byte.
    #[inline(always)]
    pub fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    /// Consume `lit` (`true`, `false`, `null`) if it comes next.
    #[inline(always)]
    fn literal(&mut self, lit: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + lit.len()) == Some(lit) {
            self.i += lit.len();
            Some(())
        } else {
            None
        }
    }

    /// Consume `null` if it comes next (after whitespace).
    #[inline(always)]
    pub fn null(&mut self) -> bool {
        self.literal(b"null").is_some()
    }

    /// Read a string at the cursor (on its opening quote): the range of its
    /// contents and whether it holds escapes. Escapes are validated as
    /// serde_json validates them.
    #[inline(always)]
    pub fn string(&mut self) -> Option<(usize, usize, bool)> {
        if self.b.get(self.i) != Some(&b'"') {
            return None;
        }
        let start = self.i + 1;
        let end = quote_or_backslash(self.b, start)?;
        if self.b.get(end) == Some(&b'"') {
            self.i = end + 1;
            return Some((start, end, false));
        }
        self.escaped_string(start, end)
    }

    /// The rest of a string from its first escape at `i`.
    #[inline(never)]
    fn escaped_string(&mut self, start: usize, mut i: usize) -> Option<(usize, usize, bool)> {
        loop {
            match self.b.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                b'u' => {
                    let v = hex4(self.b.get(i + 2..i + 6)?)?;
                    self.surrogates |= (0xD800..=0xDFFF).contains(&v);
                    self.unicode_escapes = true;
                    i += 6;
                }
                _ => return None,
            }
            i = quote_or_backslash(self.b, i)?;
            if self.b.get(i) == Some(&b'"') {
                self.i = i + 1;
                return Some((start, i, true));
            }
        }
    }

    /// Read a string value as a [`Str`]: borrowed when it holds no escapes,
    /// unescaped into a copy when it does (as serde_json does; a lone
    /// surrogate, which serde_json refuses, gives `None`).
    #[inline(always)]
    pub fn str(&mut self) -> Option<Str<'a>> {
        let (s, e, escaped) = self.string()?;
        let raw = self.text.get(s..e)?;
        if !escaped {
            return Some(Str(Cow::Borrowed(raw)));
        }
        unescape(raw).map(|u| Str(Cow::Owned(u)))
    }

    /// `null` (→ `Some(None)`) or a string.
    #[inline(always)]
    pub fn opt_str(&mut self) -> Option<Option<Str<'a>>> {
        if self.null() {
            return Some(None);
        }
        self.str().map(Some)
    }

    /// An object key without escapes (a key with escapes gives `None`: the
    /// caller cannot compare it without unescaping), and the `:` after it.
    #[inline(always)]
    pub fn key(&mut self) -> Option<&'a [u8]> {
        let (s, e, escaped) = self.string()?;
        if escaped {
            return None;
        }
        self.colon()?;
        self.b.get(s..e)
    }

    /// The `:` after a key, and the whitespace around it (compact JSON has
    /// none: then this is one compare and one test for a space).
    #[inline(always)]
    fn colon(&mut self) -> Option<()> {
        if !self.eat(b':') {
            self.ws();
            if !self.eat(b':') {
                return None;
            }
        }
        self.ws();
        Some(())
    }

    /// Any object key (escapes allowed) and the `:` after it.
    #[inline]
    fn any_key(&mut self) -> Option<()> {
        self.string()?;
        self.colon()
    }

    /// After a member or element: `,` (→ `Some(true)`, more follow) or the
    /// closing byte (→ `Some(false)`).
    #[inline(always)]
    pub fn next(&mut self, close: u8) -> Option<bool> {
        let mut c = self.peek()?;
        if c == b' ' {
            self.ws();
            c = self.peek()?;
        }
        match c {
            b',' => {
                self.i += 1;
                self.ws();
                Some(true)
            }
            c if c == close => {
                self.i += 1;
                Some(false)
            }
            _ => None,
        }
    }

    /// Open an object: `{`; `Some(false)` when it is empty (and consumed).
    #[inline(always)]
    pub fn open(&mut self, open: u8, close: u8) -> Option<bool> {
        if !self.eat(open) {
            return None;
        }
        self.ws();
        Some(!self.eat(close))
    }

    /// A JSON number, validated as serde_json's `ignore_number` does.
    fn number(&mut self) -> Option<()> {
        self.eat(b'-');
        let digit = |c: Option<&u8>| matches!(c, Some(b'0'..=b'9'));
        match self.peek()? {
            b'0' => {
                self.i += 1;
                if digit(self.b.get(self.i)) {
                    return None;
                }
            }
            b'1'..=b'9' => {
                while digit(self.b.get(self.i)) {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if self.eat(b'.') {
            if !digit(self.b.get(self.i)) {
                return None;
            }
            while digit(self.b.get(self.i)) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if !digit(self.b.get(self.i)) {
                return None;
            }
            while digit(self.b.get(self.i)) {
                self.i += 1;
            }
        }
        Some(())
    }

    /// A non-negative integer that fits an `i64`, written plainly (`0` or
    /// no leading zero, no fraction or exponent): what serde_json reads into
    /// an `i64` the same way. Anything else (negative numbers too) gives `None`.
    pub fn plain_i64(&mut self) -> Option<i64> {
        let start = self.i;
        let mut n: i64 = 0;
        while let Some(&c @ b'0'..=b'9') = self.b.get(self.i) {
            n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
            self.i += 1;
        }
        let len = self.i - start;
        if len == 0 || (len > 1 && self.b.get(start) == Some(&b'0')) {
            return None;
        }
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        Some(n)
    }

    /// Skip one value of a text known to be valid JSON (a slice of a text
    /// serde_json or this cursor validated, see [`Cursor::within`]),
    /// without validating it again: strings are searched for their closing
    /// quote only, containers by counting brackets outside strings. On text
    /// that is not valid JSON the position it stops at is unspecified (it
    /// never panics).
    pub fn skip_valid(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i = valid_string_end(self.b, self.i + 1)?;
                return Some(());
            }
            b'{' | b'[' => {}
            _ => {
                // A number or a literal: up to the byte that ends it.
                while !matches!(self.peek(), None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')) {
                    self.i += 1;
                }
                return Some(());
            }
        }
        let mut depth = 0u32;
        loop {
            match self.peek()? {
                b'"' => self.i = valid_string_end(self.b, self.i + 1)?,
                b'{' | b'[' => {
                    depth += 1;
                    self.i += 1;
                }
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    self.i += 1;
                    if depth == 0 {
                        return Some(());
                    }
                }
                _ => self.i += 1,
            }
        }
    }

    /// [`Cursor::skip_valid`], giving the value's text.
    pub fn raw_valid(&mut self) -> Option<&'a str> {
        let start = self.i;
        self.skip_valid()?;
        self.text.get(start..self.i)
    }

    /// Skip one value (after any whitespace), validating it; the text of
    /// the value itself.
    pub fn raw(&mut self) -> Option<&'a str> {
        let start = self.i;
        self.skip()?;
        self.text.get(start..self.i)
    }

    /// Skip one value at the cursor, validating it. Iterative: the kind of
    /// each open container is one bit of a `u128`.
    pub fn skip(&mut self) -> Option<()> {
        let mut objects: u128 = 0;
        let mut depth: u32 = 0;
        loop {
            // A value.
            match self.peek()? {
                b'"' => {
                    self.string()?;
                }
                c @ (b'{' | b'[') => {
                    let close = if c == b'{' { b'}' } else { b']' };
                    if depth >= self.room {
                        return None;
                    }
                    if self.open(c, close)? {
                        if c == b'{' {
                            objects |= 1 << depth;
                            self.any_key()?;
                        } else {
                            objects &= !(1 << depth);
                        }
                        depth += 1;
                        continue;
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            // After a value: close containers until one has a next member.
            loop {
                if depth == 0 {
                    return Some(());
                }
                let object = objects >> (depth - 1) & 1 == 1;
                if self.next(if object { b'}' } else { b']' })? {
                    if object {
                        self.any_key()?;
                    }
                    break;
                }
                depth -= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_line_break_tests_agree() {
        for len in [0usize, 1, 7, 8, 9, 16, 23] {
            for bg in [b' ', 0x0b, 0x0c, 0x0e, 0x8a, 0x8d, 0xff] {
                let mut b = vec![bg; len];
                assert!(!has_line_break_swar(&b));
                for at in 0..len {
                    for v in 0..=255u8 {
                        b[at] = v;
                        let want = memchr::memchr2(b'\n', b'\r', &b).is_some();
                        assert_eq!(has_line_break_swar(&b), want, "len {len} bg {bg:#x} at {at} v {v:#x}");
                        assert_eq!(has_line_break(&b), want);
                    }
                    b[at] = bg;
                }
            }
        }
    }

    #[test]
    fn both_control_character_tests_agree() {
        // Every byte value at every offset of blocks and tails, over a
        // background of each printable edge value (synthetic).
        for len in [0usize, 1, 7, 8, 31, 32, 33, 64, 65, 100] {
            for bg in [b' ', b'~', 0x7f, 0x80, 0xff, b'"'] {
                let mut b = vec![bg; len];
                assert_eq!(has_control_swar(&b), has_control_folded(&b), "len {len} bg {bg:#x}");
                for at in 0..len {
                    for v in 0..=255u8 {
                        b[at] = v;
                        let want = has_control_folded(&b);
                        assert_eq!(want, v < 0x20 || bg < 0x20);
                        assert_eq!(has_control_swar(&b), want, "len {len} bg {bg:#x} at {at} v {v:#x}");
                    }
                    b[at] = bg;
                }
            }
        }
    }

    /// The cursor accepts exactly what serde_json accepts (or defers).
    fn agrees(text: &str) {
        let serde_ok = serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok();
        let Some(mut c) = Cursor::new(text) else { return };
        c.ws();
        let ours = c.skip().is_some() && {
            c.ws();
            c.at_end()
        };
        if ours {
            assert!(serde_ok, "cursor accepted what serde_json refuses: {text:?}");
        }
    }

    #[test]
    fn validates_like_serde_json() {
        let ok = [
            r#"{"a":[1,-2.5e+3,0,0.0,true,false,null,"x\"y\\z\u00e9"],"b":{},"c":[]}"#,
            r#"  { "a" : [ 1 , { "b" : "c" } ] }  "#,
            r#"{"k:{\"uid\":\"x\"}":{},"\u0041":[{"\n":1}]}"#,
            "[[[[]]]]",
            r#""\/\b\f\n\r\t""#,
            "-0",
            "1E5",
        ];
        for t in ok {
            let mut c = Cursor::new(t).unwrap();
            c.ws();
            assert!(c.skip().is_some(), "{t}");
            c.ws();
            assert!(c.at_end(), "{t}");
            agrees(t);
        }
        let bad = [
            "[1,]",
            r#"{"a":1,}"#,
            "[01]",
            "[1.]",
            "[1e]",
            "[-]",
            "[+1]",
            "[.5]",
            "[tru]",
            "[nul]",
            "{\"a\":\"x\ny\"}",
            r#"["\x"]"#,
            r#"["\u12G4"]"#,
            r#"{"a" 1}"#,
            r#"{1:2}"#,
            "[1 2]",
            "[1}",
            r#"{"a":1]"#,
            "[NaN]",
            r#"["abc"#,
            "[",
        ];
        for t in bad {
            let Some(mut c) = Cursor::new(t) else { continue };
            c.ws();
            let ours = c.skip().is_some() && {
                c.ws();
                c.at_end()
            };
            assert!(!ours, "accepted {t:?}");
            assert!(serde_json::from_str::<serde::de::IgnoredAny>(t).is_err(), "{t}");
        }
    }

    /// The word-at-a-time search finds the first `"` or `\` exactly, at
    /// every offset and length, next to bytes that differ from them by one
    /// bit or by the high bit (the SWAR test's false-positive cases), and
    /// after runs longer than one block.
    #[test]
    fn quote_or_backslash_finds_the_first_stop_exactly() {
        let fillers = [b'a', b'"' ^ 0x01, b'"' ^ 0x80, b'\\' ^ 0x01, b'\\' ^ 0x80, 0x21, 0xff, 0x00, 0x01];
        for len in 0..70 {
            for &fill in &fillers {
                for stop in [None, Some(b'"'), Some(b'\\')] {
                    for at in 0..len.max(1) {
                        let mut b = vec![fill; len];
                        if let Some(c) = stop {
                            if at < len {
                                b[at] = c;
                                // A second stop after the first never wins.
                                if at + 3 < len {
                                    b[at + 3] = b'"';
                                }
                            }
                        }
                        for from in [0, 1, 7, 8, 9, 16, 17].into_iter().filter(|&f| f <= len) {
                            let want = b.iter().skip(from).position(|&c| c == b'"' || c == b'\\').map(|p| p + from);
                            assert_eq!(quote_or_backslash(&b, from), want, "{b:?} from {from}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn strings_and_escapes() {
        let mut c = Cursor::new(r#""plain""#).unwrap();
        assert!(c.str().is_some_and(|s| s.is_borrowed() && s == "plain"));
        let mut c = Cursor::new(r#""a\u0026b\"c""#).unwrap();
        assert!(c.str().is_some_and(|s| !s.is_borrowed() && s == "a&b\"c"));
        // A string longer than one 8-byte block, with the stop in each lane.
        for at in 0..20 {
            let s = format!("\"{}\\n{}\"", "x".repeat(at), "y".repeat(9));
            let mut c = Cursor::new(&s).unwrap();
            let want: String = serde_json::from_str(&s).unwrap();
            assert_eq!(c.str().unwrap().as_str(), want);
            assert!(c.at_end());
        }
        // A lone surrogate: serde_json refuses to unescape it, so do we.
        assert!(Cursor::new(r#""\ud800""#).unwrap().str().is_none());
        // Control characters, whitespace included, leave the text to serde_json.
        assert!(Cursor::new("\"a\u{1}b\"").is_none());
        assert!(Cursor::new("{\n}").is_none());
    }

    #[test]
    fn unescapes_like_serde_json() {
        for t in [
            r#""a\u0026b""#,
            r#""\"\\\/\b\f\n\r\t""#,
            r#""\ud83d\ude00 x \u00e9\u4e2d\uFFFF""#,
            r#""tail\u0041""#,
            r#""\\u0041""#,
        ] {
            let want: String = serde_json::from_str(t).unwrap();
            let mut c = Cursor::new(t).unwrap();
            assert_eq!(c.str().unwrap().as_str(), want, "{t}");
        }
        for lone in [r#""\ud800""#, r#""\udc00x""#, r#""\ud800\u0041""#, r#""\ud800x\udc00""#] {
            assert!(serde_json::from_str::<String>(lone).is_err());
            let mut c = Cursor::new(lone).unwrap();
            assert!(c.str().is_none(), "{lone}");
            assert!(c.surrogates);
        }
        let mut c = Cursor::new(r#""\u0041""#).unwrap();
        c.str();
        assert!(!c.surrogates);
    }

    /// `validated_str` (the nested-string unescaper) gives serde_json's
    /// string for every escape at every offset around its 8-byte blocks,
    /// and defers (`None`) where serde_json refuses (lone surrogates).
    #[test]
    fn validated_str_unescapes_like_serde_json() {
        let escapes = [r#"\""#, r"\\", r"\/", r"\b", r"\f", r"\n", r"\r", r"\t", r"\u0041", r"\u00e9", r"\ud83d\ude00"];
        for e in escapes {
            for pre in 0..20 {
                for post in [0, 1, 7, 8, 9, 17] {
                    let t = format!("\"{}{e}{}{e}\"", "a".repeat(pre), "é".repeat(post));
                    let want: String = serde_json::from_str(&t).unwrap();
                    let got = validated_str(&t).unwrap();
                    assert_eq!(got.as_str(), want, "{t}");
                }
            }
        }
        let plain = validated_str(r#""no escapes here, none at all""#).unwrap();
        assert!(plain.is_borrowed());
        for lone in [r#""\ud800""#, r#""abcdefgh\udc00x""#, r#""\n\ud800\u0041""#] {
            assert!(serde_json::from_str::<String>(lone).is_err());
            assert!(validated_str(lone).is_none(), "{lone}");
        }
    }

    /// `skip_valid` ends every valid value where the validating `skip` does.
    #[test]
    fn skip_valid_ends_where_skip_ends() {
        for t in [
            r#"{"a":[1,-2.5e+3,0,true,false,null,"x\"y\\z\u00e9"],"b":{},"c":[]}"#,
            r#"[[[[]]],{"k:{\"u\":\"x\"}":{}}]"#,
            r#""\\\"\\""#,
            "-0.5e7",
            "true",
            "null",
            r#"{"a" : [ 1 , { "b" : "c" } ] }"#,
        ] {
            for tail in ["", ",1", "]", "}", " "] {
                let text = format!("{t}{tail}");
                let mut a = Cursor::new(&text).unwrap();
                let mut b = Cursor::within(&text);
                assert!(a.skip().is_some(), "{text}");
                assert!(b.skip_valid().is_some(), "{text}");
                assert_eq!(a.i, b.i, "{text}");
            }
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(Cursor::new(&deep).unwrap().skip().is_some());
        let deeper = format!("{}{}", "[".repeat(128), "]".repeat(128));
        assert!(Cursor::new(&deeper).unwrap().skip().is_none());
    }

    #[test]
    fn plain_integers() {
        for (t, want) in [("200", Some(200)), ("0", Some(0)), ("01", None), ("2.0", None), ("2e2", None)] {
            assert_eq!(Cursor::new(t).unwrap().plain_i64(), want, "{t}");
        }
        assert_eq!(Cursor::new("99999999999999999999").unwrap().plain_i64(), None);
        assert_eq!(Cursor::new("9223372036854775807").unwrap().plain_i64(), Some(i64::MAX));
    }
}
