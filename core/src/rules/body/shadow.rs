//! What a text matcher's prefilter (`rules/pieces.rs`) needs of a value's
//! canonical text without building it: its exact length (the match budget
//! charges it) and the canonical spelling of the strings that are escaped
//! in the body's text (the only tokens whose text differs between the two).
//!
//! Why a piece (bytes without JSON structure, quotes, backslashes,
//! whitespace or controls) found in the canonical text is found in the raw
//! text or in [`Shadow::escaped`]: in the canonical text every two tokens
//! are separated by structure or quotes, so the piece lies inside one
//! string's contents or one number or literal; numbers, literals and
//! strings without escapes are written as read, the rest are in `escaped`.
//! Dropped duplicate members only remove text.

use std::borrow::Cow;

use super::{write_str, Kind, Node, Raw};

/// The canonical text of a value, described without being built.
#[derive(Debug, Default)]
pub struct Shadow {
    /// `canonical().len()`, exactly.
    pub len: usize,
    /// The canonical spelling (quotes included) of every escaped string,
    /// key or value, that the canonical text holds, one after another.
    pub escaped: String,
}

/// Above this many members, duplicates are found by sorting.
const QUADRATIC: usize = 16;

impl<'a> Raw<'a> {
    /// The [`Shadow`] of this value; `None` where a string cannot be read
    /// (the tape admitted it, so never in practice; the caller then builds
    /// the text).
    pub fn shadow(self) -> Option<Shadow> {
        let mut sh = Shadow::default();
        let mut keys = Vec::new();
        sh.len = measure(self, &mut sh, &mut keys)?;
        Some(sh)
    }
}

/// The canonical length of `v`, its escaped strings added to `sh`; `keys`
/// holds the member names of the objects being measured, innermost last.
fn measure<'a>(v: Raw<'a>, sh: &mut Shadow, keys: &mut Vec<Cow<'a, str>>) -> Option<usize> {
    Some(match v.kind() {
        Kind::Str | Kind::Int | Kind::True | Kind::False | Kind::Null => v.text().len(),
        Kind::Escaped => escaped(v, sh)?,
        Kind::Array => {
            let mut len = 2;
            let mut n = 0usize;
            let mut ok = true;
            v.each(|x| {
                n += 1;
                match measure(x, sh, keys) {
                    Some(l) => len += l,
                    None => ok = false,
                }
            });
            if !ok {
                return None;
            }
            len + n.saturating_sub(1)
        }
        Kind::Object => {
            let base = keys.len();
            let mut ok = true;
            v.members(|k, _| match k.string() {
                Some(s) => keys.push(s),
                None => ok = false,
            });
            let end = keys.len();
            let sorted = if ok { dropped_by_sorting(keys.get(base..).unwrap_or_default()) } else { None };
            let mut len = 2;
            let mut n = 0usize;
            let mut i = base;
            v.members(|k, x| {
                let me = i;
                i += 1;
                if !ok {
                    return;
                }
                // A member is written only if no later one has its name.
                let dropped = match &sorted {
                    Some(d) => d.get(me - base).copied().unwrap_or(false),
                    None => {
                        let name = keys.get(me);
                        keys.get(me + 1..end).unwrap_or_default().iter().any(|l| Some(l) == name)
                    }
                };
                if dropped {
                    return;
                }
                n += 1;
                let kl = match k.kind() {
                    Kind::Escaped => escaped(k, sh),
                    _ => Some(k.text().len()),
                };
                match (kl, measure(x, sh, keys)) {
                    (Some(kl), Some(xl)) => len += kl + 1 + xl,
                    _ => ok = false,
                }
            });
            keys.truncate(base);
            if !ok {
                return None;
            }
            len + n.saturating_sub(1)
        }
    })
}

/// An escaped string's canonical spelling, added to `sh`; its length.
fn escaped(v: Raw<'_>, sh: &mut Shadow) -> Option<usize> {
    let s = v.string()?;
    let before = sh.escaped.len();
    write_str(&s, &mut sh.escaped);
    Some(sh.escaped.len() - before)
}

/// For objects of more than [`QUADRATIC`] members: for each member,
/// whether a later one has its name (a `Value` keeps the last); `None`
/// for smaller objects (compared pairwise instead).
fn dropped_by_sorting(names: &[Cow<'_, str>]) -> Option<Vec<bool>> {
    let n = names.len();
    if n <= QUADRATIC {
        return None;
    }
    let mut dropped = vec![false; n];
    let mut order: Vec<usize> = (0..n).collect();
    // Stable: equal names stay in member order, so the last is kept.
    order.sort_by(|&a, &b| names.get(a).cmp(&names.get(b)));
    for w in order.windows(2) {
        if let [a, b] = *w {
            if names.get(a) == names.get(b) {
                if let Some(slot) = dropped.get_mut(a) {
                    *slot = true;
                }
            }
        }
    }
    Some(dropped)
}
