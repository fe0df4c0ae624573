//! `kaudit iac check FILE...`: audit-logging enforcement in Terraform plans
//! (`terraform show -json`), eksctl configs, CloudFormation templates and
//! kube-apiserver static-pod manifests. Exit 1 when any check FAILs, 2 when an
//! input cannot be read or recognised.

use std::process::ExitCode;

use kaudit_posture::iac::{self, Options};
use kaudit_posture::output::{self, Format, Producer};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Check that audit logging is enabled, kept and exported (IAC-*, CIS-* checks).
    Check {
        /// Plan JSON, eksctl YAML, CloudFormation or kube-apiserver manifest files.
        #[arg(required = true)]
        files: Vec<String>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutFormat::Table)]
        format: OutFormat,
        /// IAC-EKS-04: least acceptable CloudWatch log retention in days.
        #[arg(long, default_value_t = 90)]
        min_retention_days: u64,
    },
}

/// Output formats of the posture commands.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum OutFormat {
    Table,
    Json,
    Sarif,
    Ocsf,
}

impl OutFormat {
    pub fn to_output(self) -> Format {
        match self {
            OutFormat::Table => Format::Table,
            OutFormat::Json => Format::Json,
            OutFormat::Sarif => Format::Sarif,
            OutFormat::Ocsf => Format::Ocsf,
        }
    }
}

/// Milliseconds since the epoch (OCSF `time`).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub const PRODUCER: Producer<'static> = Producer { name: "kaudit", version: env!("CARGO_PKG_VERSION") };

pub fn run(a: Args) -> ExitCode {
    let Cmd::Check { files, format, min_retention_days } = a.cmd;
    let opts = Options { min_retention_days };
    let mut findings = Vec::new();
    let mut errors = 0;
    for f in &files {
        let src = match std::fs::read_to_string(f) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("kaudit iac check: {f}: {e}");
                errors += 1;
                continue;
            }
        };
        match iac::check(f, &src, &opts) {
            Ok(v) => findings.extend(v),
            Err(e) => {
                eprintln!("kaudit iac check: {f}: {e}");
                errors += 1;
            }
        }
    }
    print!("{}", output::render(format.to_output(), &findings, &PRODUCER, now_ms()));
    if errors > 0 {
        ExitCode::from(2)
    } else if output::has_fail(&findings) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
