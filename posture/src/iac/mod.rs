//! IaC checks (`policy-and-iac.md` §6–7): is audit logging enforced where the
//! cluster is declared?
//!
//! Inputs, recognised by content (not by file name):
//! * `terraform show -json` plans — [`tfplan`], checks in [`eks`], [`aks`], [`gke`];
//! * Terraform HCL (`.tf`) without a plan — [`tfhcl`] turns resources into a plan
//!   document (literals known, everything computed unknown) for the same checks;
//! * eksctl `ClusterConfig` YAML — [`eks::eksctl`];
//! * CloudFormation templates with `AWS::EKS::Cluster` — [`eks::cloudformation`];
//! * kube-apiserver static-pod manifests and kubeadm `ClusterConfiguration`
//!   (`apiServer.extraArgs` / `extraVolumes`) — [`manifest`].
//!
//! Every check yields one [`Finding`] per resource: PASS, FAIL, WARN, INFO,
//! UNKNOWN (a decisive value is unknown at plan time — never guessed) or N/A.

pub mod aks;
pub mod doc;
pub mod eks;
pub mod gke;
pub mod manifest;
pub mod tfhcl;
pub mod tfplan;

use serde_json::Value;

use crate::compliance;
use crate::finding::{Finding, Verdict};

/// What kind of input a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    TerraformPlan,
    TerraformHcl,
    Eksctl,
    CloudFormation,
    ApiserverManifest,
    KubeadmConfig,
}

impl InputKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::TerraformPlan => "terraform-plan",
            InputKind::TerraformHcl => "terraform-hcl",
            InputKind::Eksctl => "eksctl",
            InputKind::CloudFormation => "cloudformation",
            InputKind::ApiserverManifest => "kube-apiserver-manifest",
            InputKind::KubeadmConfig => "kubeadm-cluster-configuration",
        }
    }
}

/// Tunables of the checks.
#[derive(Debug, Clone)]
pub struct Options {
    /// IAC-EKS-04: the least acceptable CloudWatch retention, in days.
    pub min_retention_days: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { min_retention_days: 90 }
    }
}

/// Parse `src` (JSON or YAML) into documents.
pub fn parse_docs(src: &str) -> Result<Vec<Value>, String> {
    let t = src.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('[') {
        serde_json::from_str(t).map(|v| vec![v]).map_err(|e| format!("invalid JSON: {e}"))
    } else {
        doc::yaml_docs(src).map_err(|e| format!("invalid YAML: {e}"))
    }
}

/// Recognise the kind of one document.
pub fn detect(doc: &Value) -> Option<InputKind> {
    if tfplan::is_plan(doc) {
        return Some(InputKind::TerraformPlan);
    }
    let kind = doc.get("kind").and_then(Value::as_str).unwrap_or("");
    let api = doc.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if kind == "ClusterConfig" && api.starts_with("eksctl.io/") {
        return Some(InputKind::Eksctl);
    }
    if manifest::is_kubeadm(doc) {
        return Some(InputKind::KubeadmConfig);
    }
    if kind == "Pod" && manifest::apiserver_container(doc).is_some() {
        return Some(InputKind::ApiserverManifest);
    }
    if doc.get("Resources").and_then(Value::as_object).is_some_and(|r| r.values().any(|x| x.get("Type").is_some())) {
        return Some(InputKind::CloudFormation);
    }
    None
}

/// Run every applicable check on one file. `file` is the name as the user gave it.
pub fn check(file: &str, src: &str, opts: &Options) -> Result<Vec<Finding>, String> {
    let mut out = Emit::new(file);
    if file.ends_with(".tf") || tfhcl::looks_like_hcl(src) {
        let doc = tfhcl::to_plan(src)?;
        plan_checks(&doc, opts, &mut out)?;
        return Ok(out.findings);
    }
    let docs = parse_docs(src)?;
    let mut recognised = 0;
    for (i, d) in docs.iter().enumerate() {
        if d.is_null() {
            continue;
        }
        let Some(kind) = detect(d) else { continue };
        recognised += 1;
        match kind {
            InputKind::TerraformPlan | InputKind::TerraformHcl => plan_checks(d, opts, &mut out)?,
            InputKind::Eksctl => eks::eksctl(d, &mut out),
            InputKind::CloudFormation => eks::cloudformation(d, &mut out),
            InputKind::ApiserverManifest | InputKind::KubeadmConfig => {
                let res = if docs.len() > 1 { format!("{file}#{i}") } else { file.to_string() };
                if kind == InputKind::KubeadmConfig {
                    manifest::check_kubeadm(d, &res, &mut out)
                } else {
                    manifest::check(d, &res, &mut out)
                }
            }
        }
    }
    if recognised == 0 {
        return Err("not a recognised input: expected a `terraform show -json` plan, an eksctl ClusterConfig, a CloudFormation template, a kube-apiserver static-pod manifest or a kubeadm ClusterConfiguration".into());
    }
    Ok(out.findings)
}

fn plan_checks(doc: &Value, opts: &Options, out: &mut Emit) -> Result<(), String> {
    let plan = tfplan::Plan::parse(doc)?;
    eks::terraform(&plan, opts, out);
    aks::terraform(&plan, out);
    gke::terraform(&plan, out);
    Ok(())
}

/// Collects findings of one file.
pub struct Emit {
    pub file: String,
    pub findings: Vec<Finding>,
}

impl Emit {
    pub fn new(file: &str) -> Self {
        Emit { file: file.to_string(), findings: Vec::new() }
    }

    /// Add one result. `fix` is dropped for PASS and N/A.
    pub fn push(
        &mut self,
        check: &str,
        verdict: Verdict,
        resource: &str,
        path: &str,
        message: impl Into<String>,
        fix: &str,
    ) {
        let fix = match verdict {
            Verdict::Pass | Verdict::NotApplicable => String::new(),
            _ => fix.to_string(),
        };
        self.findings.push(Finding {
            check: check.to_string(),
            verdict,
            severity: compliance::severity(check),
            file: self.file.clone(),
            resource: resource.to_string(),
            path: path.to_string(),
            message: message.into(),
            fix,
        });
    }
}
