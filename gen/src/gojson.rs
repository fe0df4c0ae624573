//! RFC 3339 times and a JSON writer with Go's `encoding/json` escaping.

use std::fmt::Write as _;

use kaudit_core::rules::state::civil_from_days;

pub(crate) const NS: i64 = 1_000_000_000;

/// RFC 3339 UTC with `digits` fractional digits (6 for the apiserver's
/// MicroTime, 7 for Azure, 9 for Google).
pub(crate) fn rfc3339(t_ns: i64, digits: u32) -> String {
    let secs = t_ns.div_euclid(NS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    if digits > 0 {
        let frac = t_ns.rem_euclid(NS) / 10_i64.pow(9 - digits);
        let _ = write!(out, ".{frac:0w$}", w = digits as usize);
    }
    out.push('Z');
    out
}

/// Append `s` as a JSON string, escaped as Go's `encoding/json` does by
/// default (HTML-safe: `<`, `>`, `&` become `\u003c`, `\u003e`, `\u0026`).
pub fn go_quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An object being written.
pub(crate) struct Obj<'o> {
    pub(crate) out: &'o mut String,
    pub(crate) first: bool,
}

/// An array being written.
pub(crate) struct Arr<'o> {
    pub(crate) out: &'o mut String,
    pub(crate) first: bool,
}

pub(crate) fn obj(out: &mut String, f: impl FnOnce(&mut Obj<'_>)) {
    out.push('{');
    f(&mut Obj { out, first: true });
    out.push('}');
}

pub(crate) fn arr(out: &mut String, f: impl FnOnce(&mut Arr<'_>)) {
    out.push('[');
    f(&mut Arr { out, first: true });
    out.push(']');
}

pub(crate) fn json_obj(f: impl FnOnce(&mut Obj<'_>)) -> String {
    let mut s = String::with_capacity(1024);
    obj(&mut s, f);
    s
}

impl Obj<'_> {
    pub(crate) fn key(&mut self, k: &str) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        go_quote(self.out, k);
        self.out.push(':');
        self
    }
    pub(crate) fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        go_quote(self.out, v);
        self
    }
    pub(crate) fn opt(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }
    pub(crate) fn num(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }
    pub(crate) fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }
    pub(crate) fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(json);
        self
    }
    pub(crate) fn strs<S: AsRef<str>>(&mut self, k: &str, vs: &[S]) -> &mut Self {
        self.key(k);
        arr(self.out, |a| {
            for v in vs {
                a.str(v.as_ref());
            }
        });
        self
    }
    pub(crate) fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(k);
        obj(self.out, f);
        self
    }
    pub(crate) fn arr(&mut self, k: &str, f: impl FnOnce(&mut Arr<'_>)) -> &mut Self {
        self.key(k);
        arr(self.out, f);
        self
    }
    /// `"k":{}` — an empty managedFields marker, `metadata:{}` etc.
    pub(crate) fn empty(&mut self, k: &str) -> &mut Self {
        self.raw(k, "{}")
    }
}

impl Arr<'_> {
    pub(crate) fn sep(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }
    pub(crate) fn str(&mut self, v: &str) {
        self.sep();
        go_quote(self.out, v);
    }
    pub(crate) fn obj(&mut self, f: impl FnOnce(&mut Obj<'_>)) {
        self.sep();
        obj(self.out, f);
    }
}
