//! Effective audit policies of managed clusters (policy-and-iac.md §3).
//!
//! On EKS, AKS and GKE the audit policy is not user-configurable; kaudit
//! models the provider's *effective* policy and runs the same checks on it,
//! so a user learns what the provider does not record:
//!
//! * `gke`, `eks` — the GCE/kube-up policy of kubernetes/kubernetes
//!   `cluster/gce/gci/configure-helper.sh` (`create-master-audit-policy`,
//!   commit b574b11f; the GKE docs name this script as the source of the GKE
//!   policy). `eks` adds, first, a RequestResponse rule for writes of
//!   `kube-system/aws-auth` (per the reference; EKS's copy may lag —
//!   **unverified**).
//! * `gke-no-data-access` — GKE without Data Access audit logs: every
//!   get/list/watch is lost (modelled as a first `None` rule for those verbs).
//! * `aks-admin` — the AKS `kube-audit-admin` diagnostic category: `kube-audit`
//!   without get and list. AKS's own policy levels are undocumented; kaudit
//!   models what is exported at `Metadata` (a lower bound — **unverified**).

use super::parse::parse;
use super::Policy;

const GCE: &str = include_str!("profiles/gce.yaml");

const EKS_AWS_AUTH: &str = "  # kaudit profile `eks`: writes of kube-system/aws-auth with bodies (unverified).
  - level: RequestResponse
    verbs: [\"create\", \"update\", \"patch\", \"delete\"]
    namespaces: [\"kube-system\"]
    resources:
      - group: \"\"
        resources: [\"configmaps\"]
        resourceNames: [\"aws-auth\"]
";

const DROP_READS: &str = "  # kaudit profile: reads are not exported.
  - level: None
    verbs: [\"get\", \"list\", \"watch\"]
";

const AKS_ADMIN: &str = "# kaudit model of the AKS kube-audit-admin category: kube-audit without get and list.
# AKS's own policy is undocumented; what is exported is modelled at Metadata (unverified).
apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: None
    verbs: [\"get\", \"list\"]
  - level: Metadata
";

/// The profile names.
pub const NAMES: &[&str] = &["gke", "gke-no-data-access", "eks", "aks-admin"];

/// Insert `rules` text as the first rules of the GCE policy.
fn gce_with_first(rules: &str) -> String {
    GCE.replacen("rules:\n", &format!("rules:\n{rules}"), 1)
}

/// The policy text of a profile.
pub fn text(name: &str) -> Option<String> {
    Some(match name {
        "gke" => GCE.to_string(),
        "gke-no-data-access" => gce_with_first(DROP_READS),
        "eks" => gce_with_first(EKS_AWS_AUTH),
        "aks-admin" => AKS_ADMIN.to_string(),
        _ => return None,
    })
}

/// The parsed policy of a profile.
pub fn policy(name: &str) -> Option<Policy> {
    text(name).and_then(|t| parse(&t).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_parses_and_validates() {
        for n in NAMES {
            let p = policy(n).unwrap_or_else(|| panic!("{n}"));
            assert!(super::super::validate::validate(&p).is_empty(), "{n}");
        }
        assert_eq!(policy("eks").map(|p| p.rules.len()), policy("gke").map(|p| p.rules.len() + 1));
        assert!(text("nope").is_none());
    }
}
