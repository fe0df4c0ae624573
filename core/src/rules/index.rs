//! The rule index: which stateless rules an event can possibly match.
//!
//! Each rule is filed under the one key its condition requires that is
//! expected to be most selective:
//!
//! * a (verb, resource) pair, or a single field among `objectRef.name`,
//!   `user.username`, `objectRef.namespace`, `objectRef.subresource`,
//!   `objectRef.apiGroup`, `objectRef.resource`, `verb` — from a top-level
//!   `FIELD = x` / `FIELD in (…)` conjunct;
//! * or the needles of a top-level `contains` / `icontains` / `startswith` /
//!   `endswith` conjunct: one Aho-Corasick automaton per field holds every
//!   such needle of every rule, so a rule is visited only when one of its
//!   needles occurs.
//!
//! Rules with no such conjunct are visited on every event. An event visits
//! the rules filed under its own values (one lookup per field, one automaton
//! pass per needle field) — the cost grows with the rules that could match,
//! not with the size of the pack. Where an indexed field is unavailable for
//! the event (blind), every rule filed under it is visited, so it can
//! report blind.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::eval::{Expr, FastHash, Got, Matcher, Val, View};
use super::fields::{Derived, FieldRef};

type Map<V> = HashMap<String, V, BuildHasherDefault<FastHash>>;

/// Single fields that may carry an index, with a rough selectivity weight
/// (how many distinct values the field takes in real traffic).
/// `objectRef.resource` and `verb` must stay the last two (they also form
/// the pair key).
const SINGLE: &[(FieldRef, f64)] = &[
    (FieldRef::ObjName, 1000.0),
    (FieldRef::UserName, 500.0),
    (FieldRef::ObjNamespace, 200.0),
    (FieldRef::ObjSubresource, 100.0),
    (FieldRef::ObjApiGroup, 50.0),
    (FieldRef::Code, 20.0),
    (FieldRef::Derived(Derived::ActorKind), 6.0),
    (FieldRef::ObjResource, 30.0),
    (FieldRef::Verb, 7.0),
];

/// How rarely a field is present at all, for the presence index.
fn presence_weight(f: &FieldRef) -> f64 {
    match f {
        FieldRef::ImpUserName | FieldRef::ImpUserGroups => 300.0,
        FieldRef::Annotation(k) if !k.starts_with("authorization.k8s.io/") => 300.0,
        FieldRef::UserExtra(_) => 50.0,
        _ => 0.0,
    }
}

/// Fields that must be present for `e` to be true (comparisons, `!=`
/// included, are false on absent fields).
fn required_present(e: &Expr) -> Vec<FieldRef> {
    match e {
        Expr::And(xs) => {
            let mut v: Vec<FieldRef> = xs.iter().flat_map(required_present).collect();
            v.dedup();
            v
        }
        Expr::Or(xs) => {
            let mut it = xs.iter().map(required_present);
            let Some(first) = it.next() else { return Vec::new() };
            it.fold(first, |acc, b| acc.into_iter().filter(|f| b.contains(f)).collect())
        }
        Expr::Test { field, .. } | Expr::Exists(field) => vec![field.clone()],
        Expr::Not(_) => Vec::new(),
    }
}
const PAIR_WEIGHT: f64 = 7.0 * 30.0;
const NEEDLE_WEIGHT: f64 = 2000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Anywhere,
    Start,
    End,
}

#[derive(Debug)]
struct Needles {
    field: FieldRef,
    insensitive: bool,
    /// Per pattern: where it must occur and which rules it selects.
    patterns: Vec<(String, Anchor, u32)>,
    ac: Option<AhoCorasick>,
    all: Vec<u32>,
}

/// The compiled index.
#[derive(Debug, Default)]
pub struct Index {
    pair: Map<Map<Vec<u32>>>,
    pair_all: Vec<u32>,
    single: Vec<(FieldRef, Map<Vec<u32>>, Vec<u32>)>,
    needles: Vec<Needles>,
    /// Rules filed under a rarely present field: visited when it is present.
    presence: Vec<(FieldRef, Vec<u32>)>,
    /// Rules with no indexable conjunct.
    pub always: Vec<u32>,
}

/// The values a condition requires for `field` (see `required_values`).
pub type Required<'a> = &'a dyn Fn(&Expr, &FieldRef) -> Option<Vec<String>>;

/// A needle conjunct: the field, whether case-insensitive, the needles.
type NeedleSpec = (FieldRef, bool, Vec<(String, Anchor)>);

fn needle_conjunct(e: &Expr) -> Option<NeedleSpec> {
    match e {
        Expr::And(xs) => {
            // The conjunct with the fewest needles.
            xs.iter().filter_map(needle_conjunct).min_by_key(|(_, _, n)| n.len())
        }
        Expr::Test { field, m, negate: false, all: false } if !field.is_list() => match m {
            Matcher::Contains(ns, _, ci) => {
                Some((field.clone(), *ci, ns.iter().map(|n| (n.clone(), Anchor::Anywhere)).collect()))
            }
            Matcher::StartsWith(ns) => {
                Some((field.clone(), false, ns.iter().map(|n| (n.clone(), Anchor::Start)).collect()))
            }
            Matcher::EndsWith(ns) => {
                Some((field.clone(), false, ns.iter().map(|n| (n.clone(), Anchor::End)).collect()))
            }
            _ => None,
        },
        _ => None,
    }
    .filter(|(_, _, ns)| !ns.is_empty() && ns.iter().all(|(n, _)| !n.is_empty()))
}

impl Index {
    /// Build the index for `rules` (indices into the rule set).
    pub fn build(rules: &[(u32, &Expr)], required: Required<'_>) -> Index {
        let mut ix = Index {
            single: SINGLE.iter().map(|(f, _)| (f.clone(), Map::default(), Vec::new())).collect(),
            ..Index::default()
        };
        for &(i, expr) in rules {
            let mut best: (f64, usize) = (0.0, usize::MAX); // (score, choice)
            let mut singles: Vec<Option<Vec<String>>> = Vec::new();
            for (k, (f, w)) in SINGLE.iter().enumerate() {
                let vals = required(expr, f);
                if let Some(v) = &vals {
                    let score = w / v.len().max(1) as f64;
                    if score > best.0 {
                        best = (score, k);
                    }
                }
                singles.push(vals);
            }
            let verb_i = SINGLE.len() - 1;
            let res_i = SINGLE.len() - 2;
            if let (Some(vs), Some(rs)) = (&singles[verb_i], &singles[res_i]) {
                let score = PAIR_WEIGHT / (vs.len() * rs.len()).max(1) as f64;
                if score > best.0 {
                    best = (score, usize::MAX - 1);
                }
            }
            let present = required_present(expr)
                .into_iter()
                .map(|f| (presence_weight(&f), f))
                .filter(|(w, _)| *w > 0.0)
                .max_by(|a, b| a.0.total_cmp(&b.0));
            if let Some((w, _)) = &present {
                if *w > best.0 {
                    best = (*w, usize::MAX - 3);
                }
            }
            let needle = needle_conjunct(expr);
            if let Some((_, _, ns)) = &needle {
                let score = NEEDLE_WEIGHT / ns.len() as f64;
                if score > best.0 {
                    best = (score, usize::MAX - 2);
                }
            }
            match best.1 {
                usize::MAX => ix.always.push(i),
                k if k == usize::MAX - 1 => {
                    for v in singles[verb_i].iter().flatten() {
                        for r in singles[res_i].iter().flatten() {
                            ix.pair.entry(v.clone()).or_default().entry(r.clone()).or_default().push(i);
                        }
                    }
                    ix.pair_all.push(i);
                }
                k if k == usize::MAX - 3 => {
                    let Some((_, f)) = present else { continue };
                    match ix.presence.iter_mut().find(|(g, _)| *g == f) {
                        Some((_, l)) => l.push(i),
                        None => ix.presence.push((f, vec![i])),
                    }
                }
                k if k == usize::MAX - 2 => {
                    let Some((field, ci, ns)) = needle else { continue };
                    let slot = match ix.needles.iter().position(|n| n.field == field && n.insensitive == ci) {
                        Some(p) => p,
                        None => {
                            ix.needles.push(Needles {
                                field,
                                insensitive: ci,
                                patterns: Vec::new(),
                                ac: None,
                                all: Vec::new(),
                            });
                            ix.needles.len() - 1
                        }
                    };
                    let n = &mut ix.needles[slot];
                    for (p, a) in ns {
                        n.patterns.push((p, a, i));
                    }
                    n.all.push(i);
                }
                k => {
                    let (_, map, all) = &mut ix.single[k];
                    for v in singles[k].iter().flatten() {
                        map.entry(v.clone()).or_default().push(i);
                    }
                    all.push(i);
                }
            }
        }
        for n in &mut ix.needles {
            let pats: Vec<&str> = n.patterns.iter().map(|(p, _, _)| p.as_str()).collect();
            n.ac = AhoCorasickBuilder::new().match_kind(MatchKind::Standard).build(&pats).ok();
        }
        ix
    }

    /// The candidate rules for an event, ascending, into `out` (cleared).
    pub fn candidates(&self, view: &View<'_, '_>, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.always);
        let text = |f: &FieldRef| -> Result<Option<std::borrow::Cow<'_, str>>, ()> {
            match view.get(f) {
                Got::Blind(_) => Err(()),
                Got::One(Val::Str(s)) => Ok(Some(s)),
                Got::One(v @ (Val::Json(_) | Val::Raw(_))) => Ok(view.container_text(&v)),
                Got::One(v) => Ok(Some(std::borrow::Cow::Owned(v.with_text(str::to_owned)))),
                _ => Ok(None),
            }
        };
        let ev = view.ev;
        // (verb, resource) pairs.
        if !self.pair_all.is_empty() {
            match (text(&FieldRef::Verb), ev.resource()) {
                (Err(()), _) => out.extend_from_slice(&self.pair_all),
                (Ok(Some(v)), Some(r)) => {
                    if let Some(l) = self.pair.get(v.as_ref()).and_then(|m| m.get(r)) {
                        out.extend_from_slice(l);
                    }
                }
                _ => {}
            }
        }
        for (f, map, all) in &self.single {
            if all.is_empty() {
                continue;
            }
            match view.get(f) {
                Got::Blind(_) => out.extend_from_slice(all),
                Got::One(v) => {
                    if let Some(l) = v.with_text(|t| map.get(t)) {
                        out.extend_from_slice(l);
                    }
                }
                _ => {}
            }
        }
        for (f, rules) in &self.presence {
            if !matches!(view.get(f), Got::Absent) {
                out.extend_from_slice(rules);
            }
        }
        for n in &self.needles {
            let v = match text(&n.field) {
                Err(()) => {
                    out.extend_from_slice(&n.all);
                    continue;
                }
                Ok(Some(v)) => v,
                Ok(None) => continue,
            };
            let hay = if n.insensitive { std::borrow::Cow::Owned(v.to_lowercase()) } else { v };
            let Some(ac) = &n.ac else {
                out.extend_from_slice(&n.all);
                continue;
            };
            for m in ac.find_overlapping_iter(hay.as_ref()) {
                let (_, anchor, rule) = &n.patterns[m.pattern().as_usize()];
                let ok = match anchor {
                    Anchor::Anywhere => true,
                    Anchor::Start => m.start() == 0,
                    Anchor::End => m.end() == hay.len(),
                };
                if ok {
                    out.push(*rule);
                }
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}
