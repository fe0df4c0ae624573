//! Request and response bodies read straight from their JSON text with the
//! validating cursor, without building a `serde_json::Value` DOM.
//!
//! [`check`] admits a body only when serde_json would read it into a
//! `Value` and every answer read here is provably the one the DOM gives:
//! the grammar as serde_json checks it, nesting within
//! [`Cursor::MAX_DEPTH`], no control character anywhere, no `\u` escape of
//! a surrogate (a lone one is an error to serde_json), and numbers only as
//! plain integers within `u64` (or `i64` when negative, `-0` excepted) —
//! serde_json reads other numbers as `f64`, with its own rounding and a
//! range error. Everything else is left to the DOM (`eval.rs`), which stays
//! the authority. Duplicate keys: the last one wins, as in a `Value`.
//!
//! [`Node`] is what derived fields and body paths need from a JSON value;
//! it is implemented for both `&Value` and [`Raw`], so the two share one
//! piece of logic (`derive.rs`, `eval.rs`).

use std::borrow::Cow;

use serde_json::Value;

use crate::json::cursor::Cursor;

mod shadow;
pub use shadow::Shadow;

/// A body [`check`] accepted, indexed: one entry per value and per object
/// key, in text order, each with the index just past its subtree, so that
/// navigation steps over siblings without reading them again.
#[derive(Debug)]
pub struct Tape<'a> {
    text: &'a str,
    nodes: Vec<Entry>,
}

/// One value or key of a [`Tape`].
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Its text: `text[start..end]` (strings with their quotes).
    start: u32,
    end: u32,
    /// The index after this entry's subtree (its next sibling).
    next: u32,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Object,
    Array,
    /// A string without escapes.
    Str,
    /// A string with escapes.
    Escaped,
    /// A plain integer (see [`plain_int`]).
    Int,
    True,
    False,
    Null,
}

/// A value inside a [`Tape`].
#[derive(Clone, Copy, Debug)]
pub struct Raw<'a> {
    tape: &'a Tape<'a>,
    at: u32,
}

impl PartialEq for Raw<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.tape, other.tape) && self.at == other.at
    }
}

impl<'a> Tape<'a> {
    /// The whole body.
    pub fn root(&'a self) -> Raw<'a> {
        Raw { tape: self, at: 0 }
    }
}

impl<'a> Raw<'a> {
    fn entry(self) -> Entry {
        // `at` always indexes the tape (it comes from the tape's own links).
        self.tape.nodes.get(self.at as usize).copied().unwrap_or(Entry {
            start: 0,
            end: 0,
            next: self.at + 1,
            kind: Kind::Null,
        })
    }

    fn kind(self) -> Kind {
        self.entry().kind
    }

    /// The value's JSON text.
    pub fn text(self) -> &'a str {
        let e = self.entry();
        self.tape.text.get(e.start as usize..e.end as usize).unwrap_or("")
    }

    /// Whether two values are the same place in the same body.
    pub fn same(self, other: Raw<'_>) -> bool {
        std::ptr::eq(self.text(), other.text())
    }

    fn at(self, at: u32) -> Raw<'a> {
        Raw { tape: self.tape, at }
    }

    /// Call `f` with each (key, value) of an object, in order; `false` if
    /// this is not an object.
    fn members(self, mut f: impl FnMut(Raw<'a>, Raw<'a>)) -> bool {
        let e = self.entry();
        if e.kind != Kind::Object {
            return false;
        }
        let mut i = self.at + 1;
        while i < e.next {
            let v = self.at(i + 1);
            f(self.at(i), v);
            i = v.entry().next;
        }
        true
    }

    /// A string's contents, unescaped.
    fn string(self) -> Option<Cow<'a, str>> {
        let t = self.text();
        match self.kind() {
            Kind::Str => t.get(1..).and_then(|t| t.strip_suffix('"')).map(Cow::Borrowed),
            Kind::Escaped => Cursor::within(t).str().map(|s| s.0),
            _ => None,
        }
    }

    /// Whether this string (a key) is `k`.
    fn is(self, k: &str) -> bool {
        match self.kind() {
            Kind::Str => self.text().get(1..).and_then(|t| t.strip_suffix('"')) == Some(k),
            _ => self.string().is_some_and(|s| s == k),
        }
    }

    /// The plain integer this value is, if it is one.
    fn int(self) -> Option<Int> {
        match self.kind() {
            Kind::Int => plain_int(self.text()),
            _ => None,
        }
    }
}

/// A plain integer as `Value` holds it.
#[derive(Clone, Copy)]
enum Int {
    Pos(u64),
    Neg(i64),
}

/// A number's text as a plain integer that serde_json holds exactly
/// (`u64`, or `i64` when negative); `None` for anything else, `-0`
/// included (serde_json reads it as the float `-0.0`).
fn plain_int(t: &str) -> Option<Int> {
    if t.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
        return None;
    }
    if t.starts_with('-') {
        if t == "-0" {
            return None;
        }
        return t.parse::<i64>().ok().map(Int::Neg);
    }
    t.parse::<u64>().ok().map(Int::Pos)
}

fn colon(c: &mut Cursor<'_>) -> Option<()> {
    c.ws();
    if !c.eat(b':') {
        return None;
    }
    c.ws();
    Some(())
}

/// The body `text`, indexed, when it passes the checks in the module
/// documentation; `None` means "read it with serde_json".
pub fn check(text: &str) -> Option<Tape<'_>> {
    u32::try_from(text.len()).ok()?;
    let mut c = Cursor::new(text)?;
    c.ws();
    let mut nodes = Vec::with_capacity(text.len() / 16);
    validate(&mut c, 0, &mut nodes)?;
    c.ws();
    if !c.at_end() || c.surrogates {
        return None;
    }
    Some(Tape { text, nodes })
}

/// Validate one value at the cursor and add it to `nodes`; `depth`
/// containers are open around it.
fn validate(c: &mut Cursor<'_>, depth: u32, nodes: &mut Vec<Entry>) -> Option<()> {
    // Positions fit in u32: `check` refused longer texts.
    let start = c.i as u32;
    let me = nodes.len();
    let leaf = |c: &Cursor<'_>, nodes: &mut Vec<Entry>, kind| {
        let next = nodes.len() as u32 + 1;
        nodes.push(Entry { start, end: c.i as u32, next, kind });
    };
    match c.peek()? {
        b'"' => {
            let (_, _, escaped) = c.string()?;
            leaf(c, nodes, if escaped { Kind::Escaped } else { Kind::Str });
        }
        open @ (b'{' | b'[') => {
            if depth >= Cursor::MAX_DEPTH {
                return None;
            }
            let (close, kind) = if open == b'{' { (b'}', Kind::Object) } else { (b']', Kind::Array) };
            nodes.push(Entry { start, end: start, next: 0, kind });
            if c.open(open, close)? {
                loop {
                    if open == b'{' {
                        let k = c.i as u32;
                        let (_, _, escaped) = c.string()?;
                        let kind = if escaped { Kind::Escaped } else { Kind::Str };
                        let next = nodes.len() as u32 + 1;
                        nodes.push(Entry { start: k, end: c.i as u32, next, kind });
                        colon(c)?;
                    }
                    validate(c, depth + 1, nodes)?;
                    if !c.next(close)? {
                        break;
                    }
                }
            }
            let next = nodes.len() as u32;
            let e = nodes.get_mut(me)?;
            e.end = c.i as u32;
            e.next = next;
        }
        b't' | b'f' => {
            let kind = if c.bool()? { Kind::True } else { Kind::False };
            leaf(c, nodes, kind);
        }
        b'n' => {
            if !c.null() {
                return None;
            }
            leaf(c, nodes, Kind::Null);
        }
        _ => {
            plain_int(c.number_text()?)?;
            leaf(c, nodes, Kind::Int);
        }
    }
    Some(())
}

/// What derived fields and body paths read from a JSON value.
pub trait Node<'a>: Copy {
    /// The member `k` of an object (the last of that name); `None` for
    /// anything but an object.
    fn get(self, k: &str) -> Option<Self>;
    /// Several members at once (the last of each name).
    fn pick<const N: usize>(self, keys: [&str; N]) -> [Option<Self>; N] {
        keys.map(|k| self.get(k))
    }
    /// Call `f` on each element of an array; `false` if this is not an array.
    fn each(self, f: impl FnMut(Self)) -> bool;
    fn is_object(self) -> bool;
    fn as_str(self) -> Option<Cow<'a, str>>;
    fn as_bool(self) -> Option<bool>;
    /// A number that is an `i64` (`Value::as_i64`).
    fn as_i64(self) -> Option<i64>;
}

impl<'a> Node<'a> for &'a Value {
    fn get(self, k: &str) -> Option<Self> {
        Value::get(self, k)
    }
    fn each(self, mut f: impl FnMut(Self)) -> bool {
        match self.as_array() {
            Some(a) => {
                a.iter().for_each(&mut f);
                true
            }
            None => false,
        }
    }
    fn is_object(self) -> bool {
        Value::is_object(self)
    }
    fn as_str(self) -> Option<Cow<'a, str>> {
        Value::as_str(self).map(Cow::Borrowed)
    }
    fn as_bool(self) -> Option<bool> {
        Value::as_bool(self)
    }
    fn as_i64(self) -> Option<i64> {
        Value::as_i64(self)
    }
}

impl<'a> Node<'a> for Raw<'a> {
    fn get(self, k: &str) -> Option<Self> {
        let [v] = self.pick([k]);
        v
    }
    fn pick<const N: usize>(self, keys: [&str; N]) -> [Option<Self>; N] {
        let mut out = [None; N];
        self.members(|key, v| {
            for (slot, k) in out.iter_mut().zip(keys) {
                if key.is(k) {
                    *slot = Some(v);
                }
            }
        });
        out
    }
    fn each(self, mut f: impl FnMut(Self)) -> bool {
        let e = self.entry();
        if e.kind != Kind::Array {
            return false;
        }
        let mut i = self.at + 1;
        while i < e.next {
            let v = self.at(i);
            f(v);
            i = v.entry().next;
        }
        true
    }
    fn is_object(self) -> bool {
        self.kind() == Kind::Object
    }
    fn as_str(self) -> Option<Cow<'a, str>> {
        self.string()
    }
    fn as_bool(self) -> Option<bool> {
        match self.kind() {
            Kind::True => Some(true),
            Kind::False => Some(false),
            _ => None,
        }
    }
    fn as_i64(self) -> Option<i64> {
        match self.int()? {
            Int::Pos(n) => i64::try_from(n).ok(),
            Int::Neg(n) => Some(n),
        }
    }
}

impl Raw<'_> {
    /// The number as `Value::as_f64` gives it.
    pub fn as_f64(self) -> Option<f64> {
        Some(match self.int()? {
            Int::Pos(n) => n as f64,
            Int::Neg(n) => n as f64,
        })
    }

    /// Whether this is an object or an array.
    pub fn is_container(self) -> bool {
        matches!(self.kind(), Kind::Object | Kind::Array)
    }

    /// Whether this is `null`.
    pub fn is_null(self) -> bool {
        self.kind() == Kind::Null
    }

    /// The compact JSON text with object keys sorted and, of duplicate
    /// keys, the last kept: exactly what `serde_json::Value::to_string`
    /// gives for the same text.
    pub fn canonical(self) -> String {
        let mut out = String::with_capacity(self.text().len());
        let mut scratch = Vec::new();
        write_canonical(self, &mut out, &mut scratch);
        out
    }
}

/// Write `v` canonically; `scratch` holds the members of the objects being
/// written, innermost last.
fn write_canonical<'a>(v: Raw<'a>, out: &mut String, scratch: &mut Vec<(Cow<'a, str>, Raw<'a>)>) {
    match v.kind() {
        Kind::Object => {
            let base = scratch.len();
            v.members(|k, x| scratch.push((k.string().unwrap_or_default(), x)));
            // A stable sort keeps duplicates in input order; the last wins.
            if let Some(mine) = scratch.get_mut(base..) {
                mine.sort_by(|a, b| a.0.cmp(&b.0));
            }
            let end = scratch.len();
            out.push('{');
            let mut first = true;
            for i in base..end {
                let Some((k, x)) = scratch.get(i) else { break };
                if scratch.get(i + 1).is_some_and(|n| i + 1 < end && n.0 == *k) {
                    continue;
                }
                let x = *x;
                if !first {
                    out.push(',');
                }
                first = false;
                match k {
                    // Read without escapes: nothing to escape either.
                    Cow::Borrowed(t) => {
                        out.push('"');
                        out.push_str(t);
                        out.push('"');
                    }
                    Cow::Owned(t) => write_str(t, out),
                }
                out.push(':');
                write_canonical(x, out, scratch);
            }
            scratch.truncate(base);
            out.push('}');
        }
        Kind::Array => {
            out.push('[');
            let mut first = true;
            v.each(|x| {
                if !first {
                    out.push(',');
                }
                first = false;
                write_canonical(x, out, scratch);
            });
            out.push(']');
        }
        // Holds no control character, so nothing to escape.
        Kind::Str => out.push_str(v.text()),
        Kind::Escaped => {
            if let Some(s) = v.string() {
                write_str(&s, out);
            }
        }
        // Plain integers, `true`, `false`, `null`: written as read.
        Kind::Int | Kind::True | Kind::False | Kind::Null => out.push_str(v.text()),
    }
}

/// A string as serde_json writes it.
fn write_str(s: &str, out: &mut String) {
    if let Ok(t) = serde_json::to_string(s) {
        out.push_str(&t);
    }
}

#[cfg(test)]
mod tests;
