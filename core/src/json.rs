//! Small JSON helpers the decoders and the encoder share.
//!
//! * [`Str`]: a string borrowed from the input unless JSON escapes forced a copy.
//! * [`Raw`]: a piece of valid JSON text kept as text (bodies, annotations),
//!   parsed only when somebody asks.
//! * [`write_str`]: the JSON string escaper used by every encoder.
//! * [`Members`]: an object's members in input order, values left raw.
//! * [`last_complete_member`]: repairs a cut-off object (EKS `[Truncated...]`).

pub(crate) mod cursor;

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

/// A JSON string value: borrowed from the input buffer when it holds no
/// escapes, owned when unescaping had to copy it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'a> Str<'a> {
    /// A borrowed string.
    pub fn borrowed(s: &'a str) -> Self {
        Str(Cow::Borrowed(s))
    }

    /// The string's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the string is borrowed from the input (no copy was needed).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.0, Cow::Borrowed(_))
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl std::ops::Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for Str<'_> {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Str<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// Valid JSON text (an object, array, string, number …) kept as text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Raw<'a>(pub Cow<'a, str>);

impl<'a> Raw<'a> {
    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// Whether the text is a JSON string (starts with `"`).
    pub fn is_string(&self) -> bool {
        self.0.trim_start().starts_with('"')
    }

    /// Whether the text is a JSON object.
    pub fn is_object(&self) -> bool {
        self.0.trim_start().starts_with('{')
    }

    /// Whether the text is JSON `null`.
    pub fn is_null(&self) -> bool {
        self.0.trim() == "null"
    }
}

impl fmt::Debug for Raw<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Raw({})", &*self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Raw<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r: &'de RawValue = Deserialize::deserialize(d)?;
        Ok(Raw(Cow::Borrowed(r.get())))
    }
}

#[cfg(test)]
thread_local! {
    static FAST_OFF: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the cursor fast paths (`decode/fast.rs`, [`Json::as_str`]) may
/// answer: always, except inside [`typed_only`] in tests.
#[inline(always)]
pub(crate) fn fast_paths_on() -> bool {
    #[cfg(test)]
    {
        !FAST_OFF.with(std::cell::Cell::get)
    }
    #[cfg(not(test))]
    {
        true
    }
}

/// Run `f` with every cursor fast path declining (serde_json's typed
/// parse decides everything): the reference the differential tests compare
/// the fast paths against.
#[cfg(test)]
pub(crate) fn typed_only<R>(f: impl FnOnce() -> R) -> R {
    FAST_OFF.with(|o| o.set(true));
    let r = f();
    FAST_OFF.with(|o| o.set(false));
    r
}

/// Valid JSON text borrowed from the input, as `&RawValue` reads it (and
/// `Option<Json>` reads `null` as `None`, as `Option<&RawValue>` does), but
/// also constructible from text the validating cursor accepted
/// (`decode/fast.rs`), which a `&RawValue` is not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Json<'a>(pub &'a str);

impl<'a> Json<'a> {
    /// The JSON text.
    pub fn get(&self) -> &'a str {
        self.0
    }

    /// The value as a string, if it is a JSON string: what
    /// `serde_json::from_str::<Str>` gives (borrowed when it has no
    /// escapes), without parsing it again (the text is valid JSON). `None`
    /// for any other value and for a string serde_json would refuse (a lone
    /// surrogate escape).
    pub fn as_str(&self) -> Option<Str<'a>> {
        if !self.0.starts_with('"') {
            return None;
        }
        let fast = if fast_paths_on() { cursor::validated_str(self.0) } else { None };
        fast.or_else(|| serde_json::from_str::<Str<'a>>(self.0).ok())
    }
}

impl fmt::Debug for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Json({})", self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r: &'de RawValue = Deserialize::deserialize(d)?;
        Ok(Json(r.get()))
    }
}

/// An object's members in input order; keys unescaped, values raw.
/// Used where a decoder must look at, or drop, arbitrary keys.
#[derive(Debug, Default)]
pub struct Members<'a>(pub Vec<(Str<'a>, &'a RawValue)>);

impl<'a> Members<'a> {
    /// The raw value of the first member named `key`.
    pub fn get(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().find(|(k, _)| k.as_str() == key).map(|(_, v)| *v)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = map.next_key::<Str<'de>>()? {
                    let v: &'de RawValue = map.next_value()?;
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// Rebuild the JSON object `text` without the members whose key is in `drop`.
/// Returns the input unchanged (borrowed) when no such member exists or when
/// `text` is not an object.
pub fn without_keys<'a>(text: &'a str, drop: &[&str]) -> Cow<'a, str> {
    let members: Members<'_> = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(_) => return Cow::Borrowed(text),
    };
    if !members.0.iter().any(|(k, _)| drop.contains(&k.as_str())) {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(text.len());
    out.push(b'{');
    let mut first = true;
    for (k, v) in &members.0 {
        if drop.contains(&k.as_str()) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        write_str(&mut out, k);
        out.push(b':');
        out.extend_from_slice(v.get().as_bytes());
    }
    out.push(b'}');
    // Only valid UTF-8 went in: keys from `Str`, values from a `&str`.
    Cow::Owned(String::from_utf8(out).unwrap_or_default())
}

const ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Write `s` as a quoted JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let e = ESCAPE[b as usize];
        if e == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        out.push(b'\\');
        if e == b'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"u00");
            out.push(HEX[(b >> 4) as usize]);
            out.push(HEX[(b & 0xf) as usize]);
        } else {
            out.push(e);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Write valid JSON text, on one line: text without line breaks is copied as
/// is (byte for byte); otherwise whitespace outside strings is dropped (a raw
/// line break cannot occur inside a JSON string, so only layout is lost).
pub fn write_raw(out: &mut Vec<u8>, text: &str) {
    let b = text.trim().as_bytes();
    if !cursor::has_line_break(b) {
        out.extend_from_slice(b);
        return;
    }
    let mut st = Strings::default();
    for &c in b {
        if st.structural(c) && matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        out.push(c);
    }
}

/// Tracks whether the bytes of JSON text are inside a string, one byte at
/// a time (the scanners below share it; `frame.rs` keeps its own resumable
/// copy of this state).
#[derive(Default)]
struct Strings {
    in_str: bool,
    esc: bool,
}

impl Strings {
    /// Feed the next byte: `true` if it is structural (outside every string;
    /// quotes count as part of their string).
    #[inline]
    fn structural(&mut self, c: u8) -> bool {
        if self.in_str {
            if self.esc {
                self.esc = false;
            } else if c == b'\\' {
                self.esc = true;
            } else if c == b'"' {
                self.in_str = false;
            }
            false
        } else if c == b'"' {
            self.in_str = true;
            false
        } else {
            true
        }
    }
}

/// For the text of an object cut off somewhere (an EKS message that ends in
/// `[Truncated...]`), the byte offset just after the last top-level member
/// that is complete, or `None` if not even one member is complete or `text`
/// does not start an object. `text[..offset]` followed by `}` is then a
/// well-formed object if the members themselves were well-formed.
pub fn last_complete_member(text: &[u8]) -> Option<usize> {
    let mut i = skip_ws(text, 0);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    let mut depth = 1usize;
    let mut st = Strings::default();
    let mut last = None;
    for (j, &b) in text.iter().enumerate().skip(i) {
        if !st.structural(b) {
            continue;
        }
        match b {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(j);
                }
            }
            b',' if depth == 1 => last = Some(j),
            _ => {}
        }
    }
    last
}

/// Whether arrays/objects in `text` nest deeper than `limit`. Depth never
/// exceeds the number of `{`/`[` bytes, which a loop the compiler vectorizes
/// counts first; only text with more openers than `limit` is walked, jumping
/// over string contents with memchr.
pub fn deeper_than(text: &[u8], limit: usize) -> bool {
    if count_openers(text) <= limit {
        return false;
    }
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&c) = text.get(i) {
        i += 1;
        match c {
            b'"' => loop {
                // Inside a string: jump to the next quote or backslash.
                match memchr::memchr2(b'"', b'\\', text.get(i..).unwrap_or_default()) {
                    None => return false,
                    // `i + k` is a position memchr2 found in `text[i..]`.
                    Some(k) if text[i + k] == b'\\' => i += k + 2,
                    Some(k) => {
                        i += k + 1;
                        break;
                    }
                }
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Number of `{` and `[` bytes (`b | 0x20 == b'{'` holds for exactly those
/// two), counted in 64-byte blocks so the inner sum fits a byte lane.
fn count_openers(text: &[u8]) -> usize {
    // Fixed-size blocks: the compiler unrolls and vectorizes the inner sum.
    let mut blocks = text.chunks_exact(64);
    let mut n = 0usize;
    for b in &mut blocks {
        n += b.iter().fold(0u8, |n, &c| n + u8::from(c | 0x20 == b'{')) as usize;
    }
    n + blocks.remainder().iter().filter(|&&c| c | 0x20 == b'{').count()
}

/// Byte offset of the first `\u` escape that is half of a surrogate pair
/// without its other half (`\ud800` alone, or a low half first). The JSON
/// grammar admits such escapes but they encode no Unicode text: serde_json
/// and other strict readers reject them, others substitute U+FFFD. The
/// apiserver never writes them, so a record holding one is passed through
/// as an error rather than copied into output that strict readers refuse.
pub fn lone_surrogate(text: &[u8]) -> Option<usize> {
    let mut high: Option<usize> = None;
    for i in memchr::memmem::find_iter(text, b"\\u") {
        // An even run of backslashes before this one escapes it. (`i` is a
        // match position, so `..i` is in range.)
        let run = text[..i].iter().rev().take_while(|&&b| b == b'\\').count();
        if run % 2 == 1 {
            continue;
        }
        let Some(v) = text.get(i + 2..i + 6).and_then(hex4) else { continue };
        let low = (0xDC00..=0xDFFF).contains(&v);
        match high.take() {
            Some(h) if h + 6 == i && low => continue,
            Some(h) => return Some(h),
            None => {}
        }
        if (0xD800..=0xDBFF).contains(&v) {
            high = Some(i);
        } else if low {
            return Some(i);
        }
    }
    high
}

fn hex4(b: &[u8]) -> Option<u16> {
    let s = std::str::from_utf8(b).ok()?;
    u16::from_str_radix(s, 16).ok().filter(|_| s.bytes().all(|c| c.is_ascii_hexdigit()))
}

pub(crate) fn skip_ws(text: &[u8], mut i: usize) -> usize {
    while i < text.len() && matches!(text[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_round_trip() {
        let s = "a\"b\\c\nd\u{1}é&<>";
        let mut out = Vec::new();
        write_str(&mut out, s);
        let back: String = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, s);
        assert_eq!(String::from_utf8(out).unwrap(), r#""a\"b\\c\nd\u0001é&<>""#);
    }

    #[test]
    fn raw_is_written_on_one_line() {
        let mut out = Vec::new();
        write_raw(&mut out, "{\n  \"a b\": [1,\r\n 2],\n\t\"c\": \"x\\\" y\"\n}");
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a b":[1,2],"c":"x\" y"}"#);
        let mut out = Vec::new();
        write_raw(&mut out, r#"{"kept": "as is",  "x": 1}"#);
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"kept": "as is",  "x": 1}"#);
    }

    #[test]
    fn str_borrows_without_escapes_and_copies_with() {
        let v: Vec<Str<'_>> = serde_json::from_str(r#"["plain","a\u0026b"]"#).unwrap();
        assert!(v[0].is_borrowed());
        assert!(!v[1].is_borrowed());
        assert_eq!(v[1].as_str(), "a&b");
    }

    #[test]
    fn drops_keys_in_order() {
        let t = r#"{"@type":"core.k8s.io/v1.Pod","kind":"Pod","spec":{"@type":1}}"#;
        assert_eq!(without_keys(t, &["@type"]), r#"{"kind":"Pod","spec":{"@type":1}}"#);
        assert!(matches!(without_keys(r#"{"a":1}"#, &["@type"]), Cow::Borrowed(_)));
    }

    #[test]
    fn lone_surrogates() {
        assert_eq!(lone_surrogate(br#""\ud83d\ude00""#), None);
        assert_eq!(lone_surrogate(br#""a\u00e9\u003c""#), None);
        assert_eq!(lone_surrogate(br#""\ud800""#), Some(1));
        assert_eq!(lone_surrogate(br#""x\udfff""#), Some(2));
        assert_eq!(lone_surrogate(br#""\ud800\u0041""#), Some(1));
        assert_eq!(lone_surrogate(br#""\ud800x\udc00""#), Some(1));
        // An escaped backslash followed by `u` is text, not an escape.
        assert_eq!(lone_surrogate(br#""\\ud800""#), None);
        assert_eq!(lone_surrogate(br#""\\\ud800""#), Some(3));
        assert_eq!(lone_surrogate(br#""\ud8""#), None);
    }

    #[test]
    fn depth_limit() {
        assert!(!deeper_than(b"[[1]]", 2));
        assert!(deeper_than(b"[[[1]]]", 2));
        assert!(!deeper_than(br#"["[[[[", {"a": "{{{{"}]"#, 2));
        // Escaped quotes and backslashes do not end a string.
        assert!(!deeper_than(br#"["\"[[[[", "\\", [["x"]]]"#, 3));
        assert!(deeper_than(br#"["\"[[[[", "\\", [["x"]]]"#, 2));
        // Text cut inside a string or an escape ends the walk.
        assert!(deeper_than(br#"[[[["abc\"#, 3));
        assert!(!deeper_than(br#"[["[[[[[abc\"#, 3));
    }

    #[test]
    fn repairs_cut_objects() {
        let t = br#"{"a":"x","b":{"c":[1,2]},"d":"unfinis"#;
        let end = last_complete_member(t).unwrap();
        assert_eq!(&t[..end], br#"{"a":"x","b":{"c":[1,2]}"#);
        assert_eq!(last_complete_member(br#"{"a":"x"#), None);
        assert_eq!(last_complete_member(b"[1,2"), None);
        let t = br#"{"a":"x,y","b":"}"#;
        assert_eq!(&t[..last_complete_member(t).unwrap()], br#"{"a":"x,y""#);
    }
}
