//! The generated VRL program (`vector-config/kaudit.vrl`) against the core:
//! it is fresh, it compiles with the VRL of the targeted Vector release, and
//! on every fixture record it gives the core's canonical output.

use std::collections::BTreeMap;
use std::path::PathBuf;

use kaudit_core::decode::{SkipReason, Unit};
use kaudit_core::event::Source;
use kaudit_core::rules::{vrl as export, RuleSet};
use kaudit_core::{encode, frame, scan, AuditEvent, Decoder, Error, Sink};
use serde_json::Value as Json;
use vrl::compiler::{state::RuntimeState, Context, Program, TargetValue, TimeZone};
use vrl::value::{Secrets, Value};

fn checked_in() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("kaudit.vrl")
}

const REGENERATE: &str = "regenerate it with `cargo run -p kaudit -- vrl -o vector-config/kaudit.vrl`";

/// The checked-in program, compiled once for every test of this binary
/// (compiling it takes a while: see README.md, "VRL export").
fn program() -> &'static Program {
    static P: std::sync::OnceLock<Program> = std::sync::OnceLock::new();
    P.get_or_init(|| compile(&std::fs::read_to_string(checked_in()).expect("vector-config/kaudit.vrl")))
}

fn compile(src: &str) -> Program {
    let fns = vrl::stdlib::all();
    match vrl::compiler::compile(src, &fns) {
        Ok(r) => r.program,
        Err(diags) => {
            panic!("kaudit.vrl does not compile:\n{}", vrl::diagnostic::Formatter::new(src, diags))
        }
    }
}

fn run(p: &Program, input: Value) -> Json {
    let mut target =
        TargetValue { value: input, metadata: Value::Object(BTreeMap::new()), secrets: Secrets::default() };
    let mut state = RuntimeState::default();
    let tz = TimeZone::default();
    let mut ctx = Context::new(&mut target, &mut state, &tz);
    if let Err(e) = p.resolve(&mut ctx) {
        return serde_json::json!({"vrl_runtime_error": e.to_string()});
    }
    serde_json::to_value(&target.value).expect("VRL value as JSON")
}

/// The core's units for one record, as canonical JSON with the stateless
/// detections (what VRL evaluates), plus the source of each unit.
struct Core<'r> {
    rules: &'r RuleSet,
    out: Vec<(Json, Option<Source>)>,
}

impl Sink for Core<'_> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        let det = self.rules.detect(ev);
        let mut buf = Vec::new();
        encode::canonical_with(ev, &mut |o: &mut Vec<u8>| scan::write_detections(self.rules, &det, false, o), &mut buf);
        self.out.push((serde_json::from_slice(&buf).expect("canonical JSON"), ev.source));
    }
    fn skipped(&mut self, unit: Unit<'_>, reason: SkipReason) {
        let mut buf = Vec::new();
        encode::skip_envelope(&unit, reason, &mut buf);
        self.out.push((serde_json::from_slice(&buf).expect("skip JSON"), unit.source));
    }
    fn error(&mut self, unit: Unit<'_>, err: &Error) {
        let mut buf = Vec::new();
        encode::error_envelope(&unit, err, &mut buf);
        self.out.push((serde_json::from_slice(&buf).expect("error JSON"), unit.source));
    }
}

/// Shapes the program decodes (one event per record).
const SUPPORTED: &[Source] = &[
    Source::K8s,
    Source::EksCloudwatch,
    Source::AksDiagnostic,
    Source::AksLogAnalytics,
    Source::GkeLogEntry,
    Source::OpenshiftViaq,
];

/// Every fixture record: (label, bytes).
fn records() -> Vec<(String, Vec<u8>)> {
    let dec = Decoder::default();
    let mut out = Vec::new();
    for rel in kaudit_tests::fixtures() {
        let bytes = kaudit_tests::read_fixture(&rel);
        for (i, f) in frame::records(&bytes, dec.limits().max_record_bytes).enumerate() {
            out.push((format!("{}#{}", rel.display(), i + 1), bytes[f.range].to_vec()));
        }
    }
    out
}

/// `Some(why)` when the program on disk is not what the generator writes now.
fn staleness(on_disk: &str, fresh: &str) -> Option<String> {
    if on_disk == fresh {
        return None;
    }
    let line = on_disk
        .lines()
        .zip(fresh.lines())
        .position(|(a, b)| a != b)
        .map_or_else(|| on_disk.lines().count().min(fresh.lines().count()) + 1, |i| i + 1);
    Some(format!("vector-config/kaudit.vrl is stale (first difference at line {line}): {REGENERATE}"))
}

#[test]
fn checked_in_program_is_fresh() {
    let fresh = export::generate(&RuleSet::builtin()).text;
    let on_disk = std::fs::read_to_string(checked_in()).unwrap_or_default();
    if let Some(why) = staleness(&on_disk, &fresh) {
        panic!("{why}");
    }
}

#[test]
fn staleness_check_catches_an_outdated_program() {
    let fresh = export::generate(&RuleSet::builtin()).text;
    assert_eq!(staleness(&fresh, &fresh), None);
    // A rule edited after the program was generated: the title of one detection.
    let edited = fresh.replacen("\"title\": \"", "\"title\": \"(old) ", 1);
    assert!(staleness(&edited, &fresh).is_some_and(|w| w.contains("stale")));
    // A rule added (user rules, or a new built-in one).
    let with_user = export::generate(&user_rule_set()).text;
    assert!(staleness(&fresh, &with_user).is_some());
    // Truncated file, missing file.
    assert!(staleness(&fresh[..fresh.len() / 2], &fresh).is_some());
    assert!(staleness("", &fresh).is_some());
}

#[test]
fn program_compiles_with_pinned_vrl() {
    let _ = program();
}

#[test]
fn explain_lists_exactly_the_stateful_rules() {
    let set = RuleSet::builtin();
    let p = export::generate(&set);
    let stateful: Vec<&str> = set.rules().iter().filter(|r| r.state.is_some()).map(|r| r.id.as_str()).collect();
    let left: Vec<&str> = p.left_out.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(left, stateful);
    assert_eq!(p.included.len() + p.left_out.len(), set.rules().len());
    for l in &p.left_out {
        assert!(p.text.contains(&format!("#   {}: {}", l.id, l.reason)), "header lists {}", l.id);
    }
}

/// The SYNTHETIC user rules of the CLI's forensics tests (three stateless,
/// one stateful) on top of the built-in pack, as `kaudit vrl --rules` loads them.
fn user_rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../cli/tests/fixtures/forensics")
}

fn user_rule_set() -> RuleSet {
    let mut b = kaudit_core::rules::Builder::new();
    kaudit_core::rules::add_builtin(&mut b);
    let path = user_rules_dir().join("rules.yaml");
    let src = std::fs::read_to_string(&path).expect("cli/tests/fixtures/forensics/rules.yaml");
    b.add_file("rules.yaml", &src);
    match b.build() {
        Ok(set) => set,
        Err(errs) => panic!("user rules: {}", errs.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")),
    }
}

/// Runs `prog` on every record and compares with the core under `rules`.
/// Returns (records equal, envelopes routed to `unsupported`, failures).
fn differential(rules: &RuleSet, prog: &Program, records: &[(String, Vec<u8>)]) -> (usize, usize, Vec<String>) {
    let dec = Decoder::default();
    let (mut same, mut routed, mut failures) = (0usize, 0usize, Vec::new());
    for (label, rec) in records {
        let mut core = Core { rules, out: Vec::new() };
        dec.decode(rec, &mut core);
        let Ok(text) = std::str::from_utf8(rec) else {
            // Not UTF-8: the core passes it through as an error; so must VRL.
            let got = run(prog, Value::Object(BTreeMap::from([("message".into(), Value::Bytes(rec.clone().into()))])));
            if got.pointer("/kaudit/error").is_none() {
                failures.push(format!("{label}: non-UTF-8 record not routed to kaudit.error: {got}"));
            }
            continue;
        };
        let input = Value::Object(BTreeMap::from([("message".into(), Value::from(text))]));
        let got = run(prog, input);
        let supported = core.out.len() == 1
            && core.out[0].1.is_none_or(|s| SUPPORTED.contains(&s))
            && !(core.out[0].1.is_none() && core.out[0].0.pointer("/kaudit/error").is_none());
        if supported {
            let want = &core.out[0].0;
            let (w, g) = (without_error_message(want), without_error_message(&got));
            if w == g {
                same += 1;
            } else {
                failures.push(format!("{label}:\n  core: {w}\n  vrl:  {g}"));
            }
        } else if got.pointer("/kaudit/error/category").and_then(Json::as_str) == Some("unsupported")
            && got.get("raw").and_then(Json::as_str) == Some(text)
        {
            routed += 1;
        } else {
            let srcs: Vec<&str> = core.out.iter().map(|(_, s)| s.map_or("unknown", |s| s.id())).collect();
            failures.push(format!(
                "{label}: core gives {} unit(s) from {srcs:?}; VRL must route it to kaudit.error \"unsupported\", got {got}",
                core.out.len()
            ));
        }
    }
    (same, routed, failures)
}

/// An error envelope's `message` is the wording of the host's JSON parser
/// (serde_json's typed errors in the core, VRL's `parse_json` in Vector); the
/// envelope is otherwise compared in full (category, place, source, raw).
fn without_error_message(v: &Json) -> Json {
    let mut v = v.clone();
    if let Some(e) = v.pointer_mut("/kaudit/error").and_then(Json::as_object_mut) {
        e.remove("message");
    }
    v
}

#[test]
fn vrl_output_equals_core_on_every_fixture_record() {
    // The checked-in program; `checked_in_program_is_fresh` proves it is
    // what the generator writes for the built-in rules.
    let rules = RuleSet::builtin();
    let (same, routed, failures) = differential(&rules, program(), &records());
    eprintln!("{same} records equal to the core, {routed} envelopes routed to `unsupported`");
    assert!(
        failures.is_empty(),
        "{} of {} records differ:\n{}",
        failures.len(),
        same + routed + failures.len(),
        failures.join("\n")
    );
    assert!(same > 100, "too few records compared: {same}");
}

#[test]
fn user_rules_run_in_vrl_as_in_the_core() {
    // `kaudit vrl --rules DIR`: the built-in pack plus user rules, compiled
    // and compared on every fixture record and on the user rules' own
    // fixture (which makes each stateless user rule fire).
    let rules = user_rule_set();
    let p = export::generate(&rules);
    for id in ["fx-exec", "fx-impersonation", "fx-secret-delete"] {
        assert!(p.included.iter().any(|i| i == id), "{id} is evaluated");
    }
    assert!(p.left_out.iter().any(|l| l.id == "fx-denied-secret-burst"));
    let prog = compile(&p.text);
    let mut recs = records();
    let hostile = std::fs::read(user_rules_dir().join("hostile.jsonl")).expect("hostile.jsonl");
    let dec = Decoder::default();
    for (i, f) in frame::records(&hostile, dec.limits().max_record_bytes).enumerate() {
        recs.push((format!("forensics/hostile.jsonl#{}", i + 1), hostile[f.range].to_vec()));
    }
    let (same, _, failures) = differential(&rules, &prog, &recs);
    assert!(failures.is_empty(), "{} records differ:\n{}", failures.len(), failures.join("\n"));
    assert!(same > 100, "too few records compared: {same}");
    // Each stateless user rule fired on some record, in VRL as in the core.
    let outs: Vec<Json> = recs
        .iter()
        .filter(|(label, _)| label.starts_with("forensics/"))
        .filter_map(|(_, r)| std::str::from_utf8(r).ok())
        .map(|t| run(&prog, Value::Object(BTreeMap::from([("message".into(), Value::from(t))]))))
        .collect();
    for id in ["fx-exec", "fx-impersonation", "fx-secret-delete"] {
        let fired = outs.iter().any(|o| {
            o.pointer("/kaudit/detections").and_then(Json::as_array).is_some_and(|d| d.iter().any(|x| x["rule"] == id))
        });
        assert!(fired, "user rule {id} never fired");
    }
}

#[test]
fn parsed_records_give_the_same_events() {
    // With a JSON codec, Vector hands over the parsed record instead of
    // `.message`: the events must be the same.
    let prog = program();
    let mut failures = Vec::new();
    let mut n = 0;
    for (label, rec) in records() {
        let Ok(text) = std::str::from_utf8(&rec) else { continue };
        let Ok(parsed) = serde_json::from_str::<Json>(text) else { continue };
        if !parsed.is_object()
            || parsed.get("message").is_some_and(Json::is_string) && parsed.get("logStreamName").is_none()
        {
            continue;
        }
        let via_message = run(prog, Value::Object(BTreeMap::from([("message".into(), Value::from(text))])));
        if via_message.get("kaudit").and_then(|k| k.get("source")).is_none() {
            continue; // errors and skips carry the record text: compared above
        }
        let via_parsed = run(prog, Value::from(parsed));
        n += 1;
        if via_message != via_parsed {
            failures.push(format!("{label}:\n  message: {via_message}\n  parsed:  {via_parsed}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(n > 100, "too few records compared: {n}");
}

#[test]
fn vrl_stays_out_of_the_core_dependency_tree() {
    // The `vrl` crate is a dev-dependency of this crate only (ARCHITECTURE.md,
    // "kaudit-core depends on no test-only or host crate").
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("core/Cargo.toml");
    let deps: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('[') && !l.starts_with('#'))
        .filter_map(|l| l.split(['.', '=', ' ']).next())
        .collect();
    assert!(deps.contains(&"serde_json"), "parsed the dependency list: {deps:?}");
    for banned in ["vrl", "wasmtime", "kaudit-vector-tests"] {
        assert!(!deps.contains(&banned), "kaudit-core depends on {banned}");
    }
}

#[test]
fn cidr_answers_as_in_the_core() {
    // SYNTHETIC: one rule over `cidr` (VRL `ip_cidr_contains`), on source
    // addresses of every kind the operator's semantics name (core/DESIGN.md).
    let mut b = kaudit_core::rules::Builder::new();
    b.add_file(
        "cidr.yaml",
        "rules:\n  - id: t-cidr\n    title: t\n    severity: low\n    \
         condition: \"sourceIPs cidr ('10.0.0.0/8', '::ffff:10.0.0.0/104', 'fc00::/7', '192.0.2.7')\"\n",
    );
    let rules =
        b.build().unwrap_or_else(|e| panic!("{}", e.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")));
    let prog = compile(&export::generate(&rules).text);
    let ips: &[(&str, bool)] = &[
        (r#""10.1.2.3""#, true),
        (r#""100.20.30.40""#, false),
        (r#""::ffff:10.1.2.3""#, true),
        (r#""::ffff:a01:203""#, true),
        (r#""fd00::1""#, true),
        (r#""FD00::1""#, true),
        (r#""2001:db8::1""#, false),
        (r#""192.0.2.7""#, true),
        (r#""192.0.2.8""#, false),
        (r#""localhost""#, false),
        (r#""10.0.0.1:443""#, false),
        (r#""fe80::1%eth0""#, false),
        (r#""010.0.0.1""#, false),
        (r#""""#, false),
        (r#""203.0.113.1", "10.9.9.9""#, true),
    ];
    let recs: Vec<(String, Vec<u8>)> = ips
        .iter()
        .enumerate()
        .map(|(i, (ip, _))| {
            let rec = format!(
                r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"cidr-{i}","stage":"ResponseComplete","requestURI":"/api","verb":"get","user":{{"username":"u"}},"sourceIPs":[{ip}],"responseStatus":{{"code":200}}}}"#
            );
            (format!("synthetic cidr record {i} ({ip})"), rec.into_bytes())
        })
        .collect();
    let (same, _, failures) = differential(&rules, &prog, &recs);
    assert!(failures.is_empty(), "{} records differ:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(same, recs.len());
    for ((label, rec), (_, fires)) in recs.iter().zip(ips) {
        let text = std::str::from_utf8(rec).expect("UTF-8");
        let out = run(&prog, Value::Object(BTreeMap::from([("message".into(), Value::from(text))])));
        let fired = out.pointer("/kaudit/detections").and_then(Json::as_array).is_some_and(|d| !d.is_empty());
        assert_eq!(fired, *fires, "{label}: {out}");
    }
}
