//! `kaudit gen`: write a synthetic, reproducible audit-log corpus (the
//! benches' generator), to test a pipeline or measure one.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kaudit_gen::{Options, Source, Stop};

#[derive(clap::Args)]
pub struct Args {
    /// Events to write (a subscription batch counts its events).
    #[arg(long, value_name = "N", required_unless_present = "bytes", conflicts_with = "bytes")]
    events: Option<u64>,
    /// Or: stop at the first whole line at or past this many bytes.
    #[arg(long, value_name = "N")]
    bytes: Option<u64>,
    /// Record shape: k8s (apiserver log backend), eks.cloudwatch, aks.diagnostic, gke.logentry, eks.subscription.
    #[arg(long, value_name = "S", default_value = "k8s", value_parser = parse_source)]
    source: Source,
    /// Seed: the same arguments always give the same bytes.
    #[arg(long, value_name = "X", default_value_t = kaudit_gen::SEED)]
    seed: u64,
    /// Clusters whose streams are interleaved in time order (named bench, bench-2, …;
    /// k8s and eks.cloudwatch records carry no cluster name).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    clusters: u16,
    /// Write to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn parse_source(s: &str) -> Result<Source, String> {
    Source::from_id(s).ok_or_else(|| {
        let ids: Vec<&str> = Source::ALL.iter().map(|s| s.id()).collect();
        format!("unknown source {s:?} (one of: {})", ids.join(", "))
    })
}

pub fn run(a: Args) -> ExitCode {
    let opts = Options { source: a.source, seed: a.seed, clusters: usize::from(a.clusters) };
    let stop = match (a.events, a.bytes) {
        (Some(n), _) => Stop::Events(n),
        (None, Some(b)) => Stop::Bytes(b),
        (None, None) => Stop::Events(0),
    };
    let res = match &a.out {
        Some(path) => std::fs::File::create(path).and_then(|f| {
            let mut w = BufWriter::with_capacity(1 << 20, f);
            kaudit_gen::write(&opts, stop, &mut w)?;
            w.flush()
        }),
        None => {
            let mut w = BufWriter::with_capacity(1 << 20, io::stdout().lock());
            kaudit_gen::write(&opts, stop, &mut w).and_then(|_| w.flush())
        }
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let to = a.out.as_ref().map_or_else(|| "stdout".to_owned(), |p| p.display().to_string());
            eprintln!("kaudit gen: {to}: {e}");
            ExitCode::FAILURE
        }
    }
}
