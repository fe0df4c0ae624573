//! Write a generated corpus to stdout, for measuring the `kaudit` binary
//! (e.g. `kaudit stream` against `kaudit scan --format json`, BENCHMARKS.md).
//!
//! `cargo run --release -p kaudit-benches --example corpus -- [MB] > vanilla.ndjson`
//! writes about MB (default 100) megabytes of vanilla apiserver NDJSON: the same
//! deterministic stream (seed 42) as the criterion benches' `k8s` corpus.

use std::io::Write;

fn main() {
    let mb: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 100,
        Some(Ok(n)) => n,
        Some(Err(e)) => {
            eprintln!("corpus: MB must be a number: {e}");
            std::process::exit(2);
        }
    };
    let corpus = kaudit_benches::vanilla_corpus(mb * 1_000_000);
    if let Err(e) = std::io::stdout().lock().write_all(&corpus) {
        eprintln!("corpus: {e}");
        std::process::exit(1);
    }
}
