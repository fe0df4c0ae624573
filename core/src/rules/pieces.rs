//! Prefilter for text matchers on whole bodies: the literal *pieces* one of
//! which any match in a body's canonical text (compact, sorted keys, see
//! `body::Raw::canonical`) must contain, chosen so that each piece lies
//! within one JSON token and therefore also occurs in the body's raw text
//! (see `body::Shadow` for the escape-free condition).
//!
//! A regex is analysed on its `regex-syntax` HIR, conservatively: for each
//! node, the exact strings it can match (when few) and a set of strings one
//! of which every match of it contains. Anything the analysis cannot bound
//! (a class of many characters, an optional part, an empty branch) gives no
//! pieces, and the matcher keeps its full path.

use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};

/// Most strings in a set (exact or needed).
const MAX_SET: usize = 16;
/// Most characters of a class expanded into exact strings.
const MAX_CLASS: usize = 4;
/// Longest exact string kept.
const MAX_LEN: usize = 256;
/// Most strings in a needed set (a union of alternatives).
const MAX_NEED: usize = 64;

/// Whether a byte can be part of a piece: no JSON structure, quote,
/// escape, whitespace or control character, so that a piece found in the
/// canonical text lies inside one string's contents or one number or
/// literal.
fn token_byte(b: u8) -> bool {
    b > b' ' && !matches!(b, b'"' | b'\\' | b':' | b',' | b'{' | b'}' | b'[' | b']')
}

/// The literal pieces of a matcher, searched for in one pass.
#[derive(Clone, Debug)]
pub struct Pieces {
    list: Vec<Vec<u8>>,
    ac: AhoCorasick,
}

impl Pieces {
    /// The pieces one of which every match of `pattern` contains, or `None`
    /// when no useful set exists.
    pub fn of_regex(pattern: &str) -> Option<Pieces> {
        // The same syntax options `regex::Regex::new` uses.
        let hir = regex_syntax::Parser::new().parse(pattern).ok()?;
        let i = info(&hir);
        Pieces::of_set(&best(i.need, i.exact)?)
    }

    /// The pieces for `contains` needles (a text contains one of them).
    pub fn of_needles(needles: &[String]) -> Option<Pieces> {
        let set: Vec<Vec<u8>> = needles.iter().map(|n| n.as_bytes().to_vec()).collect();
        if set.is_empty() || set.len() > MAX_NEED {
            return None;
        }
        Pieces::of_set(&set)
    }

    fn of_set(set: &[Vec<u8>]) -> Option<Pieces> {
        let mut list = Vec::with_capacity(set.len());
        for s in set {
            let (piece, score) = segment(s)?;
            // Too short or too common to rule anything out: not worth a scan.
            if score.class == 0 || piece.len() < 3 {
                return None;
            }
            list.push(piece.to_vec());
        }
        list.sort();
        list.dedup();
        // Leftmost-first admits the vectorized (Teddy) searcher; any kind
        // answers `is_match` alike.
        let ac = AhoCorasick::builder().match_kind(MatchKind::LeftmostFirst).build(&list).ok()?;
        Some(Pieces { list, ac })
    }

    /// Whether any piece occurs in `hay`.
    pub fn any_in(&self, hay: &[u8]) -> bool {
        self.ac.is_match(hay)
    }

    /// The pieces, sorted.
    pub fn list(&self) -> &[Vec<u8>] {
        &self.list
    }
}

/// A compiled `regex` or `glob` with its pieces, found when first needed
/// (most regexes only ever see scalar fields).
#[derive(Clone, Debug)]
pub struct TextRegex {
    re: Regex,
    pieces: OnceLock<Option<Pieces>>,
}

impl TextRegex {
    pub fn new(re: Regex) -> TextRegex {
        TextRegex { re, pieces: OnceLock::new() }
    }

    /// The pattern.
    pub fn as_str(&self) -> &str {
        self.re.as_str()
    }

    pub fn is_match(&self, t: &str) -> bool {
        self.re.is_match(t)
    }

    pub fn pieces(&self) -> Option<&Pieces> {
        self.pieces.get_or_init(|| Pieces::of_regex(self.re.as_str())).as_ref()
    }

    /// The same regex without its prefilter: the full path (tests).
    #[cfg(test)]
    pub(crate) fn strip(&mut self) {
        self.pieces = OnceLock::from(None);
    }
}

/// `contains` needles: an automaton for many, and their pieces (for
/// case-sensitive needles), found when first needed.
#[derive(Clone, Debug, Default)]
pub struct Needles {
    pub ac: Option<AhoCorasick>,
    pieces: OnceLock<Option<Pieces>>,
}

impl Needles {
    pub fn new(ac: Option<AhoCorasick>) -> Needles {
        Needles { ac, pieces: OnceLock::new() }
    }

    /// The pieces of `needles` (the ones these were made for).
    pub fn pieces(&self, needles: &[String]) -> Option<&Pieces> {
        self.pieces.get_or_init(|| Pieces::of_needles(needles)).as_ref()
    }

    /// No prefilter: the full path (tests).
    #[cfg(test)]
    pub(crate) fn strip(&mut self) {
        self.pieces = OnceLock::from(None);
    }
}

/// How useful a piece is: `class` 0 for what most bodies hold (`true`,
/// `false`, `null`, digits, one or two bytes), 1 for an object key (a
/// piece followed by `":` in its literal), 2 otherwise (values are rarer
/// than keys); then its length, capped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Score {
    class: u8,
    len: usize,
}

/// The best run of token bytes in `s`, and its score; `None` if it has none.
fn segment(s: &[u8]) -> Option<(&[u8], Score)> {
    let mut best: Option<(&[u8], Score)> = None;
    let mut i = 0;
    while i < s.len() {
        if !s.get(i).copied().is_some_and(token_byte) {
            i += 1;
            continue;
        }
        let start = i;
        while s.get(i).copied().is_some_and(token_byte) {
            i += 1;
        }
        let run = s.get(start..i).unwrap_or_default();
        let key = s.get(i..).is_some_and(|rest| rest.starts_with(b"\":"));
        let common = run.len() < 3
            || matches!(run, b"true" | b"false" | b"null")
            || run.iter().all(|b| b.is_ascii_digit() || *b == b'-');
        let class = if common {
            0
        } else if key {
            1
        } else {
            2
        };
        let score = Score { class, len: run.len().min(24) };
        if best.is_none_or(|(_, b)| score > b) {
            best = Some((run, score));
        }
    }
    best
}

/// The score of a needed set: that of its weakest piece (fewer pieces
/// break ties); `None` if some string has no piece.
fn rank(set: &[Vec<u8>]) -> Option<(Score, std::cmp::Reverse<usize>)> {
    let mut worst: Option<Score> = None;
    for s in set {
        let (_, sc) = segment(s)?;
        worst = Some(worst.map_or(sc, |w| w.min(sc)));
    }
    worst.map(|w| (w, std::cmp::Reverse(set.len())))
}

/// The better of two needed sets.
fn best(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>) -> Option<Vec<Vec<u8>>> {
    let ra = a.as_deref().and_then(rank);
    let rb = b.as_deref().and_then(rank);
    match (ra, rb) {
        (None, None) => None,
        (Some(_), None) => a,
        (None, Some(_)) => b,
        (Some(x), Some(y)) => {
            if y > x {
                b
            } else {
                a
            }
        }
    }
}

/// What is known of the strings a node matches.
#[derive(Clone, Debug, Default)]
struct Info {
    /// It matches exactly one of these.
    exact: Option<Vec<Vec<u8>>>,
    /// Every match contains one of these.
    need: Option<Vec<Vec<u8>>>,
}

fn info(h: &Hir) -> Info {
    match h.kind() {
        HirKind::Empty | HirKind::Look(_) => Info { exact: Some(vec![Vec::new()]), need: None },
        HirKind::Literal(l) => {
            let s = l.0.to_vec();
            let exact = (s.len() <= MAX_LEN).then(|| vec![s.clone()]);
            Info { exact, need: Some(vec![s]) }
        }
        HirKind::Class(c) => {
            let chars = class_strings(c);
            Info { exact: chars.clone(), need: chars }
        }
        HirKind::Repetition(r) => {
            if r.min == 0 {
                return Info::default();
            }
            let sub = info(&r.sub);
            let exact = if r.min == 1 && r.max == Some(1) { sub.exact.clone() } else { None };
            Info { exact, need: best(sub.need, sub.exact) }
        }
        HirKind::Capture(c) => info(&c.sub),
        HirKind::Concat(xs) => concat(xs),
        HirKind::Alternation(xs) => {
            let infos: Vec<Info> = xs.iter().map(info).collect();
            let mut exact = Some(Vec::new());
            let mut need = Some(Vec::new());
            for i in infos {
                exact = union(exact, i.exact.clone(), MAX_SET);
                need = union(need, best(i.need, i.exact), MAX_NEED);
            }
            Info { exact, need }
        }
    }
}

/// A concatenation: exact when every part is and the product stays small;
/// needs the best of its parts' needs and of each run of exact parts.
fn concat(xs: &[Hir]) -> Info {
    let mut need: Option<Vec<Vec<u8>>> = None;
    let mut all: Option<Vec<Vec<u8>>> = Some(vec![Vec::new()]);
    let mut run: Option<Vec<Vec<u8>>> = None;
    for x in xs {
        let i = info(x);
        all = match (all, &i.exact) {
            (Some(a), Some(e)) => product(&a, e),
            _ => None,
        };
        match i.exact {
            Some(e) => {
                run = match run.take() {
                    None => Some(e),
                    Some(r) => match product(&r, &e) {
                        Some(p) => Some(p),
                        None => {
                            need = best(need, Some(r));
                            Some(e)
                        }
                    },
                };
            }
            None => {
                need = best(need, run.take());
                need = best(need, i.need);
            }
        }
    }
    need = best(need, run);
    Info { exact: all, need }
}

/// Every `a` followed by every `b`, if that stays within the limits.
fn product(a: &[Vec<u8>], b: &[Vec<u8>]) -> Option<Vec<Vec<u8>>> {
    if a.len().saturating_mul(b.len()) > MAX_SET {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            if x.len() + y.len() > MAX_LEN {
                return None;
            }
            let mut s = x.clone();
            s.extend_from_slice(y);
            out.push(s);
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

/// All strings of `a` and `b`, if at most `max`.
fn union(a: Option<Vec<Vec<u8>>>, b: Option<Vec<Vec<u8>>>, max: usize) -> Option<Vec<Vec<u8>>> {
    let mut a = a?;
    a.extend(b?);
    a.sort();
    a.dedup();
    (a.len() <= max).then_some(a)
}

/// The characters of a small class, each as its bytes.
fn class_strings(c: &Class) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    match c {
        Class::Unicode(u) => {
            for r in u.iter() {
                for ch in r.start()..=r.end() {
                    if out.len() >= MAX_CLASS {
                        return None;
                    }
                    let mut buf = [0u8; 4];
                    out.push(ch.encode_utf8(&mut buf).as_bytes().to_vec());
                }
            }
        }
        Class::Bytes(b) => {
            for r in b.iter() {
                for byte in r.start()..=r.end() {
                    if out.len() >= MAX_CLASS {
                        return None;
                    }
                    out.push(vec![byte]);
                }
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests;
