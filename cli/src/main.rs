//! The `kaudit` command line. Each subcommand lives in its own module; this
//! file only parses arguments and dispatches.

mod chart;
mod coverage;
mod filter;
mod formats;
mod gen;
mod iac_cmd;
mod input;
mod inventory_cmd;
mod normalize;
mod parallel;
mod policy_cmd;
mod progress;
mod report;
mod ruleload;
mod rules_cmd;
mod scan;
mod serve;
mod sidecar;
mod stream;
mod summary;
mod table;
mod timeline;
mod validate;
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
    /// Audit policy: simulate requests through it, lint it (AP-* checks).
    Policy(policy_cmd::Args),
    /// One actor's actions in time order, with the rules that fired.
    Timeline(timeline::Args),
    /// IaC checks: is audit logging enforced in Terraform plans, eksctl, CloudFormation, kube-apiserver manifests?
    Iac(iac_cmd::Args),
    /// Which clusters log audit events, where to: from saved cloud API outputs and manifests.
    Inventory(inventory_cmd::Args),
    /// Sidecar: NDJSON on stdin, annotated NDJSON on stdout, flushed per line (Vector `exec`).
    Stream(stream::Args),
    /// Sidecar: NDJSON over TCP in, annotated NDJSON over TCP out (Vector `socket` sink/source).
    Serve(serve::Args),
    /// Log health per cluster and source: gaps, stage pairing, latency, skew, structure, coverage.
    Validate(validate::Args),
    /// Write a synthetic, reproducible audit-log corpus (any source shape, several clusters).
    Gen(gen::Args),
    /// Write the Vector VRL program (decoding + stateless rules) for a `remap` transform.
    Vrl(vrl_cmd::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Commands that print reports end quietly when the reader of their output
    // goes away (`kaudit rules list | head`), as Unix tools do. normalize and
    // scan stop on a closed pipe themselves; the sidecars must survive a
    // closed peer, so they keep Rust's default (SIGPIPE ignored).
    if matches!(
        cli.command,
        Command::Rules(_)
            | Command::Policy(_)
            | Command::Timeline(_)
            | Command::Iac(_)
            | Command::Inventory(_)
            | Command::Validate(_)
            | Command::Vrl(_)
    ) {
        default_sigpipe();
    }
    match cli.command {
        Command::Normalize(a) => normalize::run(a),
        Command::Scan(a) => scan::run(a),
        Command::Rules(a) => rules_cmd::run(a),
        Command::Policy(a) => policy_cmd::run(a),
        Command::Timeline(a) => timeline::run(a),
        Command::Iac(a) => iac_cmd::run(a),
        Command::Inventory(a) => inventory_cmd::run(a),
        Command::Stream(a) => stream::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Validate(a) => validate::run(a),
        Command::Gen(a) => gen::run(a),
        Command::Vrl(a) => vrl_cmd::run(a),
    }
}

#[cfg(unix)]
fn default_sigpipe() {
    // SAFETY: called once at start-up, before any thread is spawned;
    // SIG_DFL is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn default_sigpipe() {}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
