//! `kaudit validate` and the core's health counters over **synthetic**
//! streams generated here (not real cluster data): one clean stream, and the
//! same stream with one fault injected at a time. Each fault must make
//! exactly its own checks fail (exit 2); the clean stream passes (exit 0).
//! The real vendor samples are validated too, against an expected list of
//! findings (`tests/expected/validate/vendors.txt`; `KAUDIT_BLESS=1` rewrites it).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use kaudit_core::event::EVENT_KEYS;
use kaudit_core::health::{format_utc, Health, Thresholds};
use kaudit_core::{frame, Decoder};
use serde_json::{json, Value};

fn kaudit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaudit"))
}

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(rel)
}

const S: i64 = 1_000_000;
/// 2024-05-14T09:00:00Z in µs.
const START: i64 = 1_715_677_200 * S;
const MINUTES: i64 = 60;
const PER_MINUTE: i64 = 20;

/// One fault to inject into the synthetic stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// Minutes 20..35 deliver nothing.
    Gap,
    /// Every 10th request loses its ResponseComplete.
    LostCompletions,
    /// Every 10th request loses its RequestReceived.
    LostRequests,
    /// Every 50th event is received 60 s before its own time.
    ReceivedEarly,
    /// Every 50th completion has stageTimestamp before requestReceivedTimestamp.
    StageBeforeRequest,
    /// One apiserver event stamped two hours ahead (received on time).
    FutureEvent,
    /// Three events annotated `audit.k8s.io/truncated` and one cut by CloudWatch.
    Truncated,
    /// No get/list/watch at all.
    NoReads,
    /// Secrets read at RequestResponse: bodies in the log.
    SecretBodies,
    /// Everything arrives 15 minutes late.
    Late,
}

fn rfc3339_micros(t: i64) -> String {
    let s = format_utc(t);
    format!("{}.{:06}Z", &s[..s.len() - 1], t.rem_euclid(S))
}

/// The Event as the apiserver writes it: keys in its order.
fn ordered(ev: &Value) -> String {
    let members: Vec<String> =
        EVENT_KEYS.iter().filter_map(|k| ev.get(*k).map(|v| format!("{}:{v}", Value::from(*k)))).collect();
    format!("{{{}}}", members.join(","))
}

/// A CloudWatch `FilterLogEvents` row (the transport's receive time in ms)
/// around one Event.
fn row(ev: &Value, received: i64) -> String {
    json!({
        "logStreamName": "kube-apiserver-audit-synthetic",
        "timestamp": received / 1000,
        "message": ordered(ev),
    })
    .to_string()
}

/// The synthetic stream: 60 minutes × 20 requests, each a RequestReceived and
/// a ResponseComplete 40 ms later, received 2 s after the stage.
fn stream(fault: Fault) -> String {
    let verbs = ["get", "list", "watch", "create", "update", "patch", "delete"];
    let resources = ["pods", "configmaps", "secrets", "deployments", "services"];
    let mut out = String::new();
    let mut n_event = 0u64;
    for m in 0..MINUTES {
        if fault == Fault::Gap && (20..35).contains(&m) {
            continue;
        }
        for k in 0..PER_MINUTE {
            let i = m * PER_MINUTE + k;
            let t0 = START + m * 60 * S + k * 3 * S + 123_000;
            let mut verb = verbs[(i % 7) as usize];
            if fault == Fault::NoReads && matches!(verb, "get" | "list" | "watch") {
                verb = "patch";
            }
            let resource = resources[(i % 5) as usize];
            let id = format!("00000000-0000-4000-8000-{i:012}");
            for stage in ["RequestReceived", "ResponseComplete"] {
                let rr = stage == "RequestReceived";
                let lost = match fault {
                    Fault::LostCompletions => !rr,
                    Fault::LostRequests => rr,
                    _ => false,
                };
                if lost && i % 10 == 3 {
                    continue;
                }
                let mut stage_t = if rr { t0 } else { t0 + 40_000 };
                let mut received = stage_t + 2 * S;
                if fault == Fault::StageBeforeRequest && !rr && i % 50 == 7 {
                    stage_t = t0 - S;
                    received = t0 + 2 * S;
                }
                if fault == Fault::FutureEvent && !rr && i == 601 {
                    stage_t += 2 * 3600 * S;
                }
                if fault == Fault::ReceivedEarly && n_event % 50 == 11 {
                    received = stage_t - 60 * S;
                }
                if fault == Fault::Late {
                    received = stage_t + 900 * S;
                }
                let mut ev = json!({
                    "kind": "Event",
                    "apiVersion": "audit.k8s.io/v1",
                    "level": "Metadata",
                    "auditID": id,
                    "stage": stage,
                    "requestURI": format!("/api/v1/namespaces/team-{}/{resource}", i % 3),
                    "verb": verb,
                    "user": {"username": format!("system:serviceaccount:team-{}:app", i % 3), "groups": ["system:authenticated"]},
                    "sourceIPs": ["10.0.0.7"],
                    "userAgent": "synthetic/1.0",
                    "objectRef": {"resource": resource, "namespace": format!("team-{}", i % 3), "apiVersion": "v1"},
                    "requestReceivedTimestamp": rfc3339_micros(t0),
                    "stageTimestamp": rfc3339_micros(stage_t),
                });
                if !rr {
                    ev["responseStatus"] = json!({"metadata": {}, "code": 200});
                }
                if fault == Fault::SecretBodies && resource == "secrets" && !rr && i % 2 == 0 {
                    ev["level"] = json!("RequestResponse");
                    ev["responseObject"] =
                        json!({"kind": "Secret", "apiVersion": "v1", "data": {"token": "c3ludGhldGlj"}});
                }
                if fault == Fault::Truncated && !rr && matches!(i, 100 | 200 | 300) {
                    ev["annotations"] = json!({"audit.k8s.io/truncated": "true"});
                }
                if fault == Fault::Truncated && !rr && i == 400 {
                    // CloudWatch cut the message: the tail (times) is lost.
                    let text = ordered(&ev);
                    // Cut inside the requestReceivedTimestamp value, as CloudWatch cuts at a byte count.
                    let cut = text.find("\"requestReceivedTimestamp\"").map_or(text.len(), |p| p + 35);
                    let msg = format!("{}[Truncated...]", &text[..cut]);
                    let r = json!({"logStreamName": "kube-apiserver-audit-synthetic", "timestamp": received / 1000, "message": msg});
                    out.push_str(&r.to_string());
                    out.push('\n');
                    n_event += 1;
                    continue;
                }
                out.push_str(&row(&ev, received));
                out.push('\n');
                n_event += 1;
            }
        }
    }
    out
}

/// Run `kaudit validate --format json` over `input` on stdin.
fn validate(input: &str, extra: &[&str]) -> (i32, Value) {
    let mut child = kaudit()
        .args(["validate", "--format", "json", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let text = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).expect("the report is JSON");
    (out.status.code().unwrap(), report)
}

fn failed(report: &Value) -> Vec<String> {
    let mut f: Vec<String> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    f.sort();
    f.dedup();
    f
}

/// The health accumulator fed directly (the engine API the hosts use).
fn health(input: &str) -> Health {
    let dec = Decoder::default();
    let mut h = Health::default();
    for f in frame::records(input.as_bytes(), 1 << 20) {
        dec.decode(&input.as_bytes()[f.range], &mut h);
    }
    h
}

#[test]
fn clean_stream_passes() {
    let (code, report) = validate(&stream(Fault::None), &[]);
    assert_eq!(failed(&report), Vec::<String>::new(), "{report:#}");
    assert_eq!(code, 0);
    let s = &report["streams"][0];
    assert_eq!(s["events"], 2400);
    assert_eq!(s["source"], "eks.cloudwatch");
    assert_eq!(s["rate"]["span_minutes"], 60);
    assert_eq!(s["rate"]["mean_per_minute"], 40.0);
    assert_eq!(s["pairing"]["paired"], 1200);
    assert_eq!(s["pairing"]["orphan_requests"], 0);
    // Latency is 2 s for every event: within the histogram's 3.125 %.
    let p95 = s["latency"]["p95_seconds"].as_f64().unwrap();
    assert!((p95 - 2.0).abs() <= 2.0 / 32.0, "{p95}");
    assert_eq!(s["latency"]["max_seconds"], 2.0);
    let statuses: Vec<&str> =
        report["checks"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == "pass"), "{statuses:?}");
}

#[test]
fn each_injected_fault_fails_its_own_checks() {
    let cases: &[(Fault, &[&str])] = &[
        (Fault::Gap, &["rate.gaps"]),
        (Fault::LostCompletions, &["pairing.orphan-requests"]),
        (Fault::LostRequests, &["pairing.orphan-completions"]),
        (Fault::ReceivedEarly, &["skew.received-before-event"]),
        (Fault::StageBeforeRequest, &["skew.stage-before-request"]),
        (Fault::FutureEvent, &["skew.future-outliers", "skew.received-before-event"]),
        (Fault::Truncated, &["structure.truncated"]),
        (Fault::NoReads, &["coverage.reads"]),
        (Fault::SecretBodies, &["coverage.secret-bodies"]),
        (Fault::Late, &["latency.p95"]),
    ];
    for (fault, want) in cases {
        let (code, report) = validate(&stream(*fault), &[]);
        assert_eq!(failed(&report), *want, "{fault:?}");
        assert_eq!(code, 2, "{fault:?}");
    }
}

#[test]
fn injected_faults_are_measured_exactly() {
    let t = Thresholds::default();
    // Gap: minutes 20..35 empty, 15 minutes from 09:20.
    let r = health(&stream(Fault::Gap)).report(&t);
    let g = &r.streams[0].rate.gaps;
    assert_eq!(g.len(), 1);
    assert_eq!((g[0].start.as_str(), g[0].minutes), ("2024-05-14T09:20:00Z", 15));
    // Lost completions: every 10th of 1200 requests (120). The last two were
    // received 48 s and 18 s before the stream's last event, within the 60 s
    // grace time: still pending, not orphans.
    let p = r.streams[0].pairing.unwrap();
    assert_eq!(p.orphan_requests, 0);
    let p = health(&stream(Fault::LostCompletions)).report(&t).streams[0].pairing.unwrap();
    assert_eq!((p.orphan_requests, p.pending, p.paired), (118, 2, 1080));
    let p = health(&stream(Fault::LostRequests)).report(&t).streams[0].pairing.unwrap();
    assert_eq!((p.orphan_completions, p.paired), (120, 1080));
    // Skew.
    let r = health(&stream(Fault::ReceivedEarly)).report(&t);
    assert_eq!(r.streams[0].skew.received_before_event, 48);
    assert_eq!(r.streams[0].skew.max_lead_seconds, 60.0);
    let r = health(&stream(Fault::StageBeforeRequest)).report(&t);
    assert_eq!(r.streams[0].skew.stage_before_request, 24);
    let r = health(&stream(Fault::FutureEvent)).report(&t);
    assert_eq!(r.streams[0].skew.future_outliers, 1);
    assert!(r.streams[0].rate.gaps.is_empty(), "the outlier is not counted in the rates");
    assert_eq!(r.streams[0].last.as_deref(), Some("2024-05-14T09:59:57Z"));
    // Truncation: three annotations and one cut message.
    let r = health(&stream(Fault::Truncated)).report(&t);
    let s = &r.streams[0].structure;
    assert_eq!((s.truncated_annotation, s.truncated), (3, 1));
    // Secret bodies: half the secrets completions.
    let r = health(&stream(Fault::SecretBodies)).report(&t);
    assert_eq!((r.streams[0].coverage.secret_events, r.streams[0].coverage.secret_bodies), (480, 120));
    // Latency of 900 s.
    let l = health(&stream(Fault::Late)).report(&t).streams[0].latency.clone().unwrap();
    assert!((l.p50_seconds - 900.0).abs() <= 900.0 / 32.0, "{l:?}");
    assert_eq!(l.max_seconds, 900.0);
}

#[test]
fn thresholds_come_from_flags() {
    let input = stream(Fault::Late);
    let (code, report) = validate(&input, &["--max-p95-latency", "1000"]);
    assert_eq!((code, failed(&report)), (0, vec![]));
    let (code, report) = validate(&stream(Fault::Gap), &["--max-gap-minutes", "15"]);
    assert_eq!((code, failed(&report)), (0, vec![]));
    let (code, report) = validate(&stream(Fault::LostCompletions), &["--max-unpaired-ratio", "0.2"]);
    assert_eq!((code, failed(&report)), (0, vec![]));
    let (code, report) = validate(&stream(Fault::None), &["--min-events-for-coverage", "5000"]);
    assert_eq!(code, 0);
    let reads = report["checks"].as_array().unwrap().iter().find(|c| c["id"] == "coverage.reads").unwrap();
    assert_eq!(reads["status"], "skip");
}

#[test]
fn parts_merge_into_the_whole() {
    let input = stream(Fault::LostCompletions);
    let lines: Vec<&str> = input.lines().collect();
    // Split at a request boundary: the second part starts with a RequestReceived.
    let cut = (lines.len() / 2..lines.len()).find(|&i| lines[i].contains("RequestReceived")).unwrap();
    let (a, b) = (lines[..cut].join("\n"), lines[cut..].join("\n"));
    let mut ha = health(&a);
    ha.merge(&health(&b));
    let t = Thresholds::default();
    assert_eq!(ha.report(&t), health(&input).report(&t));
}

#[test]
fn table_output_and_exit_codes() {
    let dir = std::env::temp_dir().join(format!("kaudit-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let clean = dir.join("clean.jsonl");
    std::fs::write(&clean, stream(Fault::None)).unwrap();
    let out = kaudit().arg("validate").arg(&clean).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("checks: 0 failed, 0 warned"), "{text}");
    assert!(text.contains("eks.cloudwatch  2400"), "{text}");

    let gap = dir.join("gap.jsonl");
    std::fs::write(&gap, stream(Fault::Gap)).unwrap();
    let out = kaudit().arg("validate").arg(&gap).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("fail    rate.gaps"), "{text}");

    // An unreadable input is exit 1, whatever the checks say.
    let out = kaudit().arg("validate").arg(&clean).arg(dir.join("absent.jsonl")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.jsonl"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The real vendor samples: no panic, the expected findings (they are small
/// rule-test samples, partly hand-authored: fields absent, no times), and no
/// pairing on GKE, which has no stages.
#[test]
fn vendor_samples_report_sanely() {
    let out = kaudit().args(["validate", "--format", "json"]).arg(repo("tests/fixtures/vendors")).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let streams = report["streams"].as_array().unwrap();
    let sources: std::collections::BTreeSet<&str> = streams.iter().map(|s| s["source"].as_str().unwrap()).collect();
    assert_eq!(
        sources.into_iter().collect::<Vec<_>>(),
        ["aks.diagnostic", "eks.cloudwatch", "gke.logentry", "k8s", "openshift.viaq"]
    );
    for s in streams {
        let gke = s["source"] == "gke.logentry";
        assert_eq!(s["pairing"].is_null(), gke, "pairing only where there are stages: {s}");
    }
    for c in report["checks"].as_array().unwrap() {
        if c["source"] == "gke.logentry" && c["id"].as_str().unwrap().starts_with("pairing.") {
            assert_eq!(c["status"], "skip");
            assert_eq!(c["message"], "the source has no stages");
        }
    }
    // GKE's receiveTimestamp gives latency on the KHI sample.
    let khi = streams.iter().find(|s| s["cluster"] == "sample-cluster").unwrap();
    assert_eq!(khi["latency"]["samples"], 3);

    let mut got = String::new();
    for c in report["checks"].as_array().unwrap() {
        if c["status"] == "fail" || c["status"] == "warn" {
            got.push_str(&format!(
                "{} {} {} {} {}\n",
                c["status"].as_str().unwrap(),
                c["id"].as_str().unwrap(),
                c["cluster"].as_str().unwrap_or("-"),
                c["source"].as_str().unwrap(),
                c["message"].as_str().unwrap()
            ));
        }
    }
    let exp = repo("tests/expected/validate/vendors.txt");
    if std::env::var_os("KAUDIT_BLESS").is_some() {
        std::fs::create_dir_all(exp.parent().unwrap()).unwrap();
        std::fs::write(&exp, &got).unwrap();
    }
    let want = std::fs::read_to_string(&exp).expect("expected findings (run with KAUDIT_BLESS=1)");
    assert_eq!(got, want);
}
