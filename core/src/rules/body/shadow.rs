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
//! strings without escapes are written as read, escaped strings as
//! `escaped` holds them. Sorting keys moves tokens but changes neither
//! them nor the length.
//!
//! Values with duplicate keys or escaped keys get no shadow (`None`): the
//! caller then makes the text as before. Both are rare, and leaving them
//! out keeps this one pass over the tape.

use super::{write_str, Entry, Kind, Raw};

/// The canonical text of a value, described without being built.
#[derive(Debug, Default)]
pub struct Shadow {
    /// `canonical().len()`, exactly.
    pub len: usize,
    /// The canonical spelling (quotes included) of every escaped string
    /// value in the text, one after another.
    pub escaped: String,
}

/// Above this many members, duplicate keys are found by sorting.
const PAIRWISE: usize = 16;

impl Raw<'_> {
    /// The [`Shadow`] of this value; `None` if an object in it has a
    /// duplicate or escaped key.
    pub fn shadow(self) -> Option<Shadow> {
        let nodes = &self.tape.nodes;
        let text = self.tape.text;
        let at = self.at as usize;
        let end = nodes.get(at)?.next as usize;
        let mut sh = Shadow::default();
        let mut len = 0usize;
        let mut i = at;
        while i < end {
            let e = *nodes.get(i)?;
            match e.kind {
                Kind::Object => {
                    // Brackets, and per member a colon and (but the first) a comma.
                    let members = object_members(nodes, text, i, e)?;
                    len += 2 + (2 * members).saturating_sub(1);
                }
                Kind::Array => {
                    let mut n = 0usize;
                    let mut j = i + 1;
                    while j < e.next as usize {
                        n += 1;
                        j = nodes.get(j)?.next as usize;
                    }
                    len += 2 + n.saturating_sub(1);
                }
                // Keys are checked unescaped by `object_members`, so an
                // escaped entry here is a value.
                Kind::Escaped => {
                    let s = self.at(i as u32).string()?;
                    let before = sh.escaped.len();
                    write_str(&s, &mut sh.escaped);
                    len += sh.escaped.len() - before;
                }
                Kind::Str | Kind::Int | Kind::True | Kind::False | Kind::Null => len += (e.end - e.start) as usize,
            }
            i += 1;
        }
        sh.len = len;
        Some(sh)
    }
}

/// The number of members of the object `e` at `i`; `None` if a key is
/// escaped or repeated.
fn object_members(nodes: &[Entry], text: &str, i: usize, e: Entry) -> Option<usize> {
    let bytes = text.as_bytes();
    let key = |k: &Entry| bytes.get(k.start as usize..k.end as usize);
    let mut n = 0usize;
    let mut j = i + 1;
    while j < e.next as usize {
        let k = nodes.get(j)?;
        if k.kind != Kind::Str {
            return None;
        }
        n += 1;
        // The value after the key, then past its subtree.
        j = nodes.get(j + 1)?.next as usize;
    }
    if n < 2 {
        return Some(n);
    }
    if n > PAIRWISE {
        let mut keys = Vec::with_capacity(n);
        let mut j = i + 1;
        while j < e.next as usize {
            keys.push(key(nodes.get(j)?)?);
            j = nodes.get(j + 1)?.next as usize;
        }
        keys.sort_unstable();
        return keys.windows(2).all(|w| w.first() != w.last()).then_some(n);
    }
    // Pairwise, lengths and first letters first (keys are plain: equal
    // text, equal name).
    let first = |k: &Entry| bytes.get(k.start as usize + 1).copied();
    let mut j = i + 1;
    while j < e.next as usize {
        let k = nodes.get(j)?;
        let (kl, kf) = (k.end - k.start, first(k));
        let mut l = nodes.get(j + 1)?.next as usize;
        while l < e.next as usize {
            let o = nodes.get(l)?;
            if o.end - o.start == kl && first(o) == kf && key(o) == key(k) {
                return None;
            }
            l = nodes.get(l + 1)?.next as usize;
        }
        j = nodes.get(j + 1)?.next as usize;
    }
    Some(n)
}
