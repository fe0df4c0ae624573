//! Check id → control ids (NIST SP 800-53 Rev 5, ISO/IEC 27001:2013 and :2022,
//! CIS Kubernetes Benchmark / managed-service benchmarks, DISA STIG), per
//! `policy-and-iac.md` §10.
//!
//! Two sources:
//! * [`CATALOG`] — one row per posture check id (`AP-*`, `IAC-*`, `CIS-*`,
//!   `INV-*`) with its title, default severity and controls.
//! * [`for_rule`] — built-in detection rules. The rule YAML has no compliance
//!   field, so the mapping is derived here, not written into the rule files:
//!   every detection supports audit review (AU-6, ISO 2013 A.12.4.1 /
//!   2022 8.16 monitoring activities); rules tagged with an ATT&CK
//!   privilege-escalation or account-manipulation technique, or touching RBAC,
//!   impersonation or exec, record the use of privileged functions (AC-6(9),
//!   A.12.4.3); defence-impairment / indicator-removal tags protect the audit
//!   trail (AU-9, A.12.4.2). CIS ids for rules are the kube-bench `cis-1.10`
//!   section 5 items whose subject the rule watches (by rule id keyword);
//!   a rule watching no benchmark subject carries none.
//!
//! CIS text is proprietary: only ids and our own short titles appear here.

use crate::finding::Severity;

/// Controls one check or rule maps to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Controls {
    pub nist: Vec<&'static str>,
    pub iso27001_2013: Vec<&'static str>,
    pub iso27001_2022: Vec<&'static str>,
    /// Benchmark ids, prefixed with the benchmark (`CIS Kubernetes 1.2.16`,
    /// `CIS EKS 2.1.1`, `CIS Kubernetes 1.10 5.1.2`).
    pub cis: Vec<&'static str>,
    pub stig: Vec<&'static str>,
}

impl Controls {
    /// All ids with their standard, for SARIF tags and OCSF `requirements`.
    pub fn all(&self) -> Vec<String> {
        let mut v = Vec::new();
        v.extend(self.nist.iter().map(|c| format!("NIST SP 800-53 {c}")));
        v.extend(self.iso27001_2013.iter().map(|c| format!("ISO/IEC 27001:2013 {c}")));
        v.extend(self.iso27001_2022.iter().map(|c| format!("ISO/IEC 27001:2022 {c}")));
        v.extend(self.cis.iter().map(|c| c.to_string()));
        v.extend(self.stig.iter().map(|c| format!("STIG {c}")));
        v
    }

    /// Names of the standards that have at least one id here.
    pub fn standards(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if !self.nist.is_empty() {
            v.push("NIST SP 800-53 Rev 5");
        }
        if !self.iso27001_2013.is_empty() {
            v.push("ISO/IEC 27001:2013");
        }
        if !self.iso27001_2022.is_empty() {
            v.push("ISO/IEC 27001:2022");
        }
        if !self.cis.is_empty() {
            v.push("CIS Benchmarks");
        }
        if !self.stig.is_empty() {
            v.push("DISA STIG");
        }
        v
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "nist_800_53": self.nist,
            "iso27001_2013": self.iso27001_2013,
            "iso27001_2022": self.iso27001_2022,
            "cis": self.cis,
            "stig": self.stig,
        })
    }
}

/// One posture check of the catalog.
#[derive(Debug, Clone, Copy)]
pub struct CheckInfo {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub profile: Profile,
    /// Extra benchmark ids beyond the profile's.
    pub cis: &'static [&'static str],
    pub stig: &'static [&'static str],
}

/// The §10 row a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Audit logging on (AU-2, AU-12; A.12.4.1 / 8.15).
    LoggingOn,
    /// Content and coverage (AU-2, AU-3, AU-12, AC-6(9); A.12.4.1, A.12.4.3 / 8.15).
    Coverage,
    /// No secrets in logs (AU-9, SC-28; A.12.4.2 / 8.15).
    NoSecrets,
    /// Retention and storage (AU-4, AU-11; A.12.4.1 / 8.15).
    Retention,
    /// Logging switched off or entries dropped: generation and protection
    /// (AU-2, AU-12, AU-9; A.12.4.1, A.12.4.2 / 8.15).
    Tamper,
    /// Export to a SIEM / central store (AU-6, AU-9; A.12.4.1 / 8.15, 8.16).
    Export,
    /// Volume and cost of logging (AU-4; A.12.4.1 / 8.15).
    Volume,
    /// Detections need fields the policy drops (AU-2, AU-3, AU-6; A.12.4.1 / 8.15, 8.16).
    DetectionNeeds,
}

impl Profile {
    fn controls(self) -> Controls {
        let (nist, i13, i22): (&[&str], &[&str], &[&str]) = match self {
            Profile::LoggingOn => (&["AU-2", "AU-12"], &["A.12.4.1"], &["8.15"]),
            Profile::Coverage => (&["AU-2", "AU-3", "AU-12", "AC-6(9)"], &["A.12.4.1", "A.12.4.3"], &["8.15"]),
            Profile::NoSecrets => (&["AU-9", "SC-28"], &["A.12.4.2"], &["8.15"]),
            Profile::Retention => (&["AU-4", "AU-11"], &["A.12.4.1"], &["8.15"]),
            Profile::Tamper => (&["AU-2", "AU-9", "AU-12"], &["A.12.4.1", "A.12.4.2"], &["8.15"]),
            Profile::Export => (&["AU-6", "AU-9"], &["A.12.4.1"], &["8.15", "8.16"]),
            Profile::Volume => (&["AU-4"], &["A.12.4.1"], &["8.15"]),
            Profile::DetectionNeeds => (&["AU-2", "AU-3", "AU-6"], &["A.12.4.1"], &["8.15", "8.16"]),
        };
        Controls {
            nist: nist.to_vec(),
            iso27001_2013: i13.to_vec(),
            iso27001_2022: i22.to_vec(),
            cis: Vec::new(),
            stig: Vec::new(),
        }
    }
}

const fn c(
    id: &'static str,
    title: &'static str,
    severity: Severity,
    profile: Profile,
    cis: &'static [&'static str],
    stig: &'static [&'static str],
) -> CheckInfo {
    CheckInfo { id, title, severity, profile, cis, stig }
}

use Profile::*;
use Severity::{High, Info, Low, Medium};

const EKS_STIG: &[&str] = &["V-242461", "V-242402", "V-242403"];

/// Every posture check id of `policy-and-iac.md` §5.2, §6, §7.4 and §8.
pub const CATALOG: &[CheckInfo] = &[
    // Audit policy lint (§5.2). Emitted by the policy module.
    c("AP-V01", "Audit policy is invalid (the API server refuses it)", High, LoggingOn, &["CIS Kubernetes 3.2.1"], &[]),
    c("AP-V02", "Audit policy apiVersion is not audit.k8s.io/v1", Medium, LoggingOn, &["CIS Kubernetes 3.2.1"], &[]),
    c("AP-S01", "Secret bodies are logged", High, NoSecrets, &["CIS Kubernetes 3.2.2"], &[]),
    c("AP-S02", "TokenReview request bodies (tokens) are logged", High, NoSecrets, &["CIS Kubernetes 3.2.2"], &[]),
    c("AP-S03", "TokenRequest responses (tokens) are logged", High, NoSecrets, &["CIS Kubernetes 3.2.2"], &[]),
    c("AP-S04", "ConfigMap bodies are logged", Medium, NoSecrets, &["CIS Kubernetes 3.2.2"], &[]),
    c("AP-C01", "A security-relevant request is not logged", High, Coverage, &["CIS Kubernetes 3.2.2"], &[]),
    c("AP-C02", "A required request omits the ResponseComplete stage", High, Coverage, &["CIS Kubernetes 3.2.2"], &[]),
    c(
        "AP-C03",
        "No catch-all rule: unknown resources are not logged",
        Medium,
        Coverage,
        &["CIS Kubernetes 3.2.2"],
        &[],
    ),
    c(
        "AP-C04",
        "Exec is logged for one transport only (create vs WebSocket get)",
        High,
        Coverage,
        &["CIS Kubernetes 3.2.2"],
        &[],
    ),
    c(
        "AP-Q01",
        "Resource listed under an API group that does not serve it",
        Medium,
        Coverage,
        &["CIS Kubernetes 3.2.2"],
        &[],
    ),
    c("AP-Q02", "Rule is unreachable (shadowed by an earlier rule)", Medium, Coverage, &["CIS Kubernetes 3.2.2"], &[]),
    c("AP-Q03", "Request level on a non-resource-only rule has no effect", Info, Coverage, &[], &[]),
    c("AP-N01", "Noisy request logged at a body level", Low, Volume, &[], &[]),
    c("AP-N02", "RequestReceived stage not omitted", Info, Volume, &[], &[]),
    c("AP-N03", "managedFields not omitted from logged bodies", Info, Volume, &[], &[]),
    c("AP-D01", "Detections need fields this policy does not record", Medium, DetectionNeeds, &[], &[]),
    // IaC (§7.4).
    c("IAC-EKS-01", "EKS control-plane audit log enabled", High, LoggingOn, &["CIS EKS 2.1.1"], EKS_STIG),
    c("IAC-EKS-02", "EKS all five control-plane log types enabled", Low, LoggingOn, &["CIS EKS 2.1.1"], EKS_STIG),
    c("IAC-EKS-03", "Plan does not remove the EKS audit log type", High, Tamper, &["CIS EKS 2.1.1"], &[]),
    c("IAC-EKS-04", "EKS control-plane log group with sufficient retention", Medium, Retention, &[], &[]),
    c(
        "IAC-EKS-05",
        "eksctl enables the audit log type with a valid retention",
        High,
        LoggingOn,
        &["CIS EKS 2.1.1"],
        EKS_STIG,
    ),
    c(
        "IAC-AKS-01",
        "AKS diagnostic setting exports kube-audit or kube-audit-admin",
        High,
        LoggingOn,
        &["CIS AKS 2.1.1"],
        &[],
    ),
    c("IAC-AKS-02", "AKS diagnostic setting exports guard", Medium, LoggingOn, &[], &[]),
    c("IAC-AKS-03", "AKS exports both kube-audit and kube-audit-admin (duplicate volume)", Info, Volume, &[], &[]),
    c("IAC-AKS-04", "AKS audit log destination", Info, Export, &[], &[]),
    c("IAC-AKS-05", "AKS exports kube-audit-admin only (no get/list)", Medium, Coverage, &[], &[]),
    c("IAC-GKE-01", "GKE cluster logging enabled", High, LoggingOn, &["CIS GKE 5.7.1"], &[]),
    c(
        "IAC-GKE-02",
        "GCP Data Access audit logs enabled for Kubernetes",
        Medium,
        Coverage,
        &["CIS Kubernetes 3.2.2"],
        &[],
    ),
    c("IAC-GKE-03", "No logging exclusion drops k8s.io audit entries", High, Tamper, &[], &[]),
    c("IAC-GKE-04", "A sink exports k8s.io audit entries", Medium, Export, &[], &[]),
    // kube-apiserver manifests (§6).
    c("CIS-1.2.16", "kube-apiserver --audit-log-path is set", High, LoggingOn, &["CIS Kubernetes 1.2.16"], &[]),
    c(
        "CIS-1.2.17",
        "kube-apiserver --audit-log-maxage >= 30",
        Medium,
        Retention,
        &["CIS Kubernetes 1.2.17"],
        &["V-242462"],
    ),
    c(
        "CIS-1.2.18",
        "kube-apiserver --audit-log-maxbackup >= 10",
        Medium,
        Retention,
        &["CIS Kubernetes 1.2.18"],
        &["V-242463"],
    ),
    c(
        "CIS-1.2.19",
        "kube-apiserver --audit-log-maxsize >= 100",
        Medium,
        Retention,
        &["CIS Kubernetes 1.2.19"],
        &["V-242464"],
    ),
    c("CIS-3.2.1", "kube-apiserver --audit-policy-file is set", High, LoggingOn, &["CIS Kubernetes 3.2.1"], &[]),
    c("IAC-K8S-MOUNT", "Audit policy file and log directory are mounted from the host", High, Tamper, &[], &[]),
    // Inventory (§8).
    c("INV-EKS-AUDIT", "EKS cluster has the audit log type enabled", High, LoggingOn, &["CIS EKS 2.1.1"], EKS_STIG),
    c("INV-EKS-ALL5", "EKS cluster has all five log types enabled", Low, LoggingOn, &["CIS EKS 2.1.1"], EKS_STIG),
    c("INV-AKS-AUDIT", "AKS cluster exports kube-audit or kube-audit-admin", High, LoggingOn, &["CIS AKS 2.1.1"], &[]),
    c("INV-AKS-GUARD", "AKS cluster exports guard", Medium, LoggingOn, &[], &[]),
    c("INV-GKE-CLUSTER-LOGGING", "GKE cluster logging enabled", High, LoggingOn, &["CIS GKE 5.7.1"], &[]),
    c("INV-GKE-DATA-ACCESS", "GCP Data Access audit logs enabled", Medium, Coverage, &["CIS Kubernetes 3.2.2"], &[]),
];

/// The catalog row of a check id.
pub fn info(check: &str) -> Option<&'static CheckInfo> {
    CATALOG.iter().find(|c| c.id == check)
}

/// Controls of a posture check id; `None` for an id not in the catalog.
pub fn for_check(check: &str) -> Option<Controls> {
    let i = info(check)?;
    let mut c = i.profile.controls();
    c.cis.extend_from_slice(i.cis);
    c.stig.extend_from_slice(i.stig);
    Some(c)
}

/// Default severity of a posture check (Medium for an unknown id).
pub fn severity(check: &str) -> Severity {
    info(check).map(|i| i.severity).unwrap_or(Severity::Medium)
}

/// Controls of a detection rule, from its id and tags (see the module docs).
pub fn for_rule(id: &str, tags: &[String]) -> Controls {
    let mut c = Controls {
        nist: vec!["AU-6"],
        iso27001_2013: vec!["A.12.4.1"],
        iso27001_2022: vec!["8.15", "8.16"],
        cis: Vec::new(),
        stig: Vec::new(),
    };
    let tag = |t: &str| tags.iter().any(|x| x == t || x.starts_with(&format!("{t}.")));
    let idk = |k: &str| id.contains(k);
    let privileged = tag("attack.privilege-escalation")
        || tag("attack.t1098")
        || tag("attack.t1134")
        || idk("rbac")
        || idk("impersonat")
        || idk("exec")
        || idk("node-proxy")
        || idk("admin");
    if privileged {
        c.nist.push("AC-6(9)");
        c.iso27001_2013.push("A.12.4.3");
    }
    if tag("attack.defense-impairment") || tag("attack.t1070") || tag("attack.t1685") || idk("events-deleted") {
        c.nist.push("AU-9");
        c.iso27001_2013.push("A.12.4.2");
    }
    // kube-bench cfg/cis-1.10/policies.yaml section 5 items, by subject.
    let cis: &[(&str, &str)] = &[
        ("privileged-role", "CIS Kubernetes 1.10 5.1.1"),
        ("secret", "CIS Kubernetes 1.10 5.1.2"),
        ("wildcard", "CIS Kubernetes 1.10 5.1.3"),
        ("system-masters", "CIS Kubernetes 1.10 5.1.7"),
        ("impersonat", "CIS Kubernetes 1.10 5.1.8"),
        ("escalation", "CIS Kubernetes 1.10 5.1.8"),
        ("node-proxy", "CIS Kubernetes 1.10 5.1.10"),
        ("certificatesigningrequest", "CIS Kubernetes 1.10 5.1.11"),
        ("csr-", "CIS Kubernetes 1.10 5.1.11"),
        ("webhook", "CIS Kubernetes 1.10 5.1.12"),
        ("token-minted", "CIS Kubernetes 1.10 5.1.13"),
        ("privileged-container", "CIS Kubernetes 1.10 5.2.2"),
        ("host-namespace", "CIS Kubernetes 1.10 5.2.3"),
        ("host-namespace", "CIS Kubernetes 1.10 5.2.4"),
        ("host-namespace", "CIS Kubernetes 1.10 5.2.5"),
    ];
    for (k, v) in cis {
        if idk(k) && !c.cis.contains(v) {
            c.cis.push(v);
        }
    }
    c
}
