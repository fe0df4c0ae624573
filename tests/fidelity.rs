//! Fidelity: the test-only vendor renderer (`kaudit-render`) checked against
//! the real vendor samples, and the built-in rules' fidelity matrix.
//!
//! * Round trip: every real record of a vendor is decoded, its canonical
//!   event rendered back into that vendor's shape, and decoded again; the two
//!   canonical events must agree apart from what the vendor's losses remove
//!   (its policy, `kaudit_render::lossy`, and its record shape,
//!   `kaudit_render::format_losses`), and the rendered record's keys must be
//!   keys that vendor's real records use.
//! * Matrix: every built-in rule is tested on every source (no `untested`
//!   cell), and no negative case fires, no positive case misses silently and
//!   no rendered record fails to decode on any source.

use std::collections::BTreeSet;
use std::path::Path;

use kaudit_core::{normalize_buffer, Decoder, Options};
use kaudit_render::coverage::{matrix, Status};
use kaudit_render::{format_losses, lossy, render, Target};
use kaudit_tests::{lines, read_fixture};
use serde_json::{Map, Value};

/// Canonical lines of a buffer (one per unit, skipped units included).
fn canonical(bytes: &[u8]) -> Vec<Value> {
    let (out, _) = normalize_buffer(&Decoder::default(), bytes, Options { keep_skipped: true });
    lines(&out)
}

fn is_event(v: &Value) -> bool {
    v.pointer("/kaudit/source").is_some()
}

fn source(v: &Value) -> &str {
    v.pointer("/kaudit/source").and_then(Value::as_str).unwrap_or("")
}

const EVENT_KEYS: &[&str] = kaudit_core::event::EVENT_KEYS;

/// What is compared: the Event's fields (minus the target's format
/// losses), `kaudit.missing` (as a set) and `kaudit.outcome`.
fn comparable(ev: &Value, missing_from: &Value, target: Target) -> Value {
    let mut m: Map<String, Value> = ev
        .as_object()
        .map(|o| {
            o.iter().filter(|(k, _)| EVENT_KEYS.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
        })
        .unwrap_or_default();
    for path in format_losses(target) {
        strip(&mut m, path);
    }
    let missing: BTreeSet<String> = missing_from
        .pointer("/kaudit/missing")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
        .unwrap_or_default();
    m.insert("(missing)".into(), Value::from(missing.into_iter().collect::<Vec<_>>()));
    m.insert("(outcome)".into(), missing_from.pointer("/kaudit/outcome").cloned().unwrap_or(Value::Null));
    Value::Object(m)
}

/// Remove one `format_losses` path from an Event object.
fn strip(m: &mut Map<String, Value>, path: &str) {
    match path {
        "requestURI.query" => {
            if let Some(Value::String(u)) = m.get_mut("requestURI") {
                if let Some(i) = u.find('?') {
                    u.truncate(i);
                }
            }
        }
        "sourceIPs[1..]" => {
            if let Some(Value::Array(a)) = m.get_mut("sourceIPs") {
                a.truncate(1);
            }
        }
        "responseStatus.code<400" => {
            if let Some(Value::Object(s)) = m.get_mut("responseStatus") {
                if s.get("code").and_then(Value::as_i64).is_some_and(|c| c < 400) {
                    s.remove("code");
                }
                if s.is_empty() {
                    m.remove("responseStatus");
                }
            }
        }
        p => match p.split_once('.') {
            None => {
                m.remove(p);
            }
            Some((obj, key)) => {
                if let Some(Value::Object(o)) = m.get_mut(obj) {
                    o.remove(key);
                    if o.is_empty() {
                        m.remove(obj);
                    }
                }
            }
        },
    }
}

/// Top-level keys of every JSON line of a fixture (the vendor's real shape).
fn keys_of(rel: &str) -> BTreeSet<String> {
    let bytes = read_fixture(Path::new(rel));
    let mut keys = BTreeSet::new();
    for l in String::from_utf8_lossy(&bytes).lines() {
        if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(l) {
            keys.extend(o.keys().cloned());
        }
    }
    keys
}

fn nested_keys_of(rel: &str, key: &str) -> BTreeSet<String> {
    let bytes = read_fixture(Path::new(rel));
    let mut keys = BTreeSet::new();
    for l in String::from_utf8_lossy(&bytes).lines() {
        if let Ok(v) = serde_json::from_str::<Value>(l) {
            if let Some(Value::Object(o)) = v.get(key) {
                keys.extend(o.keys().cloned());
            }
        }
    }
    keys
}

fn top_keys(text: &str) -> BTreeSet<String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(o)) => o.keys().cloned().collect(),
        _ => BTreeSet::new(),
    }
}

/// Round-trip every event of `files` through `target`; `pick` may choose a
/// finer target per record (AKS admin). Returns the rendered records.
fn round_trip(
    files: &[&str],
    target_of: &dyn Fn(&Value, &str) -> Target,
    want_source: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let mut rendered = Vec::new();
    let mut failures = Vec::new();
    let mut seen = 0;
    for rel in files {
        let bytes = read_fixture(Path::new(rel));
        // One record per line for the JSONL samples; whole file otherwise.
        let records: Vec<&[u8]> = if rel.ends_with(".jsonl") {
            bytes.split(|b| *b == b'\n').filter(|l| !l.iter().all(u8::is_ascii_whitespace)).collect()
        } else {
            vec![&bytes[..]]
        };
        for (i, rec) in records.iter().enumerate() {
            let raw = String::from_utf8_lossy(rec);
            for c1 in canonical(rec).into_iter().filter(is_event) {
                if !want_source(source(&c1)) {
                    continue;
                }
                seen += 1;
                let target = target_of(&c1, &raw);
                let at = format!("{rel}:{} ({})", i + 1, target.id());
                let Some(text) = render(&c1, target) else {
                    failures
                        .push(format!("{at}: the renderer says {target} never delivers a record {target} delivered"));
                    continue;
                };
                let c2s: Vec<Value> = canonical(text.as_bytes());
                let [c2] = c2s.as_slice() else {
                    failures.push(format!("{at}: rendered record gave {} units: {text}", c2s.len()));
                    continue;
                };
                if !is_event(c2) {
                    failures.push(format!("{at}: rendered record is not an event: {c2}"));
                    continue;
                }
                let expected = lossy(&c1, target).expect("delivered above");
                let want = comparable(&expected, &c1, target);
                let got = comparable(c2, c2, target);
                if want != got {
                    failures.push(format!("{at}:\n  want {want}\n  got  {got}\n  record {text}"));
                }
                rendered.push(text);
            }
        }
    }
    assert!(seen > 0, "no events in {files:?}");
    assert!(failures.is_empty(), "{} round-trip failure(s):\n{}", failures.len(), failures.join("\n"));
    rendered
}

fn assert_keys_subset(rendered: &[String], allowed: &BTreeSet<String>, what: &str) {
    for r in rendered {
        let extra: Vec<String> = top_keys(r).difference(allowed).cloned().collect();
        assert!(extra.is_empty(), "{what}: rendered keys {extra:?} never appear in real records: {r}");
    }
}

#[test]
fn gke_round_trip_and_shape() {
    let files = [
        "vendors/gke/khi-gke-k8s-audit-logentries.jsonl",
        "vendors/gke/panther-gcp-k8s-rule-tests.jsonl",
        "vendors/gke/panther-unified-rule-tests-gke-HAND-AUTHORED.jsonl",
        "vendors/gke/grafana-alloy-pubsub-push-envelope.json",
    ];
    let rendered = round_trip(&files, &|_, _| Target::Gke, &|s| s.starts_with("gke."));
    // Real LogEntry shape: KHI's captures and the Panther rows.
    let mut top = BTreeSet::new();
    let mut proto = BTreeSet::new();
    for f in &files[..3] {
        top.extend(keys_of(f));
        proto.extend(nested_keys_of(f, "protoPayload"));
    }
    assert_keys_subset(&rendered, &top, "GKE LogEntry");
    for r in &rendered {
        let v: Value = serde_json::from_str(r).unwrap();
        let keys: BTreeSet<String> = v["protoPayload"].as_object().unwrap().keys().cloned().collect();
        let extra: Vec<&String> = keys.difference(&proto).collect();
        assert!(extra.is_empty(), "GKE protoPayload keys {extra:?} never appear in real records: {r}");
    }
}

#[test]
fn aks_round_trip_and_shape() {
    let files = ["vendors/aks/panther-unified-rule-tests-aks-HAND-AUTHORED.jsonl"];
    let admin = |_: &Value, raw: &str| {
        if raw.contains("\"kube-audit-admin\"") {
            Target::AksAdmin
        } else {
            Target::Aks
        }
    };
    let rendered = round_trip(&files, &admin, &|s| s.starts_with("aks."));
    // The Panther records carry the real envelope keys except `time`; no
    // licensed real capture exists (vendors/aks/README.md), so the layout
    // documented in formats.md §5 (S6, S16, S33) completes the reference.
    let mut top = keys_of(files[0]);
    top.extend(["time", "resourceId", "category", "operationName", "properties", "serviceBuild"].map(String::from));
    assert_keys_subset(&rendered, &top, "AKS record");
    let props: BTreeSet<String> = ["log", "stream", "pod", "containerID"].map(String::from).into();
    for r in &rendered {
        let v: Value = serde_json::from_str(r).unwrap();
        let keys: BTreeSet<String> = v["properties"].as_object().unwrap().keys().cloned().collect();
        assert!(keys.is_subset(&props), "AKS properties keys {keys:?}: {r}");
        assert!(v["properties"]["log"].as_str().unwrap().ends_with('\n'));
    }
}

#[test]
fn openshift_round_trip_and_shape() {
    let viaq = [
        "vendors/openshift/clo-logsamples-viaq-vector.jsonl",
        "vendors/openshift/clo-types-test-viaq-fluentd-legacy.jsonl",
    ];
    let rendered = round_trip(&viaq, &|_, _| Target::Openshift, &|s| s.starts_with("openshift."));
    let top: BTreeSet<String> = viaq.iter().flat_map(|f| keys_of(f)).collect();
    assert_keys_subset(&rendered, &top, "OpenShift ViaQ");
    // The raw audit.log samples, rendered as ViaQ records under the Default
    // profile, decode to the same events minus the profile's losses.
    let raw = [
        "vendors/openshift/clo-functional-kube-apiserver-audit-selected.jsonl",
        "vendors/openshift/clo-logsamples-raw.jsonl",
    ];
    let rendered = round_trip(&raw, &|_, _| Target::Openshift, &|_| true);
    assert_keys_subset(&rendered, &top, "OpenShift ViaQ (from raw)");
}

#[test]
fn vanilla_round_trip_is_identity() {
    let files = ["vendors/vanilla/falco-trace-files.jsonl"];
    let rendered = round_trip(&files, &|_, _| Target::Vanilla, &|s| s == "k8s");
    let top = keys_of(files[0]);
    assert_keys_subset(&rendered, &top, "vanilla Event");
    // Identity: the whole canonical event, `kaudit` included, comes back.
    for l in String::from_utf8_lossy(&read_fixture(Path::new(files[0]))).lines() {
        for c1 in canonical(l.as_bytes()).into_iter().filter(is_event) {
            let c2 = canonical(render(&c1, Target::Vanilla).unwrap().as_bytes());
            assert_eq!(c2, vec![c1]);
        }
    }
}

#[test]
fn eks_round_trip_and_shape() {
    let files = [
        "vendors/eks/panther-eks-audit-rule-tests.jsonl",
        "vendors/eks/panther-unified-rule-tests-eks-HAND-AUTHORED.jsonl",
    ];
    let rendered = round_trip(&files, &|_, _| Target::Eks, &|s| s.starts_with("eks."));
    // No licensed real CloudWatch row exists (formats.md §4): the reference
    // is the FilterLogEvents row shape of formats.md §3 (S4), as built in
    // synthetic/eks-cloudwatch-rows.jsonl.
    let top = keys_of("synthetic/eks-cloudwatch-rows.jsonl");
    assert_keys_subset(&rendered, &top, "EKS CloudWatch row");
    // The message is a bare Event: no shipper keys.
    for r in &rendered {
        let v: Value = serde_json::from_str(r).unwrap();
        let inner = top_keys(v["message"].as_str().unwrap());
        assert!(inner.iter().all(|k| !k.starts_with("p_")), "{r}");
        assert!(v["logStreamName"].as_str().unwrap().starts_with("kube-apiserver-audit-"));
    }
}

#[test]
fn eks_oversize_message_decodes_as_truncated() {
    let big = "x".repeat(300_000);
    let ev: Value = serde_json::from_str(&format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"big-1",
        "stage":"ResponseComplete","requestURI":"/apis/apps/v1/namespaces/a/deployments","verb":"create",
        "user":{{"username":"alice"}},"objectRef":{{"resource":"deployments","namespace":"a","apiGroup":"apps"}},
        "responseStatus":{{"code":201}},"requestObject":{{"kind":"Deployment","data":"{big}"}},
        "stageTimestamp":"2024-01-01T00:00:00Z"}}"#
    ))
    .unwrap();
    let row = render(&ev, Target::Eks).unwrap();
    let c = canonical(row.as_bytes());
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["verb"], "create");
    let flags = c[0].pointer("/kaudit/flags").and_then(Value::as_array).cloned().unwrap_or_default();
    assert!(flags.contains(&Value::from("truncated")), "{}", c[0]["kaudit"]);
}

#[test]
fn builtin_matrix_has_no_untested_or_failing_cell() {
    let set = kaudit_core::rules::RuleSet::builtin();
    let mut load = |p: &str| Some(read_fixture(Path::new(p)));
    let m = matrix(&set, &mut load);
    assert_eq!(m.rows.len(), set.rules().len());
    let mut bad = Vec::new();
    for r in &m.rows {
        for c in &r.cells {
            let mut why = Vec::new();
            if c.status == Status::Untested {
                why.push("untested".to_string());
            }
            if c.status == Status::Misses {
                why.push(format!("positive cases stay quiet: {:?}", c.silent_misses()));
            }
            if !c.negative_fires().is_empty() {
                why.push(format!("negative-fires: {:?}", c.negative_fires()));
            }
            if !c.errors().is_empty() {
                why.push(format!("errors: {:?}", c.errors()));
            }
            if !c.silent_misses().is_empty() && c.status != Status::Misses {
                why.push(format!("a positive case stays quiet: {:?}", c.silent_misses()));
            }
            if !why.is_empty() {
                bad.push(format!("{} × {}: {}", r.rule, c.target, why.join("; ")));
            }
        }
    }
    assert!(bad.is_empty(), "{} bad cell(s):\n{}", bad.len(), bad.join("\n"));
    // Every source is covered for real: each column has firing cells.
    for (t, c) in m.counts() {
        assert!(c.fires > 0, "{t}: nothing fires");
    }
}

#[test]
fn matrix_json_names_every_target_and_rule() {
    let set = kaudit_core::rules::RuleSet::builtin();
    let mut load = |p: &str| Some(read_fixture(Path::new(p)));
    let j = matrix(&set, &mut load).to_json();
    let targets: Vec<&str> = j["targets"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(targets, ["vanilla", "eks", "aks", "aks-admin", "gke", "openshift"]);
    assert_eq!(j["rules"].as_array().unwrap().len(), set.rules().len());
    for t in &targets {
        assert!(j["legend"][t].as_str().is_some_and(|s| !s.is_empty()));
    }
}
