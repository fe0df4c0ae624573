//! `inventory` on every inventory fixture (and the manifests): rows and INV-* results, incl.
//! multi-entry EKS `clusterLogging` (every entry read, not just the first).

mod common;

use common::{compare, files, fixtures, lines, rel};
use kaudit_posture::finding::Verdict;
use kaudit_posture::inventory::{self, AuditState, Row};

fn read(rel_path: &str) -> Vec<Row> {
    let src = std::fs::read_to_string(fixtures().join(rel_path)).unwrap();
    inventory::read(rel_path, &src).unwrap_or_else(|e| panic!("{rel_path}: {e}"))
}

fn render(rows: &[Row]) -> String {
    let mut s = String::new();
    for r in rows {
        s.push_str(&format!(
            "ROW\t{}\t{}\taudit={}\t{}\tcategories={}\n",
            r.provider,
            r.name,
            r.audit.as_str(),
            r.verdict.as_str(),
            r.categories.join(",")
        ));
        s.push_str(&lines(&r.findings));
    }
    s
}

fn inputs() -> Vec<String> {
    let mut v: Vec<String> = files("inventory").iter().map(|p| rel(p)).collect();
    v.extend(files("kaudit-synthetic").iter().map(|p| rel(p)).filter(|r| r.starts_with("kaudit-synthetic/inv-")));
    v.extend(
        [
            "synthetic/kube-apiserver-manifest-pass.yaml",
            "synthetic/kube-apiserver-manifest-fail.yaml",
            "kaudit-synthetic/kubeadm-config.yaml",
        ]
        .map(String::from),
    );
    v
}

#[test]
fn every_inventory_fixture_matches_expected() {
    let mut errors = Vec::new();
    let all = inputs();
    assert!(all.len() >= 16, "{all:?}");
    for r in &all {
        let rows = read(r);
        assert_eq!(rows.len(), 1, "{r}");
        if let Err(e) = compare(&format!("inventory/{}.txt", r.replace('/', "__")), &render(&rows)) {
            errors.push(e);
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// What each fixture's description says it expects (audit state and INV verdicts).
#[test]
fn results_stated_by_the_fixtures() {
    use AuditState::*;
    use Verdict::*;
    // (file, quote from the fixture, audit state, check, verdict)
    let cases: &[(&str, &str, AuditState, &str, Verdict)] = &[
        (
            "inventory/aks-diagnostic-settings-list-empty.json",
            "Expected INV-AKS audit=DISABLED",
            Off,
            "INV-AKS-AUDIT",
            Fail,
        ),
        // kube-audit-admin only: exported (PASS), recorded as "partial" (get/list/watch absent).
        (
            "inventory/aks-diagnostic-settings-list.json",
            "Expected INV-AKS audit=ENABLED (kube-audit-admin)",
            Partial,
            "INV-AKS-AUDIT",
            Pass,
        ),
        ("inventory/aks-diagnostic-settings-list.json", "guard=ENABLED", Partial, "INV-AKS-GUARD", Pass),
        (
            "inventory/eks-describe-cluster-all-disabled.json",
            "Expected INV-EKS audit=DISABLED",
            Off,
            "INV-EKS-AUDIT",
            Fail,
        ),
        (
            "inventory/eks-describe-cluster-audit-enabled.json",
            "Expected INV-EKS audit=ENABLED, all5=false",
            On,
            "INV-EKS-AUDIT",
            Pass,
        ),
        ("inventory/eks-describe-cluster-audit-enabled.json", "all5=false", On, "INV-EKS-ALL5", Warn),
        (
            "inventory/eks-describe-cluster-disabled-entry-first.json",
            "Expected INV-EKS audit=ENABLED",
            On,
            "INV-EKS-AUDIT",
            Pass,
        ),
        (
            "inventory/gcp-project-get-iam-policy.json",
            "Expected INV-GKE data_access=ENABLED_WITH_EXEMPTIONS",
            Partial,
            "INV-GKE-DATA-ACCESS",
            Warn,
        ),
        (
            "inventory/gke-get-cluster-logging-disabled.json",
            "Expected INV-GKE cluster_logging=DISABLED",
            On,
            "INV-GKE-CLUSTER-LOGGING",
            Fail,
        ),
        (
            "inventory/gke-get-cluster.json",
            "Expected INV-GKE cluster_logging=ENABLED",
            On,
            "INV-GKE-CLUSTER-LOGGING",
            Pass,
        ),
        // kubescape's own test names: fail1 = everything disabled; fail2 = audit on but not all five
        // (kubescape wants all five); pass1 = all five.
        (
            "inventory/kubescape-k8s-audit-logs-enabled-cloud-eks-fail1.json",
            "\"Enabled\": false",
            Off,
            "INV-EKS-AUDIT",
            Fail,
        ),
        ("inventory/kubescape-k8s-audit-logs-enabled-cloud-eks-fail2.json", "\"scheduler\"", On, "INV-EKS-ALL5", Warn),
        ("inventory/kubescape-k8s-audit-logs-enabled-cloud-eks-fail2.json", "\"audit\"", On, "INV-EKS-AUDIT", Pass),
        (
            "inventory/kubescape-k8s-audit-logs-enabled-cloud-eks-pass1.json",
            "\"controllerManager\"",
            On,
            "INV-EKS-ALL5",
            Pass,
        ),
        (
            "kaudit-synthetic/inv-eks-audit-disabled-and-enabled.json",
            "Expected INV-EKS-AUDIT PASS",
            On,
            "INV-EKS-AUDIT",
            Pass,
        ),
        (
            "kaudit-synthetic/inv-eks-audit-only-in-disabled-second.json",
            "Expected INV-EKS-AUDIT FAIL",
            Off,
            "INV-EKS-AUDIT",
            Fail,
        ),
        ("kaudit-synthetic/inv-aks-alllogs-eventhub.json", "Expected INV-AKS-AUDIT PASS", On, "INV-AKS-AUDIT", Pass),
        ("kaudit-synthetic/inv-aks-alllogs-eventhub.json", "INV-AKS-GUARD PASS", On, "INV-AKS-GUARD", Pass),
    ];
    let mut errors = Vec::new();
    for (file, quote, state, check, v) in cases {
        let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
        if !text.contains(quote) {
            errors.push(format!("{file}: the fixture does not say {quote:?}"));
            continue;
        }
        let rows = read(file);
        let r = &rows[0];
        if r.audit != *state {
            errors.push(format!("{file}: audit {} want {}", r.audit.as_str(), state.as_str()));
        }
        if !r.findings.iter().any(|f| f.check == *check && f.verdict == *v) {
            errors.push(format!("{file}: want {check} {}; got\n{}", v.as_str(), lines(&r.findings)));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// Prowler's bug: the first entry is disabled; the enabled one comes second.
#[test]
fn multi_entry_eks_reads_every_entry() {
    let r = &read("inventory/eks-describe-cluster-disabled-entry-first.json")[0];
    assert_eq!((r.provider, r.name.as_str(), r.audit), ("EKS", "payments", AuditState::On));
    let f = r.findings.iter().find(|f| f.check == "INV-EKS-AUDIT").unwrap();
    assert_eq!(f.path, "logging.clusterLogging[1]");
    assert!(r.destination.contains("/aws/eks/payments/cluster"));
}

#[test]
fn unrecognised_inventory_input_is_an_error() {
    let e = inventory::read("x.json", "{\"foo\": 1}").unwrap_err();
    assert!(e.contains("not a recognised inventory input"), "{e}");
}
