//! Hand-reviewed facts per shape (`expected/shapes.json`): for chosen output
//! lines, the source, provider, verb, user, objectRef, missing set, outcome …
//! The golden files pin every byte; this table says what matters and why.

use std::collections::BTreeSet;
use std::path::Path;

use kaudit_core::Source;
use kaudit_tests::{lines, normalize_fixture, root};
use serde_json::Value;

fn get<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(v, |v, k| v.get(k).unwrap_or(&Value::Null))
}

fn check(case: &Value, got: &Value) -> Vec<String> {
    let mut errs = Vec::new();
    fn eq_into(errs: &mut Vec<String>, what: &str, want: &Value, have: &Value) {
        if want != have {
            errs.push(format!("{what}: want {want}, got {have}"));
        }
    }
    macro_rules! eq {
        ($what:expr, $want:expr, $have:expr) => {
            eq_into(&mut errs, $what, $want, $have)
        };
    }
    let k = get(got, "kaudit");
    if let Some(cat) = case.get("error") {
        eq!("error.category", cat, get(k, "error.category"));
        for f in ["at"] {
            if let Some(w) = case.get(f) {
                eq!(f, w, get(k, &format!("error.{f}")));
            }
        }
        for f in ["raw", "raw_base64"] {
            if let Some(w) = case.get(f) {
                eq!(f, w, get(got, f));
            }
        }
        return errs;
    }
    if case.get("skipped").is_some() {
        if get(k, "skipped").is_null() {
            errs.push(format!("expected a skip envelope, got {}", got));
        }
        if let Some(s) = case.get("skip_source") {
            eq!("skipped.source", s, get(k, "skipped.source"));
        }
        return errs;
    }
    let pairs = [
        ("source", "kaudit.source"),
        ("provider", "kaudit.cluster.provider"),
        ("verb", "verb"),
        ("user", "user.username"),
        ("impersonated", "impersonatedUser.username"),
        ("code", "responseStatus.code"),
        ("missing", "kaudit.missing"),
        ("outcome", "kaudit.outcome"),
        ("flags", "kaudit.flags"),
        ("level", "level"),
        ("kind", "kind"),
        ("apiVersion", "apiVersion"),
        ("requestURI", "requestURI"),
        ("received", "kaudit.received"),
    ];
    for (key, path) in pairs {
        if let Some(w) = case.get(key) {
            eq!(key, w, get(got, path));
        }
    }
    for (key, base) in [("objectRef", "objectRef"), ("cluster", "kaudit.cluster")] {
        if let Some(Value::Object(want)) = case.get(key) {
            for (f, w) in want {
                eq!(&format!("{base}.{f}"), w, get(got, &format!("{base}.{f}")));
            }
        }
    }
    if let Some(Value::Array(absent)) = case.get("absent") {
        for f in absent.iter().filter_map(Value::as_str) {
            if got.get(f).is_some() {
                errs.push(format!("{f} must be absent (never invented), got {}", got[f]));
            }
        }
    }
    if let Some(s) = case.get("requestURI_contains").and_then(Value::as_str) {
        if !get(got, "requestURI").as_str().unwrap_or("").contains(s) {
            errs.push(format!("requestURI should contain {s:?}"));
        }
    }
    if case.get("body_has_no_type").is_some() {
        for b in ["requestObject", "responseObject"] {
            if got.get(b).and_then(|o| o.get("@type")).is_some() {
                errs.push(format!("{b} still has @type"));
            }
        }
    }
    errs
}

#[test]
fn hand_reviewed_facts_hold() {
    let text = std::fs::read_to_string(root().join("expected/shapes.json")).unwrap();
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    let mut failures = Vec::new();
    let mut sources = BTreeSet::new();
    for case in &cases {
        let fixture = case["fixture"].as_str().unwrap();
        let line = case["line"].as_u64().unwrap() as usize;
        let (out, _) = normalize_fixture(Path::new(fixture));
        let outs = lines(&out);
        let Some(got) = outs.get(line - 1) else {
            failures.push(format!("{fixture}:{line}: only {} output lines", outs.len()));
            continue;
        };
        if let Some(s) = got["kaudit"]["source"].as_str() {
            sources.insert(s.to_string());
        }
        for e in check(case, got) {
            failures.push(format!("{fixture}:{line}: {e}"));
        }
    }
    for s in Source::ALL {
        if !sources.contains(s.id()) {
            failures.push(format!("no hand-reviewed case decodes to source {}", s.id()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
