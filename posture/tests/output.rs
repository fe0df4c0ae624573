//! Encoders: SARIF 2.1.0 structure, OCSF Compliance Finding 2003 required attributes, table.

mod common;

use common::fixtures;
use kaudit_posture::finding::{Finding, Severity, Verdict};
use kaudit_posture::iac::{self, Options};
use kaudit_posture::output::{self, Format, Producer};
use serde_json::Value;

const P: Producer<'static> = Producer { name: "kaudit", version: "0.1.0" };

/// Findings covering every verdict (PASS…N/A) from real fixture runs.
fn sample() -> Vec<Finding> {
    let mut v = Vec::new();
    for f in [
        "synthetic/eks-update-disables-audit.tfplan.json",
        "synthetic/aks-pass-category-group-alllogs.tfplan.json",
        "synthetic/eks-unknown-log-types.tfplan.json",
        "synthetic/kube-apiserver-manifest-fail.yaml",
    ] {
        let src = std::fs::read_to_string(fixtures().join(f)).unwrap();
        v.extend(iac::check(f, &src, &Options::default()).unwrap());
    }
    for verdict in
        [Verdict::Pass, Verdict::Fail, Verdict::Warn, Verdict::Info, Verdict::Unknown, Verdict::NotApplicable]
    {
        assert!(v.iter().any(|f| f.verdict == verdict), "sample lacks {verdict:?}");
    }
    v
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or_else(|| panic!("{k} missing or not a string in {v}"))
}

/// The SARIF 2.1.0 schema's required properties and enums, checked structurally: sarifLog
/// {version, runs}; run {tool}; tool {driver}; toolComponent {name}; reportingDescriptor {id};
/// result {message}; message {text}; level ∈ {none, note, warning, error}; kind ∈ {notApplicable,
/// pass, fail, review, open, informational}; kind ≠ fail ⇒ level none (§3.27.9); ruleIndex points
/// at the rule with ruleId; artifactLocation.uri a relative reference.
#[test]
fn sarif_structure() {
    let f = sample();
    let v = output::sarif(&f, &P);
    assert_eq!(s(&v, "version"), "2.1.0");
    assert_eq!(s(&v, "$schema"), output::SARIF_SCHEMA);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(s(driver, "name"), "kaudit");
    let rules = driver["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| s(r, "id")).collect();
    let mut uniq = ids.clone();
    uniq.sort_unstable();
    uniq.dedup();
    assert_eq!(uniq.len(), ids.len(), "duplicate rule ids");
    for r in rules {
        assert!(!s(&r["shortDescription"], "text").is_empty());
        assert!(["none", "note", "warning", "error"].contains(&s(&r["defaultConfiguration"], "level")));
        assert!(!r["properties"]["tags"].as_array().unwrap().is_empty(), "{r}");
    }
    let results = runs[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), f.len());
    for (res, fi) in results.iter().zip(&f) {
        let kind = s(res, "kind");
        let level = s(res, "level");
        assert!(["notApplicable", "pass", "fail", "review", "open", "informational"].contains(&kind));
        assert!(["none", "note", "warning", "error"].contains(&level));
        if kind != "fail" {
            assert_eq!(level, "none", "{res}");
        }
        let want = match fi.verdict {
            Verdict::Fail => ("fail", "error"),
            Verdict::Warn => ("fail", "warning"),
            Verdict::Info => ("fail", "note"),
            Verdict::Pass => ("pass", "none"),
            Verdict::Unknown => ("review", "none"),
            Verdict::NotApplicable => ("notApplicable", "none"),
        };
        assert_eq!((kind, level), want);
        let idx = res["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(ids[idx], s(res, "ruleId"));
        assert!(!s(&res["message"], "text").is_empty());
        let loc = &res["locations"][0];
        let uri = s(&loc["physicalLocation"]["artifactLocation"], "uri");
        assert_eq!(uri, fi.file);
        assert!(!uri.contains(' ') && !uri.starts_with('/'));
        assert_eq!(s(&loc["logicalLocations"][0], "fullyQualifiedName"), fi.resource);
        assert_eq!(s(&res["properties"], "result"), fi.verdict.as_str());
    }
}

/// OCSF Compliance Finding: base-event required attributes, finding_info, compliance.standards,
/// type_uid = class_uid*100 + activity_id, compliance.status_id per verdict.
#[test]
fn ocsf_required_attributes() {
    let f = sample();
    let v = output::ocsf(&f, &P, 1_700_000_000_000);
    for (e, fi) in v.as_array().unwrap().iter().zip(&f) {
        assert_eq!(e["class_uid"], 2003);
        assert_eq!(e["category_uid"], 2);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["type_uid"], 200301);
        assert_eq!(e["time"], 1_700_000_000_000i64);
        let sev = e["severity_id"].as_i64().unwrap();
        assert!((1..=5).contains(&sev));
        assert_eq!(s(&e["metadata"], "version"), output::OCSF_VERSION);
        assert_eq!(s(&e["metadata"]["product"], "name"), "kaudit");
        assert_eq!(s(&e["finding_info"], "uid").len(), 16);
        assert!(!s(&e["finding_info"], "title").is_empty());
        let c = &e["compliance"];
        assert!(!c["standards"].as_array().unwrap().is_empty(), "{e}");
        assert_eq!(s(c, "control"), fi.check);
        let st = c["status_id"].as_i64().unwrap();
        let want = match fi.verdict {
            Verdict::Pass => 1,
            Verdict::Unknown => 2,
            Verdict::Fail => 3,
            _ => 99,
        };
        assert_eq!(st, want);
        assert_eq!(s(&e["resources"][0], "name"), fi.resource);
        assert_eq!(e.get("remediation").is_some(), !fi.fix.is_empty());
    }
    // uids are stable and distinct per (file, resource, check, path)
    let uids: std::collections::BTreeSet<&str> =
        v.as_array().unwrap().iter().map(|e| e["finding_info"]["uid"].as_str().unwrap()).collect();
    assert_eq!(uids.len(), f.len());
    // --format ocsf is NDJSON, one event per line
    let text = output::render(Format::Ocsf, &f, &P, 1);
    assert_eq!(text.lines().count(), f.len());
}

/// The encoders are generic over `Finding`: a policy-lint style finding (AP-*) encodes too.
#[test]
fn policy_findings_encode() {
    let f = vec![Finding {
        check: "AP-S01".into(),
        verdict: Verdict::Fail,
        severity: Severity::High,
        file: "policy.yaml".into(),
        resource: "rules[2]".into(),
        path: "rules[2].level".into(),
        message: "Secrets logged at RequestResponse".into(),
        fix: "log secrets at Metadata".into(),
    }];
    let sarif = output::sarif(&f, &P);
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "AP-S01");
    let tags = sarif["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["tags"].as_array().unwrap();
    assert!(tags.iter().any(|t| t == "NIST SP 800-53 AU-9"), "{tags:?}");
    let o = output::ocsf_one(&f[0], &P, 0);
    assert_eq!(o["resources"][0]["type"], "Kubernetes Audit Policy");
    let t = output::table(&f);
    assert!(t.contains("FAIL") && t.contains("fix: log secrets at Metadata") && t.contains("1 FAIL"), "{t}");
}
