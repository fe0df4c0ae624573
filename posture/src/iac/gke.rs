//! GKE / GCP: IAC-GKE-01…04 — cluster logging, Data Access audit configs,
//! exclusions that drop k8s.io audit entries, and sinks that export them.

use std::collections::BTreeSet;

use serde_json::Value;

use super::doc::{block, show_list, str_list};
use super::tfplan::{Plan, Res};
use super::Emit;
use crate::finding::Verdict;

/// How a Cloud Logging filter relates to k8s.io audit entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterMatch {
    /// Matches every k8s.io audit entry of some log (e.g. all Data Access entries).
    Wholesale,
    /// Matches only some k8s.io audit entries (a method, resource, principal or sample).
    Narrow,
    /// Cannot match k8s.io audit entries.
    None,
}

/// Classify a Logging query-language filter (heuristic, case-insensitive):
/// it must name audit logs (`cloudaudit.googleapis.com`), the `k8s.io` service
/// or the `k8s_cluster` resource to touch audit entries; a `serviceName` other
/// than `k8s.io` excludes them; a method/resource/principal term, a `sample()`
/// or a negation makes it narrow. An empty filter matches everything.
pub fn classify(filter: &str) -> FilterMatch {
    let f = filter.to_ascii_lowercase();
    if f.trim().is_empty() {
        return FilterMatch::Wholesale;
    }
    let names_audit = f.contains("cloudaudit.googleapis.com") || f.contains("k8s.io") || f.contains("k8s_cluster");
    if !names_audit {
        return FilterMatch::None;
    }
    // protoPayload.serviceName="x" with x other than k8s.io
    if let Some(i) = f.find("protopayload.servicename") {
        let rest = f[i + "protopayload.servicename".len()..].trim_start();
        let rest = rest.trim_start_matches([':', '=']).trim_start();
        let val: String =
            rest.trim_start_matches('"').chars().take_while(|c| *c != '"' && !c.is_whitespace() && *c != ')').collect();
        if !val.is_empty() && val != "k8s.io" {
            return FilterMatch::None;
        }
    }
    let narrowing = [
        "protopayload.methodname",
        "protopayload.resourcename",
        "protopayload.authenticationinfo",
        "protopayload.request",
        "sample(",
        " not ",
        "-protopayload",
        "!=",
    ];
    if narrowing.iter().any(|n| f.contains(n)) || f.starts_with("not ") {
        FilterMatch::Narrow
    } else {
        FilterMatch::Wholesale
    }
}

const EXCLUSION_TYPES: [&str; 4] = [
    "google_logging_project_exclusion",
    "google_logging_folder_exclusion",
    "google_logging_organization_exclusion",
    "google_logging_billing_account_exclusion",
];
const SINK_TYPES: [&str; 3] =
    ["google_logging_project_sink", "google_logging_folder_sink", "google_logging_organization_sink"];
const AUDIT_CONFIG_PROJECT: &str = "google_project_iam_audit_config";
const AUDIT_CONFIG_INHERITED: [&str; 2] = ["google_folder_iam_audit_config", "google_organization_iam_audit_config"];

/// Project key of a resource: its `project` (or `project_id`), "" for the provider default.
fn project_of(r: &Res<'_>, attr: &str) -> Option<String> {
    if r.is_unknown(attr) {
        return None;
    }
    Some(r.get(attr).and_then(Value::as_str).map(|p| p.trim_start_matches("projects/").to_string()).unwrap_or_default())
}

fn project_label(p: &str) -> String {
    if p.is_empty() {
        "project:(provider default)".to_string()
    } else {
        format!("project:{p}")
    }
}

pub fn terraform(plan: &Plan<'_>, out: &mut Emit) {
    let clusters: Vec<&Res<'_>> = plan.of_type("google_container_cluster").collect();
    for c in &clusters {
        cluster_logging(c, out);
    }
    // Projects in scope: those of clusters, project audit configs and google_project resources.
    let mut projects: BTreeSet<String> = BTreeSet::new();
    let mut cluster_projects: BTreeSet<String> = BTreeSet::new();
    for c in &clusters {
        if let Some(p) = project_of(c, "project") {
            projects.insert(p.clone());
            cluster_projects.insert(p);
        }
    }
    for r in plan.of_type(AUDIT_CONFIG_PROJECT) {
        if let Some(p) = project_of(r, "project") {
            projects.insert(p);
        }
    }
    for r in plan.of_type("google_project") {
        if let Some(p) = project_of(r, "project_id") {
            projects.insert(p);
        }
    }
    for p in &projects {
        data_access(plan, p, out);
    }
    exemptions(plan, out);
    for t in EXCLUSION_TYPES {
        for x in plan.of_type(t) {
            exclusion(x, out);
        }
    }
    for p in &cluster_projects {
        export(plan, p, out);
    }
}

fn cluster_logging(c: &Res<'_>, out: &mut Emit) {
    let a = &c.address;
    let fix = "remove logging_service = \"none\" (use \"logging.googleapis.com/kubernetes\") and keep logging_config.enable_components non-empty (SYSTEM_COMPONENTS, APISERVER, …)";
    if c.is_unknown("logging_service") {
        out.push("IAC-GKE-01", Verdict::Unknown, a, "logging_service", "logging_service unknown until apply", fix);
        return;
    }
    let svc = c.get("logging_service").and_then(Value::as_str);
    if svc == Some("none") {
        out.push(
            "IAC-GKE-01",
            Verdict::Fail,
            a,
            "logging_service",
            "logging_service = \"none\": Cloud Logging is disabled for this cluster",
            fix,
        );
        return;
    }
    if c.is_unknown("logging_config") {
        out.push(
            "IAC-GKE-01",
            Verdict::Unknown,
            a,
            "logging_config[0].enable_components",
            "logging_config unknown until apply",
            fix,
        );
        return;
    }
    if let Some(lc) = block(c.values, "logging_config") {
        if lc.get("enable_components").is_some_and(|v| v.as_array().is_some_and(Vec::is_empty)) {
            out.push(
                "IAC-GKE-01",
                Verdict::Fail,
                a,
                "logging_config[0].enable_components",
                "logging_config.enable_components is empty: logging disabled",
                fix,
            );
            return;
        }
    }
    if svc == Some("logging.googleapis.com") {
        out.push(
            "IAC-GKE-01",
            Verdict::Warn,
            a,
            "logging_service",
            "legacy Stackdriver logging service \"logging.googleapis.com\"",
            "use \"logging.googleapis.com/kubernetes\"",
        );
        return;
    }
    let comps = block(c.values, "logging_config").map(|lc| str_list(lc.get("enable_components"))).unwrap_or_default();
    let msg = if comps.is_empty() {
        "Cloud Logging enabled (provider default components)".to_string()
    } else {
        format!("Cloud Logging enabled: {}", show_list(&comps))
    };
    out.push("IAC-GKE-01", Verdict::Pass, a, "logging_service", msg, "");
}

/// Audit-config resources applying to project `p` (project-level with the same project, folder/org inherited).
fn configs_for<'p, 'a>(plan: &'p Plan<'a>, p: &str) -> Vec<&'p Res<'a>> {
    let mut v: Vec<&Res<'_>> =
        plan.of_type(AUDIT_CONFIG_PROJECT).filter(|r| project_of(r, "project").is_none_or(|q| q == p)).collect();
    for t in AUDIT_CONFIG_INHERITED {
        v.extend(plan.of_type(t));
    }
    v
}

fn k8s_service(s: &str) -> bool {
    s == "allServices" || s == "container.googleapis.com"
}

fn data_access(plan: &Plan<'_>, p: &str, out: &mut Emit) {
    let res = project_label(p);
    let fix = "add google_project_iam_audit_config { service = \"allServices\" (or \"container.googleapis.com\"), audit_log_config for ADMIN_READ, DATA_READ and DATA_WRITE, no exempted_members }";
    let configs = configs_for(plan, p);
    let mut types: BTreeSet<String> = BTreeSet::new();
    let mut used = Vec::new();
    let mut other = Vec::new();
    let mut unknown = false;
    for r in &configs {
        if r.is_unknown("service") || r.is_unknown("audit_log_config") {
            unknown = true;
            continue;
        }
        let svc = r.get("service").and_then(Value::as_str).unwrap_or("");
        if !k8s_service(svc) {
            other.push(format!("{} covers {svc}", r.address));
            continue;
        }
        used.push(r.address.clone());
        for b in r.get("audit_log_config").and_then(Value::as_array).into_iter().flatten() {
            if let Some(t) = b.get("log_type").and_then(Value::as_str) {
                types.insert(t.to_string());
            }
        }
    }
    let missing: Vec<&str> =
        ["ADMIN_READ", "DATA_READ", "DATA_WRITE"].into_iter().filter(|t| !types.contains(*t)).collect();
    if missing.is_empty() {
        out.push(
            "IAC-GKE-02",
            Verdict::Pass,
            &res,
            &format!("{}.audit_log_config", used.join(", ")),
            "Data Access audit logs (ADMIN_READ, DATA_READ, DATA_WRITE) enabled for Kubernetes",
            "",
        );
    } else if unknown {
        out.push(
            "IAC-GKE-02",
            Verdict::Unknown,
            &res,
            "google_project_iam_audit_config",
            "an audit config's service or log types are unknown until apply",
            fix,
        );
    } else {
        let mut msg =
            format!("no audit config for allServices/container.googleapis.com enables {}", missing.join(", "));
        if !other.is_empty() {
            msg.push_str(&format!(" ({})", other.join("; ")));
        }
        msg.push_str(": k8s.io Data Access entries (get/list/watch, and writes for DATA_WRITE) are not written unless enabled outside this plan (folder/org)");
        let path = if used.is_empty() {
            "google_project_iam_audit_config".to_string()
        } else {
            format!("{}.audit_log_config", used.join(", "))
        };
        out.push("IAC-GKE-02", Verdict::Warn, &res, &path, msg, fix);
    }
}

/// IAC-GKE-02 WARN on every audit config that exempts members.
fn exemptions(plan: &Plan<'_>, out: &mut Emit) {
    let types = std::iter::once(AUDIT_CONFIG_PROJECT).chain(AUDIT_CONFIG_INHERITED);
    for t in types {
        for r in plan.of_type(t) {
            for (i, b) in r.get("audit_log_config").and_then(Value::as_array).into_iter().flatten().enumerate() {
                let ex = str_list(b.get("exempted_members"));
                if !ex.is_empty() {
                    let lt = b.get("log_type").and_then(Value::as_str).unwrap_or("?");
                    let svc = r.get("service").and_then(Value::as_str).unwrap_or("?");
                    let msg = format!(
                        "{lt} for {svc} exempts {}: their requests leave no Data Access entries",
                        show_list(&ex)
                    );
                    out.push(
                        "IAC-GKE-02",
                        Verdict::Warn,
                        &r.address,
                        &format!("audit_log_config[{i}].exempted_members"),
                        msg,
                        "remove exempted_members (exempted identities are invisible in Data Access logs)",
                    );
                }
            }
        }
    }
}

fn exclusion(x: &Res<'_>, out: &mut Emit) {
    let a = &x.address;
    let fix = "narrow the exclusion (e.g. add protoPayload.methodName for a specific noisy call) or exclude protoPayload.serviceName=\"k8s.io\"";
    if x.get("disabled").and_then(Value::as_bool) == Some(true) {
        out.push("IAC-GKE-03", Verdict::Pass, a, "disabled", "exclusion is disabled", "");
        return;
    }
    if x.is_unknown("filter") {
        out.push("IAC-GKE-03", Verdict::Unknown, a, "filter", "filter unknown until apply", fix);
        return;
    }
    let filter = x.get("filter").and_then(Value::as_str).unwrap_or("");
    match classify(filter) {
        FilterMatch::Wholesale => out.push("IAC-GKE-03", Verdict::Fail, a, "filter", format!("exclusion drops k8s.io audit entries wholesale: {filter:?} (excluded entries are neither stored nor exported)"), fix),
        FilterMatch::Narrow => out.push("IAC-GKE-03", Verdict::Pass, a, "filter", format!("narrow exclusion, drops only selected entries: {filter:?}"), ""),
        FilterMatch::None => out.push("IAC-GKE-03", Verdict::Pass, a, "filter", format!("does not match k8s.io audit entries: {filter:?}"), ""),
    }
}

fn export(plan: &Plan<'_>, p: &str, out: &mut Emit) {
    let res = project_label(p);
    let fix = "add google_logging_project_sink with filter logName=~\"projects/.+/logs/cloudaudit.googleapis.com%2F(activity|data_access)\" AND protoPayload.serviceName=\"k8s.io\"";
    let mut unknown = false;
    for t in SINK_TYPES {
        for s in plan.of_type(t) {
            if t == "google_logging_project_sink" && project_of(s, "project").is_some_and(|q| q != p) {
                continue;
            }
            if s.get("disabled").and_then(Value::as_bool) == Some(true) {
                continue;
            }
            if s.is_unknown("filter") {
                unknown = true;
                continue;
            }
            let filter = s.get("filter").and_then(Value::as_str).unwrap_or("");
            if classify(filter) == FilterMatch::None {
                continue;
            }
            let dropped = s
                .get("exclusions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|e| e.get("disabled").and_then(Value::as_bool) != Some(true))
                .any(|e| classify(e.get("filter").and_then(Value::as_str).unwrap_or("")) == FilterMatch::Wholesale);
            if dropped {
                continue;
            }
            let dest = s.get("destination").and_then(Value::as_str).unwrap_or("?");
            out.push(
                "IAC-GKE-04",
                Verdict::Pass,
                &res,
                &format!("{}.filter", s.address),
                format!("{} exports k8s.io audit entries to {dest}", s.address),
                "",
            );
            return;
        }
    }
    if unknown {
        out.push(
            "IAC-GKE-04",
            Verdict::Unknown,
            &res,
            "google_logging_project_sink.filter",
            "a sink filter is unknown until apply",
            fix,
        );
    } else {
        out.push(
            "IAC-GKE-04",
            Verdict::Warn,
            &res,
            "google_logging_project_sink",
            "no sink in this plan exports k8s.io audit entries (to a SIEM, Pub/Sub or storage)",
            fix,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::{classify, FilterMatch::*};

    #[test]
    fn filter_classes() {
        assert_eq!(classify("logName:\"cloudaudit.googleapis.com%2Fdata_access\""), Wholesale);
        assert_eq!(classify("resource.type=\"k8s_cluster\""), Wholesale);
        assert_eq!(classify(""), Wholesale);
        assert_eq!(classify("protoPayload.serviceName=\"k8s.io\" AND protoPayload.methodName=\"io.k8s.coordination.v1.leases.update\""), Narrow);
        assert_eq!(classify("logName:\"cloudaudit.googleapis.com\" AND sample(insertId, 0.1)"), Narrow);
        assert_eq!(classify("logName:\"cloudaudit.googleapis.com%2Fdata_access\" AND protoPayload.serviceName=\"storage.googleapis.com\""), None);
        assert_eq!(classify("severity<=DEBUG"), None);
    }
}
