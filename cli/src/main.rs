//! The `kaudit` command line. Each subcommand lives in its own module; this
//! file only parses arguments and dispatches.

mod coverage;
mod input;
mod normalize;
mod ruleload;
mod rules_cmd;
mod scan;
mod table;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Kubernetes audit logs from every vendor, in one canonical shape.
#[derive(Parser)]
#[command(name = "kaudit", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode audit records of any vendor shape into canonical events (NDJSON).
    Normalize(normalize::Args),
    /// Normalize and run detections: a summary of hits, or annotated events.
    Scan(scan::Args),
    /// List the detection rules, run their tests, or show their fidelity matrix.
    Rules(rules_cmd::Args),
    /// Log health per cluster and source: gaps, stage pairing, latency, skew, structure, coverage.
    Validate(validate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Normalize(a) => normalize::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Rules(a) => rules_cmd::run(a),
        Command::Validate(a) => validate::run(a),
    }
}
