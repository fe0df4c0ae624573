//! Azure Monitor `Diagnostic Settings - List` for an AKS cluster.

use serde_json::Value;

use super::{row, AuditState, Row};
use crate::finding::Verdict;
use crate::iac::aks::{destination, Exports};
use crate::iac::Emit;

pub fn read(file: &str, d: &Value) -> Option<Row> {
    let list = d.get("value")?.as_array()?;
    let is_diag = |s: &Value| {
        s.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.Insights/diagnosticSettings"))
            || s.get("properties").and_then(|p| p.get("logs")).is_some()
    };
    if !list.iter().all(is_diag) {
        return None;
    }
    // The cluster is the resource the setting ids hang off.
    let name = list
        .iter()
        .filter_map(|s| s.get("id").and_then(Value::as_str))
        .find_map(|id| {
            let lower = id.to_ascii_lowercase();
            let i = lower.find("/managedclusters/")?;
            let rest = &id[i + "/managedclusters/".len()..];
            Some(rest.split('/').next().unwrap_or(rest).to_string())
        })
        .unwrap_or_else(|| "-".to_string());
    let mut e = Emit::new(file);
    let mut all = Exports::default();
    let mut dests = Vec::new();
    for s in list {
        let p = s.get("properties").unwrap_or(&Value::Null);
        let mut x = Exports::default();
        for l in p.get("logs").and_then(Value::as_array).into_iter().flatten() {
            let cat = l.get("category").and_then(Value::as_str).unwrap_or("");
            let grp = l.get("categoryGroup").and_then(Value::as_str).unwrap_or("");
            x.add(cat, grp, l.get("enabled").and_then(Value::as_bool).unwrap_or(false));
        }
        if x.audit() {
            let dedicated = p
                .get("logAnalyticsDestinationType")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("Dedicated"));
            let s_name = s.get("name").and_then(Value::as_str).unwrap_or("?");
            let dest = destination(
                p.get("workspaceId").and_then(Value::as_str),
                dedicated,
                p.get("storageAccountId").and_then(Value::as_str),
                p.get("eventHubAuthorizationRuleId").and_then(Value::as_str),
                p.get("marketplacePartnerId").and_then(Value::as_str),
                &x,
            );
            dests.push(format!("{s_name}: {dest}"));
        }
        all.merge(&x);
    }
    let path = "value[].properties.logs";
    let n = list.len();
    let state = if all.kube_audit {
        e.push("INV-AKS-AUDIT", Verdict::Pass, &name, path, "kube-audit exported", "");
        AuditState::On
    } else if all.kube_audit_admin {
        e.push(
            "INV-AKS-AUDIT",
            Verdict::Pass,
            &name,
            path,
            "kube-audit-admin exported (writes only: get/list/watch are not recorded)",
            "",
        );
        AuditState::Partial
    } else {
        let msg = if n == 0 {
            "no diagnostic settings: audit logs are not exported".to_string()
        } else {
            format!("none of {n} diagnostic settings exports an enabled kube-audit or kube-audit-admin category")
        };
        e.push(
            "INV-AKS-AUDIT",
            Verdict::Fail,
            &name,
            path,
            msg,
            "create a diagnostic setting exporting kube-audit-admin (or kube-audit) and guard",
        );
        AuditState::Off
    };
    if all.guard {
        e.push("INV-AKS-GUARD", Verdict::Pass, &name, path, "guard exported", "");
    } else {
        e.push("INV-AKS-GUARD", Verdict::Warn, &name, path, "guard is not exported", "enable the guard category");
    }
    let dest = if dests.is_empty() { "-".to_string() } else { dests.join("; ") };
    Some(row(file, "AKS", name, state, dest, all.enabled.clone(), e.findings))
}
