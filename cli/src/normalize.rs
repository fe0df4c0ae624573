//! `kaudit normalize`: any vendor shape in, canonical NDJSON out.

use std::io::{self, Write};
use std::process::ExitCode;

use kaudit_core::{Decoder, Limits, Normalizer, Options};

use crate::formats::NormalizeFormat;
use crate::input;

#[derive(clap::Args)]
pub struct Args {
    /// Input files or directories (NDJSON, JSON, gzip; directories walked
    /// as `kaudit scan` walks them); `-` or nothing reads stdin.
    paths: Vec<std::path::PathBuf>,
    /// Print records / events / skipped / errors per source to stderr.
    #[arg(long)]
    stats: bool,
    /// Also write non-audit records (other Azure categories, CloudWatch
    /// control messages, OVN lines) through, inside a skip envelope.
    #[arg(long)]
    keep_skipped: bool,
    /// Output format of each event; error and skip envelopes are the same in all.
    #[arg(long = "to", value_enum, default_value_t = NormalizeFormat::Canonical)]
    to: NormalizeFormat,
    /// Largest record accepted, in bytes; longer ones pass through as errors.
    #[arg(long, default_value_t = Limits::default().max_record_bytes)]
    max_record_bytes: usize,
}

pub fn run(args: Args) -> ExitCode {
    let limits = Limits { max_record_bytes: args.max_record_bytes, ..Limits::default() };
    let dec = Decoder::new(limits);
    let mut norm = Normalizer::with_format(Options { keep_skipped: args.keep_skipped }, args.to.encoder());
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let files = input::expand(&args.paths);
    let mut failed = match input::pump_all(&files, &dec, &mut norm, &mut out, &crate::progress::Progress::hidden()) {
        input::Pumped::Closed => return ExitCode::SUCCESS,
        input::Pumped::Done(failed) => failed,
    };
    if let Err(e) = out.flush() {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("kaudit: writing output: {e}");
            failed = true;
        }
    }
    if args.stats {
        eprint!("{}", norm.stats().table());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
