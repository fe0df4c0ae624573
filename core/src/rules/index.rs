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
    all: Vec<u32>,
}

/// The compiled index.
#[derive(Debug, Default)]
pub struct Index {
    pair: Map<Map<Vec<u32>>>,
    pair_all: Vec<u32>,
    single: Vec<(FieldRef, Map<Vec<u32>>, Vec<u32>)>,
    /// For each annotation among `single`: its key and the values its map
    /// holds, to rule them out from the annotations' text.
    single_literals: Vec<Option<(Literal, Vec<Literal>)>>,
    needles: Vec<Needles>,
    /// Rules filed under a rarely present field: visited when it is present
    /// (with the key of an annotation, as above).
    presence: Vec<(FieldRef, Vec<u32>, Option<Literal>)>,
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
        }
        for (f, map, all) in &mut ix.single {
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
        for ((f, map, all), lits) in self.single.iter().zip(&self.single_literals) {
            if all.is_empty() {
                continue;
            }
            if let Some((key, values)) = lits {
                if !view.annotation_may_be(key, Some(values)) {
                    continue;
                }
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
        for (f, rules, lit) in &self.presence {
            if let Some(key) = lit {
                if !view.annotation_may_be(key, None) {
                    continue;
                }
            }
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
