//! The `AP-*` checks of policy-and-iac.md §5.2 over one policy.
//!
//! Probe-based checks simulate the built-in probe set ([`super::probes::builtin`],
//! P01–P30) through [`super::simulate::Checker`] (kube-apiserver's
//! `checker.go` semantics) and judge the effective level and stages, so a
//! rule that never matches (wrong group, shadowed, mistyped) is judged by
//! what it really does, not by what it says.
//!
//! Severity: `ERROR` checks give [`Verdict::Fail`] (a CI gate fails), `WARN`
//! gives [`Verdict::Warn`], `INFO` gives [`Verdict::Info`].

use super::parse::{parse, ParseError};
use super::probes::{builtin, Probe};
use super::resources;
use super::simulate::{path_matches, Checker, Decision};
use super::validate::{validate, API_VERSIONS};
use super::{GroupResources, Level, Policy, PolicyRule, Stage};
use crate::finding::{Finding, Severity, Verdict};

/// One check of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    pub id: &'static str,
    pub verdict: Verdict,
    pub severity: Severity,
    pub title: &'static str,
    pub fix: &'static str,
}

const fn c(id: &'static str, verdict: Verdict, severity: Severity, title: &'static str, fix: &'static str) -> Check {
    Check { id, verdict, severity, title, fix }
}

/// The catalog (policy-and-iac.md §5.2; AP-V03 is kaudit's).
pub const CATALOG: &[Check] = &[
    c("AP-V01", Verdict::Fail, Severity::High, "kube-apiserver refuses the policy (validation.go / reader.go)",
      "Correct the field named in the message; kube-apiserver does not start with an invalid policy."),
    c("AP-V02", Verdict::Warn, Severity::Low, "apiVersion is not audit.k8s.io/v1",
      "Set `apiVersion: audit.k8s.io/v1` (v1alpha1/v1beta1 are deprecated and removed in newer releases)."),
    c("AP-V03", Verdict::Warn, Severity::Low, "a key or value that has no effect",
      "Remove or correct it: kube-apiserver does not apply unknown keys or unknown policy-wide stages."),
    c("AP-S01", Verdict::Fail, Severity::High, "Secret bodies are written to the audit log",
      "Add `- level: Metadata` with `resources: [{group: \"\", resources: [\"secrets\"]}]` before any Request/RequestResponse rule that matches secrets."),
    c("AP-S02", Verdict::Fail, Severity::High, "TokenReview bodies (bearer tokens) are written to the audit log",
      "Log `authentication.k8s.io/tokenreviews` at Metadata, before broader rules."),
    c("AP-S03", Verdict::Fail, Severity::High, "TokenRequest responses (service-account tokens) are written to the audit log",
      "Log `serviceaccounts/token` (group \"\") at Metadata, before broader rules."),
    c("AP-S04", Verdict::Warn, Severity::Medium, "ConfigMap bodies are written to the audit log",
      "Log configmaps at Metadata (in every namespace, kube-system included); they often hold credentials."),
    c("AP-C01", Verdict::Fail, Severity::High, "a security-relevant request is not audited (level None)",
      "Add a rule that records this request at Metadata or higher before any None rule that matches it, and end the policy with a catch-all (`- level: Metadata`)."),
    c("AP-C02", Verdict::Fail, Severity::High, "ResponseComplete is omitted for a security-relevant request",
      "Do not omit ResponseComplete: without it there is no response status and no authorization decision."),
    c("AP-C03", Verdict::Warn, Severity::Medium, "no catch-all: unmatched requests (custom resources, new APIs) are not audited",
      "End the policy with an unconditional rule, e.g. `- level: Metadata`."),
    c("AP-C04", Verdict::Fail, Severity::High, "exec is audited for one transport only (SPDY create vs WebSocket get)",
      "Match `pods/exec`, `pods/attach` and `pods/portforward` without a `verbs` filter (kubectl >= 1.30 sends verb get over WebSocket)."),
    c("AP-Q01", Verdict::Warn, Severity::Medium, "a resource is listed under a group that does not serve it (the entry never matches)",
      "Move the resource to the group that serves it (no version: `apps`, not `apps/v1`)."),
    c("AP-Q02", Verdict::Warn, Severity::Medium, "unreachable rule: an earlier rule matches every request it matches",
      "Move the narrower rule above the broader one, or delete it."),
    c("AP-Q03", Verdict::Info, Severity::Info, "Request/RequestResponse on a non-resource-only rule has the effect of Metadata",
      "Use `level: Metadata` (non-resource requests have no bodies to log)."),
    c("AP-N01", Verdict::Warn, Severity::Low, "high-volume, low-value requests are audited",
      "Drop them with a `level: None` rule at the top (as the GCE policy does), or keep them at Metadata."),
    c("AP-N02", Verdict::Info, Severity::Info, "RequestReceived is not omitted (one more event per request)",
      "Add `omitStages: [\"RequestReceived\"]` at the policy level."),
    c("AP-N03", Verdict::Info, Severity::Info, "bodies are logged with managedFields",
      "Set `omitManagedFields: true` (policy-wide or on the rule)."),
    c("AP-D01", Verdict::Warn, Severity::Medium, "a detection rule cannot see what it needs under this policy",
      "Raise the level (or keep the stage) the detection needs for the requests it matches, or accept the blind spot."),
];

/// The catalog entry of `id`.
pub fn check(id: &str) -> &'static Check {
    CATALOG.iter().find(|c| c.id == id).unwrap_or(&CATALOG[0])
}

/// Build a finding of check `id`.
pub fn finding(id: &str, file: &str, resource: String, path: String, message: String) -> Finding {
    let c = check(id);
    Finding {
        check: c.id.to_string(),
        verdict: c.verdict,
        severity: c.severity,
        file: file.to_string(),
        resource,
        path,
        message,
        fix: c.fix.to_string(),
    }
}

/// Probes whose omission is a coverage failure (AP-C01/C02), §5.2.
pub const REQUIRED: &[&str] = &[
    "P01", "P02", "P03", "P08", "P09", "P10", "P11", "P12", "P13", "P14", "P15", "P16", "P17", "P18", "P20", "P21",
    "P27", "P28", "P29",
];
/// Noise probes (AP-N01).
pub const NOISE: &[&str] = &["P22", "P23", "P24", "P25", "P30"];

/// Lint policy text: parse, validate, then the semantic checks.
pub fn lint_text(file: &str, src: &str) -> Vec<Finding> {
    match parse(src) {
        Ok(p) => lint(file, &p),
        Err(e) => vec![parse_finding(file, &e)],
    }
}

fn parse_finding(file: &str, e: &ParseError) -> Finding {
    let resource = e
        .path
        .strip_prefix("rules[")
        .and_then(|r| r.split(']').next())
        .map(|n| format!("rules[{n}]"))
        .unwrap_or_else(|| file.to_string());
    finding("AP-V01", file, resource, e.path.clone(), format!("cannot be decoded: {e}"))
}

/// `rules[N]` or the file.
fn rule_res(file: &str, i: Option<usize>) -> String {
    i.map_or_else(|| file.to_string(), |i| format!("rules[{i}]"))
}

/// Lint a parsed policy.
pub fn lint(file: &str, p: &Policy) -> Vec<Finding> {
    let mut out = Vec::new();
    let errs = validate(p);
    for e in &errs {
        out.push(finding("AP-V01", file, rule_res(file, e.rule), e.path.clone(), e.message.clone()));
    }
    if !errs.is_empty() {
        return out;
    }
    if p.api_version != API_VERSIONS[0] {
        out.push(finding(
            "AP-V02",
            file,
            file.to_string(),
            "apiVersion".into(),
            format!("apiVersion is {}; use {}", p.api_version, API_VERSIONS[0]),
        ));
    }
    for k in &p.unknown_fields {
        let res = k.strip_prefix("rules[").and_then(|r| r.split(']').next()).map(|n| format!("rules[{n}]"));
        out.push(finding(
            "AP-V03",
            file,
            res.unwrap_or_else(|| file.to_string()),
            k.clone(),
            format!("`{k}` is not a field of the audit.k8s.io/v1 Policy; kube-apiserver does not apply it"),
        ));
    }
    for (j, s) in p.omit_stages.iter().enumerate() {
        if Stage::parse(s).is_none() {
            out.push(finding(
                "AP-V03",
                file,
                file.to_string(),
                format!("omitStages[{j}]"),
                format!("policy-wide omitStages value {s:?} is not a stage (RequestReceived, ResponseStarted, ResponseComplete, Panic): it omits nothing"),
            ));
        }
    }
    let Ok(checker) = Checker::new(p) else { return out };
    let probes = builtin();
    let sim: Vec<(Probe, Decision)> = probes
        .into_iter()
        .map(|pr| {
            let d = checker.decide(&pr);
            (pr, d)
        })
        .collect();
    let get = |id: &str| sim.iter().find(|(p, _)| p.id == id);
    let lv = |d: &Decision| d.level.as_str();
    let probe_finding = |id: &str, pr: &Probe, d: &Decision, msg: String| {
        let path = d.rule_index.map_or_else(String::new, |i| format!("rules[{i}].level"));
        let by = d.rule_index.map_or_else(|| "no rule matches (default None)".to_string(), |i| format!("rules[{i}]"));
        finding(
            id,
            file,
            rule_res(file, d.rule_index),
            path,
            format!("{} {} ({}): {msg}; decided by {by}", pr.id, pr.desc, pr.target()),
        )
    };

    // AP-S01: secrets.
    for id in ["P01", "P02", "P03", "P29"] {
        if let Some((pr, d)) = get(id) {
            let write = matches!(pr.verb.as_str(), "create" | "update" | "patch");
            if d.level == Level::RequestResponse || (d.level == Level::Request && write) {
                out.push(probe_finding("AP-S01", pr, d, format!("logged at {}", lv(d))));
            }
        }
    }
    if let Some((pr, d)) = get("P07") {
        if d.level >= Level::Request {
            out.push(probe_finding("AP-S02", pr, d, format!("logged at {} (the request body holds the token)", lv(d))));
        }
    }
    if let Some((pr, d)) = get("P08") {
        if d.level == Level::RequestResponse {
            out.push(probe_finding("AP-S03", pr, d, "logged at RequestResponse (the response holds the token)".into()));
        }
    }
    for id in ["P04", "P05", "P06"] {
        if let Some((pr, d)) = get(id) {
            let write = pr.verb != "get" && pr.verb != "list" && pr.verb != "watch";
            if d.level == Level::RequestResponse || (d.level == Level::Request && write) {
                out.push(probe_finding("AP-S04", pr, d, format!("logged at {}", lv(d))));
            }
        }
    }
    // AP-C01 / AP-C02.
    for id in REQUIRED {
        let Some((pr, d)) = get(id) else { continue };
        if d.level == Level::None {
            out.push(probe_finding("AP-C01", pr, d, "not audited (level None)".into()));
        } else if d.omit_stages.contains(&Stage::ResponseComplete) {
            out.push(probe_finding("AP-C02", pr, d, format!("logged at {} but ResponseComplete is omitted", lv(d))));
        }
    }
    // AP-C03.
    if let Some((pr, d)) = get("P26") {
        if d.level == Level::None {
            out.push(probe_finding("AP-C03", pr, d, "a custom resource is not audited".into()));
        }
    }
    if let Some(last) = p.rules.last() {
        if !last.is_unconditional() {
            let i = p.rules.len() - 1;
            out.push(finding(
                "AP-C03",
                file,
                format!("rules[{i}]"),
                format!("rules[{i}]"),
                "the last rule is not a catch-all: requests no rule matches get level None (checker.go DefaultAuditLevel)".into(),
            ));
        }
    }
    // AP-C04.
    if let (Some((p10, d10)), Some((p11, d11))) = (get("P10"), get("P11")) {
        match (d10.level == Level::None, d11.level == Level::None) {
            (false, true) => out.push(probe_finding(
                "AP-C04",
                p11,
                d11,
                format!("WebSocket exec (verb get) is not audited while SPDY exec is ({})", lv(d10)),
            )),
            (true, false) => out.push(probe_finding(
                "AP-C04",
                p10,
                d10,
                format!("SPDY exec (verb create) is not audited while WebSocket exec is ({})", lv(d11)),
            )),
            _ => {}
        }
    }
    // AP-Q01.
    for (i, r) in p.rules.iter().enumerate() {
        for (j, g) in r.resources.iter().enumerate() {
            if resources::LEGACY_GROUPS.contains(&g.group.as_str()) {
                continue;
            }
            for (k, res) in g.resources.iter().enumerate() {
                let base = res.split('/').next().unwrap_or(res);
                if base == "*" {
                    continue;
                }
                let serving = resources::groups_of(base);
                if !serving.is_empty() && !serving.contains(&g.group.as_str()) {
                    let want: Vec<String> = serving
                        .iter()
                        .map(|s| if s.is_empty() { "\"\" (core)".to_string() } else { s.to_string() })
                        .collect();
                    let have = if g.group.is_empty() { "\"\" (core)".to_string() } else { g.group.clone() };
                    out.push(finding(
                        "AP-Q01",
                        file,
                        format!("rules[{i}]"),
                        format!("rules[{i}].resources[{j}].resources[{k}]"),
                        format!("`{res}` is listed under group {have}, but `{base}` is served by {}: this entry never matches", want.join(", ")),
                    ));
                }
            }
        }
    }
    // AP-Q02.
    for j in 1..p.rules.len() {
        if let Some(i) = (0..j).find(|&i| covers(&p.rules[i], &p.rules[j])) {
            out.push(finding(
                "AP-Q02",
                file,
                format!("rules[{j}]"),
                format!("rules[{j}]"),
                format!(
                    "rules[{j}] ({}) is unreachable: rules[{i}] ({}) matches every request it matches",
                    p.rules[j].level, p.rules[i].level
                ),
            ));
        }
    }
    // AP-Q03.
    for (i, r) in p.rules.iter().enumerate() {
        let non_resource_only = !r.non_resource_urls.is_empty() && r.resources.is_empty() && r.namespaces.is_empty();
        if non_resource_only && matches!(r.level(), Some(Level::Request | Level::RequestResponse)) {
            out.push(finding(
                "AP-Q03",
                file,
                format!("rules[{i}]"),
                format!("rules[{i}].level"),
                format!("rules[{i}] matches only non-resource URLs; level {} records the same as Metadata", r.level),
            ));
        }
    }
    // AP-N01.
    for id in NOISE {
        let Some((pr, d)) = get(id) else { continue };
        if d.level == Level::None {
            continue;
        }
        let mut f = probe_finding("AP-N01", pr, d, format!("audited at {}", lv(d)));
        if d.level == Level::Metadata {
            f.verdict = Verdict::Info;
            f.severity = Severity::Info;
        }
        out.push(f);
    }
    // AP-N02.
    let rr = "RequestReceived".to_string();
    if !p.omit_stages.contains(&rr) {
        let keep: Vec<usize> = p
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.level() != Some(Level::None) && !r.omit_stages.contains(&rr))
            .map(|(i, _)| i)
            .collect();
        if !keep.is_empty() {
            let list: Vec<String> = keep.iter().map(|i| format!("rules[{i}]")).collect();
            out.push(finding(
                "AP-N02",
                file,
                file.to_string(),
                "omitStages".into(),
                format!("RequestReceived is recorded by {}", list.join(", ")),
            ));
        }
    }
    // AP-N03.
    for (i, r) in p.rules.iter().enumerate() {
        let body = matches!(r.level(), Some(Level::Request | Level::RequestResponse));
        let omf = r.omit_managed_fields.or(p.omit_managed_fields).unwrap_or(false);
        if body && !omf {
            out.push(finding(
                "AP-N03",
                file,
                format!("rules[{i}]"),
                format!("rules[{i}].omitManagedFields"),
                format!("rules[{i}] logs bodies at {} including metadata.managedFields", r.level),
            ));
        }
    }
    out
}

/// Whether every request `j` matches is matched by `i` (field-wise subset
/// test; `userGroups` vs `users` is never provable, so it answers false).
pub fn covers(i: &PolicyRule, j: &PolicyRule) -> bool {
    fn subset(outer: &[String], inner: &[String]) -> bool {
        outer.is_empty() || (!inner.is_empty() && inner.iter().all(|x| outer.contains(x)))
    }
    if !subset(&i.users, &j.users) || !subset(&i.user_groups, &j.user_groups) || !subset(&i.verbs, &j.verbs) {
        return false;
    }
    let i_res = !i.namespaces.is_empty() || !i.resources.is_empty();
    let j_res = !j.namespaces.is_empty() || !j.resources.is_empty();
    if i_res {
        if !j_res {
            return false;
        }
        if !subset(&i.namespaces, &j.namespaces) {
            return false;
        }
        if i.resources.is_empty() {
            return true;
        }
        if j.resources.is_empty() {
            return false;
        }
        return j.resources.iter().all(|gj| i.resources.iter().any(|gi| group_covers(gi, gj)));
    }
    if !i.non_resource_urls.is_empty() {
        if j_res || j.non_resource_urls.is_empty() {
            return false;
        }
        return j.non_resource_urls.iter().all(|u| i.non_resource_urls.iter().any(|s| url_covers(s, u)));
    }
    true
}

fn group_covers(gi: &GroupResources, gj: &GroupResources) -> bool {
    if gi.group != gj.group {
        return false;
    }
    if gi.resources.is_empty() {
        return true;
    }
    if gj.resources.is_empty() {
        return false;
    }
    let names_ok = gi.resource_names.is_empty()
        || (!gj.resource_names.is_empty() && gj.resource_names.iter().all(|n| gi.resource_names.contains(n)));
    names_ok && gj.resources.iter().all(|rj| gi.resources.iter().any(|ri| res_covers(ri, rj)))
}

/// Whether resource pattern `ri` matches every request pattern `rj` matches.
fn res_covers(ri: &str, rj: &str) -> bool {
    if ri == "*" || ri == rj {
        return true;
    }
    let (rj_base, rj_sub) = match rj.split_once('/') {
        Some((b, s)) => (b, Some(s)),
        None => (rj, None),
    };
    if let Some(base) = ri.strip_suffix("/*") {
        // `base/*`: base and every subresource of it (checker.go compares
        // the resource only, whatever the subresource).
        return rj_base == base;
    }
    if let Some(sub) = ri.strip_prefix("*/") {
        return rj_sub == Some(sub);
    }
    false
}

fn url_covers(si: &str, sj: &str) -> bool {
    if si == "*" {
        return true;
    }
    if sj == "*" {
        return false;
    }
    match sj.strip_suffix('*') {
        // `prefix*` matches every path starting with prefix.
        Some(pj) => si.ends_with('*') && pj.trim_end_matches('*').starts_with(si.trim_end_matches('*')),
        None => path_matches(sj, si),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_pattern_cover() {
        assert!(res_covers("*", "pods/exec"));
        assert!(res_covers("pods/*", "pods/exec"));
        assert!(res_covers("pods/*", "pods"));
        assert!(!res_covers("pods/*", "*/status"));
        assert!(res_covers("*/scale", "deployments/scale"));
        assert!(!res_covers("pods", "pods/exec"));
        assert!(url_covers("/healthz*", "/healthz/etcd"));
        assert!(url_covers("/health*", "/healthz*"));
        assert!(!url_covers("/healthz", "/healthz*"));
    }

    #[test]
    fn catalog_ids_are_unique() {
        let mut ids: Vec<&str> = CATALOG.iter().map(|c| c.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), CATALOG.len());
    }
}
