//! OCSF Compliance Finding (class_uid 2003, category 2 Findings), one event per
//! finding (`policy-and-iac.md` §12.2; ocsf-schema `events/findings/compliance_finding.json`,
//! `objects/compliance.json`). Required: the base-event attributes
//! (`activity_id`, `category_uid`, `class_uid`, `metadata`, `severity_id`,
//! `time`, `type_uid`), `finding_info` and `compliance` (with `standards`).

use serde_json::{json, Value};

use crate::finding::{Finding, Severity, Verdict};

use super::Producer;

/// The OCSF schema version the events are written against.
pub const OCSF_VERSION: &str = "1.5.0";

const CLASS_UID: i64 = 2003;
const ACTIVITY_CREATE: i64 = 1;

fn severity_id(s: Severity) -> (i64, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// `compliance.status_id`: 1 Pass, 2 Warning ("did not yield a result due to
/// missing information" = UNKNOWN), 3 Fail, 99 Other (WARN, INFO, N/A).
fn status(v: Verdict) -> (i64, &'static str) {
    match v {
        Verdict::Pass => (1, "Pass"),
        Verdict::Unknown => (2, "Warning"),
        Verdict::Fail => (3, "Fail"),
        Verdict::Warn => (99, "Warn"),
        Verdict::Info => (99, "Info"),
        Verdict::NotApplicable => (99, "Not Applicable"),
    }
}

/// FNV-1a, for a stable finding uid (no randomness, no clock).
fn fnv(s: &str) -> u64 {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

pub fn ocsf_one(f: &Finding, producer: &Producer<'_>, time_ms: i64) -> Value {
    let (sev_id, sev) = severity_id(f.severity);
    let (st_id, st) = status(f.verdict);
    let controls = super::controls(f);
    let title = crate::compliance::info(&f.check).map(|i| i.title).unwrap_or(&f.check);
    let uid = format!("{:016x}", fnv(&format!("{}\u{0}{}\u{0}{}\u{0}{}", f.file, f.resource, f.check, f.path)));
    let mut v = json!({
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "severity_id": sev_id,
        "severity": sev,
        "time": time_ms,
        "status_id": 1,
        "status": "New",
        "message": f.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": producer.name, "vendor_name": "kaudit", "version": producer.version}
        },
        "finding_info": {
            "uid": uid,
            "title": title,
            "desc": f.message,
            "types": ["Audit Logging Posture"]
        },
        "compliance": {
            "control": f.check,
            "standards": controls.standards(),
            "requirements": controls.all(),
            "status_id": st_id,
            "status": st,
            "status_detail": f.message
        },
        "resources": [{"name": f.resource, "type": resource_type(f)}],
        "unmapped": {"file": f.file, "path": f.path, "result": f.verdict.as_str()}
    });
    if !f.fix.is_empty() {
        v["remediation"] = json!({"desc": f.fix});
    }
    v
}

/// All findings as an array of events.
pub fn ocsf(findings: &[Finding], producer: &Producer<'_>, time_ms: i64) -> Value {
    Value::Array(findings.iter().map(|f| ocsf_one(f, producer, time_ms)).collect())
}

fn resource_type(f: &Finding) -> String {
    // Terraform address: the type is the last `type.name` pair's type.
    let segs: Vec<&str> = f.resource.split('.').collect();
    if f.resource.starts_with("project:") {
        return "GCP Project".into();
    }
    if segs.len() >= 2 && segs[segs.len() - 2].contains('_') {
        return segs[segs.len() - 2].to_string();
    }
    if f.check.starts_with("AP-") {
        return "Kubernetes Audit Policy".into();
    }
    "Kubernetes Cluster".into()
}
