//! Shared sub-conditions, evaluated once per event.
//!
//! Macros make many rules share whole sub-conditions: the ten pod-spec rules
//! all start with `wl_podspec_change` and end with the `wl_system_actor`
//! exception, the exec rules share `exec_command_session`. Once the rules are
//! compiled, every sub-condition (`and`, `or`, `not`) that occurs more than
//! once in the set and is *pure* is wrapped in [`Expr::Memo`]: the first rule
//! to evaluate it on an event stores its three-valued result in the view, the
//! others read it back.
//!
//! Pure means the result depends on the event alone: it reads no body, no
//! annotation and no user extra (values that may be objects, whose JSON text
//! is charged to the rule's match budget) and uses no text matcher that
//! charges the budget (`contains`, `icontains`, `glob`, `regex`). So reusing
//! a result cannot change any rule's budget, and answers stay identical.
//!
//! The memoised form is a rule's *plan*; its condition as compiled stays
//! as it was for the index, the VRL export and the policy report.

use std::collections::HashMap;

use super::eval::{Expr, FastHash, Matcher};
use super::fields::FieldRef;

/// At most this many shared sub-conditions per rule set (the view keeps one
/// byte per slot).
pub const SLOTS: usize = 64;

fn pure_field(f: &FieldRef) -> bool {
    !matches!(f, FieldRef::Body(..) | FieldRef::Annotation(_) | FieldRef::UserExtra(_))
}

/// Whether `e`'s result depends on the event alone and charges no budget.
fn pure(e: &Expr) -> bool {
    match e {
        Expr::And(xs) | Expr::Or(xs) => xs.iter().all(pure),
        Expr::Not(x) | Expr::Memo(_, x) => pure(x),
        Expr::Exists(f) => pure_field(f),
        Expr::Test { field, m, .. } => {
            pure_field(field)
                && matches!(
                    m,
                    Matcher::Eq(..)
                        | Matcher::Small(_)
                        | Matcher::Set(_)
                        | Matcher::Cmp(..)
                        | Matcher::StartsWith(_)
                        | Matcher::EndsWith(_)
                        | Matcher::Cidr(_)
                )
        }
    }
}

/// A pure leaf's hash, consistent with [`same_leaf`] (a set's items are
/// combined in any order).
fn leaf_hash(e: &Expr) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let bh = std::hash::BuildHasherDefault::<FastHash>::default();
    let one = |x: &dyn Fn(&mut FastHash)| {
        let mut h = bh.build_hasher();
        x(&mut h);
        h.finish()
    };
    one(&|h| match e {
        Expr::Exists(f) => (0u8, f).hash(h),
        Expr::Test { field, m, all, negate } => {
            (1u8, field, all, negate).hash(h);
            match m {
                Matcher::Eq(s, _) => (0u8, s).hash(h),
                Matcher::Small(v) => (1u8, v).hash(h),
                Matcher::Set(set) => (2u8, set.iter().fold(0u64, |a, x| a ^ one(&|g| x.hash(g)))).hash(h),
                Matcher::Cmp(op, n) => (3u8, op, n.to_bits()).hash(h),
                Matcher::StartsWith(v) => (4u8, v).hash(h),
                Matcher::EndsWith(v) => (5u8, v).hash(h),
                Matcher::Cidr(c) => (6u8, c).hash(h),
                _ => 7u8.hash(h),
            }
        }
        _ => 8u8.hash(h),
    })
}

/// Whether two pure leaves are the same test.
fn same_leaf(a: &Expr, b: &Expr) -> bool {
    match (a, b) {
        (Expr::Exists(f), Expr::Exists(g)) => f == g,
        (Expr::Test { field: f, m: m1, all: a1, negate: n1 }, Expr::Test { field: g, m: m2, all: a2, negate: n2 }) => {
            f == g
                && a1 == a2
                && n1 == n2
                && match (m1, m2) {
                    (Matcher::Eq(s, x), Matcher::Eq(t, y)) => s == t && x.map(f64::to_bits) == y.map(f64::to_bits),
                    (Matcher::Small(v), Matcher::Small(w))
                    | (Matcher::StartsWith(v), Matcher::StartsWith(w))
                    | (Matcher::EndsWith(v), Matcher::EndsWith(w)) => v == w,
                    (Matcher::Set(v), Matcher::Set(w)) => v == w,
                    (Matcher::Cmp(o, x), Matcher::Cmp(p, y)) => o == p && x.to_bits() == y.to_bits(),
                    (Matcher::Cidr(c), Matcher::Cidr(d)) => c == d,
                    _ => false,
                }
        }
        _ => false,
    }
}

const AND: u8 = 0;
const OR: u8 = 1;
const NOT: u8 = 2;

/// An `and`/`or`/`not` as its kind and operands, looking through memos;
/// `Err` with the leaf (a test or `exists`) otherwise.
fn parts(e: &Expr) -> Result<(u8, &[Expr]), &Expr> {
    match e {
        Expr::And(xs) => Ok((AND, xs)),
        Expr::Or(xs) => Ok((OR, xs)),
        Expr::Not(x) => Ok((NOT, std::slice::from_ref(x.as_ref()))),
        Expr::Memo(_, x) => parts(x),
        Expr::Test { .. } | Expr::Exists(_) => Err(e),
    }
}

/// Structural ids of pure sub-conditions: equal ids, equal conditions.
/// A leaf is looked up by its hash and compared with the leaves already
/// seen under it; an `and`/`or`/`not` by its kind and its children's ids
/// (exact), so each node costs one short lookup however deep it is.
#[derive(Default)]
struct Ids<'e> {
    leaves: HashMap<u64, Vec<(&'e Expr, u32)>>,
    /// Each leaf's id by its address, for the second pass.
    known: HashMap<*const Expr, Option<u32>>,
    nodes: HashMap<(u8, Vec<u32>), u32>,
    next: u32,
}

impl<'e> Ids<'e> {
    fn leaf(&mut self, e: &'e Expr) -> Option<u32> {
        if let Some(&id) = self.known.get(&(e as *const Expr)) {
            return id;
        }
        let id = self.leaf_id(e);
        self.known.insert(e, id);
        id
    }

    fn leaf_id(&mut self, e: &'e Expr) -> Option<u32> {
        if !pure(e) {
            return None;
        }
        let next = self.next;
        let seen = self.leaves.entry(leaf_hash(e)).or_default();
        if let Some(&(_, id)) = seen.iter().find(|(r, _)| same_leaf(r, e)) {
            return Some(id);
        }
        seen.push((e, next));
        self.next += 1;
        Some(next)
    }

    fn node(&mut self, tag: u8, kids: &[Option<u32>]) -> Option<u32> {
        let kids: Vec<u32> = kids.iter().copied().collect::<Option<_>>()?;
        let next = self.next;
        let id = *self.nodes.entry((tag, kids)).or_insert(next);
        if id == next {
            self.next += 1;
        }
        Some(id)
    }

    /// `e`'s id if it is pure; `f` is called on every pure `and`/`or`/`not`
    /// node, children first. Every child gets its id (and its own shared
    /// parts counted), even when a sibling makes this node impure.
    fn id(&mut self, e: &'e Expr, f: &mut dyn FnMut(u32)) -> Option<u32> {
        let (tag, xs) = match parts(e) {
            Ok(p) => p,
            Err(leaf) => return self.leaf(leaf),
        };
        let kids: Vec<Option<u32>> = xs.iter().map(|x| self.id(x, f)).collect();
        let id = self.node(tag, &kids)?;
        f(id);
        Some(id)
    }
}

/// `e` with every shared sub-condition (id in `slots`) wrapped — `None`
/// when there is none in it, so nothing is copied — and `e`'s id if it is
/// pure (the ids `Ids::id` gave, computed again bottom-up).
fn plan<'e>(e: &'e Expr, ids: &mut Ids<'e>, slots: &HashMap<u32, u8>) -> (Option<Expr>, Option<u32>) {
    let (tag, xs) = match parts(e) {
        Ok(p) => p,
        Err(leaf) => return (None, ids.leaf(leaf)),
    };
    let (kids, kid_ids): (Vec<Option<Expr>>, Vec<Option<u32>>) = xs.iter().map(|x| plan(x, ids, slots)).unzip();
    let id = ids.node(tag, &kid_ids);
    let slot = id.and_then(|id| slots.get(&id)).copied();
    if slot.is_none() && kids.iter().all(Option::is_none) {
        return (None, id);
    }
    let mut kids: Vec<Expr> = kids.into_iter().zip(xs).map(|(k, x)| k.unwrap_or_else(|| x.clone())).collect();
    let inner = match tag {
        AND => Expr::And(kids),
        OR => Expr::Or(kids),
        // A `not` has one operand; without it, keep the condition as is.
        _ => match kids.pop() {
            Some(x) => Expr::Not(Box::new(x)),
            None => return (None, id),
        },
    };
    match slot {
        Some(s) => (Some(Expr::Memo(s, Box::new(inner))), id),
        None => (Some(inner), id),
    }
}

/// The plans of `conds` (each rule's condition): shared pure
/// sub-conditions memoised, numbered from 0 in order of first occurrence;
/// `None` for a condition that shares nothing (it is its own plan).
pub fn plans(conds: &[&Expr]) -> Vec<Option<Expr>> {
    let mut ids = Ids::default();
    let mut seen: HashMap<u32, usize> = HashMap::new();
    // Ids in order of first occurrence, for a deterministic numbering.
    let mut order: Vec<u32> = Vec::new();
    for e in conds {
        ids.id(e, &mut |id| {
            let n = seen.entry(id).or_default();
            if *n == 0 {
                order.push(id);
            }
            *n += 1;
        });
    }
    let slots: HashMap<u32, u8> = order
        .into_iter()
        .filter(|id| seen.get(id).is_some_and(|&n| n > 1))
        .take(SLOTS)
        .enumerate()
        .map(|(s, id)| (id, s as u8))
        .collect();
    conds.iter().map(|e| plan(e, &mut ids, &slots).0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Builder;

    fn memos(e: &Expr, out: &mut Vec<u8>) {
        match e {
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| memos(x, out)),
            Expr::Not(x) => memos(x, out),
            Expr::Memo(s, x) => {
                out.push(*s);
                memos(x, out);
            }
            Expr::Test { .. } | Expr::Exists(_) => {}
        }
    }

    #[test]
    fn only_shared_pure_sub_conditions_are_memoised() {
        let src = r#"
macros:
  shared: verb in (create, update) and objectRef.resource = pods
  charged: userAgent contains curl and verb = get
  body: requestObject.spec.hostPID = true and verb = create
rules:
  - {id: a, title: t, severity: low, condition: "shared and user.username = alice"}
  - {id: b, title: t, severity: low, condition: "shared and user.username = bob"}
  - {id: c, title: t, severity: low, condition: "charged and code = 200"}
  - {id: d, title: t, severity: low, condition: "charged and code = 201"}
  - {id: e, title: t, severity: low, condition: "body and code = 200"}
  - {id: f, title: t, severity: low, condition: "body and code = 201"}
  - {id: g, title: t, severity: low, condition: "verb = get and not user.username = x"}
"#;
        let mut b = Builder::new();
        b.add_file("synthetic.yaml", src);
        let set = b.build().expect("compiles");
        let conds: Vec<&Expr> = set.rules().iter().map(|r| r.condition_expr()).collect();
        let plans = plans(&conds);
        let got: Vec<Vec<u8>> = plans
            .iter()
            .map(|p| {
                let mut v = Vec::new();
                if let Some(p) = p {
                    memos(p, &mut v);
                }
                v
            })
            .collect();
        // `shared` in a and b; neither the budget-charging `contains` nor
        // the body read, and nothing that occurs once.
        assert_eq!(got, vec![vec![0], vec![0], vec![], vec![], vec![], vec![], vec![]]);
        // A rule that shares nothing is its own plan.
        assert!(plans[6].is_none());
    }

    #[test]
    fn builtin_pack_shares_sub_conditions() {
        let set = crate::rules::RuleSet::builtin();
        let mut slots = Vec::new();
        let mut rules = 0;
        for p in &set.plans {
            let before = slots.len();
            memos(&p.expr, &mut slots);
            rules += usize::from(slots.len() > before);
        }
        slots.sort_unstable();
        slots.dedup();
        // The pod-spec and exec macros at least, each in several rules.
        assert!(slots.len() >= 4, "{slots:?}");
        assert!(rules >= 15, "{rules}");
    }
}
