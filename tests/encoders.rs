//! Every fixture through every output encoder.
//!
//! * Golden files: `expected/encoders/<fixture>.<format>` for OCSF API
//!   Activity, ECS events, and, for the built-in rules' detections, OCSF
//!   Detection Findings, ECS alerts, Falco payloads and SARIF results
//!   (`KAUDIT_BLESS=1` rewrites them; review the diff).
//! * OCSF: every record checked against the schema facts shipped in
//!   `schema/ocsf-required.json` (required attributes, types, enums,
//!   `type_uid`, object constraints). A required attribute may be missing
//!   only when the record names it in `unmapped.kaudit.unavailable` *and*
//!   the canonical event really has nothing to fill it with.
//! * Falco: every payload passes falcosidekick's input rules.
//! * SARIF: every log is structurally valid SARIF 2.1.0.
//!
//! Detection records are made with a fixed clock and host name (the CLI
//! passes the real ones), so the expected files are stable.

use std::collections::BTreeSet;
use std::path::Path;

use kaudit_core::encode::{self, sarif};
use kaudit_core::findings::{self, Context, FindingFormat};
use kaudit_core::frame;
use kaudit_core::rules::RuleSet;
use kaudit_core::scan::{ScanOptions, Scanner};
use kaudit_core::{Decoder, Normalizer, Options};
use kaudit_tests::{fixtures, lines, read_fixture, root};
use serde_json::Value;

/// 2026-01-01T00:00:00Z: the fixed "now" of detection records in tests.
const TEST_NOW_MS: i64 = 1_767_225_600_000;
const TEST_HOST: &str = "kaudit-test";

fn events_as(rel: &Path, format: encode::Format) -> Vec<u8> {
    let dec = Decoder::default();
    let input = read_fixture(rel);
    let mut n = Normalizer::with_format(Options { keep_skipped: true }, format);
    let limit = dec.limits().max_record_bytes;
    for f in frame::records(&input, limit) {
        if f.oversize {
            n.oversize(&input[f.range], limit);
        } else {
            n.record(&dec, &input[f.range]);
        }
    }
    let mut out = Vec::new();
    n.take_output(&mut out);
    out
}

fn findings_as(rel: &Path, set: &RuleSet, format: FindingFormat) -> Vec<u8> {
    let dec = Decoder::default();
    let input = read_fixture(rel);
    let mut sc = Scanner::new(set, ScanOptions { write_events: true, ..ScanOptions::default() });
    sc.set_findings(format, Context { created_ms: Some(TEST_NOW_MS), hostname: Some(TEST_HOST.into()) });
    let limit = dec.limits().max_record_bytes;
    for f in frame::records(&input, limit) {
        if f.oversize {
            sc.oversize(&input[f.range], limit);
        } else {
            sc.record(&dec, &input[f.range]);
        }
    }
    let body = sc.output().to_vec();
    if format != FindingFormat::Sarif {
        return body;
    }
    if sc.findings_written() == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    findings::sarif_begin(set, &mut out);
    out.extend_from_slice(&body);
    sarif::end(&mut out, true, &[]);
    out.push(b'\n');
    out
}

/// (file suffix, output) for every encoder on one fixture.
fn all_outputs(rel: &Path, set: &RuleSet) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("ocsf.jsonl", events_as(rel, encode::Format::Ocsf)),
        ("ecs.jsonl", events_as(rel, encode::Format::Ecs)),
        ("ocsf-findings.jsonl", findings_as(rel, set, FindingFormat::Ocsf)),
        ("ecs-alerts.jsonl", findings_as(rel, set, FindingFormat::Ecs)),
        ("falco.jsonl", findings_as(rel, set, FindingFormat::Falco)),
        ("sarif-results.jsonl", sarif_results(rel, set)),
    ]
}

/// The SARIF log's results, one per line (the driver's rule list is the
/// whole rule pack, the same in every log: it is checked structurally, not
/// stored once per fixture).
fn sarif_results(rel: &Path, set: &RuleSet) -> Vec<u8> {
    let out = findings_as(rel, set, FindingFormat::Sarif);
    if out.is_empty() {
        return out;
    }
    let doc: Value = serde_json::from_slice(&out).expect("SARIF is JSON");
    let mut text = Vec::new();
    for r in doc["runs"][0]["results"].as_array().into_iter().flatten() {
        text.extend_from_slice(r.to_string().as_bytes());
        text.push(b'\n');
    }
    text
}

fn expected(rel: &Path, suffix: &str) -> std::path::PathBuf {
    let mut p = root().join("expected/encoders").join(rel);
    let name = format!("{}.{suffix}", p.file_name().and_then(|n| n.to_str()).unwrap_or("x"));
    p.set_file_name(name);
    p
}

#[test]
fn every_fixture_through_every_encoder_matches_its_expected_output() {
    let bless = std::env::var_os("KAUDIT_BLESS").is_some();
    let set = RuleSet::builtin();
    let mut failures = Vec::new();
    let mut nonempty = BTreeSet::new();
    let all = fixtures();
    assert!(all.len() >= 25, "fixtures went missing: {}", all.len());
    for rel in &all {
        for (suffix, out) in all_outputs(rel, &set) {
            lines(&out); // every line is JSON
            if !out.is_empty() {
                nonempty.insert(suffix);
            }
            let exp = expected(rel, suffix);
            if bless {
                if out.is_empty() {
                    let _ = std::fs::remove_file(&exp);
                } else {
                    std::fs::create_dir_all(exp.parent().unwrap()).unwrap();
                    std::fs::write(&exp, &out).unwrap();
                }
                continue;
            }
            let want = std::fs::read(&exp).unwrap_or_default();
            if want != out {
                let (w, g) = (String::from_utf8_lossy(&want), String::from_utf8_lossy(&out));
                let at = w
                    .lines()
                    .zip(g.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(w.lines().count().min(g.lines().count()));
                failures.push(format!(
                    "{} ({suffix}): line {} differs (KAUDIT_BLESS=1 rewrites)\n  want: {}\n  got:  {}",
                    rel.display(),
                    at + 1,
                    w.lines().nth(at).unwrap_or("<none>"),
                    g.lines().nth(at).unwrap_or("<none>")
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The fixtures exercise every encoder, detections included.
    assert_eq!(nonempty.len(), 6, "some encoder produced nothing on every fixture: {nonempty:?}");
}

// ---------------------------------------------------------------- OCSF ----

struct Facts(Value);

impl Facts {
    fn load() -> Facts {
        let text = std::fs::read_to_string(root().join("schema/ocsf-required.json")).expect("schema facts");
        Facts(serde_json::from_str(&text).expect("schema facts are JSON"))
    }
    fn strs(&self, ptr: &str) -> Vec<String> {
        self.0
            .pointer(ptr)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("schema facts lack {ptr}"))
            .iter()
            .map(|v| v.as_str().expect("string").to_string())
            .collect()
    }
    fn ints(&self, ptr: &str) -> Vec<i64> {
        self.0
            .pointer(ptr)
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("schema facts lack {ptr}"))
            .iter()
            .map(|v| v.as_i64().expect("integer"))
            .collect()
    }
}

/// Why a required attribute could be unavailable, checked on the canonical event.
fn truly_unavailable(attr: &str, canon: &Value) -> bool {
    let has = |k: &str| canon.get(k).is_some();
    match attr {
        "time" => {
            !has("stageTimestamp") && !has("requestReceivedTimestamp") && canon["kaudit"].get("received").is_none()
        }
        "actor" => {
            canon.pointer("/user/username").is_none() && canon.pointer("/user/uid").is_none() && !has("userAgent")
        }
        "api" => !has("verb"),
        "src_endpoint" => canon["sourceIPs"]
            .as_array()
            .is_none_or(|ips| ips.iter().all(|ip| ip.as_str().is_none_or(|s| s.parse::<std::net::IpAddr>().is_err()))),
        _ => false,
    }
}

/// Check one OCSF record; `canon` is the canonical event it came from.
fn check_ocsf(f: &Facts, rec: &Value, canon: &Value, where_: &str) -> Result<(), String> {
    let class = rec["class_uid"].as_i64().ok_or("class_uid is not an integer")?;
    let cf = format!("/classes/{class}");
    if f.0.pointer(&cf).is_none() {
        return Err(format!("class_uid {class} not in the facts"));
    }
    let unavailable: Vec<String> = rec
        .pointer("/unmapped/kaudit/unavailable")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
        .unwrap_or_default();
    for u in &unavailable {
        if !truly_unavailable(u, canon) {
            return Err(format!("{where_}: says {u} is unavailable but the event has it"));
        }
    }
    let mut required = f.strs("/base_event/required");
    required.extend(f.strs(&format!("{cf}/required")));
    for r in &required {
        if rec.get(r).is_none() && !unavailable.contains(r) {
            return Err(format!("{where_}: required `{r}` missing"));
        }
    }
    for k in f.strs("/base_event/integer").iter().chain(f.strs("/base_event/timestamp_ms").iter()) {
        if let Some(v) = rec.get(k) {
            if !v.is_i64() {
                return Err(format!("{where_}: `{k}` is not an integer: {v}"));
            }
        }
    }
    for k in f.strs("/base_event/string") {
        if let Some(v) = rec.get(&k) {
            if !v.is_string() {
                return Err(format!("{where_}: `{k}` is not a string"));
            }
        }
    }
    let act = rec["activity_id"].as_i64().ok_or("activity_id")?;
    if !f.ints(&format!("{cf}/activity_id")).contains(&act) {
        return Err(format!("{where_}: activity_id {act} not allowed for {class}"));
    }
    if rec["category_uid"].as_i64() != f.0.pointer(&format!("{cf}/category_uid")).and_then(Value::as_i64) {
        return Err(format!("{where_}: category_uid does not match the class"));
    }
    if rec["type_uid"].as_i64() != Some(class * 100 + act) {
        return Err(format!("{where_}: type_uid != class_uid * 100 + activity_id"));
    }
    if !f.ints("/base_event/enum/severity_id").contains(&rec["severity_id"].as_i64().unwrap_or(-1)) {
        return Err(format!("{where_}: severity_id not in the enum"));
    }
    if let Some(s) = rec.get("status_id") {
        let ptr = format!("{cf}/enum/status_id");
        let allowed = if f.0.pointer(&ptr).is_some() { f.ints(&ptr) } else { f.ints("/base_event/enum/status_id") };
        if !allowed.contains(&s.as_i64().unwrap_or(-1)) {
            return Err(format!("{where_}: status_id {s} not in the enum"));
        }
    }
    // Objects: required members and at-least-one constraints.
    let objects = f.0["objects"].as_object().expect("objects");
    for (name, spec) in objects {
        let Some(path) = f.0.pointer(&format!("/paths/{name}")).and_then(Value::as_str) else { continue };
        let ptr = format!("/{}", path.replace('.', "/"));
        let Some(obj) = rec.pointer(&ptr) else { continue };
        for r in spec["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap_or("");
            if obj.get(r).is_none() {
                return Err(format!("{where_}: `{path}.{r}` missing"));
            }
        }
        if let Some(any) = spec["at_least_one"].as_array() {
            if !any.iter().any(|k| obj.get(k.as_str().unwrap_or("")).is_some()) {
                return Err(format!("{where_}: `{path}` has none of {any:?}"));
            }
        }
        for (k, vals) in spec["enum"].as_object().into_iter().flatten() {
            let v = obj.get(k).and_then(Value::as_i64).unwrap_or(-1);
            if !vals.as_array().is_some_and(|a| a.iter().any(|x| x.as_i64() == Some(v))) {
                return Err(format!("{where_}: `{path}.{k}` = {v} not in the enum"));
            }
        }
    }
    // The cloud profile: declared in metadata.profiles ⇒ `cloud` required.
    let profiles = rec.pointer("/metadata/profiles").and_then(Value::as_array).cloned().unwrap_or_default();
    for p in profiles {
        for r in f.strs(&format!("/profiles/{}/required", p.as_str().unwrap_or(""))) {
            if rec.get(&r).is_none() {
                return Err(format!("{where_}: profile {p} requires `{r}`"));
            }
        }
    }
    if let Some(ip) = rec.pointer("/src_endpoint/ip") {
        ip.as_str().and_then(|s| s.parse::<std::net::IpAddr>().ok()).ok_or(format!("{where_}: bad ip {ip}"))?;
    }
    Ok(())
}

fn is_envelope(v: &Value) -> bool {
    v.pointer("/kaudit/error").is_some() || v.pointer("/kaudit/skipped").is_some()
}

#[test]
fn ocsf_records_have_every_required_attribute() {
    let facts = Facts::load();
    let set = RuleSet::builtin();
    let (mut activities, mut found, mut gaps) = (0, 0, 0);
    let mut errors = Vec::new();
    for rel in fixtures() {
        let canon: Vec<Value> = lines(&events_as(&rel, encode::Format::Canonical));
        let ocsf: Vec<Value> = lines(&events_as(&rel, encode::Format::Ocsf));
        assert_eq!(canon.len(), ocsf.len(), "{}: one OCSF line per canonical line", rel.display());
        for (i, (c, o)) in canon.iter().zip(&ocsf).enumerate() {
            if is_envelope(c) {
                assert_eq!(c, o, "{}:{}: envelopes pass through unchanged", rel.display(), i + 1);
                continue;
            }
            assert_eq!(o["class_uid"], 6003);
            activities += 1;
            gaps += o.pointer("/unmapped/kaudit/unavailable").and_then(Value::as_array).map_or(0, Vec::len);
            if let Err(e) = check_ocsf(&facts, o, c, &format!("{}:{}", rel.display(), i + 1)) {
                errors.push(e);
            }
        }
        // Findings: one per detection; check each against its event. The
        // scan's canonical output (with detections) pairs them up.
        let findings: Vec<Value> = lines(&findings_as(&rel, &set, FindingFormat::Ocsf));
        let mut sc = Scanner::new(&set, ScanOptions { write_events: true, only_hits: true, ..ScanOptions::default() });
        let input = read_fixture(&rel);
        let dec = Decoder::default();
        for fr in frame::records(&input, dec.limits().max_record_bytes) {
            if !fr.oversize {
                sc.record(&dec, &input[fr.range]);
            }
        }
        let hits: Vec<Value> = lines(sc.output())
            .into_iter()
            .filter(|v| !is_envelope(v))
            .flat_map(|v| {
                let n = v.pointer("/kaudit/detections").and_then(Value::as_array).map_or(0, Vec::len);
                std::iter::repeat_n(v, n)
            })
            .collect();
        assert_eq!(hits.len(), findings.len(), "{}: one finding per detection", rel.display());
        for (i, (c, o)) in hits.iter().zip(&findings).enumerate() {
            assert_eq!(o["class_uid"], 2004);
            found += 1;
            if let Err(e) = check_ocsf(&facts, o, c, &format!("{} finding {}", rel.display(), i + 1)) {
                errors.push(e);
            }
        }
    }
    assert!(errors.is_empty(), "{} records fail the schema facts:\n{}", errors.len(), errors.join("\n"));
    assert!(activities >= 150 && found >= 20, "too few records checked: {activities} activities, {found} findings");
    eprintln!("checked {activities} API Activity and {found} Detection Finding records; {gaps} required attributes unavailable in the source");
}

#[test]
fn ocsf_mapping_corrections() {
    // Synthetic event: a list with a forwarded client, forbidden.
    let rec = br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","requestURI":"/api/v1/secrets?limit=500","verb":"list","user":{"username":"alice","groups":["dev"]},"sourceIPs":["203.0.113.9","10.0.0.7"],"objectRef":{"resource":"secrets","apiVersion":"v1"},"responseStatus":{"code":403},"requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z","stageTimestamp":"2024-01-01T00:00:00.250000Z","annotations":{"authorization.k8s.io/decision":"forbid"}}"#;
    let (out, _) = kaudit_core::normalize_buffer(&Decoder::default(), rec, Options::default());
    let canon = lines(&out);
    let mut ocsf = Vec::new();
    let dec = Decoder::default();
    let mut n = Normalizer::with_format(Options::default(), encode::Format::Ocsf);
    n.record(&dec, rec);
    n.take_output(&mut ocsf);
    let o = &lines(&ocsf)[0];
    assert_eq!(o["activity_id"], 2, "list is a Read");
    assert_eq!(o["type_uid"], 600302);
    assert_eq!(o["src_endpoint"]["ip"], "10.0.0.7", "the connection address is the last sourceIPs entry");
    assert_eq!(o["src_endpoint"]["intermediate_ips"], serde_json::json!(["203.0.113.9"]));
    assert_eq!(o["status_id"], 2, "forbid is a failure");
    assert_eq!(o["time"], 1_704_067_200_250i64);
    assert_eq!(o["start_time"], 1_704_067_200_000i64);
    assert_eq!(o["http_request"]["url"]["query_string"], "limit=500");
    check_ocsf(&Facts::load(), o, &canon[0], "synthetic").unwrap();
}

// ----------------------------------------------------------------- ECS ----

#[test]
fn ecs_documents_have_the_kubernetes_audit_layout() {
    let mut n = 0;
    for rel in fixtures() {
        for (suffix, out) in [
            ("events", events_as(&rel, encode::Format::Ecs)),
            ("alerts", findings_as(&rel, &RuleSet::builtin(), FindingFormat::Ecs)),
        ] {
            for (i, d) in lines(&out).iter().enumerate() {
                if is_envelope(d) {
                    continue;
                }
                n += 1;
                let at = format!("{} {suffix} {}", rel.display(), i + 1);
                assert_eq!(d["ecs"]["version"], encode::ecs::ECS_VERSION, "{at}");
                let kind = if suffix == "alerts" { "alert" } else { "event" };
                assert_eq!(d["event"]["kind"], kind, "{at}");
                assert!(
                    ["success", "failure", "unknown"].contains(&d["event"]["outcome"].as_str().unwrap_or("")),
                    "{at}"
                );
                assert!(d["kubernetes"]["audit"].is_object(), "{at}: kubernetes.audit");
                assert_eq!(d["orchestrator"]["type"], "kubernetes", "{at}");
                if let Some(a) = d.pointer("/kubernetes/audit/annotations").and_then(Value::as_object) {
                    assert!(a.keys().all(|k| !k.contains('.')), "{at}: dotted annotation key");
                }
                for p in ["/source/ip", "/client/ip"] {
                    if let Some(ip) = d.pointer(p) {
                        assert!(ip.as_str().is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()), "{at}: {p}");
                    }
                }
                if let Some(t) = d.get("@timestamp") {
                    assert!(
                        kaudit_core::rules::state::parse_time(t.as_str().unwrap_or("")).is_some(),
                        "{at}: @timestamp"
                    );
                }
                if suffix == "alerts" {
                    assert!(d["rule"]["id"].is_string() && d["event"]["severity"].is_i64(), "{at}: rule.*");
                }
            }
        }
    }
    assert!(n >= 150, "too few ECS documents: {n}");
}

// --------------------------------------------------------------- Falco ----

/// falcosidekick's input rules (falcosecurity/falcosidekick, `handlers.go`
/// `newFalcoPayload` + `types/types.go` `FalcoPayload.Check` + `types/priority.go`):
/// the body decodes into `FalcoPayload` (`priority` a string, `time` an RFC
/// 3339 `time.Time`, `output_fields` a map, `tags` a string list); `Check()`
/// refuses an empty/unknown priority, an empty rule, a zero time, an empty
/// `output_fields`; the handler type-asserts `k8s.ns.name` / `k8s.pod.name`
/// output fields to strings when non-null.
fn sidekick_accepts(p: &Value) -> Result<(), String> {
    const PRIORITIES: &[&str] =
        &["emergency", "alert", "critical", "error", "warning", "notice", "informational", "info", "debug"];
    let obj = p.as_object().ok_or("not an object")?;
    if let Some(o) = obj.get("output") {
        o.as_str().ok_or("output is not a string")?;
    }
    let pr = obj.get("priority").and_then(Value::as_str).ok_or("priority missing or not a string")?;
    if !PRIORITIES.contains(&pr.to_lowercase().as_str()) {
        return Err(format!("unknown priority {pr}"));
    }
    if obj.get("rule").and_then(Value::as_str).unwrap_or("").is_empty() {
        return Err("empty rule".into());
    }
    let t = obj.get("time").and_then(Value::as_str).ok_or("time missing (zero)")?;
    if !go_rfc3339(t) {
        return Err(format!("time {t} is not RFC 3339"));
    }
    let us = kaudit_core::rules::state::parse_time(t).ok_or("time does not parse")?;
    if us == -62_135_596_800_000_000 {
        return Err("zero time".into());
    }
    let fields = obj.get("output_fields").and_then(Value::as_object).ok_or("output_fields is not a map")?;
    if fields.is_empty() {
        return Err("empty output_fields".into());
    }
    for k in ["k8s.ns.name", "k8s.pod.name"] {
        if let Some(v) = fields.get(k) {
            if !v.is_null() && !v.is_string() {
                return Err(format!("{k} is not a string"));
            }
        }
    }
    if let Some(s) = obj.get("source") {
        s.as_str().ok_or("source is not a string")?;
    }
    if let Some(tags) = obj.get("tags") {
        if !tags.as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
            return Err("tags is not a list of strings".into());
        }
    }
    if let Some(h) = obj.get("hostname") {
        h.as_str().ok_or("hostname is not a string")?;
    }
    Ok(())
}

/// Go's `time.Time.UnmarshalJSON` layout: `2006-01-02T15:04:05Z07:00`, with
/// optional fractional seconds.
fn go_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if b.len() < 20 || !digits(0..4) || b[4] != b'-' || !digits(5..7) || b[7] != b'-' || !digits(8..10) {
        return false;
    }
    if b[10] != b'T' || !digits(11..13) || b[13] != b':' || !digits(14..16) || b[16] != b':' || !digits(17..19) {
        return false;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z'] => true,
        [s, h1, h2, b':', m1, m2] => matches!(s, b'+' | b'-') && [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

#[test]
fn falco_payloads_pass_falcosidekick_input_check() {
    let set = RuleSet::builtin();
    let mut n = 0;
    for rel in fixtures() {
        for (i, p) in lines(&findings_as(&rel, &set, FindingFormat::Falco)).iter().enumerate() {
            n += 1;
            if let Err(e) = sidekick_accepts(p) {
                panic!("{} payload {}: falcosidekick would refuse it: {e}\n{p}", rel.display(), i + 1);
            }
            assert_eq!(p["source"], "k8s_audit");
            assert_eq!(p["hostname"], TEST_HOST);
        }
    }
    assert!(n >= 20, "too few Falco payloads: {n}");
    // The checker itself refuses what falcosidekick refuses.
    let ok = serde_json::json!({"output":"x","priority":"Warning","rule":"r","time":"2024-01-01T00:00:00.5Z","output_fields":{"a":"b"}});
    assert!(sidekick_accepts(&ok).is_ok());
    for (k, v) in [
        ("priority", serde_json::json!("")),
        ("priority", serde_json::json!("High")),
        ("rule", serde_json::json!("")),
        ("time", serde_json::json!("2024-01-01 00:00:00")),
        ("output_fields", serde_json::json!({})),
    ] {
        let mut bad = ok.clone();
        bad[k] = v;
        assert!(sidekick_accepts(&bad).is_err(), "{k} should be refused");
    }
    let mut no_time = ok.clone();
    no_time.as_object_mut().unwrap().remove("time");
    assert!(sidekick_accepts(&no_time).is_err());
}

// --------------------------------------------------------------- SARIF ----

/// Structural rules of SARIF 2.1.0 (OASIS spec §3): required `version` and
/// `runs`; each run a `tool.driver` with a `name`; rule ids unique; each
/// result with `message.text`, a `ruleId` whose `ruleIndex` points at the
/// same rule, `level` and `kind` from the spec's enums; locations with a
/// physical or logical location; invocations with `executionSuccessful`.
fn check_sarif(doc: &Value) -> Result<usize, String> {
    if doc["version"] != "2.1.0" || !doc["$schema"].is_string() {
        return Err("version / $schema".into());
    }
    let runs = doc["runs"].as_array().ok_or("runs")?;
    let mut n = 0;
    for run in runs {
        let driver = &run["tool"]["driver"];
        driver["name"].as_str().ok_or("tool.driver.name")?;
        let rules = driver["rules"].as_array().cloned().unwrap_or_default();
        let mut ids = BTreeSet::new();
        for r in &rules {
            let id = r["id"].as_str().ok_or("rule id")?;
            if !ids.insert(id.to_string()) {
                return Err(format!("duplicate rule id {id}"));
            }
            if let Some(l) = r.pointer("/defaultConfiguration/level") {
                if !["none", "note", "warning", "error"].contains(&l.as_str().unwrap_or("")) {
                    return Err(format!("rule {id}: bad default level"));
                }
            }
        }
        for res in run["results"].as_array().ok_or("results")? {
            n += 1;
            res["message"]["text"].as_str().filter(|t| !t.is_empty()).ok_or("message.text")?;
            let rid = res["ruleId"].as_str().ok_or("ruleId")?;
            if let Some(i) = res.get("ruleIndex") {
                let i = i.as_u64().ok_or("ruleIndex")? as usize;
                if rules.get(i).and_then(|r| r["id"].as_str()) != Some(rid) {
                    return Err(format!("ruleIndex {i} does not point at {rid}"));
                }
            }
            if let Some(l) = res.get("level") {
                if !["none", "note", "warning", "error"].contains(&l.as_str().unwrap_or("")) {
                    return Err(format!("bad level {l}"));
                }
            }
            if let Some(k) = res.get("kind") {
                let kinds = ["notApplicable", "pass", "fail", "review", "open", "informational"];
                if !kinds.contains(&k.as_str().unwrap_or("")) {
                    return Err(format!("bad kind {k}"));
                }
            }
            for loc in res["locations"].as_array().into_iter().flatten() {
                let phys = loc.pointer("/physicalLocation/artifactLocation/uri").is_some_and(Value::is_string);
                let logical = loc["logicalLocations"].as_array().is_some_and(|a| !a.is_empty());
                if !phys && !logical {
                    return Err("a location with neither a physical nor a logical location".into());
                }
                if let Some(l) = loc.pointer("/physicalLocation/region/startLine") {
                    if l.as_u64().is_none_or(|l| l < 1) {
                        return Err("startLine must be ≥ 1".into());
                    }
                }
            }
        }
        for inv in run["invocations"].as_array().into_iter().flatten() {
            inv["executionSuccessful"].as_bool().ok_or("executionSuccessful")?;
        }
    }
    Ok(n)
}

#[test]
fn sarif_logs_are_structurally_valid() {
    let set = RuleSet::builtin();
    let mut n = 0;
    for rel in fixtures() {
        let out = findings_as(&rel, &set, FindingFormat::Sarif);
        if out.is_empty() {
            continue;
        }
        let doc: Value = serde_json::from_slice(&out).unwrap();
        n += check_sarif(&doc).unwrap_or_else(|e| panic!("{}: {e}", rel.display()));
    }
    assert!(n >= 20, "too few SARIF results: {n}");
}

#[test]
fn sarif_builder_is_generic() {
    // A posture-style log: a file location with a line, pass and review kinds.
    let tags = vec!["cis".to_string()];
    let rules = [sarif::RuleDescriptor {
        id: "AP-001",
        name: Some("PolicyMissing"),
        short: "No audit policy",
        full: None,
        help_uri: None,
        level: sarif::Level::Error,
        tags: &tags,
        properties: &[("severity", "high")],
    }];
    let mut out = Vec::new();
    sarif::begin(&mut out, &sarif::Tool { name: "kaudit-posture", version: Some("0"), information_uri: None }, &rules);
    for (i, kind) in [sarif::Kind::Fail, sarif::Kind::Pass, sarif::Kind::Review].into_iter().enumerate() {
        let r = sarif::SarifResult {
            rule_id: "AP-001",
            rule_index: Some(0),
            level: (kind == sarif::Kind::Fail).then_some(sarif::Level::Error),
            kind: Some(kind),
            message: "policy.yaml has no rule for secrets",
            locations: vec![sarif::Location {
                uri: Some("policies/policy.yaml"),
                start_line: Some(3),
                logical: vec![],
            }],
            fingerprints: vec![],
            properties: vec![("terraform_address", "module.eks.aws_eks_cluster.this".into())],
        };
        sarif::result(&mut out, &r, i == 0);
    }
    sarif::end(&mut out, true, &[sarif::Notification { level: sarif::Level::Note, message: "done" }]);
    let doc: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(check_sarif(&doc), Ok(3));
    assert_eq!(doc.pointer("/runs/0/results/1/kind"), Some(&serde_json::json!("pass")));
    assert_eq!(
        doc.pointer("/runs/0/results/0/locations/0/physicalLocation/region/startLine"),
        Some(&serde_json::json!(3))
    );
    // A ruleIndex that points at another rule is caught.
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["ruleId"] = "AP-002".into();
    assert!(check_sarif(&bad).is_err());
}

// ---------------------------------------------------------- robustness ----

/// Mutated fixture records through every encoder: no panic, every line JSON.
fn encode_anything(input: &[u8], set: &RuleSet) {
    let dec = Decoder::default();
    for format in [encode::Format::Ocsf, encode::Format::Ecs] {
        let mut n = Normalizer::with_format(Options { keep_skipped: true }, format);
        for f in frame::records(input, 1 << 20) {
            n.record(&dec, &input[f.range]);
        }
        lines(n.output());
    }
    for format in [FindingFormat::Ocsf, FindingFormat::Ecs, FindingFormat::Falco, FindingFormat::Sarif] {
        let mut sc = Scanner::new(set, ScanOptions { write_events: true, ..ScanOptions::default() });
        sc.set_findings(format, Context::default());
        for f in frame::records(input, 1 << 20) {
            sc.record(&dec, &input[f.range]);
        }
        let text = String::from_utf8(sc.output().to_vec()).expect("UTF-8");
        for l in text.lines() {
            serde_json::from_str::<Value>(l.trim_start_matches(',')).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        }
    }
}

mod robustness {
    use super::*;
    use proptest::prelude::*;
    use std::sync::OnceLock;

    fn seeds() -> &'static (Vec<Vec<u8>>, RuleSet) {
        static S: OnceLock<(Vec<Vec<u8>>, RuleSet)> = OnceLock::new();
        S.get_or_init(|| {
            let mut out = Vec::new();
            for rel in fixtures() {
                let b = read_fixture(&rel);
                for f in frame::records(&b, 1 << 20) {
                    out.push(b[f.range].to_vec());
                }
            }
            (out, RuleSet::builtin())
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

        #[test]
        fn mutated_records_encode_to_json(pick in any::<prop::sample::Index>(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let (seeds, set) = seeds();
            let mut rec = seeds[pick.index(seeds.len())].clone();
            if !rec.is_empty() {
                let i = at.index(rec.len());
                rec[i] = byte;
            }
            encode_anything(&rec, set);
        }
    }
}
