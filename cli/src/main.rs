//! The `kaudit` command line. Each subcommand lives in its own module; this
//! file only parses arguments and dispatches.

mod coverage;
mod input;
mod normalize;
mod ruleload;
mod rules_cmd;
mod scan;
mod table;
mod vrl_cmd;

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
    /// Write the Vector VRL program (decoding + stateless rules) for a `remap` transform.
    Vrl(vrl_cmd::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Normalize(a) => normalize::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Rules(a) => rules_cmd::run(a),
        Command::Vrl(a) => vrl_cmd::run(a),
    }
}
