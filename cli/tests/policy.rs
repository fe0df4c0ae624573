//! `kaudit policy simulate|lint` end to end: output shapes and exit codes.

use std::path::PathBuf;
use std::process::Command;

fn kaudit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaudit"))
}

fn policy(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../posture/tests/fixtures/policies").join(rel)
}

fn json(out: &[u8]) -> serde_json::Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

#[test]
fn simulate_json_shape() {
    let out = kaudit()
        .args(["policy", "simulate", "--format", "json"])
        .arg(policy("upstream/k8s-docs-example-audit-policy.yaml"))
        .output()
        .expect("run");
    assert!(out.status.success());
    let v = json(&out.stdout);
    let arr = v.as_array().expect("array");
    assert_eq!(arr.len(), 30);
    assert_eq!(
        arr[0],
        serde_json::json!({"probe": "P01", "level": "Metadata", "omit_stages": ["RequestReceived"], "rule_index": 6})
    );
    // P04: kube-system configmap at Request by rules[5].
    assert_eq!(arr[3]["level"], "Request");
    assert_eq!(arr[3]["rule_index"], 5);
    for o in arr {
        let keys: Vec<&String> = o.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["level", "omit_stages", "probe", "rule_index"]);
    }
}

#[test]
fn simulate_user_requests_and_no_match() {
    let dir = std::env::temp_dir().join(format!("kaudit-policy-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let req = dir.join("requests.json");
    std::fs::write(
        &req,
        r#"{"probes": [{"id": "crd", "user": "bob", "groups": ["system:authenticated"], "verb": "create", "api_group": "example.com", "resource": "widgets", "namespace": "default"}]}"#,
    )
    .expect("write");
    let out = kaudit()
        .args(["policy", "simulate", "--format", "json", "--requests"])
        .arg(&req)
        .arg(policy("synthetic/bad-no-catch-all.yaml"))
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        json(&out.stdout),
        serde_json::json!([{"probe": "crd", "level": "None", "omit_stages": ["RequestReceived"], "rule_index": null}])
    );
    // The table names the request.
    let out = kaudit()
        .args(["policy", "simulate", "--requests"])
        .arg(&req)
        .arg(policy("synthetic/bad-no-catch-all.yaml"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PROBE") && text.contains("example.com/widgets"), "{text}");
    // A bad requests file is an error naming the place.
    std::fs::write(&req, r#"[{"id": "x", "resource": "pods"}]"#).expect("write");
    let out = kaudit()
        .args(["policy", "simulate", "--requests"])
        .arg(&req)
        .arg(policy("synthetic/bad-no-catch-all.yaml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("probes[0].verb"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn simulate_refuses_an_invalid_policy() {
    let out = kaudit().args(["policy", "simulate"]).arg(policy("synthetic/invalid-schema.yaml")).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules[0].level: Unsupported value: \"Metdata\""), "{err}");
}

#[test]
fn lint_exit_codes() {
    // Only WARN/INFO findings: exit 0.
    let out = kaudit()
        .args(["policy", "lint"])
        .arg(policy("upstream/falco-k8saudit-audit-policy.yaml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("AP-Q01") && text.contains("Estimated events per verb class"), "{text}");
    // FAIL findings: exit 1.
    let out = kaudit().args(["policy", "lint"]).arg(policy("synthetic/bad-drop-all-reads.yaml")).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    // Invalid: exit 1 with AP-V01.
    let out = kaudit()
        .args(["policy", "lint", "--format", "json"])
        .arg(policy("synthetic/invalid-empty-rules.yaml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json(&out.stdout)[0]["check"], "AP-V01");
    // Baseline: no findings, exit 0.
    let out = kaudit()
        .args(["policy", "lint", "--format", "json"])
        .arg(policy("synthetic/recommended-baseline.yaml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out.stdout), serde_json::json!([]));
    // Usage errors: exit 2.
    let out = kaudit().args(["policy", "lint"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let out = kaudit().args(["policy", "lint", "/no/such/policy.yaml"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn lint_json_fields() {
    let out = kaudit()
        .args(["policy", "lint", "--format", "json"])
        .arg(policy("upstream/k8s-docs-example-audit-policy.yaml"))
        .output()
        .expect("run");
    let v = json(&out.stdout);
    let s04 = v.as_array().expect("array").iter().find(|f| f["check"] == "AP-S04").expect("AP-S04");
    assert_eq!(s04["rule_index"], 5);
    assert_eq!(s04["resource"], "rules[5]");
    assert_eq!(s04["result"], "WARN");
    assert_eq!(s04["severity"], "medium");
    assert!(s04["fix"].as_str().is_some_and(|f| !f.is_empty()));
    assert!(s04["file"].as_str().is_some_and(|f| f.ends_with("k8s-docs-example-audit-policy.yaml")));
}

#[test]
fn lint_rules_and_profiles() {
    // --rules: AP-D01 findings and the per-rule table.
    // (`--rules` takes an optional value: the policy goes before it.)
    let out = kaudit()
        .args(["policy", "lint"])
        .arg(policy("synthetic/bad-omits-responsecomplete.yaml"))
        .arg("--rules")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Detection rules under this policy:"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("blind") && l.contains("pod-exec-or-attach")), "{text}");
    assert!(text.contains("AP-D01"));
    // A user rule directory is loaded next to the built-in pack.
    let dir = std::env::temp_dir().join(format!("kaudit-policy-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    std::fs::write(
        dir.join("mine.yaml"),
        "rules:\n  - id: my-secret-create\n    title: Secret created\n    severity: low\n    condition: verb = create and objectRef.resource = secrets and requestObject.type = Opaque\n",
    )
    .expect("write");
    let out = kaudit()
        .args(["policy", "lint", "--format", "json", "--rules"])
        .arg(&dir)
        .arg(policy("synthetic/recommended-baseline.yaml"))
        .output()
        .expect("run");
    let v = json(&out.stdout);
    assert!(
        v.as_array().expect("array").iter().any(|f| f["check"] == "AP-D01"
            && f["message"].as_str().is_some_and(|m| m.contains("`my-secret-create`"))
            && f["rule_index"] == 5),
        "{v:#}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    // --profile aks-admin: reads are lost.
    let out = kaudit().args(["policy", "lint", "--profile", "aks-admin", "--format", "json"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out.stdout);
    assert!(v.as_array().expect("array").iter().any(|f| f["check"] == "AP-C04"));
    // A file and a profile together is a usage error.
    let out = kaudit()
        .args(["policy", "lint", "--profile", "gke"])
        .arg(policy("synthetic/recommended-baseline.yaml"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn lint_sarif_and_ocsf_outputs() {
    // Falco's shipped policy: `deployments` under the core group (AP-Q01).
    let falco = policy("upstream/falco-k8saudit-audit-policy.yaml");
    let out = kaudit().arg("policy").arg("lint").arg(&falco).args(["--format", "sarif"]).output().unwrap();
    let sarif = json(&out.stdout);
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("SARIF results");
    assert!(results.iter().any(|r| r["ruleId"] == "AP-Q01"), "{sarif}");
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"].as_array().expect("SARIF rules");
    for r in results {
        let i = r["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
    }
    let out = kaudit().arg("policy").arg("lint").arg(&falco).args(["--format", "ocsf"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["class_uid"] == 2003), "{text}");
    assert!(lines.iter().any(|l| l.to_string().contains("AP-Q01")));
}
