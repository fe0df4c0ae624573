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

/// A rule file with an error is rejected with file, line, column and a message.
#[test]
fn rule_file_errors_name_file_line_and_column() {
    let cases: &[(&str, (usize, usize), &str)] = &[
        // A condition syntax error: column of the offending token.
        ("rules:\n  - id: r\n    title: t\n    severity: low\n    condition: verb = get get\n", (5, 27), "unexpected text"),
        ("rules:\n  - id: r\n    title: t\n    severity: low\n    condition: no.such.field = 1\n", (5, 16), "unknown field `no.such.field`"),
        ("rules:\n  - id: r\n    title: t\n    severity: low\n    condition: verb = get and nosuchmacro\n", (5, 31), "unknown macro"),
        ("rules:\n  - id: r\n    title: t\n    severity: urgent\n    condition: verb = get\n", (4, 15), "severity must be one of"),
        ("rules:\n  - id: r\n    title: t\n    severity: low\n", (2, 5), "missing `condition`"),
        ("rules:\n  - id: r\n    title: t\n    severity: low\n    condition: verb = get\n    colour: red\n", (6, 13), "unknown rule key `colour`"),
        ("macros:\n  a: b\n  b: a\nrules:\n  - id: r\n    title: t\n    severity: low\n    condition: a\n", (8, 16), "macro cycle"),
        ("rules: [\n", (2, 1), "YAML"),
        ("rules:\n  - id: r\n    title: t\n    severity: low\n    condition: code > high\n", (5, 16), "needs a number"),
        ("rules:\n  - id: r\n    title: t\n    severity: low\n    condition: userAgent regex '(unclosed'\n", (5, 16), "invalid regex"),
        (
            "rules:\n  - id: r\n    title: t\n    severity: low\n    condition: verb = get\n    window: {by: [user.username], within: 5 minutes, count: 3}\n",
            (6, 43),
            "a duration",
        ),
    ];
    for (src, (line, col), msg) in cases {
        let mut b = kaudit_core::rules::Builder::new();
        b.add_file("user.yaml", src);
        let errs = match b.build() {
            Ok(_) => panic!("accepted:\n{src}"),
            Err(e) => e,
        };
        let e = &errs[0];
        assert_eq!(e.file, "user.yaml");
        assert!(e.message.contains(msg), "{e} (wanted {msg:?})");
        assert_eq!((e.line, e.col), (*line, *col), "{e}\n{src}");
    }
}

#[test]
fn duplicate_rule_ids_across_files_are_rejected() {
    let rule = "rules:\n  - id: same\n    title: t\n    severity: low\n    condition: verb = get\n";
    let mut b = kaudit_core::rules::Builder::new();
    b.add_file("a.yaml", rule).add_file("b.yaml", rule);
    let errs = b.build().expect_err("rejected");
    assert!(errs[0].to_string().starts_with("b.yaml:2:5:"), "{}", errs[0]);
    assert!(errs[0].message.contains("used twice"));
}
