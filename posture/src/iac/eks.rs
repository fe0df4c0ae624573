//! EKS: IAC-EKS-01…05 on Terraform plans, eksctl configs and CloudFormation.

use serde_json::Value;

use super::doc::{get, show_list, str_list};
use super::tfplan::{Plan, Res};
use super::{Emit, Options};
use crate::finding::Verdict;

/// The five EKS control-plane log types.
pub const ALL_TYPES: [&str; 5] = ["api", "audit", "authenticator", "controllerManager", "scheduler"];

const FIX_AUDIT: &str = "add \"audit\" to enabled_cluster_log_types";
const FIX_ALL: &str =
    "enable all five types: [\"api\", \"audit\", \"authenticator\", \"controllerManager\", \"scheduler\"]";
const ATTR: &str = "enabled_cluster_log_types";

fn has(types: &[&str], t: &str) -> bool {
    types.iter().any(|x| x.eq_ignore_ascii_case(t))
}

fn missing(types: &[&str]) -> Vec<&'static str> {
    ALL_TYPES.iter().copied().filter(|t| !has(types, t)).collect()
}

/// Terraform `aws_eks_cluster` (+ `aws_cloudwatch_log_group`).
pub fn terraform(plan: &Plan<'_>, opts: &Options, out: &mut Emit) {
    for r in plan.of_type("aws_eks_cluster") {
        log_types(plan, r, out);
        regression(r, out);
        log_group(plan, r, opts, out);
    }
}

fn log_types(plan: &Plan<'_>, r: &Res<'_>, out: &mut Emit) {
    let a = &r.address;
    if r.is_unknown(ATTR) {
        let refs = plan.references(r, ATTR);
        let from = if refs.is_empty() { String::new() } else { format!(" (from {})", refs.join(", ")) };
        let known: Vec<&str> = str_list(r.get(ATTR));
        if has(&known, "audit") {
            out.push("IAC-EKS-01", Verdict::Pass, a, ATTR, "\"audit\" is among the known log types", "");
        } else {
            let msg = format!(
                "enabled_cluster_log_types is unknown until apply{from}; cannot tell whether \"audit\" is enabled"
            );
            out.push(
                "IAC-EKS-01",
                Verdict::Unknown,
                a,
                ATTR,
                msg.clone(),
                "set enabled_cluster_log_types to a literal list that includes \"audit\"",
            );
        }
        let msg = format!("enabled_cluster_log_types is unknown until apply{from}");
        out.push("IAC-EKS-02", Verdict::Unknown, a, ATTR, msg, FIX_ALL);
        return;
    }
    let types = str_list(r.get(ATTR));
    if r.get(ATTR).is_none() {
        out.push(
            "IAC-EKS-01",
            Verdict::Fail,
            a,
            ATTR,
            "enabled_cluster_log_types is not set: EKS writes no control-plane logs (off by default)",
            FIX_AUDIT,
        );
    } else if has(&types, "audit") {
        out.push("IAC-EKS-01", Verdict::Pass, a, ATTR, format!("audit log enabled: {}", show_list(&types)), "");
    } else {
        out.push("IAC-EKS-01", Verdict::Fail, a, ATTR, format!("\"audit\" is not in {}", show_list(&types)), FIX_AUDIT);
    }
    let miss = missing(&types);
    if miss.is_empty() {
        out.push("IAC-EKS-02", Verdict::Pass, a, ATTR, "all five control-plane log types enabled", "");
    } else {
        out.push("IAC-EKS-02", Verdict::Warn, a, ATTR, format!("log types not enabled: {}", show_list(&miss)), FIX_ALL);
    }
}

fn regression(r: &Res<'_>, out: &mut Emit) {
    let a = &r.address;
    if !r.is_update() {
        let why = if r.actions.is_empty() {
            "no change recorded for this resource"
        } else {
            "not an update of an existing cluster"
        };
        out.push("IAC-EKS-03", Verdict::NotApplicable, a, ATTR, why, "");
        return;
    }
    let before = str_list(r.before.and_then(|b| get(b, &[ATTR])));
    if !has(&before, "audit") {
        out.push(
            "IAC-EKS-03",
            Verdict::Pass,
            a,
            ATTR,
            format!("audit was not enabled before this change either (before: {})", show_list(&before)),
            "",
        );
    } else if r.is_unknown(ATTR) {
        out.push(
            "IAC-EKS-03",
            Verdict::Unknown,
            a,
            ATTR,
            "audit is enabled now; the new value is unknown until apply",
            "keep \"audit\" in enabled_cluster_log_types",
        );
    } else {
        let after = str_list(r.get(ATTR));
        if has(&after, "audit") {
            out.push("IAC-EKS-03", Verdict::Pass, a, ATTR, "the update keeps \"audit\" enabled", "");
        } else {
            let removed: Vec<&str> = before.iter().copied().filter(|t| !has(&after, t)).collect();
            let msg = format!(
                "this {} disables audit logging: removes {} (before {}, after {})",
                r.actions.join("+"),
                show_list(&removed),
                show_list(&before),
                show_list(&after)
            );
            out.push(
                "IAC-EKS-03",
                Verdict::Fail,
                a,
                ATTR,
                msg,
                "keep \"audit\" in enabled_cluster_log_types; disabling it blinds every audit-log detection",
            );
        }
    }
}

fn log_group(plan: &Plan<'_>, r: &Res<'_>, opts: &Options, out: &mut Emit) {
    let a = &r.address;
    let min = opts.min_retention_days;
    let fix = format!("declare aws_cloudwatch_log_group \"/aws/eks/<cluster>/cluster\" with retention_in_days >= {min} (and kms_key_id)");
    let Some(name) = r.get_or_prior("name").and_then(Value::as_str) else {
        out.push(
            "IAC-EKS-04",
            Verdict::Unknown,
            a,
            "name",
            "cluster name unknown until apply: cannot find its log group",
            &fix,
        );
        return;
    };
    let want = format!("/aws/eks/{name}/cluster");
    let group =
        plan.of_type("aws_cloudwatch_log_group").find(|g| g.get("name").and_then(Value::as_str) == Some(want.as_str()));
    let Some(g) = group else {
        let msg = format!("no aws_cloudwatch_log_group named {want} in this plan: EKS creates it with no retention policy and no KMS key");
        out.push("IAC-EKS-04", Verdict::Warn, a, "name", msg, &fix);
        return;
    };
    let path = format!("{}.retention_in_days", g.address);
    if g.is_unknown("retention_in_days") {
        out.push("IAC-EKS-04", Verdict::Unknown, a, &path, format!("{want}: retention unknown until apply"), &fix);
        return;
    }
    match g.get("retention_in_days").and_then(Value::as_u64) {
        None | Some(0) => {
            out.push("IAC-EKS-04", Verdict::Pass, a, &path, format!("{want} never expires (no retention set)"), "")
        }
        Some(d) if d >= min => {
            out.push("IAC-EKS-04", Verdict::Pass, a, &path, format!("{want} keeps logs {d} days (>= {min})"), "")
        }
        Some(d) => {
            out.push("IAC-EKS-04", Verdict::Warn, a, &path, format!("{want} keeps logs only {d} days (< {min})"), &fix)
        }
    }
}

/// eksctl `logRetentionInDays` values eksctl accepts (pkg/apis/eksctl.io/v1alpha5).
pub const EKSCTL_RETENTION: [u64; 17] = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653];

/// eksctl `ClusterConfig`: IAC-EKS-05 (and IAC-EKS-02). Resource = the file.
pub fn eksctl(doc: &Value, out: &mut Emit) {
    let res = out.file.clone();
    let path = "cloudWatch.clusterLogging.enableTypes";
    let cl = get(doc, &["cloudWatch", "clusterLogging"]);
    let types = str_list(cl.and_then(|c| get(c, &["enableTypes"])));
    let all = types.iter().any(|t| *t == "*" || t.eq_ignore_ascii_case("all"));
    let fix = "set cloudWatch.clusterLogging.enableTypes to [\"*\"] (or a list including \"audit\")";
    if all || has(&types, "audit") {
        out.push("IAC-EKS-05", Verdict::Pass, &res, path, format!("audit log enabled: {}", show_list(&types)), "");
    } else if types.is_empty() {
        out.push(
            "IAC-EKS-05",
            Verdict::Fail,
            &res,
            path,
            "no control-plane log types enabled (eksctl enables none by default)",
            fix,
        );
    } else {
        out.push("IAC-EKS-05", Verdict::Fail, &res, path, format!("\"audit\" is not in {}", show_list(&types)), fix);
    }
    let miss = if all { Vec::new() } else { missing(&types) };
    if miss.is_empty() {
        out.push("IAC-EKS-02", Verdict::Pass, &res, path, "all five control-plane log types enabled", "");
    } else {
        out.push(
            "IAC-EKS-02",
            Verdict::Warn,
            &res,
            path,
            format!("log types not enabled: {}", show_list(&miss)),
            "set enableTypes to [\"*\"]",
        );
    }
    let rpath = "cloudWatch.clusterLogging.logRetentionInDays";
    match cl.and_then(|c| get(c, &["logRetentionInDays"])) {
        None => {}
        Some(v) => match v.as_u64() {
            Some(d) if EKSCTL_RETENTION.contains(&d) => {
                out.push("IAC-EKS-05", Verdict::Pass, &res, rpath, format!("logRetentionInDays {d} is valid"), "")
            }
            _ => {
                let msg = format!("logRetentionInDays {v} is not a value eksctl accepts ({EKSCTL_RETENTION:?}): eksctl rejects the config");
                out.push(
                    "IAC-EKS-05",
                    Verdict::Fail,
                    &res,
                    rpath,
                    msg,
                    "use one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653",
                );
            }
        },
    }
}

/// CloudFormation `AWS::EKS::Cluster`: IAC-EKS-01/02 on
/// `Properties.Logging.ClusterLogging.EnabledTypes[].Type`. Resource = `Resources.<LogicalId>`.
pub fn cloudformation(doc: &Value, out: &mut Emit) {
    let Some(resources) = doc.get("Resources").and_then(Value::as_object) else { return };
    for (id, r) in resources {
        if r.get("Type").and_then(Value::as_str) != Some("AWS::EKS::Cluster") {
            continue;
        }
        let res = format!("Resources.{id}");
        let path = "Properties.Logging.ClusterLogging.EnabledTypes";
        let list = get(r, &["Properties", "Logging", "ClusterLogging", "EnabledTypes"]);
        let intrinsic =
            |v: &Value| v.as_object().is_some_and(|m| m.keys().any(|k| k == "Ref" || k.starts_with("Fn::")));
        let Some(items) = list.map(|l| if intrinsic(l) { None } else { l.as_array() }) else {
            out.push(
                "IAC-EKS-01",
                Verdict::Fail,
                &res,
                path,
                "Logging.ClusterLogging.EnabledTypes is not set: no control-plane logs",
                "add EnabledTypes with - Type: audit",
            );
            out.push(
                "IAC-EKS-02",
                Verdict::Warn,
                &res,
                path,
                format!("log types not enabled: {}", show_list(&ALL_TYPES)),
                FIX_ALL,
            );
            continue;
        };
        let Some(items) = items else {
            out.push(
                "IAC-EKS-01",
                Verdict::Unknown,
                &res,
                path,
                "EnabledTypes is an intrinsic function: value known only at deploy time",
                "use a literal list including - Type: audit",
            );
            out.push("IAC-EKS-02", Verdict::Unknown, &res, path, "EnabledTypes is an intrinsic function", FIX_ALL);
            continue;
        };
        if items.iter().any(|i| i.get("Type").is_some_and(intrinsic)) {
            out.push(
                "IAC-EKS-01",
                Verdict::Unknown,
                &res,
                path,
                "an EnabledTypes entry is an intrinsic function",
                "use literal types",
            );
            out.push(
                "IAC-EKS-02",
                Verdict::Unknown,
                &res,
                path,
                "an EnabledTypes entry is an intrinsic function",
                FIX_ALL,
            );
            continue;
        }
        let types: Vec<&str> = items.iter().filter_map(|i| i.get("Type").and_then(Value::as_str)).collect();
        if has(&types, "audit") {
            out.push("IAC-EKS-01", Verdict::Pass, &res, path, format!("audit log enabled: {}", show_list(&types)), "");
        } else {
            out.push(
                "IAC-EKS-01",
                Verdict::Fail,
                &res,
                path,
                format!("\"audit\" is not in {}", show_list(&types)),
                "add - Type: audit",
            );
        }
        let miss = missing(&types);
        if miss.is_empty() {
            out.push("IAC-EKS-02", Verdict::Pass, &res, path, "all five control-plane log types enabled", "");
        } else {
            out.push(
                "IAC-EKS-02",
                Verdict::Warn,
                &res,
                path,
                format!("log types not enabled: {}", show_list(&miss)),
                FIX_ALL,
            );
        }
    }
}
