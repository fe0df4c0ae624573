//! `kaudit inventory FILE...`: which clusters log audit events, where to, which
//! categories — from saved cloud API outputs and kube-apiserver manifests.
//! Exit 1 when a cluster FAILs, 2 when an input cannot be read or recognised.

use std::process::ExitCode;

use kaudit_posture::inventory::{self, Row};
use kaudit_posture::output;

use crate::table;

#[derive(clap::Args)]
pub struct Args {
    /// EKS DescribeCluster, Azure diagnostic-settings list, GKE clusters.get,
    /// GCP getIamPolicy JSON, or kube-apiserver manifest files.
    #[arg(required = true)]
    files: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

fn row_json(r: &Row) -> serde_json::Value {
    serde_json::json!({
        "file": r.file,
        "provider": r.provider,
        "name": r.name,
        "audit": r.audit.as_str(),
        "destination": r.destination,
        "categories": r.categories,
        "verdict": r.verdict.as_str(),
        "reason": r.reason,
        "checks": output::json(&r.findings),
    })
}

pub fn run(a: Args) -> ExitCode {
    let mut rows = Vec::new();
    let mut errors = 0;
    for f in &a.files {
        let res = std::fs::read_to_string(f).map_err(|e| e.to_string()).and_then(|s| inventory::read(f, &s));
        match res {
            Ok(v) => rows.extend(v),
            Err(e) => {
                eprintln!("kaudit inventory: {f}: {e}");
                errors += 1;
            }
        }
    }
    match a.format {
        Format::Json => {
            let v = serde_json::Value::Array(rows.iter().map(row_json).collect());
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
        Format::Table => {
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.provider.to_string(),
                        r.name.clone(),
                        r.audit.as_str().to_string(),
                        r.destination.clone(),
                        r.categories.join(","),
                        r.verdict.as_str().to_string(),
                        r.reason.clone(),
                        r.file.clone(),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &["PROVIDER", "NAME", "AUDIT", "DESTINATION", "CATEGORIES", "VERDICT", "REASON", "FILE"],
                    &body
                )
            );
        }
    }
    let fail = rows.iter().any(|r| output::has_fail(&r.findings));
    if errors > 0 {
        ExitCode::from(2)
    } else if fail {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
