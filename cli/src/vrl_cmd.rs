//! `kaudit vrl`: write the Vector Remap Language program generated from the
//! rule set (built-in pack plus `--rules`) and the decoders' mapping tables.

use std::path::PathBuf;
use std::process::ExitCode;

use kaudit_core::rules::vrl;

use crate::ruleload;

#[derive(clap::Args)]
pub struct Args {
    /// Extra rule files or directories (repeatable); the built-in pack is always included.
    #[arg(long = "rules", value_name = "DIR")]
    rules: Vec<PathBuf>,
    /// List the rules the program leaves out, and why, instead of writing it.
    #[arg(long)]
    explain: bool,
    /// Write the program to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
}

pub fn run(a: Args) -> ExitCode {
    let Some(set) = ruleload::load(&a.rules, false) else { return ExitCode::from(2) };
    let prog = vrl::generate(&set);
    if a.explain {
        println!("{} rules evaluated in VRL, {} left out:", prog.included.len(), prog.left_out.len());
        for l in &prog.left_out {
            println!("{}\t{}", l.id, l.reason);
        }
        return ExitCode::SUCCESS;
    }
    match &a.output {
        Some(path) => match std::fs::write(path, &prog.text) {
            Ok(()) => {
                eprintln!(
                    "kaudit: wrote {} ({} rules, {} left out: see --explain)",
                    path.display(),
                    prog.included.len(),
                    prog.left_out.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("kaudit: {}: {e}", path.display());
                ExitCode::from(1)
            }
        },
        None => {
            print!("{}", prog.text);
            ExitCode::SUCCESS
        }
    }
}
