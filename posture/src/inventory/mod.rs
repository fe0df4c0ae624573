//! Inventory (`policy-and-iac.md` §8): from saved cloud API outputs and
//! kube-apiserver manifests, which clusters log audit events, where to, and
//! which categories.
//!
//! Inputs, recognised by content: EKS `DescribeCluster` (API camelCase
//! `cluster.logging.clusterLogging[]`, or the SDK PascalCase shape
//! `data.Cluster.Logging.ClusterLogging[]` / `Cluster.Logging…`), Azure
//! Monitor `Diagnostic Settings - List` (`value[]`), GKE `clusters.get`,
//! GCP `getIamPolicy` (`auditConfigs`), kube-apiserver static-pod manifests.
//! Every `clusterLogging` entry is read (Prowler reads only the first).

mod aks;
mod eks;
mod gcp;

use serde_json::Value;

use crate::finding::{Finding, Verdict};
use crate::iac::{self, Emit};

/// Audit logging state of one cluster (or project).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditState {
    On,
    Off,
    /// Some audit events are recorded, a documented part is not.
    Partial,
    Unknown,
}

impl AuditState {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditState::On => "on",
            AuditState::Off => "off",
            AuditState::Partial => "partial",
            AuditState::Unknown => "unknown",
        }
    }
}

/// One inventory row.
#[derive(Debug, Clone)]
pub struct Row {
    pub file: String,
    /// `EKS`, `AKS`, `GKE`, `GCP`, `self-managed`.
    pub provider: &'static str,
    pub name: String,
    pub audit: AuditState,
    /// Where audit events go.
    pub destination: String,
    /// Enabled log types / categories / components.
    pub categories: Vec<String>,
    /// Worst verdict of `findings`.
    pub verdict: Verdict,
    pub reason: String,
    /// The `INV-*` (or manifest `CIS-*`) results behind the row.
    pub findings: Vec<Finding>,
}

/// Order of badness for a row's verdict.
pub fn worst(findings: &[Finding]) -> Verdict {
    let rank = |v: Verdict| match v {
        Verdict::Fail => 5,
        Verdict::Warn => 4,
        Verdict::Unknown => 3,
        Verdict::Info => 2,
        Verdict::Pass => 1,
        Verdict::NotApplicable => 0,
    };
    findings.iter().map(|f| f.verdict).max_by_key(|v| rank(*v)).unwrap_or(Verdict::NotApplicable)
}

/// The reason of a row: the messages of its worst findings.
fn reason_of(findings: &[Finding], verdict: Verdict) -> String {
    let v: Vec<&str> = findings.iter().filter(|f| f.verdict == verdict).map(|f| f.message.as_str()).collect();
    v.join("; ")
}

pub(crate) fn row(
    file: &str,
    provider: &'static str,
    name: String,
    audit: AuditState,
    destination: String,
    categories: Vec<String>,
    findings: Vec<Finding>,
) -> Row {
    let verdict = worst(&findings);
    let reason = if verdict == Verdict::Pass {
        format!("all {} checks pass", findings.len())
    } else {
        reason_of(&findings, verdict)
    };
    Row { file: file.to_string(), provider, name, audit, destination, categories, verdict, reason, findings }
}

/// Read one saved API output or manifest into rows.
pub fn read(file: &str, src: &str) -> Result<Vec<Row>, String> {
    let docs = iac::parse_docs(src)?;
    let mut rows = Vec::new();
    for d in &docs {
        if d.is_null() {
            continue;
        }
        if let Some(r) = eks::read(file, d) {
            rows.push(r);
        } else if let Some(r) = aks::read(file, d) {
            rows.push(r);
        } else if let Some(r) = gcp::read_cluster(file, d) {
            rows.push(r);
        } else if let Some(r) = gcp::read_iam_policy(file, d) {
            rows.push(r);
        } else if matches!(iac::detect(d), Some(iac::InputKind::ApiserverManifest | iac::InputKind::KubeadmConfig)) {
            rows.push(manifest_row(file, d));
        }
    }
    if rows.is_empty() {
        return Err("not a recognised inventory input: expected EKS DescribeCluster, Azure diagnostic-settings list, GKE clusters.get, GCP getIamPolicy JSON or a kube-apiserver manifest".into());
    }
    Ok(rows)
}

fn manifest_row(file: &str, d: &Value) -> Row {
    let mut e = Emit::new(file);
    if iac::manifest::is_kubeadm(d) {
        iac::manifest::check_kubeadm(d, file, &mut e);
    } else {
        iac::manifest::check(d, file, &mut e);
    }
    let s = iac::manifest::setup(d).unwrap_or_default();
    let mut cats = Vec::new();
    let mut dest = Vec::new();
    if let Some(p) = &s.log_path {
        cats.push("log backend".to_string());
        dest.push(if p == "-" { "stdout".to_string() } else { p.clone() });
    }
    if let Some(w) = &s.webhook_config {
        cats.push("webhook backend".to_string());
        dest.push(format!("webhook ({w})"));
    }
    let audit = match (&s.policy_file, dest.is_empty()) {
        (None, _) => AuditState::Off,
        (Some(_), true) => AuditState::Off,
        (Some(_), false) => AuditState::On,
    };
    let dest = if dest.is_empty() { "-".to_string() } else { dest.join("; ") };
    row(file, "self-managed", s.name, audit, dest, cats, e.findings)
}
