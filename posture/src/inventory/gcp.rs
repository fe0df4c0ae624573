//! GKE `clusters.get` and GCP `getIamPolicy`.

use serde_json::Value;

use super::{row, AuditState, Row};
use crate::finding::Verdict;
use crate::iac::Emit;

pub fn read_cluster(file: &str, d: &Value) -> Option<Row> {
    if d.get("loggingService").is_none() && d.get("loggingConfig").is_none() {
        return None;
    }
    let name = d.get("name").and_then(Value::as_str).unwrap_or("?").to_string();
    let svc = d.get("loggingService").and_then(Value::as_str);
    let comps: Option<Vec<String>> = d.get("loggingConfig").and_then(|l| l.get("componentConfig")).map(|c| {
        c.get("enableComponents")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
            .unwrap_or_default()
    });
    let mut e = Emit::new(file);
    let fix = "gcloud container clusters update <name> --logging=SYSTEM,WORKLOAD,API_SERVER";
    let off = svc == Some("none") || comps.as_ref().is_some_and(Vec::is_empty);
    let note =
        "Admin Activity audit logs for k8s.io are written regardless; Data Access depends on the project IAM policy";
    if off {
        let why = if svc == Some("none") {
            "loggingService is \"none\""
        } else {
            "loggingConfig.componentConfig.enableComponents is empty"
        };
        e.push(
            "INV-GKE-CLUSTER-LOGGING",
            Verdict::Fail,
            &name,
            "loggingService",
            format!("cluster logging disabled: {why} ({note})"),
            fix,
        );
    } else if svc.is_none() && comps.is_none() {
        e.push(
            "INV-GKE-CLUSTER-LOGGING",
            Verdict::Unknown,
            &name,
            "loggingService",
            "neither loggingService nor loggingConfig.componentConfig is in the response",
            fix,
        );
    } else {
        e.push(
            "INV-GKE-CLUSTER-LOGGING",
            Verdict::Pass,
            &name,
            "loggingConfig.componentConfig.enableComponents",
            format!("cluster logging enabled ({note})"),
            "",
        );
    }
    let dest = match svc {
        Some("none") => "-".to_string(),
        Some(s) => format!("Cloud Logging ({s})"),
        None => "Cloud Logging".to_string(),
    };
    // Admin Activity audit entries exist whatever the cluster logging says.
    Some(row(file, "GKE", name, AuditState::On, dest, comps.unwrap_or_default(), e.findings))
}

pub fn read_iam_policy(file: &str, d: &Value) -> Option<Row> {
    let configs = d.get("auditConfigs").and_then(Value::as_array);
    if configs.is_none() && !(d.get("bindings").is_some() && d.get("etag").is_some()) {
        return None;
    }
    let name = "project IAM policy".to_string();
    let mut types: Vec<String> = Vec::new();
    let mut exempt: Vec<String> = Vec::new();
    for c in configs.into_iter().flatten() {
        let svc = c.get("service").and_then(Value::as_str).unwrap_or("");
        if svc != "allServices" && svc != "container.googleapis.com" {
            continue;
        }
        for l in c.get("auditLogConfigs").and_then(Value::as_array).into_iter().flatten() {
            let Some(t) = l.get("logType").and_then(Value::as_str) else { continue };
            if !types.iter().any(|x| x == t) {
                types.push(t.to_string());
            }
            for m in l.get("exemptedMembers").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
            {
                exempt.push(format!("{t}: {m}"));
            }
        }
    }
    let mut e = Emit::new(file);
    let path = "auditConfigs";
    let missing: Vec<&str> =
        ["ADMIN_READ", "DATA_READ", "DATA_WRITE"].into_iter().filter(|t| !types.iter().any(|x| x == t)).collect();
    let fix =
        "enable ADMIN_READ, DATA_READ and DATA_WRITE for allServices (or container.googleapis.com) without exemptions";
    let state = if types.is_empty() {
        e.push(
            "INV-GKE-DATA-ACCESS",
            Verdict::Warn,
            &name,
            path,
            "Data Access audit logs are not enabled for allServices/container.googleapis.com (Admin Activity only)",
            fix,
        );
        AuditState::Partial
    } else if !missing.is_empty() {
        e.push(
            "INV-GKE-DATA-ACCESS",
            Verdict::Warn,
            &name,
            path,
            format!("Data Access enabled partly; missing {}", missing.join(", ")),
            fix,
        );
        AuditState::Partial
    } else if !exempt.is_empty() {
        e.push(
            "INV-GKE-DATA-ACCESS",
            Verdict::Warn,
            &name,
            path,
            format!("Data Access enabled with exemptions: {}", exempt.join(", ")),
            "remove exemptedMembers",
        );
        AuditState::Partial
    } else {
        e.push(
            "INV-GKE-DATA-ACCESS",
            Verdict::Pass,
            &name,
            path,
            "Data Access audit logs enabled (ADMIN_READ, DATA_READ, DATA_WRITE), no exemptions",
            "",
        );
        AuditState::On
    };
    Some(row(file, "GCP", name, state, "Cloud Logging".into(), types, e.findings))
}
