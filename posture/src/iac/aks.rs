//! AKS: IAC-AKS-01…05 — an `azurerm_monitor_diagnostic_setting` targeting the
//! cluster must export `kube-audit` / `kube-audit-admin` (or a category group
//! covering them). `oms_agent` (Container Insights) is not audit logging.

use serde_json::Value;

use super::doc::get_str;
use super::tfplan::{strip_indexes, Plan, Res};
use super::Emit;
use crate::finding::Verdict;

/// What one diagnostic setting exports (enabled entries only).
#[derive(Debug, Default, Clone)]
pub struct Exports {
    /// Enabled categories and category groups, as written.
    pub enabled: Vec<String>,
    /// Category names listed but disabled (legacy `log { enabled = false }`).
    pub disabled: Vec<String>,
    pub kube_audit: bool,
    pub kube_audit_admin: bool,
    pub guard: bool,
    /// A category group (`allLogs`, `audit`) provides the coverage.
    pub via_group: Option<String>,
}

impl Exports {
    /// Add one entry; `category` or `group` may be empty.
    pub fn add(&mut self, category: &str, group: &str, enabled: bool) {
        if !enabled {
            if !category.is_empty() {
                self.disabled.push(category.to_string());
            }
            return;
        }
        if !group.is_empty() {
            self.enabled.push(format!("group:{group}"));
            // `audit` group coverage of kube-audit* is per policy-and-iac.md §7.4 (verify with
            // `az monitor diagnostic-settings categories list`).
            if group.eq_ignore_ascii_case("allLogs") || group.eq_ignore_ascii_case("audit") {
                self.kube_audit = true;
                self.kube_audit_admin = true;
                self.guard = true;
                self.via_group = Some(group.to_string());
            }
        }
        if !category.is_empty() {
            self.enabled.push(category.to_string());
            match category.to_ascii_lowercase().as_str() {
                "kube-audit" => self.kube_audit = true,
                "kube-audit-admin" => self.kube_audit_admin = true,
                "guard" => self.guard = true,
                _ => {}
            }
        }
    }

    pub fn audit(&self) -> bool {
        self.kube_audit || self.kube_audit_admin
    }

    pub fn merge(&mut self, o: &Exports) {
        self.enabled.extend(o.enabled.iter().cloned());
        self.disabled.extend(o.disabled.iter().cloned());
        self.kube_audit |= o.kube_audit;
        self.kube_audit_admin |= o.kube_audit_admin;
        self.guard |= o.guard;
        if self.via_group.is_none() {
            self.via_group.clone_from(&o.via_group);
        }
    }
}

/// Exports of a Terraform diagnostic setting (`enabled_log` and legacy `log` blocks).
fn tf_exports(r: &Res<'_>) -> Exports {
    let mut e = Exports::default();
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    for b in r.get("enabled_log").and_then(Value::as_array).into_iter().flatten() {
        e.add(&s(b, "category"), &s(b, "category_group"), true);
    }
    for b in r.get("log").and_then(Value::as_array).into_iter().flatten() {
        let enabled = b.get("enabled").and_then(Value::as_bool).unwrap_or(true);
        e.add(&s(b, "category"), &s(b, "category_group"), enabled);
    }
    e
}

/// Destination description of a diagnostic setting, for IAC-AKS-04 and inventory.
pub fn destination(
    workspace: Option<&str>,
    dedicated: bool,
    storage: Option<&str>,
    eventhub: Option<&str>,
    partner: Option<&str>,
    e: &Exports,
) -> String {
    let mut d = Vec::new();
    if let Some(w) = workspace {
        let name = w.rsplit('/').next().unwrap_or(w);
        let tables = if dedicated {
            let mut t = Vec::new();
            if e.kube_audit {
                t.push("AKSAudit");
            }
            if e.kube_audit_admin {
                t.push("AKSAuditAdmin");
            }
            format!("resource-specific tables {}", t.join(", "))
        } else {
            "AzureDiagnostics table".to_string()
        };
        d.push(format!("Log Analytics {name} ({tables})"));
    }
    if let Some(s) = storage {
        d.push(format!("storage account {}", s.rsplit('/').next().unwrap_or(s)));
    }
    if let Some(h) = eventhub {
        d.push(format!("Event Hub ({h})"));
    }
    if let Some(p) = partner {
        d.push(format!("partner solution {p}"));
    }
    if d.is_empty() {
        "no destination".to_string()
    } else {
        d.join("; ")
    }
}

/// Where a diagnostic setting points.
enum Target {
    /// A literal resource id.
    Id(String),
    /// Configuration references naming resources (absolute addresses, no attribute).
    Refs(Vec<String>),
    /// Unknown and not resolvable from the configuration.
    Unresolved,
}

fn target(plan: &Plan<'_>, s: &Res<'_>) -> Target {
    if !s.is_unknown("target_resource_id") {
        if let Some(id) = s.get("target_resource_id").and_then(Value::as_str) {
            return Target::Id(id.to_string());
        }
    }
    let refs = plan.references(s, "target_resource_id");
    if refs.is_empty() {
        Target::Unresolved
    } else {
        Target::Refs(refs)
    }
}

/// Whether the setting's target is this cluster: Some(true/false), or None when it cannot be told.
fn links(t: &Target, c: &Res<'_>) -> Option<bool> {
    match t {
        Target::Id(id) => {
            let id = id.to_ascii_lowercase();
            if let Some(cid) = c.get_or_prior("id").and_then(Value::as_str) {
                return Some(cid.to_ascii_lowercase() == id);
            }
            let (Some(name), Some(rg)) =
                (c.get("name").and_then(Value::as_str), c.get("resource_group_name").and_then(Value::as_str))
            else {
                return None;
            };
            let suffix = format!(
                "/resourcegroups/{}/providers/microsoft.containerservice/managedclusters/{}",
                rg.to_ascii_lowercase(),
                name.to_ascii_lowercase()
            );
            Some(id.ends_with(&suffix))
        }
        Target::Refs(refs) => {
            let caddr = strip_indexes(&c.address);
            for r in refs {
                let r = strip_indexes(r);
                if r == caddr || r.strip_prefix(&caddr).is_some_and(|rest| rest.starts_with('.')) {
                    return Some(true);
                }
                // A module output (`module.aks.cluster_id`): the cluster is inside that module.
                if let Some(rest) = r.strip_prefix("module.") {
                    let mname = rest.split('.').next().unwrap_or("");
                    if caddr.starts_with(&format!("module.{mname}.")) {
                        return None;
                    }
                }
            }
            // References to variables or locals cannot be followed.
            if refs.iter().any(|r| r.starts_with("var.") || r.starts_with("local.") || r.starts_with("data.")) {
                None
            } else {
                Some(false)
            }
        }
        Target::Unresolved => None,
    }
}

/// IAC-AKS-01…05 for every `azurerm_kubernetes_cluster`.
pub fn terraform(plan: &Plan<'_>, out: &mut Emit) {
    let settings: Vec<(&Res<'_>, Target, Exports)> =
        plan.of_type("azurerm_monitor_diagnostic_setting").map(|s| (s, target(plan, s), tf_exports(s))).collect();
    for c in plan.of_type("azurerm_kubernetes_cluster") {
        let a = &c.address;
        let mut linked: Vec<(&Res<'_>, &Exports)> = Vec::new();
        let mut maybe: Vec<(&Res<'_>, &Exports)> = Vec::new();
        for (s, t, e) in &settings {
            match links(t, c) {
                Some(true) => linked.push((s, e)),
                Some(false) => {}
                None => maybe.push((s, e)),
            }
        }
        let mut all = Exports::default();
        for (_, e) in &linked {
            all.merge(e);
        }
        let names: Vec<&str> = linked.iter().map(|(s, _)| s.address.as_str()).collect();
        let path = if names.is_empty() {
            "azurerm_monitor_diagnostic_setting".to_string()
        } else {
            format!("{}.enabled_log", names.join(", "))
        };
        let fix01 = "add an azurerm_monitor_diagnostic_setting with target_resource_id = this cluster's id and enabled_log { category = \"kube-audit-admin\" } (or \"kube-audit\"), plus \"guard\"";
        let maybe_audit = maybe.iter().any(|(_, e)| e.audit());
        // IAC-AKS-01
        if all.audit() {
            let what = match (&all.via_group, all.kube_audit, all.kube_audit_admin) {
                (Some(g), _, _) => format!("category group {g:?} (covers kube-audit and kube-audit-admin)"),
                (None, true, true) => "kube-audit and kube-audit-admin".into(),
                (None, true, false) => "kube-audit".into(),
                _ => "kube-audit-admin".into(),
            };
            out.push(
                "IAC-AKS-01",
                Verdict::Pass,
                a,
                &path,
                format!("audit logs exported by {}: {what}", names.join(", ")),
                "",
            );
        } else if maybe_audit {
            let m: Vec<&str> = maybe.iter().map(|(s, _)| s.address.as_str()).collect();
            out.push("IAC-AKS-01", Verdict::Unknown, a, &path, format!("{} exports audit categories but its target_resource_id is unknown until apply and not traceable to this cluster", m.join(", ")), fix01);
        } else {
            let mut msg = if linked.is_empty() {
                let oms = c.get("oms_agent").and_then(Value::as_array).is_some_and(|v| !v.is_empty());
                let mut m = "no azurerm_monitor_diagnostic_setting targets this cluster: kube-audit / kube-audit-admin are not exported".to_string();
                if oms {
                    m.push_str(" (oms_agent / Container Insights does not collect audit logs)");
                }
                m
            } else {
                format!("no enabled kube-audit / kube-audit-admin category; enabled: [{}]", all.enabled.join(", "))
            };
            let off: Vec<&String> = all.disabled.iter().filter(|d| d.starts_with("kube-audit")).collect();
            if !off.is_empty() {
                msg.push_str(&format!("; legacy log block(s) {off:?} are enabled = false and do not count"));
            }
            out.push("IAC-AKS-01", Verdict::Fail, a, &path, msg, fix01);
        }
        // IAC-AKS-02
        if all.guard {
            out.push("IAC-AKS-02", Verdict::Pass, a, &path, "guard (Entra ID authentication) exported", "");
        } else if maybe.iter().any(|(_, e)| e.guard) {
            out.push(
                "IAC-AKS-02",
                Verdict::Unknown,
                a,
                &path,
                "a setting with an unknown target exports guard",
                "add enabled_log { category = \"guard\" }",
            );
        } else {
            out.push(
                "IAC-AKS-02",
                Verdict::Warn,
                a,
                &path,
                "guard is not exported (PSRule Azure.AKS.AuditLogs wants kube-audit* and guard)",
                "add enabled_log { category = \"guard\" }",
            );
        }
        // IAC-AKS-03, -05
        if !all.audit() {
            let why = if maybe_audit {
                "no setting known to target this cluster exports an audit category"
            } else {
                "no audit category exported"
            };
            out.push("IAC-AKS-03", Verdict::NotApplicable, a, &path, why, "");
            out.push("IAC-AKS-04", Verdict::NotApplicable, a, &path, why, "");
            out.push("IAC-AKS-05", Verdict::NotApplicable, a, &path, why, "");
            continue;
        }
        if all.kube_audit && all.kube_audit_admin {
            out.push("IAC-AKS-03", Verdict::Info, a, &path, "both kube-audit and kube-audit-admin are exported: every write is stored twice (PSRule Azure.AKS.AuditAdmin prefers kube-audit-admin alone for cost; IAC-AKS-05 explains what that loses)", "keep kube-audit (get/list visibility) and drop kube-audit-admin, or accept the duplicate volume");
        } else {
            out.push(
                "IAC-AKS-03",
                Verdict::Pass,
                a,
                &path,
                "only one of kube-audit / kube-audit-admin exported: no duplicate volume",
                "",
            );
        }
        // IAC-AKS-04
        let dests: Vec<String> = linked
            .iter()
            .filter(|(_, e)| e.audit())
            .map(|(s, e)| {
                let dedicated = get_str(s.values, &["log_analytics_destination_type"])
                    .is_some_and(|t| t.eq_ignore_ascii_case("Dedicated"));
                let d = destination(
                    get_str(s.values, &["log_analytics_workspace_id"]),
                    dedicated,
                    get_str(s.values, &["storage_account_id"]),
                    get_str(s.values, &["eventhub_authorization_rule_id"]),
                    get_str(s.values, &["partner_solution_id"]),
                    e,
                );
                format!("{}: {d}", s.address)
            })
            .collect();
        out.push("IAC-AKS-04", Verdict::Info, a, &path, dests.join("; "), "");
        if all.kube_audit {
            out.push("IAC-AKS-05", Verdict::Pass, a, &path, "kube-audit (incl. get/list) is exported", "");
        } else {
            out.push("IAC-AKS-05", Verdict::Warn, a, &path, "only kube-audit-admin is exported: get/list/watch are absent, hiding Secret reads, nodes/proxy GETs and WebSocket exec (verb get). PSRule Azure.AKS.AuditAdmin recommends this for cost; the trade-off is visibility", "also export kube-audit if those reads matter (at extra cost)");
        }
    }
}
