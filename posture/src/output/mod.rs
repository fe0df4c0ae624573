//! Encoders over `&[Finding]` for every posture command (policy lint, IaC,
//! inventory): a text table, JSON, SARIF 2.1.0 and OCSF Compliance Finding
//! (class 2003). Pure functions: the caller supplies tool version and time.

mod json;
mod ocsf;
mod sarif;
mod table;

pub use json::{finding_json, json};
pub use ocsf::{ocsf, ocsf_one, OCSF_VERSION};
pub use sarif::{sarif, SARIF_SCHEMA};
pub use table::table;

use crate::compliance::{self, Controls};
use crate::finding::{Finding, Verdict};

/// Output formats of the posture commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Sarif,
    Ocsf,
}

impl Format {
    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "table" => Some(Format::Table),
            "json" => Some(Format::Json),
            "sarif" => Some(Format::Sarif),
            "ocsf" => Some(Format::Ocsf),
            _ => None,
        }
    }
}

/// Who produced the findings (SARIF `tool.driver`, OCSF `metadata.product`).
#[derive(Debug, Clone)]
pub struct Producer<'a> {
    pub name: &'a str,
    pub version: &'a str,
}

/// Encode `findings` in `format`. `time_ms` is the OCSF event time (ms since epoch).
pub fn render(format: Format, findings: &[Finding], producer: &Producer<'_>, time_ms: i64) -> String {
    match format {
        Format::Table => table(findings),
        Format::Json => pretty(&json(findings)),
        Format::Sarif => pretty(&sarif(findings, producer)),
        Format::Ocsf => {
            let mut s = String::new();
            for f in findings {
                s.push_str(&ocsf_one(f, producer, time_ms).to_string());
                s.push('\n');
            }
            s
        }
    }
}

fn pretty(v: &serde_json::Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

/// Whether any finding fails (exit code 1 for CI gates).
pub fn has_fail(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.verdict == Verdict::Fail)
}

/// Controls of a finding's check (empty for an id outside the catalog).
pub fn controls(f: &Finding) -> Controls {
    compliance::for_check(&f.check).unwrap_or_default()
}
