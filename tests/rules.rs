//! Every built-in rule's own test cases (positive, negative, blind), run
//! against the native engine. Fixture cases (`path:N`) name the N-th unit of
//! a fixture, numbered like the golden outputs.

use std::path::Path;

use kaudit_core::rules::{RuleSet, TestOutcome};
use kaudit_tests::read_fixture;

fn run_test(set: &RuleSet, rule: usize, t: &kaudit_core::rules::RuleTest) -> Result<(), String> {
    let mut load = |p: &str| Some(read_fixture(Path::new(p)));
    match set.run_test(rule, t, &mut load) {
        TestOutcome::Pass(_) => Ok(()),
        TestOutcome::Fail(e) | TestOutcome::Skipped(e) => Err(e),
    }
}

#[test]
fn builtin_rule_tests_pass() {
    let set = RuleSet::builtin();
    let mut failures = Vec::new();
    let mut ran = 0;
    for (i, r) in set.rules().iter().enumerate() {
        assert!(!r.tests.is_empty(), "rule {} has no tests", r.id);
        for t in &r.tests {
            ran += 1;
            if let Err(e) = run_test(&set, i, t) {
                failures.push(format!("{} ({}:{}) test `{}`: {e}", r.id, r.file, t.line, t.name));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {ran} rule tests failed:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_rule_has_a_positive_and_a_negative_test() {
    use kaudit_core::rules::Expect;
    let set = RuleSet::builtin();
    for r in set.rules() {
        assert!(r.tests.iter().any(|t| t.expect == Expect::Fire), "{}: no positive test", r.id);
        assert!(r.tests.iter().any(|t| t.expect == Expect::Quiet), "{}: no negative test", r.id);
    }
}

#[test]
fn builtin_pack_compiles_without_warnings() {
    let set = RuleSet::builtin();
    let w: Vec<String> = set.warnings.iter().map(|w| w.to_string()).collect();
    assert!(w.is_empty(), "{}", w.join("\n"));
}

#[test]
fn regression_unknown_list_name_is_warned() {
    let mut b = kaudit_core::rules::Builder::new();
    b.add_file("t.yaml", "rules:\n  - id: r\n    title: t\n    severity: low\n    condition: verb in (wirte_verbs)\n");
    let set = b.build().unwrap();
    assert_eq!(set.warnings.len(), 1);
    assert_eq!((set.warnings[0].line, set.warnings[0].col), (5, 16));
    assert!(set.warnings[0].message.contains("wirte_verbs"));
}

#[test]
fn seed_rules_exist() {
    let set = RuleSet::builtin();
    for id in ["anonymous-workload-create", "serviceaccount-create-or-modify", "impersonation"] {
        assert!(set.find(id).is_some(), "missing seed rule {id}");
    }
}
