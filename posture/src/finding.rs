//! The one result type of every posture check (policy lint, IaC, inventory).
//! Output encoders (table, JSON, SARIF, OCSF Compliance Finding) read only this.

/// Verdict of one check on one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    Pass,
    Fail,
    Warn,
    Info,
    /// The value is not known (e.g. Terraform "known after apply").
    Unknown,
    /// The check does not apply to this resource.
    NotApplicable,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Warn => "WARN",
            Verdict::Info => "INFO",
            Verdict::Unknown => "UNKNOWN",
            Verdict::NotApplicable => "N/A",
        }
    }
}

/// Severity of a check: the same scale as detection rules.
pub use kaudit_core::rules::Severity;

/// One check's result on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Check id from policy-and-iac.md: `AP-…`, `IAC-EKS-01`, …
    pub check: String,
    pub verdict: Verdict,
    pub severity: Severity,
    /// The input file as the user named it.
    pub file: String,
    /// Terraform address, Kubernetes object, or the file for YAML inputs;
    /// for policy lint, `rules[N]` (or the file when no rule is the cause).
    pub resource: String,
    /// Attribute path inside the resource (`enabled_cluster_log_types`,
    /// `rules[3].resources[0].group`), empty when not applicable.
    pub path: String,
    pub message: String,
    /// How to fix it; empty for PASS.
    pub fix: String,
}
