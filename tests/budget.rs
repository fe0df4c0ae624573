//! The per-rule match budget (`RuleSet::match_budget`, RELIABILITY.md
//! *Limits*): at the limit a rule evaluates as usual, one byte over it is
//! blind with reason `budget` (counted and reported like any blind result),
//! and the record always passes through. All inputs are synthetic.

use kaudit_core::rules::state::StateLimits;
use kaudit_core::rules::{Builder, Detections, Detector, RuleSet, Verdict, DEFAULT_MATCH_BUDGET};
use kaudit_core::scan::{ScanOptions, Scanner};
use kaudit_core::{AuditEvent, Decoder, Field, Sink};
use serde_json::{json, Value};

const EVENT: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"b-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/configmaps","verb":"create","user":{"username":"alice"},"objectRef":{"resource":"configmaps","namespace":"default"},"responseStatus":{"code":201},"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z","stageTimestamp":"2026-01-01T00:00:00.001000Z"}"#;

fn rules(conditions: &[&str]) -> RuleSet {
    let mut src = String::from("rules:\n");
    for (i, c) in conditions.iter().enumerate() {
        src.push_str(&format!("  - id: r{i}\n    title: t\n    severity: low\n    condition: {c:?}\n"));
    }
    let mut b = Builder::new();
    b.add_file("budget.yaml", &src);
    b.build().unwrap_or_else(|e| panic!("{e:?}"))
}

/// EVENT with `userAgent` and `requestObject` set.
fn record(user_agent: &str, body: &Value) -> String {
    let mut v: Value = serde_json::from_str(EVENT).unwrap();
    v["userAgent"] = json!(user_agent);
    v["requestObject"] = body.clone();
    v.to_string()
}

/// The verdict of rule 0 on the record's one event.
fn verdict(set: &RuleSet, rec: &str) -> Verdict {
    set.verdict_on_unit(0, rec.as_bytes(), 1).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_default_budget_is_documented_and_unchanged_by_without() {
    let set = rules(&["userAgent contains \"x\""]);
    assert_eq!(set.match_budget(), DEFAULT_MATCH_BUDGET);
    assert_eq!(DEFAULT_MATCH_BUDGET, 8 << 20);
    let set = set.with_match_budget(77).without(&["nothing"]);
    assert_eq!(set.match_budget(), 77);
}

#[test]
fn text_matchers_at_the_budget_evaluate_and_one_byte_over_are_blind() {
    let ua = "kubectl/v1.30 ".repeat(100); // 1,400 bytes
    let rec = record(&ua, &json!({"a": 1}));
    for cond in [
        "userAgent contains \"kubectl\"",
        "userAgent icontains \"KUBECTL\"",
        "userAgent regex \"v1\\\\.3[0-9]\"",
        "userAgent glob \"kubectl*\"",
    ] {
        let set = rules(&[cond]).with_match_budget(ua.len());
        assert_eq!(verdict(&set, &rec), Verdict::Fire, "{cond} at the budget");
        let set = set.with_match_budget(ua.len() - 1);
        assert_eq!(verdict(&set, &rec), Verdict::Blind(Field::MatchBudget), "{cond} over the budget");
    }
    // A miss at the budget is a miss, not blind.
    let set = rules(&["userAgent contains \"curl\""]).with_match_budget(ua.len());
    assert_eq!(verdict(&set, &rec), Verdict::Quiet);
}

#[test]
fn whole_body_text_is_charged_for_serialisation_and_scanning() {
    let body = json!({"data": {"k": "v".repeat(1000)}});
    let text = body.to_string();
    let rec = record("ua", &body);
    let set = rules(&["requestObject contains \"vvv\""]);
    // Serialised (len) and then scanned (len).
    assert_eq!(verdict(&set.with_match_budget(2 * text.len()), &rec), Verdict::Fire);
    let set = rules(&["requestObject contains \"vvv\""]).with_match_budget(2 * text.len() - 1);
    assert_eq!(verdict(&set, &rec), Verdict::Blind(Field::MatchBudget));
    // Equality on an object only serialises it.
    let set = rules(&["requestObject.data != \"x\""]).with_match_budget(text.len());
    assert_eq!(verdict(&set, &rec), Verdict::Fire);
    let set = rules(&["requestObject.data != \"x\""]).with_match_budget(10);
    assert_eq!(verdict(&set, &rec), Verdict::Blind(Field::MatchBudget));
}

#[test]
fn the_budget_is_per_rule_and_spent_across_its_matchers() {
    let ua = "a".repeat(100);
    let rec = record(&ua, &json!({}));
    // Two scans of 100 bytes: 200 is enough, 199 is not.
    let cond = "userAgent contains \"zz\" or userAgent regex \"a{5}\"";
    assert_eq!(verdict(&rules(&[cond]).with_match_budget(200), &rec), Verdict::Fire);
    assert_eq!(verdict(&rules(&[cond]).with_match_budget(199), &rec), Verdict::Blind(Field::MatchBudget));
    // Each rule starts with a full budget: three rules of 100 bytes each
    // all evaluate under a budget of 100.
    let set = rules(&["userAgent contains \"a\"", "userAgent contains \"b\"", "userAgent regex \"^a+$\""])
        .with_match_budget(100);
    let dec = Decoder::default();
    let mut got = None;
    dec.decode(rec.as_bytes(), &mut OnEvent(|ev: &AuditEvent<'_>| got = Some(set.detect(ev))));
    let d = got.expect("one event");
    assert_eq!((d.hits, d.blind), (vec![0, 2], vec![]));
}

#[test]
fn a_decided_result_is_not_made_blind_by_the_budget() {
    let ua = "a".repeat(100);
    let rec = record(&ua, &json!({}));
    // `false and <over budget>` is false; `true or <over budget>` is true.
    for (cond, want) in [
        ("verb = delete and userAgent contains \"a\"", Verdict::Quiet),
        ("verb = create or userAgent contains \"a\"", Verdict::Fire),
        ("verb = create and userAgent contains \"a\"", Verdict::Blind(Field::MatchBudget)),
        ("not userAgent contains \"a\"", Verdict::Blind(Field::MatchBudget)),
    ] {
        assert_eq!(verdict(&rules(&[cond]).with_match_budget(10), &rec), want, "{cond}");
    }
    // An exception over budget leaves the rule blind, not firing.
    let src = "rules:\n  - id: r0\n    title: t\n    severity: low\n    condition: verb = create\n    exceptions:\n      - condition: userAgent contains \"zz\"\n";
    let mut b = Builder::new();
    b.add_file("x.yaml", src);
    let set = b.build().unwrap().with_match_budget(10);
    assert_eq!(verdict(&set, &rec), Verdict::Blind(Field::MatchBudget));
}

#[test]
fn over_budget_records_pass_through_annotated_and_counted() {
    let ua = "b".repeat(5000);
    let rec = record(&ua, &json!({}));
    let input = format!("{rec}\n{EVENT}\n");
    // (A `contains` rule is filed in the index under its needle and is not
    // even a candidate when the needle is absent: the index decides it with
    // one scan per field per event, outside any rule's budget. A regex is
    // evaluated.)
    let set = rules(&["userAgent regex \"zz\""]).with_match_budget(4096);
    let dec = Decoder::default();
    let opts = ScanOptions { blind: true, write_events: true, ..ScanOptions::default() };
    let mut sc = Scanner::new(&set, opts);
    for line in input.lines() {
        sc.record(&dec, line.as_bytes());
    }
    let t = sc.stats().total();
    assert_eq!((t.events, t.skipped, t.errors), (2, 0, 0));
    assert_eq!(sc.summary()[0].blind.get(&("k8s", "budget")), Some(&1), "{:?}", sc.summary()[0].blind);
    let out = String::from_utf8(sc.output().to_vec()).unwrap();
    let lines: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["userAgent"].as_str().map(str::len), Some(5000), "the record is kept whole");
    assert_eq!(lines[0]["kaudit"]["blind"], json!([{"rule": "r0", "field": "budget"}]));
    assert_eq!(lines[1]["kaudit"]["blind"], json!([]));
}

#[test]
fn a_sequence_step_over_budget_is_blind_not_forgotten() {
    // A regex first step is evaluated (a `contains` one is settled by the
    // stateful index's needle scan, outside any rule's budget).
    let src = "rules:\n  - id: seq\n    title: t\n    severity: low\n    condition: verb = delete\n    sequence:\n      by: [user.username]\n      within: 1m\n      first: userAgent regex \"evil\"\n";
    let mut b = Builder::new();
    b.add_file("seq.yaml", src);
    let set = b.build().unwrap_or_else(|e| panic!("{e:?}")).with_match_budget(10);
    let rec = record(&"x".repeat(100), &json!({}));
    let mut det = Detector::new(&set, StateLimits::default());
    let mut out = Detections::default();
    let dec = Decoder::default();
    dec.decode(rec.as_bytes(), &mut OnEvent(|ev: &AuditEvent<'_>| det.detect_into(ev, &mut out)));
    assert_eq!(out.blind, vec![(0, Field::MatchBudget)]);
}

/// A sink that calls `f` on every event.
struct OnEvent<F>(F);

impl<F: FnMut(&AuditEvent<'_>)> Sink for OnEvent<F> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        (self.0)(ev)
    }
    fn skipped(&mut self, _: kaudit_core::Unit<'_>, r: &'static str) {
        panic!("skipped: {r}")
    }
    fn error(&mut self, _: kaudit_core::Unit<'_>, e: &kaudit_core::Error) {
        panic!("error: {e}")
    }
}
