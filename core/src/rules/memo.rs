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

use super::eval::{Expr, Matcher};
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
                )
        }
    }
}

/// A node worth sharing: a pure `and`/`or`/`not` (a single test is as cheap
/// to evaluate as to look up).
fn candidate(e: &Expr) -> bool {
    matches!(e, Expr::And(_) | Expr::Or(_) | Expr::Not(_)) && pure(e)
}

fn key(e: &Expr) -> String {
    format!("{e:?}")
}

fn count(e: &Expr, seen: &mut HashMap<String, usize>) {
    if candidate(e) {
        *seen.entry(key(e)).or_default() += 1;
    }
    match e {
        Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| count(x, seen)),
        Expr::Not(x) | Expr::Memo(_, x) => count(x, seen),
        Expr::Test { .. } | Expr::Exists(_) => {}
    }
}

/// `e` with every shared sub-condition in `slots` wrapped.
fn plan(e: &Expr, slots: &HashMap<String, u8>) -> Expr {
    let inner = match e {
        Expr::And(xs) => Expr::And(xs.iter().map(|x| plan(x, slots)).collect()),
        Expr::Or(xs) => Expr::Or(xs.iter().map(|x| plan(x, slots)).collect()),
        Expr::Not(x) => Expr::Not(Box::new(plan(x, slots))),
        Expr::Memo(_, x) => return plan(x, slots),
        other => return other.clone(),
    };
    match candidate(e).then(|| slots.get(&key(e))).flatten() {
        Some(&s) => Expr::Memo(s, Box::new(inner)),
        None => inner,
    }
}

/// The plans of `conds` (each rule's condition): shared pure
/// sub-conditions memoised, numbered from 0 in order of first occurrence.
pub fn plans(conds: &[&Expr]) -> Vec<Expr> {
    let mut seen = HashMap::new();
    for e in conds {
        count(e, &mut seen);
    }
    let mut slots: HashMap<String, u8> = HashMap::new();
    // Number in order of first occurrence, for a deterministic plan.
    fn assign(e: &Expr, seen: &HashMap<String, usize>, slots: &mut HashMap<String, u8>) {
        if candidate(e) {
            let k = key(e);
            if seen.get(&k).is_some_and(|&n| n > 1) && !slots.contains_key(&k) && slots.len() < SLOTS {
                let n = slots.len() as u8;
                slots.insert(k, n);
            }
        }
        match e {
            Expr::And(xs) | Expr::Or(xs) => xs.iter().for_each(|x| assign(x, seen, slots)),
            Expr::Not(x) | Expr::Memo(_, x) => assign(x, seen, slots),
            Expr::Test { .. } | Expr::Exists(_) => {}
        }
    }
    for e in conds {
        assign(e, &seen, &mut slots);
    }
    conds.iter().map(|e| plan(e, &slots)).collect()
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
                memos(p, &mut v);
                v
            })
            .collect();
        // `shared` in a and b; neither the budget-charging `contains` nor
        // the body read, and nothing that occurs once.
        assert_eq!(got, vec![vec![0], vec![0], vec![], vec![], vec![], vec![], vec![]]);
        // A plan evaluates like its condition (the memo is transparent).
        assert_eq!(format!("{:?}", conds[6]), format!("{:?}", plans[6]));
    }

    #[test]
    fn builtin_pack_shares_sub_conditions() {
        let set = crate::rules::RuleSet::builtin();
        let mut slots = Vec::new();
        let mut rules = 0;
        for r in set.rules() {
            let before = slots.len();
            memos(r.plan.as_ref().expect("indexed sets have plans"), &mut slots);
            rules += usize::from(slots.len() > before);
        }
        slots.sort_unstable();
        slots.dedup();
        // The pod-spec and exec macros at least, each in several rules.
        assert!(slots.len() >= 4, "{slots:?}");
        assert!(rules >= 15, "{rules}");
    }
}
