//! Every check id (catalog, reference, emitted) and every built-in detection rule has controls.

mod common;

use std::collections::BTreeSet;

use common::{files, fixtures, rel};
use kaudit_posture::compliance::{self, CATALOG};
use kaudit_posture::iac::{self, Options};
use kaudit_posture::inventory;

/// Check ids of policy-and-iac.md §5.2 (AP-*), §6, §7.4 (IAC-*, CIS-*) and §8 (INV-*).
const REFERENCE_IDS: &[&str] = &[
    "AP-V01",
    "AP-V02",
    "AP-S01",
    "AP-S02",
    "AP-S03",
    "AP-S04",
    "AP-C01",
    "AP-C02",
    "AP-C03",
    "AP-C04",
    "AP-Q01",
    "AP-Q02",
    "AP-Q03",
    "AP-N01",
    "AP-N02",
    "AP-N03",
    "AP-D01",
    "IAC-EKS-01",
    "IAC-EKS-02",
    "IAC-EKS-03",
    "IAC-EKS-04",
    "IAC-EKS-05",
    "IAC-AKS-01",
    "IAC-AKS-02",
    "IAC-AKS-03",
    "IAC-AKS-04",
    "IAC-AKS-05",
    "IAC-GKE-01",
    "IAC-GKE-02",
    "IAC-GKE-03",
    "IAC-GKE-04",
    "CIS-1.2.16",
    "CIS-1.2.17",
    "CIS-1.2.18",
    "CIS-1.2.19",
    "CIS-3.2.1",
    "IAC-K8S-MOUNT",
    "INV-EKS-AUDIT",
    "INV-EKS-ALL5",
    "INV-AKS-AUDIT",
    "INV-AKS-GUARD",
    "INV-GKE-CLUSTER-LOGGING",
    "INV-GKE-DATA-ACCESS",
];

fn complete(id: &str) {
    let c = compliance::for_check(id).unwrap_or_else(|| panic!("{id} has no compliance mapping"));
    assert!(!c.nist.is_empty() && !c.iso27001_2013.is_empty() && !c.iso27001_2022.is_empty(), "{id}: {c:?}");
}

#[test]
fn every_reference_and_catalog_id_is_mapped() {
    for id in REFERENCE_IDS {
        complete(id);
    }
    let ids: BTreeSet<&str> = CATALOG.iter().map(|c| c.id).collect();
    assert_eq!(ids.len(), CATALOG.len(), "duplicate catalog ids");
    for c in CATALOG {
        complete(c.id);
        assert!(REFERENCE_IDS.contains(&c.id), "{} is not a reference id", c.id);
    }
}

#[test]
fn every_emitted_check_id_is_mapped() {
    let mut seen = BTreeSet::new();
    for dir in ["synthetic", "upstream", "kaudit-synthetic", "inventory"] {
        for p in files(dir) {
            let r = rel(&p);
            let src = std::fs::read_to_string(fixtures().join(&r)).unwrap();
            if let Ok(f) = iac::check(&r, &src, &Options::default()) {
                seen.extend(f.into_iter().map(|f| f.check));
            }
            if let Ok(rows) = inventory::read(&r, &src) {
                seen.extend(rows.into_iter().flat_map(|r| r.findings).map(|f| f.check));
            }
        }
    }
    // Every non-policy check of the catalog is exercised by some fixture.
    for c in CATALOG.iter().filter(|c| !c.id.starts_with("AP-")) {
        assert!(seen.contains(c.id), "{} is never emitted by a fixture", c.id);
    }
    for id in &seen {
        complete(id);
    }
}

/// §10 rows, spot-checked.
#[test]
fn reference_rows() {
    let c = compliance::for_check("IAC-EKS-01").unwrap();
    assert_eq!(
        (c.nist.clone(), c.iso27001_2013.clone(), c.iso27001_2022.clone()),
        (vec!["AU-2", "AU-12"], vec!["A.12.4.1"], vec!["8.15"])
    );
    assert!(c.cis.contains(&"CIS EKS 2.1.1") && c.stig.contains(&"V-242461"));
    let c = compliance::for_check("AP-C04").unwrap();
    assert!(
        c.nist.contains(&"AC-6(9)") && c.iso27001_2013.contains(&"A.12.4.3") && c.cis.contains(&"CIS Kubernetes 3.2.2")
    );
    let c = compliance::for_check("CIS-1.2.17").unwrap();
    assert_eq!(c.nist, vec!["AU-4", "AU-11"]);
    assert!(c.stig.contains(&"V-242462"));
    let c = compliance::for_check("AP-S02").unwrap();
    assert!(c.nist.contains(&"AU-9") && c.iso27001_2013 == vec!["A.12.4.2"]);
}

/// Every built-in detection rule maps to NIST and ISO controls (AU-6 review at least); the
/// privileged-function and audit-protection refinements come from tags and ids.
#[test]
fn every_builtin_rule_is_mapped() {
    let rs = kaudit_core::rules::RuleSet::builtin();
    assert!(rs.rules().len() >= 80);
    for r in rs.rules() {
        let c = compliance::for_rule(&r.id, &r.tags);
        assert!(
            c.nist.contains(&"AU-6") && !c.iso27001_2013.is_empty() && c.iso27001_2022.contains(&"8.16"),
            "{}",
            r.id
        );
    }
    let find = |id: &str| rs.rules().iter().find(|r| r.id == id).unwrap_or_else(|| panic!("no rule {id}"));
    let r = find("rbac-role-with-wildcard-created");
    let c = compliance::for_rule(&r.id, &r.tags);
    assert!(c.nist.contains(&"AC-6(9)") && c.cis.contains(&"CIS Kubernetes 1.10 5.1.3"), "{c:?}");
    let r = find("secret-read-by-user");
    assert!(compliance::for_rule(&r.id, &r.tags).cis.contains(&"CIS Kubernetes 1.10 5.1.2"));
    let r = find("kubernetes-events-deleted");
    assert!(compliance::for_rule(&r.id, &r.tags).nist.contains(&"AU-9"));
}
