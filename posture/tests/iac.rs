//! `iac check` on every IaC fixture: full verdict lists (expected/iac/*.txt), the results each
//! fixture states for itself, the upstream good/bad examples, and the JSON shape.

mod common;

use common::{compare, files, fixtures, lines, rel};
use kaudit_posture::finding::{Finding, Verdict};
use kaudit_posture::iac::{self, doc, Options};
use kaudit_posture::output;

fn run(rel_path: &str) -> Result<Vec<Finding>, String> {
    let src = std::fs::read_to_string(fixtures().join(rel_path)).unwrap();
    iac::check(rel_path, &src, &Options::default())
}

fn is_iac_input(name: &str) -> bool {
    !name.ends_with(".examples.yaml") && !name.starts_with("kaudit-synthetic/inv-")
}

/// Every plan, eksctl, CloudFormation, HCL and manifest fixture has a reviewed verdict list.
#[test]
fn every_fixture_matches_expected_verdicts() {
    let mut errors = Vec::new();
    let mut n = 0;
    for dir in ["synthetic", "upstream", "kaudit-synthetic"] {
        for p in files(dir) {
            let r = rel(&p);
            if !is_iac_input(&r) {
                continue;
            }
            n += 1;
            let actual = match run(&r) {
                Ok(f) => {
                    assert!(!f.is_empty(), "{r}: no findings");
                    lines(&f)
                }
                Err(e) => format!("ERROR\t{e}\n"),
            };
            if let Err(e) = compare(&format!("iac/{}.txt", r.replace('/', "__")), &actual) {
                errors.push(e);
            }
        }
    }
    assert!(n >= 20, "only {n} fixtures found");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

fn has(f: &[Finding], check: &str, resource: &str, v: Verdict) -> bool {
    f.iter().any(|x| x.check == check && x.resource == resource && x.verdict == v)
}

/// The results each fixture states in its own description / header comment (REQ-IAC-2): the
/// quote must be in the fixture (so the expectation is the fixture's, not ours) and the result
/// must be produced.
#[test]
fn results_stated_by_the_fixtures() {
    use Verdict::*;
    let cases: &[(&str, &str, &str, &str, Verdict)] = &[
        (
            "synthetic/aks-fail-diag-wrong-categories.tfplan.json",
            "IAC-AKS-01 FAIL (disabled legacy block must not count)",
            "IAC-AKS-01",
            "azurerm_kubernetes_cluster.aks",
            Fail,
        ),
        (
            "synthetic/aks-fail-diag-wrong-categories.tfplan.json",
            "IAC-AKS-02 WARN (no guard)",
            "IAC-AKS-02",
            "azurerm_kubernetes_cluster.aks",
            Warn,
        ),
        (
            "synthetic/aks-fail-only-container-insights.tfplan.json",
            "Expected: IAC-AKS-01 FAIL.",
            "IAC-AKS-01",
            "azurerm_kubernetes_cluster.aks",
            Fail,
        ),
        (
            "synthetic/aks-pass-category-group-alllogs.tfplan.json",
            "Expected: IAC-AKS-01 PASS",
            "IAC-AKS-01",
            "azurerm_kubernetes_cluster.aks",
            Pass,
        ),
        (
            "synthetic/aks-pass-category-group-alllogs.tfplan.json",
            "IAC-AKS-03 INFO",
            "IAC-AKS-03",
            "azurerm_kubernetes_cluster.aks",
            Info,
        ),
        (
            "synthetic/aks-pass-diag-kube-audit-admin.tfplan.json",
            "Expected: IAC-AKS-01 PASS",
            "IAC-AKS-01",
            "azurerm_kubernetes_cluster.aks",
            Pass,
        ),
        (
            "synthetic/aks-pass-diag-kube-audit-admin.tfplan.json",
            "IAC-AKS-02 PASS",
            "IAC-AKS-02",
            "azurerm_kubernetes_cluster.aks",
            Pass,
        ),
        (
            "synthetic/aks-pass-diag-kube-audit-admin.tfplan.json",
            "IAC-AKS-05 WARN",
            "IAC-AKS-05",
            "azurerm_kubernetes_cluster.aks",
            Warn,
        ),
        (
            "synthetic/eks-fail-audit-missing.tfplan.json",
            "IAC-EKS-01 FAIL for both",
            "IAC-EKS-01",
            "aws_eks_cluster.dev",
            Fail,
        ),
        (
            "synthetic/eks-fail-audit-missing.tfplan.json",
            "IAC-EKS-01 FAIL for both",
            "IAC-EKS-01",
            "aws_eks_cluster.sandbox",
            Fail,
        ),
        (
            "synthetic/eks-fail-audit-missing.tfplan.json",
            "no log group => IAC-EKS-04 WARN",
            "IAC-EKS-04",
            "aws_eks_cluster.dev",
            Warn,
        ),
        (
            "synthetic/eks-fail-audit-missing.tfplan.json",
            "no log group => IAC-EKS-04 WARN",
            "IAC-EKS-04",
            "aws_eks_cluster.sandbox",
            Warn,
        ),
        (
            "synthetic/eks-pass-all-types-in-module.tfplan.json",
            "IAC-EKS-01 PASS",
            "IAC-EKS-01",
            "module.eks.aws_eks_cluster.this",
            Pass,
        ),
        (
            "synthetic/eks-pass-all-types-in-module.tfplan.json",
            "IAC-EKS-02 PASS",
            "IAC-EKS-02",
            "module.eks.aws_eks_cluster.this",
            Pass,
        ),
        (
            "synthetic/eks-pass-all-types-in-module.tfplan.json",
            "IAC-EKS-04 PASS",
            "IAC-EKS-04",
            "module.eks.aws_eks_cluster.this",
            Pass,
        ),
        (
            "synthetic/eks-unknown-log-types.tfplan.json",
            "IAC-EKS-01 UNKNOWN",
            "IAC-EKS-01",
            "aws_eks_cluster.staging",
            Unknown,
        ),
        (
            "synthetic/eks-update-disables-audit.tfplan.json",
            "IAC-EKS-01 FAIL",
            "IAC-EKS-01",
            "aws_eks_cluster.prod",
            Fail,
        ),
        (
            "synthetic/eks-update-disables-audit.tfplan.json",
            "IAC-EKS-03 FAIL",
            "IAC-EKS-03",
            "aws_eks_cluster.prod",
            Fail,
        ),
        ("synthetic/gke-fail.tfplan.json", "IAC-GKE-01 FAIL", "IAC-GKE-01", "google_container_cluster.dev", Fail),
        ("synthetic/gke-fail.tfplan.json", "IAC-GKE-02 WARN", "IAC-GKE-02", "project:acme-prod", Warn),
        (
            "synthetic/gke-fail.tfplan.json",
            "exempted_members present",
            "IAC-GKE-02",
            "google_project_iam_audit_config.storage",
            Warn,
        ),
        (
            "synthetic/gke-fail.tfplan.json",
            "IAC-GKE-03 FAIL",
            "IAC-GKE-03",
            "google_logging_project_exclusion.da",
            Fail,
        ),
        ("synthetic/gke-fail.tfplan.json", "IAC-GKE-04 WARN", "IAC-GKE-04", "project:acme-prod", Warn),
        ("synthetic/gke-pass.tfplan.json", "IAC-GKE-01 PASS", "IAC-GKE-01", "google_container_cluster.prod", Pass),
        ("synthetic/gke-pass.tfplan.json", "IAC-GKE-02 PASS", "IAC-GKE-02", "project:acme-prod", Pass),
        (
            "synthetic/gke-pass.tfplan.json",
            "IAC-GKE-03 PASS (exclusion is narrow)",
            "IAC-GKE-03",
            "google_logging_project_exclusion.leases",
            Pass,
        ),
        ("synthetic/gke-pass.tfplan.json", "IAC-GKE-04 PASS", "IAC-GKE-04", "project:acme-prod", Pass),
        (
            "synthetic/eksctl-fail.yaml",
            "IAC-EKS-05 FAIL (audit missing)",
            "IAC-EKS-05",
            "synthetic/eksctl-fail.yaml",
            Fail,
        ),
        ("synthetic/eksctl-pass.yaml", "Expected: IAC-EKS-05 PASS.", "IAC-EKS-05", "synthetic/eksctl-pass.yaml", Pass),
        (
            "synthetic/kube-apiserver-manifest-fail.yaml",
            "1.2.17 FAIL (maxage 7 < 30)",
            "CIS-1.2.17",
            "synthetic/kube-apiserver-manifest-fail.yaml",
            Fail,
        ),
        (
            "synthetic/kube-apiserver-manifest-fail.yaml",
            "1.2.18 FAIL (maxbackup 3 < 10)",
            "CIS-1.2.18",
            "synthetic/kube-apiserver-manifest-fail.yaml",
            Fail,
        ),
        (
            "synthetic/kube-apiserver-manifest-fail.yaml",
            "1.2.19 FAIL (unset)",
            "CIS-1.2.19",
            "synthetic/kube-apiserver-manifest-fail.yaml",
            Fail,
        ),
        (
            "synthetic/kube-apiserver-manifest-fail.yaml",
            "1.2.16 PASS-with-WARN",
            "CIS-1.2.16",
            "synthetic/kube-apiserver-manifest-fail.yaml",
            Warn,
        ),
        (
            "synthetic/kube-apiserver-manifest-fail.yaml",
            "mount check FAIL",
            "IAC-K8S-MOUNT",
            "synthetic/kube-apiserver-manifest-fail.yaml",
            Fail,
        ),
        (
            "synthetic/kube-apiserver-manifest-pass.yaml",
            "CIS 1.2.16-1.2.19 (kube-bench cis-1.12 ids) PASS",
            "CIS-1.2.16",
            "synthetic/kube-apiserver-manifest-pass.yaml",
            Pass,
        ),
        (
            "synthetic/kube-apiserver-manifest-pass.yaml",
            "CIS 1.2.16-1.2.19 (kube-bench cis-1.12 ids) PASS",
            "CIS-1.2.17",
            "synthetic/kube-apiserver-manifest-pass.yaml",
            Pass,
        ),
        (
            "synthetic/kube-apiserver-manifest-pass.yaml",
            "CIS 1.2.16-1.2.19 (kube-bench cis-1.12 ids) PASS",
            "CIS-1.2.18",
            "synthetic/kube-apiserver-manifest-pass.yaml",
            Pass,
        ),
        (
            "synthetic/kube-apiserver-manifest-pass.yaml",
            "CIS 1.2.16-1.2.19 (kube-bench cis-1.12 ids) PASS",
            "CIS-1.2.19",
            "synthetic/kube-apiserver-manifest-pass.yaml",
            Pass,
        ),
        (
            "synthetic/kube-apiserver-manifest-pass.yaml",
            "CIS 3.2.1 PASS",
            "CIS-3.2.1",
            "synthetic/kube-apiserver-manifest-pass.yaml",
            Pass,
        ),
        (
            "synthetic/kube-apiserver-manifest-pass.yaml",
            "policy and log\n# directory mounted from the host",
            "IAC-K8S-MOUNT",
            "synthetic/kube-apiserver-manifest-pass.yaml",
            Pass,
        ),
        // Upstream plan (checkov, Terraform 0.12, format_version 0.1): enabled_cluster_log_types null.
        (
            "upstream/checkov-runner-plan-tfplan.json",
            "\"enabled_cluster_log_types\": null",
            "IAC-EKS-01",
            "aws_eks_cluster.eks_cluster",
            Fail,
        ),
        // Checkov's CKV_AWS_37 HCL examples: CKV_AWS_37 wants all five; kaudit splits audit (01) from all five (02).
        (
            "upstream/checkov-example_EKSControlPlaneLogging-main.tf",
            "resource \"aws_eks_cluster\" \"fully_enabled\"",
            "IAC-EKS-01",
            "aws_eks_cluster.fully_enabled",
            Pass,
        ),
        (
            "upstream/checkov-example_EKSControlPlaneLogging-main.tf",
            "resource \"aws_eks_cluster\" \"fully_enabled_with_dynamic_block\"",
            "IAC-EKS-02",
            "aws_eks_cluster.fully_enabled_with_dynamic_block",
            Pass,
        ),
        (
            "upstream/checkov-example_EKSControlPlaneLogging-main.tf",
            "resource \"aws_eks_cluster\" \"partially_enabled\"",
            "IAC-EKS-01",
            "aws_eks_cluster.partially_enabled",
            Pass,
        ),
        (
            "upstream/checkov-example_EKSControlPlaneLogging-main.tf",
            "resource \"aws_eks_cluster\" \"partially_enabled\"",
            "IAC-EKS-02",
            "aws_eks_cluster.partially_enabled",
            Warn,
        ),
        (
            "upstream/checkov-example_EKSControlPlaneLogging-main.tf",
            "resource \"aws_eks_cluster\" \"not_configured\"",
            "IAC-EKS-01",
            "aws_eks_cluster.not_configured",
            Fail,
        ),
        // kaudit's own edge cases.
        (
            "kaudit-synthetic/aks-module-links.tfplan.json",
            "prod IAC-AKS-01 PASS",
            "IAC-AKS-01",
            "module.aks[\"prod\"].azurerm_kubernetes_cluster.this",
            Pass,
        ),
        (
            "kaudit-synthetic/aks-module-links.tfplan.json",
            "IAC-AKS-02 WARN (no guard)",
            "IAC-AKS-02",
            "module.aks[\"prod\"].azurerm_kubernetes_cluster.this",
            Warn,
        ),
        (
            "kaudit-synthetic/aks-module-links.tfplan.json",
            "IAC-AKS-05 PASS",
            "IAC-AKS-05",
            "module.aks[\"prod\"].azurerm_kubernetes_cluster.this",
            Pass,
        ),
        (
            "kaudit-synthetic/aks-module-links.tfplan.json",
            "legacy IAC-AKS-01 UNKNOWN",
            "IAC-AKS-01",
            "module.legacy.azurerm_kubernetes_cluster.old",
            Unknown,
        ),
        (
            "kaudit-synthetic/eks-replace-keeps-audit.tfplan.json",
            "aws_eks_cluster.a IAC-EKS-03 PASS",
            "IAC-EKS-03",
            "aws_eks_cluster.a",
            Pass,
        ),
        (
            "kaudit-synthetic/eks-replace-keeps-audit.tfplan.json",
            "aws_eks_cluster.b IAC-EKS-01 UNKNOWN",
            "IAC-EKS-01",
            "aws_eks_cluster.b",
            Unknown,
        ),
        (
            "kaudit-synthetic/eks-replace-keeps-audit.tfplan.json",
            "IAC-EKS-03 UNKNOWN",
            "IAC-EKS-03",
            "aws_eks_cluster.b",
            Unknown,
        ),
        (
            "kaudit-synthetic/kube-apiserver-webhook-only.yaml",
            "CIS-1.2.16 WARN",
            "CIS-1.2.16",
            "kaudit-synthetic/kube-apiserver-webhook-only.yaml",
            Warn,
        ),
        (
            "kaudit-synthetic/kube-apiserver-webhook-only.yaml",
            "CIS-1.2.17..19 N/A",
            "CIS-1.2.19",
            "kaudit-synthetic/kube-apiserver-webhook-only.yaml",
            NotApplicable,
        ),
        (
            "kaudit-synthetic/kube-apiserver-webhook-only.yaml",
            "IAC-K8S-MOUNT PASS",
            "IAC-K8S-MOUNT",
            "kaudit-synthetic/kube-apiserver-webhook-only.yaml",
            Pass,
        ),
        (
            "kaudit-synthetic/kube-apiserver-no-audit.yaml",
            "CIS-1.2.16 FAIL",
            "CIS-1.2.16",
            "kaudit-synthetic/kube-apiserver-no-audit.yaml",
            Fail,
        ),
        (
            "kaudit-synthetic/kube-apiserver-no-audit.yaml",
            "CIS-3.2.1 FAIL",
            "CIS-3.2.1",
            "kaudit-synthetic/kube-apiserver-no-audit.yaml",
            Fail,
        ),
        (
            "kaudit-synthetic/cloudformation-intrinsic.yaml",
            "Resources.Param IAC-EKS-01 UNKNOWN",
            "IAC-EKS-01",
            "Resources.Param",
            Unknown,
        ),
        (
            "kaudit-synthetic/cloudformation-intrinsic.yaml",
            "Resources.Partial IAC-EKS-01 PASS, IAC-EKS-02 WARN",
            "IAC-EKS-02",
            "Resources.Partial",
            Warn,
        ),
        (
            "kaudit-synthetic/gke-terraform.tf",
            "google_container_cluster.c IAC-GKE-01 FAIL",
            "IAC-GKE-01",
            "google_container_cluster.c",
            Fail,
        ),
        (
            "kaudit-synthetic/kubeadm-config.yaml",
            "CIS-1.2.18 FAIL (maxbackup 5 < 10)",
            "CIS-1.2.18",
            "kaudit-synthetic/kubeadm-config.yaml#1",
            Fail,
        ),
        (
            "kaudit-synthetic/kubeadm-config.yaml",
            "CIS-3.2.1 PASS",
            "CIS-3.2.1",
            "kaudit-synthetic/kubeadm-config.yaml#1",
            Pass,
        ),
        (
            "kaudit-synthetic/kubeadm-config.yaml",
            "IAC-K8S-MOUNT FAIL (log directory not mounted)",
            "IAC-K8S-MOUNT",
            "kaudit-synthetic/kubeadm-config.yaml#1",
            Fail,
        ),
        ("kaudit-synthetic/gke-terraform.tf", "project:p1 IAC-GKE-02 WARN", "IAC-GKE-02", "project:p1", Warn),
        (
            "kaudit-synthetic/gke-terraform.tf",
            "IAC-GKE-03 FAIL",
            "IAC-GKE-03",
            "google_logging_project_exclusion.all_k8s",
            Fail,
        ),
        ("kaudit-synthetic/gke-terraform.tf", "project:p1 IAC-GKE-04 WARN", "IAC-GKE-04", "project:p1", Warn),
    ];
    let mut errors = Vec::new();
    for (file, quote, check, resource, v) in cases {
        let text = std::fs::read_to_string(fixtures().join(file)).unwrap();
        let text = text.replace("\\\"", "\"");
        if !text.contains(quote) {
            errors.push(format!("{file}: the fixture does not say {quote:?}"));
            continue;
        }
        let f = run(file).unwrap();
        if !has(&f, check, resource, *v) {
            errors.push(format!("{file}: want {check} {} on {resource}; got:\n{}", v.as_str(), common::lines(&f)));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// REQ-IAC-1: majors other than 0 and 1 are rejected; 0.x (Terraform 0.12) and 1.x accepted.
#[test]
fn format_version_majors() {
    let e = run("kaudit-synthetic/unsupported-format-version.tfplan.json").unwrap_err();
    assert!(e.contains("unsupported format_version \"2.0\""), "{e}");
    assert!(run("upstream/checkov-runner-plan-tfplan.json").is_ok());
    assert!(run("synthetic/gke-pass.tfplan.json").is_ok());
}

/// Unrecognised input is an error naming what was expected, not an empty PASS.
#[test]
fn unrecognised_input_is_an_error() {
    let e = iac::check("x.yaml", "apiVersion: v1\nkind: ConfigMap\n", &Options::default()).unwrap_err();
    assert!(e.contains("not a recognised input"), "{e}");
    let e = iac::check("x.json", "{\"format_version\": ", &Options::default()).unwrap_err();
    assert!(e.contains("invalid JSON"), "{e}");
}

/// The upstream good/bad example files (trivy-checks): every snippet is checked. Where kaudit's
/// verdict differs from the upstream label, the comment says why.
#[test]
fn upstream_good_bad_examples() {
    use Verdict::*;
    // (file, language, good|bad, index, check, resource, verdict)
    let cases: &[(&str, &str, &str, usize, &str, &str, Verdict)] = &[
        (
            "trivy-checks-aws-eks-enable_control_plane_logging.examples.yaml",
            "terraform",
            "good",
            0,
            "IAC-EKS-01",
            "aws_eks_cluster.good_example",
            Pass,
        ),
        (
            "trivy-checks-aws-eks-enable_control_plane_logging.examples.yaml",
            "terraform",
            "good",
            0,
            "IAC-EKS-02",
            "aws_eks_cluster.good_example",
            Pass,
        ),
        (
            "trivy-checks-aws-eks-enable_control_plane_logging.examples.yaml",
            "terraform",
            "bad",
            0,
            "IAC-EKS-01",
            "aws_eks_cluster.bad_example",
            Fail,
        ),
        (
            "trivy-checks-aws-eks-enable_control_plane_logging.examples.yaml",
            "cloudformation",
            "good",
            0,
            "IAC-EKS-01",
            "Resources.GoodExample",
            Pass,
        ),
        (
            "trivy-checks-aws-eks-enable_control_plane_logging.examples.yaml",
            "cloudformation",
            "good",
            0,
            "IAC-EKS-02",
            "Resources.GoodExample",
            Pass,
        ),
        (
            "trivy-checks-aws-eks-enable_control_plane_logging.examples.yaml",
            "cloudformation",
            "bad",
            0,
            "IAC-EKS-01",
            "Resources.BadExample",
            Fail,
        ),
        // AZU-0040 "good" examples only enable oms_agent (Container Insights): no audit export, so
        // kaudit FAILs both good and bad (policy-and-iac.md §7.2, the gap kaudit owns).
        (
            "trivy-checks-azure-container-logging.examples.yaml",
            "terraform",
            "good",
            0,
            "IAC-AKS-01",
            "azurerm_kubernetes_cluster.good_example",
            Fail,
        ),
        (
            "trivy-checks-azure-container-logging.examples.yaml",
            "terraform",
            "good",
            1,
            "IAC-AKS-01",
            "azurerm_kubernetes_cluster.good_example",
            Fail,
        ),
        (
            "trivy-checks-azure-container-logging.examples.yaml",
            "terraform",
            "bad",
            0,
            "IAC-AKS-01",
            "azurerm_kubernetes_cluster.bad_example",
            Fail,
        ),
        (
            "trivy-checks-google-gke-enable_stackdriver_logging.examples.yaml",
            "terraform",
            "good",
            0,
            "IAC-GKE-01",
            "google_container_cluster.good_example",
            Pass,
        ),
        // Legacy "logging.googleapis.com": GCP-0060 fails it; kaudit warns (logging is on, legacy service).
        (
            "trivy-checks-google-gke-enable_stackdriver_logging.examples.yaml",
            "terraform",
            "bad",
            0,
            "IAC-GKE-01",
            "google_container_cluster.bad_example",
            Warn,
        ),
        (
            "trivy-checks-google-iam-configure_audit_logging.examples.yaml",
            "terraform",
            "good",
            0,
            "IAC-GKE-02",
            "project:your-project-id",
            Pass,
        ),
        // GCP-0079 accepts exemptions; kaudit WARNs on exempted_members (§7.4 IAC-GKE-02).
        (
            "trivy-checks-google-iam-configure_audit_logging.examples.yaml",
            "terraform",
            "good",
            1,
            "IAC-GKE-02",
            "google_project_iam_audit_config.config",
            Warn,
        ),
        (
            "trivy-checks-google-iam-configure_audit_logging.examples.yaml",
            "terraform",
            "bad",
            0,
            "IAC-GKE-02",
            "project:your-project-id",
            Warn,
        ),
        (
            "trivy-checks-google-iam-configure_audit_logging.examples.yaml",
            "terraform",
            "bad",
            1,
            "IAC-GKE-02",
            "project:your-project-id",
            Warn,
        ),
        (
            "trivy-checks-google-iam-configure_audit_logging.examples.yaml",
            "terraform",
            "bad",
            2,
            "IAC-GKE-02",
            "project:your-project-id",
            Warn,
        ),
    ];
    let mut errors = Vec::new();
    let mut covered = std::collections::BTreeSet::new();
    for (file, lang, kind, i, check, resource, v) in cases {
        let src = std::fs::read_to_string(fixtures().join("upstream").join(file)).unwrap();
        let d = doc::yaml_docs(&src).unwrap().remove(0);
        let snippet = d[*lang][*kind][*i].as_str().unwrap_or_else(|| panic!("{file}: no {lang}.{kind}[{i}]"));
        covered.insert((file.to_string(), lang.to_string(), kind.to_string(), *i));
        let name = if *lang == "terraform" { "example.tf" } else { "example.yaml" };
        let f = iac::check(name, snippet, &Options::default()).unwrap();
        if !has(&f, check, resource, *v) {
            errors.push(format!(
                "{file} {lang}.{kind}[{i}]: want {check} {} on {resource}; got:\n{}",
                v.as_str(),
                lines(&f)
            ));
        }
    }
    // Every snippet of every examples file is covered by at least one case.
    for p in files("upstream") {
        let r = rel(&p);
        if !r.ends_with(".examples.yaml") {
            continue;
        }
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        let d = doc::yaml_docs(&std::fs::read_to_string(&p).unwrap()).unwrap().remove(0);
        for (lang, v) in d.as_object().unwrap() {
            for kind in ["good", "bad"] {
                for i in 0..v[kind].as_array().map_or(0, Vec::len) {
                    if !covered.contains(&(name.clone(), lang.clone(), kind.to_string(), i)) {
                        errors.push(format!("{name} {lang}.{kind}[{i}] has no expected verdict"));
                    }
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// `--format json`: an array of objects with exactly the six keys plus `compliance`.
#[test]
fn json_shape() {
    let f = run("synthetic/eks-update-disables-audit.tfplan.json").unwrap();
    let v = output::json(&f);
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), f.len());
    for o in arr {
        let keys: Vec<&str> = o.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, ["check", "compliance", "file", "message", "path", "resource", "result"]);
        for k in ["file", "resource", "check", "result", "path", "message"] {
            assert!(o[k].is_string(), "{k} not a string in {o}");
        }
        assert!(["PASS", "FAIL", "WARN", "INFO", "UNKNOWN", "N/A"].contains(&o["result"].as_str().unwrap()));
        assert!(!o["compliance"]["nist_800_53"].as_array().unwrap().is_empty());
    }
    let regress = arr.iter().find(|o| o["check"] == "IAC-EKS-03").unwrap();
    assert_eq!(regress["result"], "FAIL");
    assert_eq!(regress["resource"], "aws_eks_cluster.prod");
    assert_eq!(regress["path"], "enabled_cluster_log_types");
    assert_eq!(regress["file"], "synthetic/eks-update-disables-audit.tfplan.json");
}
