//! Every built-in rule's own test cases (positive, negative, blind), run
//! against the native engine. Fixture cases (`path:N`) name the N-th unit of
//! a fixture, numbered like the golden outputs.

use std::path::Path;

use kaudit_core::rules::{Detections, RuleSet, TestOutcome, Verdict};
use kaudit_core::{AuditEvent, Sink, Unit};
use kaudit_tests::read_fixture;

fn run_test(set: &RuleSet, rule: usize, t: &kaudit_core::rules::RuleTest) -> Result<(), String> {
    let mut load = |p: &str| Some(read_fixture(Path::new(p)));
    match set.run_test(rule, t, &mut load) {
        TestOutcome::Pass(_) => Ok(()),
        TestOutcome::Fail(e) | TestOutcome::Skipped(e) => Err(e),
    }
}

/// Decode every fixture record and every record of the rules' embedded
/// tests into `sink`.
fn decode_corpus(set: &RuleSet, dec: &kaudit_core::Decoder, sink: &mut dyn kaudit_core::Sink) {
    for rel in kaudit_tests::fixtures() {
        let bytes = read_fixture(&rel);
        for f in kaudit_core::frame::records(&bytes, 1 << 30) {
            dec.decode(&bytes[f.range], sink);
        }
    }
    for r in set.rules() {
        for t in &r.tests {
            for rec in t.record.iter().chain(t.records.iter()) {
                dec.decode(rec.as_bytes(), sink);
            }
        }
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

/// Feed `set` the same stream (every fixture event, then every rule test
/// event of the built-in pack, in order) through a detector with the index
/// and one evaluating every stateful rule on every event; they must give
/// the same detections on every event. Returns (events, detections).
fn stateful_indexed_equals_unindexed(set: &RuleSet) -> (usize, usize) {
    use kaudit_core::rules::{Detections, Detector};
    use kaudit_core::{AuditEvent, Decoder, Sink, Unit};
    struct Both<'s> {
        indexed: Detector<'s>,
        full: Detector<'s>,
        a: Detections,
        b: Detections,
        events: usize,
        fired: usize,
        diffs: Vec<String>,
    }
    impl Sink for Both<'_> {
        fn event(&mut self, ev: &AuditEvent<'_>) {
            self.events += 1;
            self.indexed.detect_into(ev, &mut self.a);
            self.full.detect_into(ev, &mut self.b);
            self.fired += self.a.hits.len();
            if self.a != self.b {
                self.diffs.push(format!(
                    "{:?}: indexed {:?} {:?}, full {:?} {:?}",
                    ev.audit_id, self.a.hits, self.a.blind, self.b.hits, self.b.blind
                ));
            }
        }
        fn skipped(&mut self, _: Unit<'_>, _: &'static str) {}
        fn error(&mut self, _: Unit<'_>, _: &kaudit_core::Error) {}
    }
    let limits = Default::default();
    let dec = Decoder::default();
    let mut c = Both {
        indexed: Detector::new(set, limits),
        full: Detector::new(set, limits).without_index(),
        a: Detections::default(),
        b: Detections::default(),
        events: 0,
        fired: 0,
        diffs: Vec::new(),
    };
    decode_corpus(&RuleSet::builtin(), &dec, &mut c);
    assert!(c.diffs.is_empty(), "{}", c.diffs.join("\n"));
    (c.events, c.fired)
}

/// The stateful index only skips rules whose steps cannot match (see
/// `stateful_indexed_equals_unindexed`), on the built-in pack.
#[test]
fn stateful_index_gives_the_same_results_as_evaluating_every_rule() {
    let (events, fired) = stateful_indexed_equals_unindexed(&RuleSet::builtin());
    assert!(events > 500, "{events}");
    assert!(fired > 0);
}

/// The same with synthetic stateful rules the built-in pack does not have:
/// declared requirements (blind on every event whose source lacks them,
/// whatever the index says), several stateful rules on one event, a sequence
/// whose first step and condition are filed under different keys, and a
/// stateless rule among them. Regression test for visiting only the
/// stateful rules the index leaves in (session 6).
#[test]
fn stateful_index_keeps_declared_requirements_and_rule_order() {
    use kaudit_core::rules::Builder;
    let rules = r#"
rules:
  - {id: a-window, title: t, severity: low, condition: "verb = get", window: {by: [user.username], within: 5m, count: 3}}
  - {id: plain, title: t, severity: low, condition: "verb = get"}
  - {id: b-declared, title: t, severity: low, condition: "verb = create", requires: [requestObject], window: {by: [user.username], within: 5m, count: 2}}
  - {id: c-sequence, title: t, severity: low, condition: "verb = delete", sequence: {by: [user.username], within: 5m, first: "verb = get"}}
  - {id: d-declared-sequence, title: t, severity: low, condition: "verb = list", requires: [user.groups], sequence: {by: [user.username], within: 5m, first: "verb = watch"}}
  - {id: e-window, title: t, severity: low, condition: "verb in (get, list)", window: {by: [user.username], within: 5m, count: 2, distinct: objectRef.resource}}
"#;
    let mut b = Builder::new();
    b.add_file("synthetic.yaml", rules);
    let set = b.build().expect("compiles");
    let (events, fired) = stateful_indexed_equals_unindexed(&set);
    assert!(events > 500, "{events}");
    assert!(fired > 0);
}

/// Shared sub-conditions are evaluated once per event and reused by every
/// rule that has them (`core/src/rules/memo.rs`): on every fixture and rule
/// test event, and at a match budget small enough to make rules blind,
/// indexed detection (one view, memo shared across the rules, in rule
/// order) gives each stateless rule the verdict of its condition evaluated
/// alone without any memo.
#[test]
fn memoised_sub_conditions_give_the_same_verdicts() {
    use kaudit_core::Decoder;
    let dec = Decoder::default();
    let set = RuleSet::builtin();
    let mut c = IndexCheck::stateless(&set, RuleSet::verdict_unplanned);
    decode_corpus(&set, &dec, &mut c);
    assert!(c.events > 500, "{}", c.events);
    assert!(c.fired() > 0);
    assert!(c.diffs.is_empty(), "{}", c.diffs.join("\n"));

    // At a budget that makes rules blind, rule by rule (the index answers
    // quiet, not blind, where a needle it looked for is absent, so indexed
    // detection is compared with `verdict` at the default budget only).
    struct Alone<'s> {
        set: &'s RuleSet,
        blind: usize,
        diffs: Vec<String>,
    }
    impl Sink for Alone<'_> {
        fn event(&mut self, ev: &AuditEvent<'_>) {
            for (i, r) in self.set.rules().iter().enumerate() {
                let (got, want) = (self.set.verdict(i, ev), self.set.verdict_unplanned(i, ev));
                self.blind += usize::from(matches!(want, Verdict::Blind(kaudit_core::Field::MatchBudget)));
                if got != want {
                    self.diffs.push(format!("{} on {:?}: planned {got:?}, unplanned {want:?}", r.id, ev.audit_id));
                }
            }
        }
        fn skipped(&mut self, _: Unit<'_>, _: &'static str) {}
        fn error(&mut self, _: Unit<'_>, _: &kaudit_core::Error) {}
    }
    let small = RuleSet::builtin().with_match_budget(100);
    let mut a = Alone { set: &small, blind: 0, diffs: Vec::new() };
    decode_corpus(&small, &dec, &mut a);
    assert!(a.blind > 0, "the small budget makes some rules blind");
    assert!(a.diffs.is_empty(), "{}", a.diffs.join("\n"));
}

/// The index only skips rules that cannot match: on every fixture event and
/// every rule test event, indexed detection equals evaluating every rule.
#[test]
fn index_gives_the_same_results_as_evaluating_every_rule() {
    use kaudit_core::Decoder;
    let set = RuleSet::builtin();
    let dec = Decoder::default();
    let mut c = IndexCheck::stateless(&set, RuleSet::verdict);
    decode_corpus(&set, &dec, &mut c);
    assert!(c.events > 500, "{}", c.events);
    assert!(c.diffs.is_empty(), "{}", c.diffs.join("\n"));
}

/// What a rule evaluated alone gives on an event (`RuleSet::verdict`, or
/// `RuleSet::verdict_unplanned`).
type AloneVerdict = fn(&RuleSet, usize, &AuditEvent<'_>) -> Verdict;

/// A sink that checks, event by event, that indexed detection
/// (`detect_into`) gives every rule the verdict of evaluating it alone
/// (`verdict` unless told otherwise), and counts each rule's fire and
/// blind verdicts.
struct IndexCheck<'s> {
    set: &'s RuleSet,
    want: AloneVerdict,
    /// Leave stateful rules out (`detect_into` evaluates stateless ones).
    stateless_only: bool,
    out: Detections,
    events: usize,
    /// (fire, blind) per rule.
    verdicts: Vec<(usize, usize)>,
    diffs: Vec<String>,
}

impl<'s> IndexCheck<'s> {
    fn new(set: &'s RuleSet) -> Self {
        let n = set.rules().len();
        IndexCheck {
            set,
            want: RuleSet::verdict,
            stateless_only: false,
            out: Detections::default(),
            events: 0,
            verdicts: vec![(0, 0); n],
            diffs: Vec::new(),
        }
    }

    /// Only the stateless rules, each against `want`.
    fn stateless(set: &'s RuleSet, want: AloneVerdict) -> Self {
        IndexCheck { want, stateless_only: true, ..IndexCheck::new(set) }
    }

    fn fired(&self) -> usize {
        self.verdicts.iter().map(|v| v.0).sum()
    }
}

impl Sink for IndexCheck<'_> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        self.events += 1;
        self.set.detect_into(ev, &mut self.out);
        for (i, r) in self.set.rules().iter().enumerate() {
            if self.stateless_only && r.state.is_some() {
                continue;
            }
            let want = (self.want)(self.set, i, ev);
            let got = if self.out.hits.contains(&(i as u32)) {
                Verdict::Fire
            } else if let Some((_, f)) = self.out.blind.iter().find(|(j, _)| *j == i as u32) {
                Verdict::Blind(*f)
            } else {
                Verdict::Quiet
            };
            match want {
                Verdict::Fire => self.verdicts[i].0 += 1,
                Verdict::Blind(_) => self.verdicts[i].1 += 1,
                Verdict::Quiet => {}
            }
            if want != got {
                self.diffs.push(format!("{} on {:?}: indexed {got:?}, full {want:?}", r.id, ev.audit_id));
            }
        }
    }
    fn skipped(&mut self, _: Unit<'_>, _: &'static str) {}
    fn error(&mut self, _: Unit<'_>, _: &kaudit_core::Error) {}
}

/// Rules of shapes the index files by disjunction, by annotation key or
/// value, or not at all (declared requirements), checked like the built-in
/// pack: on every fixture event and on synthetic edge events (escaped
/// annotation keys and values, duplicate keys, numbers spelled as text),
/// indexed detection equals evaluating every rule. The rules and events
/// here are synthetic.
#[test]
fn index_gives_the_same_results_on_disjunctions_annotations_and_declared_requirements() {
    use kaudit_core::rules::Builder;
    use kaudit_core::Decoder;
    let rules = r#"
rules:
  - {id: legacy, title: t, severity: low, condition: "annotations[example.com/legacy-token] exists or annotations[example.com/other] exists"}
  - {id: denied, title: t, severity: low, condition: "code in (401, 403) or authz.decision = forbid"}
  - {id: decision-only, title: t, severity: low, condition: "authz.decision = forbid and verb in (get, create)"}
  - {id: control, title: t, severity: low, condition: "actor.kind = control-plane or (actor.serviceaccount.namespace = kube-system and actor.serviceaccount.name in (a, b))"}
  - {id: numeric-name, title: t, severity: low, condition: "objectRef.name = 1"}
  - {id: declared, title: t, severity: low, condition: "verb = create", requires: [requestObject]}
  - {id: failed-tool, title: t, severity: low, condition: "outcome = failure and (userAgent contains curl or userAgent startswith python)"}
"#;
    let mut b = Builder::new();
    b.add_file("synthetic.yaml", rules);
    let set = b.build().expect("compiles");
    // `name = 1` also matches the text `1.0`: a number on a text field
    // cannot be looked up by its spelling, so that rule is not indexed.
    assert_eq!(set.unindexed(), ["numeric-name", "declared"], "every other rule is filed under a key");
    // Synthetic vanilla events: (annotations, user, name, code, verb, level, user agent).
    let cases: &[(&str, &str, &str, u32, &str, &str, &str)] = &[
        (r#"{"example.com\/legacy-token":"x"}"#, "alice", "n", 200, "get", "Metadata", "kubectl"),
        (r#"{"example.com/legacy\u002dtoken":"x"}"#, "alice", "n", 200, "get", "Metadata", "kubectl"),
        (
            r#"{"example.com/legacy-token":"x","authorization.k8s.io/decision":"allow"}"#,
            "alice",
            "n",
            200,
            "get",
            "Metadata",
            "kubectl",
        ),
        (r#"{"example.com/other":1}"#, "alice", "n", 200, "get", "Metadata", "kubectl"),
        (r#"{"authorization.k8s.io/decision":"forb\u0069d"}"#, "alice", "n", 200, "get", "Metadata", "kubectl"),
        (r#"{"authorization.k8s.io\/decision":"forbid"}"#, "alice", "n", 200, "create", "Metadata", "kubectl"),
        (r#"{"authorization.k8s.io/decision":"forbid"}"#, "alice", "n", 200, "create", "Metadata", "kubectl"),
        (
            r#"{"authorization.k8s.io/decision":"allow","authorization.k8s.io/decision":"forbid"}"#,
            "alice",
            "n",
            200,
            "get",
            "Metadata",
            "kubectl",
        ),
        (
            r#"{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"RBAC: \"forbid\" \\u"}"#,
            "alice",
            "n",
            200,
            "get",
            "Metadata",
            "kubectl",
        ),
        (
            r#"{"authorization.k8s.io/decision":"\ud83d\ude00","example.com/other":"\ud83d\ude00"}"#,
            "alice",
            "n",
            200,
            "get",
            "Metadata",
            "kubectl",
        ),
        (r#"{}"#, "system:kube-controller-manager", "1", 403, "get", "Metadata", "kubectl"),
        (r#"{}"#, "system:serviceaccount:kube-system:a", "1.0", 200, "create", "Request", "kubectl"),
        (r#"{}"#, "system:serviceaccount:kube-system:c", "01", 500, "create", "Metadata", "curl/8.0"),
        (r#"{}"#, "system:serviceaccount:default:a", " 1", 500, "list", "Metadata", "python-requests"),
        (r#"null"#, "bob", "x", 401, "create", "None", "python"),
    ];
    let mut records: Vec<String> = Vec::new();
    for (i, (ann, user, name, code, verb, level, ua)) in cases.iter().enumerate() {
        records.push(format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"{level}","auditID":"synthetic-{i}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/d/pods/{name}","verb":"{verb}","user":{{"username":"{user}","groups":["system:authenticated"]}},"sourceIPs":["10.0.0.1"],"userAgent":"{ua}","objectRef":{{"resource":"pods","namespace":"d","name":"{name}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":{code}}},"requestReceivedTimestamp":"2024-05-14T09:00:00.000000Z","stageTimestamp":"2024-05-14T09:00:00.000001Z","annotations":{ann}}}"#
        ));
    }
    let dec = Decoder::default();
    let mut c = IndexCheck::new(&set);
    for r in &records {
        dec.decode(r.as_bytes(), &mut c);
    }
    assert_eq!(c.events, cases.len(), "every synthetic record is an event");
    let synthetic = c.verdicts.clone();
    for rel in kaudit_tests::fixtures() {
        let bytes = read_fixture(&rel);
        for f in kaudit_core::frame::records(&bytes, 1 << 30) {
            dec.decode(&bytes[f.range], &mut c);
        }
    }
    assert!(c.diffs.is_empty(), "{}", c.diffs.join("\n"));
    // The synthetic events exercise what they are meant to: escaped keys
    // and values fire, a number spelled `1.0` equals 1, declared
    // requirements make a rule blind.
    let fired = |id: &str| synthetic[set.find(id).unwrap()].0;
    assert_eq!(fired("legacy"), 4);
    // 401/403 twice; `forbid` plain, with an escaped key and escaped value
    // (not where a duplicate key's first value is `allow`, nor where only
    // the reason says "forbid").
    assert_eq!(fired("denied"), 5);
    assert_eq!(fired("decision-only"), 3);
    assert_eq!(fired("control"), 2);
    // `1`, `1.0` and `01`, not ` 1`.
    assert_eq!(fired("numeric-name"), 3);
    assert_eq!(fired("failed-tool"), 3);
    assert!(synthetic[set.find("declared").unwrap()].1 > 0);
}

/// The built-in pack has no rule evaluated on every event (the last three,
/// `api-request-unauthorized`, `control-plane-identity-from-public-ip`
/// and `legacy-serviceaccount-token-used`, are filed under disjunctions
/// and annotation keys).
#[test]
fn builtin_pack_has_no_unindexed_rule() {
    assert!(RuleSet::builtin().unindexed().is_empty(), "{:?}", RuleSet::builtin().unindexed());
}

/// The index reads its scalar fields straight from the event, rules keys
/// out by their lengths and first bytes before hashing, and skips the search
/// for an annotation key that contains one already ruled out: none of that
/// changes a verdict (synthetic rules and synthetic edge events — nested
/// annotation keys, escaped and not, codes beyond the fast path, service
/// account names of every length and first letter, impersonation without a
/// name, exec and not — plus every fixture event and every embedded rule
/// test event: indexed detection == evaluating every rule).
#[test]
fn index_fast_reads_give_the_same_results_as_evaluating_every_rule() {
    use kaudit_core::rules::Builder;
    use kaudit_core::Decoder;
    let rules = r#"
rules:
  - {id: legacy-either, title: t, severity: low, condition: "annotations[example.com/legacy-token] exists or annotations[example.com/legacy-token-invalidated] exists"}
  - {id: legacy-long, title: t, severity: low, condition: "annotations[example.com/legacy-token-invalidated] exists"}
  - {id: denied, title: t, severity: low, condition: "code in (401, 403)"}
  - {id: sa-name, title: t, severity: low, condition: "actor.serviceaccount.name in (ab, abc, xbc) and verb = get"}
  - {id: impersonated, title: t, severity: low, condition: "impersonatedUser.username exists"}
  - {id: exec-curl, title: t, severity: low, condition: "exec.command contains curl"}
  - {id: name-prefix, title: t, severity: low, condition: "objectRef.name startswith ('system:', 'eks:', 'system:x')"}
  - {id: name-suffix, title: t, severity: low, condition: "objectRef.name endswith ('-x', 'x')"}
"#;
    let mut b = Builder::new();
    b.add_file("synthetic.yaml", rules);
    let set = b.build().expect("compiles");
    assert!(set.unindexed().is_empty(), "{:?}", set.unindexed());
    // Synthetic vanilla events: (annotations, user, impersonatedUser, code, verb, subresource, query);
    // past the exec cases, the last column is the object's name (else `p`).
    let cases: &[(&str, &str, &str, &str, &str, &str, &str)] = &[
        (r#"{"example.com/legacy-token-invalidated":"x"}"#, "alice", "", "200", "get", "", ""),
        (r#"{"example.com\/legacy-token-invalidated":"x"}"#, "alice", "", "200", "get", "", ""),
        (r#"{"example.com/legacy-token":"x"}"#, "alice", "", "200", "get", "", ""),
        (r#"{"authorization.k8s.io/reason":"legacy-token"}"#, "alice", "", "200", "get", "", ""),
        (r#"{}"#, "alice", "", "-401", "get", "", ""),
        (r#"{}"#, "alice", "", "1000000000000401", "get", "", ""),
        (r#"{}"#, "alice", "", "999999999999999", "get", "", ""),
        (r#"{}"#, "alice", "", "401", "get", "", ""),
        (r#"{}"#, "system:serviceaccount:ns:ab", "", "403", "get", "", ""),
        (r#"{}"#, "system:serviceaccount:ns:abc", "", "200", "get", "", ""),
        (r#"{}"#, "system:serviceaccount:ns:xbc", "", "200", "get", "", ""),
        (r#"{}"#, "system:serviceaccount:ns:bbc", "", "200", "get", "", ""),
        (r#"{}"#, "system:serviceaccount:ns:abcd", "", "200", "get", "", ""),
        (r#"{}"#, "system:serviceaccount:ns:", "", "200", "get", "", ""),
        (r#"{}"#, "alice", r#"{"username":""}"#, "200", "get", "", ""),
        (r#"{}"#, "alice", r#"{"username":"x"}"#, "200", "get", "", ""),
        (r#"{}"#, "alice", r#"{"groups":["g"]}"#, "200", "get", "", ""),
        (r#"{}"#, "alice", "", "101", "create", "exec", "?command=curl&command=-s&container=c"),
        (r#"{}"#, "alice", "", "101", "get", "exec", "?command=sh"),
        (r#"{}"#, "alice", "", "101", "create", "exec", ""),
        (r#"{}"#, "alice", "", "200", "get", "", "system:x"),
        (r#"{}"#, "alice", "", "200", "get", "", "eks:"),
        (r#"{}"#, "alice", "", "200", "get", "", "xsystem:"),
        (r#"{}"#, "alice", "", "200", "get", "", "a-x"),
        (r#"{}"#, "alice", "", "200", "get", "", "eks"),
    ];
    let mut records: Vec<String> = Vec::new();
    for (i, (ann, user, imp, code, verb, sub, query)) in cases.iter().enumerate() {
        let (name, query) = if i >= 20 { (*query, "") } else { ("p", *query) };
        let imp = if imp.is_empty() { String::new() } else { format!(r#""impersonatedUser":{imp},"#) };
        let (sub_field, sub_path) = if sub.is_empty() {
            (String::new(), String::new())
        } else {
            (format!(r#","subresource":"{sub}""#), format!("/{sub}"))
        };
        records.push(format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"synthetic-{i}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/d/pods/{name}{sub_path}{query}","verb":"{verb}","user":{{"username":"{user}","groups":["system:authenticated"]}},{imp}"sourceIPs":["10.0.0.1"],"userAgent":"kubectl","objectRef":{{"resource":"pods","namespace":"d","name":"{name}","apiVersion":"v1"{sub_field}}},"responseStatus":{{"metadata":{{}},"code":{code}}},"requestReceivedTimestamp":"2024-05-14T09:00:00.000000Z","stageTimestamp":"2024-05-14T09:00:00.000001Z","annotations":{ann}}}"#
        ));
    }
    let dec = Decoder::default();
    let mut c = IndexCheck::new(&set);
    for r in &records {
        dec.decode(r.as_bytes(), &mut c);
    }
    assert_eq!(c.events, cases.len(), "every synthetic record is an event");
    let synthetic = c.verdicts.clone();
    decode_corpus(&RuleSet::builtin(), &dec, &mut c);
    assert!(c.diffs.is_empty(), "{}", c.diffs.join("\n"));
    let fired = |id: &str| synthetic[set.find(id).unwrap()].0;
    // Both keys, the long one plain and escaped, the short one alone.
    assert_eq!(fired("legacy-either"), 3);
    assert_eq!(fired("legacy-long"), 2);
    assert_eq!(fired("denied"), 2);
    assert_eq!(fired("sa-name"), 3);
    assert_eq!(fired("exec-curl"), 1);
    assert!(fired("impersonated") >= 1);
    // `system:x` (two prefixes), `eks:`; `system:x`, `a-x` (two suffixes).
    assert_eq!(fired("name-prefix"), 2);
    assert_eq!(fired("name-suffix"), 2);
}

/// The index reads each field once per event into slots, files
/// `exec = true` under the exec key, and rules annotation keys and values
/// out together, by one search per slash-free piece of their texts (and one
/// for `\u`): none of that changes a verdict (synthetic rules and synthetic
/// edge events — values and keys with `/` written `\/`, a `\u` escape, the
/// pieces elsewhere in the text, a key that is all slashes (no piece: each
/// literal is searched for alone, as before), exec and attach by verb,
/// resource and subresource, codes at the ends of the three-digit range —
/// plus every fixture event and every embedded rule test event: indexed
/// detection == evaluating every rule).
#[test]
fn index_slots_exec_key_and_annotation_pieces_give_the_same_results_as_evaluating_every_rule() {
    let rules = r#"
rules:
  - {id: exec-get, title: t, severity: low, condition: "exec = true and verb = get"}
  - {id: exec-any, title: t, severity: low, condition: "exec = true"}
  - {id: not-exec, title: t, severity: low, condition: "exec = false and objectRef.subresource in (exec, attach)"}
  - {id: decision, title: t, severity: low, condition: "authz.decision in ('a/b', forbid)"}
  - {id: tok, title: t, severity: low, condition: "annotations[example.com/tok] exists"}
  - {id: tok-long, title: t, severity: low, condition: "annotations[example.com/tok-x] exists"}
  - {id: prefix-only, title: t, severity: low, condition: "annotations[example.com/] exists"}
  - {id: codes, title: t, severity: low, condition: "code in (99, 100, 999, 1000)"}
"#;
    let all_slashes = "  - {id: slashes, title: t, severity: low, condition: \"annotations[/] exists\"}\n";
    // Synthetic vanilla events: (annotations, code, verb, resource, subresource, query).
    let cases: &[(&str, &str, &str, &str, &str, &str)] = &[
        (r#"{"authorization.k8s.io/decision":"a\/b"}"#, "200", "get", "pods", "", ""),
        (r#"{"authorization.k8s.io/decision":"a/b"}"#, "200", "get", "pods", "", ""),
        (r#"{"authorization.k8s.io\/decision":"forbid"}"#, "200", "get", "pods", "", ""),
        (r#"{"authorization.k8s.io/decision":"forb\u0069d"}"#, "200", "get", "pods", "", ""),
        (
            r#"{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":"b forbid \"tok\""}"#,
            "200",
            "get",
            "pods",
            "",
            "",
        ),
        (r#"{"example.com\/tok":"1"}"#, "200", "get", "pods", "", ""),
        (r#"{"example.com/tok-x":"\u0031"}"#, "200", "get", "pods", "", ""),
        (r#"{"example.com/t\u006fk":"1"}"#, "200", "get", "pods", "", ""),
        (r#"{"x":"example.com/tok"}"#, "200", "get", "pods", "", ""),
        (r#"{"example.com/":"v","/":"w"}"#, "200", "get", "pods", "", ""),
        (r#"{"\/":"w"}"#, "200", "get", "pods", "", ""),
        (r#"{}"#, "99", "get", "pods", "", ""),
        (r#"{}"#, "100", "create", "pods", "exec", "?command=sh"),
        (r#"{}"#, "999", "get", "pods", "attach", ""),
        (r#"{}"#, "1000", "list", "pods", "exec", ""),
        (r#"{}"#, "101", "get", "nodes", "exec", ""),
        (r#"{}"#, "101", "create", "pods", "portforward", ""),
        (r#"{}"#, "101", "get", "pods", "exec", "?command=ls"),
    ];
    let mut records: Vec<String> = Vec::new();
    for (i, (ann, code, verb, res, sub, query)) in cases.iter().enumerate() {
        let (sub_field, sub_path) = if sub.is_empty() {
            (String::new(), String::new())
        } else {
            (format!(r#","subresource":"{sub}""#), format!("/{sub}"))
        };
        records.push(format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"synthetic-{i}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/d/{res}/p{sub_path}{query}","verb":"{verb}","user":{{"username":"alice","groups":["system:authenticated"]}},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl","objectRef":{{"resource":"{res}","namespace":"d","name":"p","apiVersion":"v1"{sub_field}}},"responseStatus":{{"metadata":{{}},"code":{code}}},"requestReceivedTimestamp":"2024-05-14T09:00:00.000000Z","stageTimestamp":"2024-05-14T09:00:00.000001Z","annotations":{ann}}}"#
        ));
    }
    for with_slashes in [false, true] {
        let text = if with_slashes { format!("{rules}{all_slashes}") } else { rules.to_string() };
        let (set, synthetic) = index_check_synthetic(&text, &records);
        let fired = |id: &str| synthetic[set.find(id).unwrap()].0;
        // `a/b` plain and with `\/`, `forbid` under an escaped key and escaped itself.
        assert_eq!(fired("decision"), 4);
        // Escaped `/`, escaped `o` (not where `tok` is a value).
        assert_eq!(fired("tok"), 2);
        assert_eq!(fired("tok-long"), 1);
        assert_eq!(fired("prefix-only"), 1);
        // create pods/exec, get pods/attach, get pods/exec.
        assert_eq!(fired("exec-any"), 3);
        assert_eq!(fired("exec-get"), 2);
        // list pods/exec, get nodes/exec.
        assert_eq!(fired("not-exec"), 2);
        assert_eq!(fired("codes"), 4);
        if with_slashes {
            assert_eq!(fired("slashes"), 2);
        }
    }
}

/// Session 7's index (issue #3): a decision value ruled out from the
/// annotations' first member, the singles' and the presence entries'
/// pieces searched apart, values of more than four keys in an
/// open-addressed table, key shapes by last byte, anchored needles
/// rejected by their first and last bytes, service accounts split without
/// `memchr` — none of that changes a verdict (synthetic rules and events:
/// the decision first, duplicated, escaped, not first, after whitespace,
/// too long to look at; names that share length and first, middle and last
/// bytes; odd service-account user names; plus every fixture and embedded
/// rule test event).
#[test]
fn index_first_member_key_tables_and_needle_edges_give_the_same_results_as_evaluating_every_rule() {
    let rules = r#"
rules:
  - {id: forbid, title: t, severity: low, condition: "authz.decision = forbid"}
  - {id: tok, title: t, severity: low, condition: "annotations[example.com/legacy-token] exists"}
  - {id: names, title: t, severity: low, condition: "objectRef.name in (abXcd, abYcd, abZcd, a, b, ccc, dd)"}
  - {id: starts, title: t, severity: low, condition: "objectRef.namespace startswith (sys, kube-)"}
  - {id: ends, title: t, severity: low, condition: "objectRef.namespace endswith (-x, y)"}
  - {id: sa-name, title: t, severity: low, condition: "actor.serviceaccount.name in (n1, n2, n3, n4, n5, '')"}
  - {id: sa-ns, title: t, severity: low, condition: "actor.serviceaccount.namespace = ns"}
"#;
    let long = "a".repeat(80);
    // (annotations, object name, namespace, user name)
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            r#"{"authorization.k8s.io/decision":"forbid","authorization.k8s.io/reason":"x"}"#.into(),
            "abXcd",
            "sys",
            "alice",
        ),
        (
            r#"{"authorization.k8s.io/decision":"allow","authorization.k8s.io/decision":"forbid"}"#.into(),
            "abWcd",
            "d",
            "alice",
        ),
        (r#"{"authorization.k8s.io/decision":"forbi\u0064"}"#.into(), "abZcd", "kube-x", "alice"),
        (r#"{"a":"b","authorization.k8s.io/decision":"forbid"}"#.into(), "a", "y", "system:serviceaccount:ns:n1"),
        (r#"{ "authorization.k8s.io/decision":"forbid"}"#.into(), "b", "x-y", "system:serviceaccount:ns:"),
        (
            format!(r#"{{"authorization.k8s.io/decision":"{long}","x":"forbid"}}"#),
            "c",
            "kub",
            "system:serviceaccount::n2",
        ),
        (
            r#"{"authorization.k8s.io/decision":"allow","example.com/legacy-token":"1"}"#.into(),
            "ccc",
            "-x",
            "system:serviceaccount:a:b:c",
        ),
        (
            r#"{"authorization.k8s.io/decision":"allow","example.com\/legacy-toke\u006e":"1"}"#.into(),
            "dd",
            "",
            "system:serviceaccount:nocolon",
        ),
        (
            r#"{"authorization.k8s.io/decision":"allow","r":"legacy-token \"forbid\""}"#.into(),
            "",
            "s",
            "system:serviceaccount:ns:n5",
        ),
        (r#"{}"#.into(), "é", "sysé", "system:serviceaccount:é:n4"),
    ];
    let records: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (ann, name, ns, user))| {
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"synthetic-{i}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/d/pods/p","verb":"get","user":{{"username":"{user}","groups":["system:authenticated"]}},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl","objectRef":{{"resource":"pods","namespace":"{ns}","name":"{name}","apiVersion":"v1"}},"responseStatus":{{"metadata":{{}},"code":200}},"requestReceivedTimestamp":"2024-05-14T09:00:00.000000Z","stageTimestamp":"2024-05-14T09:00:00.000001Z","annotations":{ann}}}"#
            )
        })
        .collect();
    let (set, synthetic) = index_check_synthetic(rules, &records);
    let fired = |id: &str| synthetic[set.find(id).unwrap()].0;
    // First, escaped, not first, after whitespace (the duplicate reads as
    // its first member, `allow`; the long value is no `forbid`).
    assert_eq!(fired("forbid"), 4);
    // Plain and escaped key (not as a value).
    assert_eq!(fired("tok"), 2);
    assert_eq!(fired("names"), 6);
    // sys, kube-x, sysé (not kub).
    assert_eq!(fired("starts"), 3);
    // kube-x, y, x-y, -x (not s).
    assert_eq!(fired("ends"), 4);
    // n1, "" (ns:), n2, n5, n4.
    assert_eq!(fired("sa-name"), 5);
    // ns:n1, ns:, ns:n5.
    assert_eq!(fired("sa-ns"), 3);
}

/// Synthetic rules (`rules`, every one indexed) on synthetic `records`
/// (each an event), then the built-in pack on every fixture and embedded
/// test event, through [`IndexCheck`]: indexed detection equals every rule
/// evaluated alone. The compiled rules and their (fire, blind) counts on
/// the synthetic records.
fn index_check_synthetic(rules: &str, records: &[String]) -> (RuleSet, Vec<(usize, usize)>) {
    use kaudit_core::rules::Builder;
    use kaudit_core::Decoder;
    let dec = Decoder::default();
    let mut b = Builder::new();
    b.add_file("synthetic.yaml", rules);
    let set = b.build().expect("compiles");
    assert!(set.unindexed().is_empty(), "{:?}", set.unindexed());
    let mut c = IndexCheck::new(&set);
    for r in records {
        dec.decode(r.as_bytes(), &mut c);
    }
    assert_eq!(c.events, records.len(), "every synthetic record is an event");
    let synthetic = c.verdicts.clone();
    decode_corpus(&RuleSet::builtin(), &dec, &mut c);
    assert!(c.diffs.is_empty(), "{}", c.diffs.join("\n"));
    drop(c);
    (set, synthetic)
}

/// Index entries whose rules all require `objectRef.resource` among some
/// values are probed only on events with one of them (`Gates` in
/// `index.rs`): indexed detection still equals every rule alone, on events
/// with those resources, others, none (a non-resource request) and with
/// the rules' other keys matching or not. SYNTHETIC rules and events.
#[test]
fn index_gates_on_the_resource_change_no_answer() {
    let rules = r#"
rules:
  - {id: gname, title: t, severity: low, condition: "objectRef.name = x and objectRef.resource in (configmaps, secrets)"}
  - {id: gpres, title: t, severity: low, condition: "impersonatedUser.username exists and objectRef.resource = pods"}
  - {id: gneedle, title: t, severity: low, condition: "objectRef.name startswith ab and objectRef.resource = secrets"}
  - {id: gmixed, title: t, severity: low, condition: "objectRef.name = y and (objectRef.resource = pods or verb = list)"}
"#;
    // (resource, name, impersonated user, verb)
    let cases: &[(Option<&str>, &str, Option<&str>, &str)] = &[
        (Some("configmaps"), "x", None, "get"),
        (Some("secrets"), "x", None, "get"),
        (Some("leases"), "x", None, "get"),
        (None, "x", None, "get"),
        (Some("pods"), "y", Some("bob"), "get"),
        (Some("pods"), "x", Some("bob"), "get"),
        (Some("leases"), "y", None, "list"),
        (None, "y", Some("bob"), "list"),
        (Some("secrets"), "abc", None, "get"),
        (Some("configmaps"), "abc", Some("bob"), "get"),
    ];
    let records: Vec<String> = cases
        .iter()
        .enumerate()
        .map(|(i, (res, name, imp, verb))| {
            let oref = match res {
                Some(r) => format!(r#","objectRef":{{"resource":"{r}","namespace":"d","name":"{name}","apiVersion":"v1"}}"#),
                None => String::new(),
            };
            let imp = imp.map_or(String::new(), |u| format!(r#","impersonatedUser":{{"username":"{u}"}}"#));
            format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"synthetic-gate-{i}","stage":"ResponseComplete","requestURI":"/x","verb":"{verb}","user":{{"username":"alice","groups":["system:authenticated"]}}{imp},"sourceIPs":["10.0.0.1"]{oref},"responseStatus":{{"metadata":{{}},"code":200}},"stageTimestamp":"2024-05-14T09:00:00.000001Z"}}"#
            )
        })
        .collect();
    let (set, synthetic) = index_check_synthetic(rules, &records);
    let fired = |id: &str| synthetic[set.find(id).unwrap()].0;
    assert_eq!(fired("gname"), 2);
    assert_eq!(fired("gpres"), 2);
    assert_eq!(fired("gneedle"), 1);
    assert_eq!(fired("gmixed"), 2);
}
