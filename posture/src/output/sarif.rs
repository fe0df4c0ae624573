//! SARIF 2.1.0 (`policy-and-iac.md` §12.5). Mapping: FAIL → kind `fail`, level
//! `error`; WARN → `fail`/`warning`; INFO → `fail`/`note`; PASS → `pass`;
//! UNKNOWN → `review`; N/A → `notApplicable` (SARIF §3.27.9: a kind other than
//! `fail` takes level `none`). The location is the input file; the Terraform
//! address or object goes into `logicalLocations` and `properties`.

use serde_json::{json, Map, Value};

use crate::compliance;
use crate::finding::{Finding, Severity, Verdict};

use super::Producer;

pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

fn kind_level(v: Verdict) -> (&'static str, &'static str) {
    match v {
        Verdict::Fail => ("fail", "error"),
        Verdict::Warn => ("fail", "warning"),
        Verdict::Info => ("fail", "note"),
        Verdict::Pass => ("pass", "none"),
        Verdict::Unknown => ("review", "none"),
        Verdict::NotApplicable => ("notApplicable", "none"),
    }
}

fn default_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium | Severity::Low => "warning",
        Severity::Info => "note",
    }
}

pub fn sarif(findings: &[Finding], producer: &Producer<'_>) -> Value {
    let mut rule_ids: Vec<&str> = Vec::new();
    for f in findings {
        if !rule_ids.contains(&f.check.as_str()) {
            rule_ids.push(&f.check);
        }
    }
    let rules: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let info = compliance::info(id);
            let title = info.map(|i| i.title).unwrap_or(id);
            let sev = info.map(|i| i.severity).unwrap_or(Severity::Medium);
            let controls = compliance::for_check(id).unwrap_or_default();
            json!({
                "id": id,
                "name": id.replace(['-', '.'], ""),
                "shortDescription": {"text": title},
                "defaultConfiguration": {"level": default_level(sev)},
                "properties": {"tags": controls.all(), "compliance": controls.to_json(), "severity": sev.as_str()}
            })
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let (kind, level) = kind_level(f.verdict);
            let mut text = format!("{}: {}", f.resource, f.message);
            if !f.path.is_empty() {
                text = format!("{} [{}]: {}", f.resource, f.path, f.message);
            }
            if !f.fix.is_empty() {
                text.push_str(&format!(" Fix: {}", f.fix));
            }
            let mut props = Map::new();
            props.insert("result".into(), json!(f.verdict.as_str()));
            props.insert("resource".into(), json!(f.resource));
            props.insert("path".into(), json!(f.path));
            props.insert("severity".into(), json!(f.severity.as_str()));
            if !f.fix.is_empty() {
                props.insert("fix".into(), json!(f.fix));
            }
            json!({
                "ruleId": f.check,
                "ruleIndex": rule_ids.iter().position(|r| *r == f.check).unwrap_or(0),
                "kind": kind,
                "level": level,
                "message": {"text": text},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": uri(&f.file)}},
                    "logicalLocations": [{"fullyQualifiedName": f.resource, "kind": "resource"}]
                }],
                "properties": props,
            })
        })
        .collect();
    json!({
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": producer.name,
                "version": producer.version,
                "informationUri": "https://example.invalid/kaudit",
                "rules": rules
            }},
            "columnKind": "unicodeCodePoints",
            "results": results
        }]
    })
}

/// A relative URI reference for a file path (percent-encodes what a URI may not hold).
fn uri(path: &str) -> String {
    let mut s = String::with_capacity(path.len());
    for b in path.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => s.push(b as char),
            b'\\' => s.push('/'),
            _ => s.push_str(&format!("%{b:02X}")),
        }
    }
    s
}
