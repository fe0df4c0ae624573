//! `kaudit iac check` and `kaudit inventory` end to end: formats and exit codes
//! (0 = no FAIL, 1 = a FAIL, 2 = unreadable or unrecognised input).

use std::path::PathBuf;
use std::process::Command;

fn kaudit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaudit"))
}

fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../posture/tests/fixtures/iac").join(rel).display().to_string()
}

#[test]
fn iac_exit_codes() {
    let pass = kaudit()
        .args(["iac", "check"])
        .arg(fixture("synthetic/gke-pass.tfplan.json"))
        .arg(fixture("synthetic/eksctl-pass.yaml"))
        .output()
        .unwrap();
    assert_eq!(pass.status.code(), Some(0), "{}", String::from_utf8_lossy(&pass.stdout));
    let fail = kaudit()
        .args(["iac", "check"])
        .arg(fixture("synthetic/eks-update-disables-audit.tfplan.json"))
        .output()
        .unwrap();
    assert_eq!(fail.status.code(), Some(1));
    let out = String::from_utf8(fail.stdout).unwrap();
    assert!(out.contains("FAIL") && out.contains("IAC-EKS-03") && out.contains("fix:"), "{out}");
    // UNKNOWN and WARN alone do not fail the gate.
    let unknown =
        kaudit().args(["iac", "check"]).arg(fixture("synthetic/eks-unknown-log-types.tfplan.json")).output().unwrap();
    assert_eq!(unknown.status.code(), Some(0));
    let bad = kaudit()
        .args(["iac", "check"])
        .arg(fixture("kaudit-synthetic/unsupported-format-version.tfplan.json"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unsupported format_version"));
    let missing = kaudit().args(["iac", "check", "/nonexistent/plan.json"]).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn iac_formats() {
    let f = fixture("synthetic/aks-pass-diag-kube-audit-admin.tfplan.json");
    let json = kaudit().args(["iac", "check", "--format", "json", &f]).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let first = &v[0];
    assert_eq!(first["file"], f.as_str());
    assert_eq!(first["resource"], "azurerm_kubernetes_cluster.aks");
    assert_eq!(first["check"], "IAC-AKS-01");
    assert_eq!(first["result"], "PASS");
    let sarif = kaudit().args(["iac", "check", "--format", "sarif", &f]).output().unwrap();
    let s: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(s["version"], "2.1.0");
    let ocsf = kaudit().args(["iac", "check", "--format", "ocsf", &f]).output().unwrap();
    let lines: Vec<serde_json::Value> =
        std::str::from_utf8(&ocsf.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), v.as_array().unwrap().len());
    assert!(lines.iter().all(|e| e["class_uid"] == 2003 && e["time"].as_i64().unwrap() > 0));
}

#[test]
fn inventory_exit_codes_and_json() {
    let ok = kaudit()
        .args(["inventory", "--format", "json"])
        .arg(fixture("inventory/eks-describe-cluster-disabled-entry-first.json"))
        .arg(fixture("inventory/gke-get-cluster.json"))
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v[0]["provider"], "EKS");
    assert_eq!(v[0]["name"], "payments");
    assert_eq!(v[0]["audit"], "on");
    assert_eq!(v[0]["checks"][0]["check"], "INV-EKS-AUDIT");
    let fail =
        kaudit().arg("inventory").arg(fixture("inventory/eks-describe-cluster-all-disabled.json")).output().unwrap();
    assert_eq!(fail.status.code(), Some(1));
    let table = String::from_utf8(fail.stdout).unwrap();
    assert!(table.starts_with("PROVIDER") && table.contains("legacy") && table.contains("off"), "{table}");
    let bad = kaudit().arg("inventory").arg(fixture("synthetic/eksctl-pass.yaml")).output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
