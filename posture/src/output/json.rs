//! JSON: an array of `{"file", "resource", "check", "result", "path", "message"}`
//! (issue #7) plus `compliance` (the control ids every check carries, §10).

use serde_json::{json as j, Value};

use crate::finding::Finding;

pub fn finding_json(f: &Finding) -> Value {
    j!({
        "file": f.file,
        "resource": f.resource,
        "check": f.check,
        "result": f.verdict.as_str(),
        "path": f.path,
        "message": f.message,
        "compliance": super::controls(f).to_json(),
    })
}

pub fn json(findings: &[Finding]) -> Value {
    Value::Array(findings.iter().map(finding_json).collect())
}
