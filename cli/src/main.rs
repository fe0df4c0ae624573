//! The `kaudit` command line. Each subcommand lives in its own module; this
//! file only parses arguments and dispatches.

mod input;
mod normalize;

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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Normalize(a) => normalize::run(a),
    }
}
