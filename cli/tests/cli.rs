//! The `kaudit` binary end to end: files, stdin, gzip, stats, exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn kaudit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaudit"))
}

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(rel)
}

fn json_lines(out: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn normalize_mixed_files_with_stats() {
    let out = kaudit()
        .args(["normalize", "--stats"])
        .arg(fixture("synthetic/mixed-vendors.jsonl"))
        .arg(fixture("synthetic/eks-subscription-firehose-s3.jsonl.gz"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 9);
    let sources: Vec<&str> = events.iter().map(|e| e["kaudit"]["source"].as_str().unwrap()).collect();
    assert_eq!(
        sources,
        [
            "k8s",
            "eks.cloudwatch",
            "aks.diagnostic",
            "gke.logentry",
            "openshift.viaq",
            "k8s.shipper",
            "k8s.eventlist",
            "eks.subscription",
            "eks.subscription"
        ]
    );
    let stats = String::from_utf8(out.stderr).unwrap();
    assert!(stats.contains("records = events + skipped + errors: yes"), "{stats}");
    assert!(stats.contains("inputs: 9 records"), "{stats}");
}

#[test]
fn normalize_reads_a_directory_as_scan_does() {
    // A directory is walked in name order (as `kaudit scan` walks it): the
    // same events as naming its files one by one.
    let dir = fixture("vendors/vanilla");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "jsonl" || e == "json"));
    files.sort();
    assert!(!files.is_empty());
    let walked = kaudit().arg("normalize").arg(&dir).output().unwrap();
    assert!(walked.status.success(), "{}", String::from_utf8_lossy(&walked.stderr));
    let named = kaudit().arg("normalize").args(&files).output().unwrap();
    assert!(named.status.success());
    assert!(!json_lines(&walked.stdout).is_empty());
    assert_eq!(walked.stdout, named.stdout);
}

#[test]
fn stdin_and_dash() {
    let mut child = kaudit().args(["normalize", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let input = std::fs::read(fixture("vendors/vanilla/falco-trace-files.jsonl")).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(json_lines(&out.stdout).len(), 18);
}

#[test]
fn undecodable_records_pass_through_and_exit_zero() {
    let out = kaudit().args(["normalize", "--stats"]).arg(fixture("synthetic/malformed.jsonl")).output().unwrap();
    assert!(out.status.success(), "bad records are not an I/O failure");
    let lines = json_lines(&out.stdout);
    assert_eq!(lines.len(), 10);
    assert_eq!(lines[0]["raw"], "not json at all");
    assert!(lines.iter().filter(|l| l["kaudit"]["error"].is_object()).count() >= 8);
}

#[test]
fn keep_skipped_writes_skip_envelopes() {
    let f = fixture("synthetic/aks-eventhub-records.json");
    let plain = kaudit().args(["normalize"]).arg(&f).output().unwrap();
    let kept = kaudit().args(["normalize", "--keep-skipped"]).arg(&f).output().unwrap();
    assert_eq!(json_lines(&plain.stdout).len(), 3);
    let k = json_lines(&kept.stdout);
    assert_eq!(k.len(), 5);
    assert_eq!(k.iter().filter(|l| l["kaudit"]["skipped"].is_object()).count(), 2);
}

#[test]
fn unreadable_input_fails_but_other_files_are_processed() {
    let out = kaudit()
        .args(["normalize", "/nonexistent/kaudit-input.jsonl"])
        .arg(fixture("vendors/openshift/clo-logsamples-raw.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_lines(&out.stdout).len(), 3);
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("/nonexistent/kaudit-input.jsonl"), "{err}");
}

#[test]
fn max_record_bytes_limits_memory_without_losing_bytes() {
    let out = kaudit()
        .args(["normalize", "--max-record-bytes", "1000"])
        .arg(fixture("vendors/openshift/clo-functional-kube-apiserver-audit-selected.jsonl"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines = json_lines(&out.stdout);
    assert!(lines.iter().any(|l| l["kaudit"]["error"]["category"] == "limit"));
}

/// Regression: `kaudit rules list | head -1` panicked ("failed printing to
/// stdout: Broken pipe") when the reader closed the pipe early.
#[test]
fn regression_report_commands_end_quietly_on_a_closed_pipe() {
    use std::io::Read;
    // More output than a pipe holds (64 KiB), so the writer meets the closed pipe.
    let dir = std::env::temp_dir().join(format!("kaudit-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rules = String::from("rules:\n");
    for i in 0..2000 {
        rules.push_str(&format!(
            "  - id: pipe-{i}\n    title: a rule with a long enough title to fill the pipe quickly {i}\n    severity: low\n    condition: verb = get\n"
        ));
    }
    std::fs::write(dir.join("many.yaml"), rules).expect("write rules");
    let mut child = kaudit()
        .args(["rules", "list", "--rules"])
        .arg(dir.join("many.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run kaudit");
    let mut first = [0u8; 16];
    child.stdout.as_mut().expect("stdout").read_exact(&mut first).expect("some output");
    drop(child.stdout.take());
    let mut err = String::new();
    child.stderr.take().expect("stderr").read_to_string(&mut err).expect("stderr");
    let status = child.wait().expect("wait");
    assert!(!err.contains("panicked"), "{err}");
    // Ends by SIGPIPE, never with a panic's exit code 101.
    assert_ne!(status.code(), Some(101), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--max-match-bytes` (scan, stream): at the budget the rule evaluates, one
/// byte under it the rule is blind with reason `budget` and the record still
/// passes through. Synthetic record and rule.
#[test]
fn max_match_bytes_makes_rules_over_budget_blind_not_quiet() {
    let dir = std::env::temp_dir().join(format!("kaudit-budget-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("r.yaml");
    std::fs::write(
        &rules,
        "rules:\n  - id: ua\n    title: t\n    severity: low\n    condition: userAgent regex \"^z\"\n",
    )
    .unwrap();
    let ua = "a".repeat(200);
    let rec = format!(
        "{{\"kind\":\"Event\",\"level\":\"Metadata\",\"auditID\":\"1\",\"stage\":\"ResponseComplete\",\"verb\":\"get\",\"userAgent\":\"{ua}\",\"user\":{{\"username\":\"u\"}},\"stageTimestamp\":\"2026-01-01T00:00:00Z\"}}\n"
    );
    for (cmd, budget, blind) in [
        (&["scan", "-", "--format", "json"][..], "200", serde_json::json!([])),
        (&["scan", "-", "--format", "json"][..], "199", serde_json::json!([{"rule": "ua", "field": "budget"}])),
        (&["stream"][..], "199", serde_json::json!([{"rule": "ua", "field": "budget"}])),
    ] {
        let mut child = kaudit()
            .args(cmd)
            .args(["--no-builtin", "--blind", "--max-match-bytes", budget, "--rules"])
            .arg(&rules)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(rec.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
        let lines = json_lines(&out.stdout);
        assert_eq!(lines.len(), 1, "{cmd:?}");
        assert_eq!(lines[0]["userAgent"].as_str(), Some(ua.as_str()));
        assert_eq!(lines[0]["kaudit"]["blind"], blind, "{cmd:?} {budget}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Regression: `--rules DIR` read every file in the directory (a README was
/// parsed as YAML), and a missing `--rules` path was silently ignored.
#[test]
fn rules_dir_reads_only_yaml_and_a_missing_path_is_an_error() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/forensics");
    let out = kaudit().args(["rules", "list", "--rules"]).arg(&dir).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = kaudit()
        .args(["scan", "--no-progress", "--rules", "/nonexistent/kaudit-rules", "-"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}
