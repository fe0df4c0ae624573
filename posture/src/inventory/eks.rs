//! EKS DescribeCluster: every `clusterLogging` entry.

use serde_json::Value;

use super::{row, AuditState, Row};
use crate::finding::Verdict;
use crate::iac::eks::ALL_TYPES;
use crate::iac::Emit;

/// The cluster object of either shape.
fn cluster(d: &Value) -> Option<(&Value, bool)> {
    if let Some(c) = d.get("cluster").filter(|c| c.get("logging").is_some() || c.get("name").is_some()) {
        return Some((c, false));
    }
    let c = d.get("data").and_then(|x| x.get("Cluster")).or_else(|| d.get("Cluster"))?;
    Some((c, true))
}

pub fn read(file: &str, d: &Value) -> Option<Row> {
    let (c, pascal) = cluster(d)?;
    let k = |camel: &'static str, pas: &'static str| if pascal { pas } else { camel };
    let name = c.get(k("name", "Name")).and_then(Value::as_str).unwrap_or("?").to_string();
    let mut e = Emit::new(file);
    let entries = c
        .get(k("logging", "Logging"))
        .and_then(|l| l.get(k("clusterLogging", "ClusterLogging")))
        .and_then(Value::as_array);
    let Some(entries) = entries else {
        e.push(
            "INV-EKS-AUDIT",
            Verdict::Unknown,
            &name,
            "logging.clusterLogging",
            "the response has no logging.clusterLogging",
            "save the full DescribeCluster output",
        );
        return Some(row(file, "EKS", name, AuditState::Unknown, "-".into(), Vec::new(), e.findings));
    };
    // Union over every entry: a type is enabled if any entry enables it.
    let mut enabled: Vec<String> = Vec::new();
    for en in entries {
        let on = en.get(k("enabled", "Enabled")).and_then(Value::as_bool).unwrap_or(false);
        if !on {
            continue;
        }
        for t in en.get(k("types", "Types")).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            if !enabled.iter().any(|x| x.eq_ignore_ascii_case(t)) {
                enabled.push(t.to_string());
            }
        }
    }
    let has = |t: &str| enabled.iter().any(|x| x.eq_ignore_ascii_case(t));
    let path = "logging.clusterLogging";
    let fix = "aws eks update-cluster-config --name <cluster> --logging '{\"clusterLogging\":[{\"types\":[\"audit\"],\"enabled\":true}]}'";
    let audit = has("audit");
    if audit {
        let idx = entries
            .iter()
            .position(|en| {
                en.get(k("enabled", "Enabled")).and_then(Value::as_bool) == Some(true)
                    && en
                        .get(k("types", "Types"))
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|t| t.as_str() == Some("audit")))
            })
            .unwrap_or(0);
        e.push(
            "INV-EKS-AUDIT",
            Verdict::Pass,
            &name,
            &format!("{path}[{idx}]"),
            format!("audit enabled (clusterLogging[{idx}] of {})", entries.len()),
            "",
        );
    } else {
        e.push(
            "INV-EKS-AUDIT",
            Verdict::Fail,
            &name,
            path,
            format!("audit is not enabled in any of {} clusterLogging entries", entries.len()),
            fix,
        );
    }
    let missing: Vec<&str> = ALL_TYPES.iter().copied().filter(|t| !has(t)).collect();
    if missing.is_empty() {
        e.push("INV-EKS-ALL5", Verdict::Pass, &name, path, "all five log types enabled", "");
    } else {
        e.push(
            "INV-EKS-ALL5",
            Verdict::Warn,
            &name,
            path,
            format!("not enabled: {}", missing.join(", ")),
            "enable api, audit, authenticator, controllerManager and scheduler",
        );
    }
    let dest = if audit { format!("CloudWatch Logs /aws/eks/{name}/cluster") } else { "-".to_string() };
    let state = if audit { AuditState::On } else { AuditState::Off };
    Some(row(file, "EKS", name, state, dest, enabled, e.findings))
}
