//! The rule index: which rules (stateless rules, stateful conditions and
//! first steps) an event can possibly match.
//!
//! Each rule is filed under the key its condition requires that is expected
//! to be visited least often (`Filing::share`):
//!
//! * a (verb, resource) pair, or a single field among `objectRef.name`,
//!   `user.username`, `objectRef.namespace`, `objectRef.subresource`,
//!   `objectRef.apiGroup`, `responseStatus.code`, `actor.kind`,
//!   `actor.serviceaccount.{namespace,name}`, `outcome`, `authz.decision`,
//!   `objectRef.resource`, `verb` — from a top-level `FIELD = x` /
//!   `FIELD in (…)` conjunct;
//! * the presence of a rarely present field (impersonation, user extras,
//!   annotations other than the authorizer's);
//! * or the needles of a top-level `contains` / `icontains` / `startswith` /
//!   `endswith` conjunct: one Aho-Corasick automaton per field holds every
//!   such needle of every rule, so a rule is visited only when one of its
//!   needles occurs;
//! * or, for a disjunction (the condition, or one of its conjuncts), one
//!   such key per branch: the rule is visited when any of them matches.
//!
//! Rules with no such key are visited on every event. An event visits the
//! rules filed under its own values (one lookup per field, one automaton
//! pass per needle field) — the cost grows with the rules that could match,
//! not with the size of the pack. Where an indexed field is unavailable for
//! the event (blind), every rule filed under it is visited, so it can report
//! blind. Annotation keys are first looked for in the annotations' text
//! (`View::annotation_may_be`), so most events never build the map.
//! Scalar fields are read straight from the event (`View::scalar_text`),
//! and a value whose length or first byte no key has is not hashed.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::eval::{Expr, FastHash, Got, Literal, Matcher, Val, View};
use super::fields::{Derived, FieldRef};

type Map<V> = HashMap<String, V, BuildHasherDefault<FastHash>>;

/// Single fields that may carry an index, with a rough selectivity weight
/// (how many distinct values the field takes in real traffic; see
/// [`value_share`] for fields whose values are far from equally common).
fn single_fields() -> Vec<(FieldRef, f64)> {
    vec![
        (FieldRef::ObjName, 1000.0),
        (FieldRef::UserName, 500.0),
        (FieldRef::Derived(Derived::ActorSaName), 300.0),
        (FieldRef::ObjNamespace, 200.0),
        (FieldRef::ObjSubresource, 100.0),
        (FieldRef::Derived(Derived::ActorSaNamespace), 50.0),
        (FieldRef::ObjApiGroup, 50.0),
        (FieldRef::Code, 20.0),
        (FieldRef::Derived(Derived::ActorKind), 6.0),
        (FieldRef::Outcome, 3.0),
        (FieldRef::Annotation(DECISION.to_string()), 2.0),
        (FieldRef::ObjResource, 30.0),
        (FieldRef::Verb, 7.0),
    ]
}

const DECISION: &str = "authorization.k8s.io/decision";

/// The expected share of events on which `field` (of weight `w`) takes the
/// value `v`: `1 / w`, except for fields with a few values of very unequal
/// frequency (most requests succeed, are allowed, and come from nodes and
/// service accounts).
fn value_share(field: &FieldRef, v: &str, w: f64) -> f64 {
    match field {
        FieldRef::Outcome => match v {
            "success" => 0.9,
            _ => 0.05,
        },
        FieldRef::Derived(Derived::ActorKind) => match v {
            "node" | "serviceaccount" => 0.4,
            "control-plane" | "human" => 0.1,
            _ => 0.03,
        },
        // Most traffic is the system's own: kube-system's service accounts
        // and objects, and the nodes' leases.
        FieldRef::Derived(Derived::ActorSaNamespace) if v == "kube-system" => 0.3,
        FieldRef::ObjNamespace if matches!(v, "kube-system" | "kube-node-lease") => 0.3,
        FieldRef::Annotation(k) if k == DECISION => match v {
            "allow" => 0.95,
            _ => 0.05,
        },
        _ => 1.0 / w,
    }
}

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
        // The index reads conditions, not plans; transparent all the same.
        Expr::Memo(_, x) => required_present(x),
    }
}
const PAIR_WEIGHT: f64 = 7.0 * 30.0;
const NEEDLE_WEIGHT: f64 = 2000.0;
/// How much more a needle key on a body, or on a long text every event
/// has, costs than one on a short or rare field.
const BODY_NEEDLE_COST: f64 = 100.0;
const LONG_NEEDLE_COST: f64 = 10.0;

/// One key a rule is filed under.
#[derive(Debug)]
enum Key {
    /// `single[k]` takes one of these values.
    Single(usize, Vec<String>),
    /// (verb, resource) is one of these pairs.
    Pair(Vec<String>, Vec<String>),
    /// The field is present.
    Presence(FieldRef),
    /// One of these needles occurs in the field.
    Needle(NeedleSpec),
}

/// Where a condition can be filed: it can be true (or blind) on an event
/// only if one of `keys` matches it (or the key's field is blind there).
/// `share` is the expected share of events that visit it.
#[derive(Debug)]
struct Filing {
    share: f64,
    keys: Vec<Key>,
}

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
    /// Every pattern is anchored (at the start or the end) and they are
    /// few: comparing each is cheaper than an automaton pass.
    anchored: bool,
    all: Vec<u32>,
}

/// At most this many anchored patterns are compared one by one.
const FEW_ANCHORED: usize = 8;

/// The lengths and first bytes of a map's keys: a text whose length or
/// first byte no key has is not a key, known without hashing it.
#[derive(Debug, Default)]
struct KeyShape {
    /// Bit `n`: a key of `n` bytes (bit 63: of 63 bytes or more).
    lens: u64,
    /// Bit `b`: a key that starts with byte `b`.
    first: [u64; 4],
}

impl KeyShape {
    fn of<'a>(keys: impl Iterator<Item = &'a String>) -> KeyShape {
        let mut k = KeyShape::default();
        for key in keys {
            k.lens |= 1 << key.len().min(63);
            if let Some(&b) = key.as_bytes().first() {
                if let Some(w) = k.first.get_mut(usize::from(b >> 6)) {
                    *w |= 1 << (b & 63);
                }
            }
        }
        k
    }

    /// `false` only if `t` is none of the keys.
    fn may_hold(&self, t: &str) -> bool {
        if (self.lens >> t.len().min(63)) & 1 == 0 {
            return false;
        }
        match t.as_bytes().first() {
            None => true,
            Some(&b) => self.first.get(usize::from(b >> 6)).is_some_and(|w| (w >> (b & 63)) & 1 != 0),
        }
    }
}

/// A field read for the index: blind, absent (or not one text), or its text.
enum Read<'c> {
    Blind,
    Nothing,
    Text(std::borrow::Cow<'c, str>),
}

/// Read `f` as the index needs it: what [`View::get`] gives, with scalar
/// fields read straight from the event ([`View::scalar_text`]). Objects
/// and arrays read as their JSON text (for needles), other values as their
/// text; several values are `Read::Nothing`, as is an absent field.
fn read<'c>(view: &'c View<'_, '_>, f: &FieldRef, buf: &'c mut [u8; 24]) -> Read<'c> {
    match view.scalar_text(f, buf) {
        Some(Some(t)) => Read::Text(std::borrow::Cow::Borrowed(t)),
        Some(None) => {
            if f.needs().iter().any(|m| view.unavailable().contains(m)) {
                Read::Blind
            } else {
                Read::Nothing
            }
        }
        None => match view.get(f) {
            Got::Blind(_) => Read::Blind,
            Got::One(Val::Str(s)) => Read::Text(s),
            Got::One(v @ (Val::Json(_) | Val::Raw(_))) => view.container_text(&v).map_or(Read::Nothing, Read::Text),
            Got::One(v) => Read::Text(std::borrow::Cow::Owned(v.with_text(str::to_owned))),
            _ => Read::Nothing,
        },
    }
}

/// The compiled index.
#[derive(Debug, Default)]
pub struct Index {
    pair: Map<Map<Vec<u32>>>,
    pair_all: Vec<u32>,
    single: Vec<(FieldRef, Map<Vec<u32>>, Vec<u32>)>,
    /// The shape of each `single` map's keys.
    single_shapes: Vec<KeyShape>,
    /// For each annotation among `single`: its key and the values its map
    /// holds, to rule them out from the annotations' text.
    single_literals: Vec<Option<(Literal, Vec<Literal>)>>,
    needles: Vec<Needles>,
    /// Rules filed under a rarely present field: visited when it is present
    /// (with the key of an annotation, as above).
    presence: Vec<(FieldRef, Vec<u32>, Option<Literal>)>,
    /// For each `presence` entry with a literal: an earlier entry whose
    /// literal occurs in this one's (with the same escaping), so that where
    /// the earlier literal rules its annotation out, this one's is ruled
    /// out too without searching (`legacy-token` in
    /// `legacy-token-invalidated`).
    presence_within: Vec<Option<usize>>,
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

/// The most selective filing of `e`, if it has one: the best single key
/// among its top-level conjuncts, or, for a disjunction (at the top or as a
/// conjunct), the union of one filing per branch.
fn filing(e: &Expr, fields: &[(FieldRef, f64)], required: Required<'_>) -> Option<Filing> {
    let mut best: Option<Filing> = None;
    let mut offer = |f: Filing| {
        if best.as_ref().is_none_or(|b| f.share < b.share) {
            best = Some(f);
        }
    };
    let mut singles: Vec<Option<Vec<String>>> = Vec::new();
    for (k, (f, w)) in fields.iter().enumerate() {
        let vals = required(e, f);
        if let Some(v) = &vals {
            let share = v.iter().map(|x| value_share(f, x, *w)).sum::<f64>();
            offer(Filing { share, keys: vec![Key::Single(k, v.clone())] });
        }
        singles.push(vals);
    }
    let pos = |g: FieldRef| fields.iter().position(|(f, _)| *f == g);
    if let (Some(vi), Some(ri)) = (pos(FieldRef::Verb), pos(FieldRef::ObjResource)) {
        if let (Some(Some(vs)), Some(Some(rs))) = (singles.get(vi), singles.get(ri)) {
            let share = (vs.len() * rs.len()) as f64 / PAIR_WEIGHT;
            offer(Filing { share, keys: vec![Key::Pair(vs.clone(), rs.clone())] });
        }
    }
    if let Some((w, f)) = required_present(e)
        .into_iter()
        .map(|f| (presence_weight(&f), f))
        .filter(|(w, _)| *w > 0.0)
        .max_by(|a, b| a.0.total_cmp(&b.0))
    {
        offer(Filing { share: 1.0 / w, keys: vec![Key::Presence(f)] });
    }
    if let Some(n) = needle_conjunct(e) {
        // Needles in a body search its whole text, made for the purpose:
        // worth it only where nothing else narrows the rule down.
        let cost = match n.0 {
            FieldRef::Body(..) => BODY_NEEDLE_COST,
            // Long texts on every event.
            FieldRef::UserAgent | FieldRef::RequestUri | FieldRef::RequestUriPath | FieldRef::StatusMessage => {
                LONG_NEEDLE_COST
            }
            _ => 1.0,
        };
        offer(Filing { share: cost * n.2.len() as f64 / NEEDLE_WEIGHT, keys: vec![Key::Needle(n)] });
    }
    match e {
        Expr::Or(xs) if !xs.is_empty() => {
            let mut all = Filing { share: 0.0, keys: Vec::new() };
            for x in xs {
                let Some(f) = filing(x, fields, required) else { return best };
                all.share += f.share;
                all.keys.extend(f.keys);
            }
            offer(all);
        }
        Expr::And(xs) => {
            for x in xs.iter().filter(|x| matches!(x, Expr::Or(_) | Expr::And(_))) {
                if let Some(f) = filing(x, fields, required) {
                    offer(f);
                }
            }
        }
        _ => {}
    }
    best
}

impl Index {
    /// Build the index for `rules` (indices into the rule set).
    pub fn build(rules: &[(u32, &Expr)], required: Required<'_>) -> Index {
        let fields = single_fields();
        let mut ix = Index {
            single: fields.iter().map(|(f, _)| (f.clone(), Map::default(), Vec::new())).collect(),
            ..Index::default()
        };
        for &(i, expr) in rules {
            let Some(f) = filing(expr, &fields, required) else {
                ix.always.push(i);
                continue;
            };
            for key in f.keys {
                ix.file(i, key);
            }
        }
        for n in &mut ix.needles {
            let pats: Vec<&str> = n.patterns.iter().map(|(p, _, _)| p.as_str()).collect();
            n.ac = AhoCorasickBuilder::new().match_kind(MatchKind::Standard).build(&pats).ok();
            n.anchored = n.patterns.len() <= FEW_ANCHORED && n.patterns.iter().all(|(_, a, _)| *a != Anchor::Anywhere);
        }
        for (f, map, all) in &mut ix.single {
            ix.single_shapes.push(KeyShape::of(map.keys()));
            all.dedup();
            for l in map.values_mut() {
                l.dedup();
            }
            ix.single_literals.push(match f {
                FieldRef::Annotation(k) if !all.is_empty() => {
                    Some((Literal::new(k), map.keys().map(|v| Literal::new(v)).collect()))
                }
                _ => None,
            });
        }
        let lits: Vec<Option<&Literal>> = ix.presence.iter().map(|(_, _, l)| l.as_ref()).collect();
        ix.presence_within = lits
            .iter()
            .enumerate()
            .map(|(j, b)| {
                let b = (*b)?;
                lits.iter().take(j).position(|a| a.is_some_and(|a| a.within(b)))
            })
            .collect();
        ix
    }

    /// File rule `i` under `key`.
    fn file(&mut self, i: u32, key: Key) {
        match key {
            Key::Pair(vs, rs) => {
                for v in &vs {
                    for r in &rs {
                        self.pair.entry(v.clone()).or_default().entry(r.clone()).or_default().push(i);
                    }
                }
                self.pair_all.push(i);
            }
            Key::Presence(f) => match self.presence.iter_mut().find(|(g, _, _)| *g == f) {
                Some((_, l, _)) => l.push(i),
                None => {
                    let lit = match &f {
                        FieldRef::Annotation(k) => Some(Literal::new(k)),
                        _ => None,
                    };
                    self.presence.push((f, vec![i], lit));
                }
            },
            Key::Needle((field, ci, ns)) => {
                let slot = match self.needles.iter().position(|n| n.field == field && n.insensitive == ci) {
                    Some(p) => p,
                    None => {
                        self.needles.push(Needles {
                            field,
                            insensitive: ci,
                            patterns: Vec::new(),
                            ac: None,
                            anchored: false,
                            all: Vec::new(),
                        });
                        self.needles.len() - 1
                    }
                };
                if let Some(n) = self.needles.get_mut(slot) {
                    for (p, a) in ns {
                        n.patterns.push((p, a, i));
                    }
                    n.all.push(i);
                }
            }
            Key::Single(k, vals) => {
                if let Some((_, map, all)) = self.single.get_mut(k) {
                    for v in vals {
                        map.entry(v).or_default().push(i);
                    }
                    all.push(i);
                }
            }
        }
    }

    /// The candidate rules for an event, ascending, into `out` (cleared).
    pub fn candidates(&self, view: &View<'_, '_>, out: &mut Vec<u32>) {
        out.clear();
        out.extend_from_slice(&self.always);
        let ev = view.ev;
        // (verb, resource) pairs.
        if !self.pair_all.is_empty() {
            let mut buf = [0u8; 24];
            match (read(view, &FieldRef::Verb, &mut buf), ev.resource()) {
                (Read::Blind, _) => out.extend_from_slice(&self.pair_all),
                (Read::Text(v), Some(r)) => {
                    if let Some(l) = self.pair.get(v.as_ref()).and_then(|m| m.get(r)) {
                        out.extend_from_slice(l);
                    }
                }
                _ => {}
            }
        }
        for (((f, map, all), lits), shape) in self.single.iter().zip(&self.single_literals).zip(&self.single_shapes) {
            if all.is_empty() {
                continue;
            }
            if let Some((key, values)) = lits {
                if !view.annotation_may_be(key, Some(values)) {
                    continue;
                }
            }
            let mut buf = [0u8; 24];
            match read(view, f, &mut buf) {
                Read::Blind => out.extend_from_slice(all),
                Read::Text(t) if shape.may_hold(&t) => {
                    if let Some(l) = map.get(t.as_ref()) {
                        out.extend_from_slice(l);
                    }
                }
                Read::Text(_) | Read::Nothing => {}
            }
        }
        // Bit `j`: presence entry `j`'s literal ruled its annotation out.
        let mut ruled_out = 0u64;
        for (j, ((f, rules, lit), within)) in self.presence.iter().zip(&self.presence_within).enumerate() {
            if let Some(key) = lit {
                let implied = within.is_some_and(|i| i < 64 && (ruled_out >> i) & 1 == 1);
                if implied || !view.annotation_may_be(key, None) {
                    if j < 64 {
                        ruled_out |= 1 << j;
                    }
                    continue;
                }
            }
            let mut buf = [0u8; 24];
            let present = match view.scalar_text(f, &mut buf) {
                Some(Some(_)) => true,
                // Blind counts as present, as in `View::get`.
                Some(None) => f.needs().iter().any(|m| view.unavailable().contains(m)),
                None => !matches!(view.get(f), Got::Absent),
            };
            if present {
                out.extend_from_slice(rules);
            }
        }
        for n in &self.needles {
            let mut buf = [0u8; 24];
            let v = match read(view, &n.field, &mut buf) {
                Read::Blind => {
                    out.extend_from_slice(&n.all);
                    continue;
                }
                Read::Text(v) => v,
                Read::Nothing => continue,
            };
            let hay = if n.insensitive { std::borrow::Cow::Owned(v.to_lowercase()) } else { v };
            let Some(ac) = &n.ac else {
                out.extend_from_slice(&n.all);
                continue;
            };
            if n.anchored {
                // What the automaton's overlapping matches select, below.
                for (p, anchor, rule) in &n.patterns {
                    let ok = match anchor {
                        Anchor::Start => hay.starts_with(p.as_str()),
                        Anchor::End => hay.ends_with(p.as_str()),
                        Anchor::Anywhere => hay.contains(p.as_str()),
                    };
                    if ok {
                        out.push(*rule);
                    }
                }
                continue;
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_admits_every_key_and_rules_out_by_length_and_first_byte() {
        let long = "k".repeat(70);
        let keys: Vec<String> = ["", "a", "ab", "xbc", "é", long.as_str()].iter().map(|s| s.to_string()).collect();
        let shape = KeyShape::of(keys.iter());
        assert!(keys.iter().all(|k| shape.may_hold(k)));
        // No key starts with `b`; none has 4 bytes; 63 bytes and more share a bit.
        assert!(!shape.may_hold("bc"));
        assert!(!shape.may_hold("abcd"));
        assert!(shape.may_hold(&"k".repeat(100)));
        let none = KeyShape::of(std::iter::empty());
        assert!(!none.may_hold("") && !none.may_hold("a"));
    }

    #[test]
    fn a_literal_is_within_another_only_if_contained_and_escaped_alike() {
        let short = Literal::new("example.com/legacy-token");
        let long = Literal::new("example.com/legacy-token-invalidated");
        assert!(short.within(&long));
        assert!(!long.within(&short));
        // A `/` in one only: `\/` would hide one and not the other.
        assert!(!Literal::new("legacy-token").within(&long));
        assert!(!Literal::new("a").within(&Literal::new("a\"b")));
    }
}
