//! kaudit-posture: is audit logging on, and does it record what detections need?
//!
//! * [`policy`] — audit.k8s.io/v1 Policy: parse, validate (as `validation.go`),
//!   simulate (as `checker.go`), lint (the `AP-*` checks), detection ↔ policy dependency.
//! * [`iac`] — Terraform plan JSON, eksctl configs, kube-apiserver manifests
//!   (the `IAC-*` checks).
//! * [`inventory`] — saved cloud API outputs → which clusters log what, where.
//! * [`finding`] — the one result type every posture check produces, and
//!   [`compliance`] — check id → NIST / ISO / CIS ids.
//! * [`output`] — table, JSON, SARIF 2.1.0 and OCSF Compliance Finding encoders
//!   over any `&[Finding]` (policy lint, IaC, inventory).
//!
//! Like the core, this crate does no I/O: hosts pass bytes in and get values out.

pub mod compliance;
pub mod finding;
pub mod iac;
pub mod inventory;
pub mod output;
pub mod policy;
