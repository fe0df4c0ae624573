//! `kaudit scan`: normalize + detect over files, directories or stdin, with
//! a summary table or annotated events.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kaudit_core::rules::state::StateLimits;
use kaudit_core::scan::{ScanOptions, Scanner};
use kaudit_core::{Decoder, Limits, Options};

use crate::{input, ruleload, table};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A summary table of detections (and blind rules) on stdout.
    Table,
    /// Canonical events with `kaudit.detections`, one per line.
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories (recursive; .gz is gunzipped); `-` or nothing reads stdin.
    paths: Vec<PathBuf>,
    /// Rule files or directories to add to the built-in pack.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Leave the built-in pack out.
    #[arg(long)]
    no_builtin: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// With --format json: add `kaudit.blind` (rules that could not be evaluated, and why).
    #[arg(long)]
    blind: bool,
    /// With --format json: write only events on which a rule fired (errors are always written).
    #[arg(long)]
    only_hits: bool,
    /// Largest record accepted, in bytes; longer ones pass through as errors.
    #[arg(long, default_value_t = Limits::default().max_record_bytes)]
    max_record_bytes: usize,
    /// Keys kept per stateful rule (windows, sequences); the least recently used is evicted.
    #[arg(long, default_value_t = StateLimits::default().max_keys)]
    max_state_keys: usize,
}

/// Files found by walking a directory that are surely not logs.
const NOT_LOGS: &[&str] = &["md", "py", "rs", "toml", "yaml", "yml", "sh", "html", "css", "js", "txt", "lock"];

pub(crate) fn expand(paths: &[PathBuf]) -> Vec<String> {
    fn walk(p: &std::path::Path, top: bool, out: &mut Vec<String>) {
        if p.is_dir() {
            let mut es: Vec<PathBuf> = std::fs::read_dir(p).into_iter().flatten().flatten().map(|e| e.path()).collect();
            es.sort();
            es.iter().for_each(|e| walk(e, false, out));
        } else {
            let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            // Files named on the command line are always read.
            if top || !(hidden || NOT_LOGS.contains(&ext)) {
                out.push(p.display().to_string());
            }
        }
    }
    if paths.is_empty() {
        return vec!["-".into()];
    }
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push("-".into());
        } else {
            walk(p, true, &mut out);
        }
    }
    out
}

pub fn run(a: Args) -> ExitCode {
    let Some(set) = ruleload::load(&a.rules, a.no_builtin) else { return ExitCode::from(2) };
    let limits = Limits { max_record_bytes: a.max_record_bytes, ..Limits::default() };
    let dec = Decoder::new(limits);
    let json = a.format == Format::Json;
    let opts = ScanOptions {
        blind: a.blind,
        only_hits: a.only_hits,
        write_events: json,
        normalize: Options::default(),
        state: StateLimits { max_keys: a.max_state_keys },
    };
    let mut sc = Scanner::new(&set, opts);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let failed = match input::pump_all(&expand(&a.paths), &dec, &mut sc, &mut out) {
        input::Pumped::Closed => return ExitCode::SUCCESS,
        input::Pumped::Done(failed) => failed,
    };
    if !json {
        let _ = out.write_all(summary(&set, &sc).as_bytes());
    }
    let _ = out.flush();
    if !json || io::stderr().is_terminal() {
        eprint!("\n{}", sc.stats().table());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn summary(set: &kaudit_core::rules::RuleSet, sc: &Scanner<'_>) -> String {
    let mut order: Vec<usize> = (0..set.rules().len()).filter(|&i| sc.summary()[i].hits > 0).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(set.rules()[i].severity), std::cmp::Reverse(sc.summary()[i].hits)));
    let rows: Vec<Vec<String>> = order
        .iter()
        .map(|&i| {
            let (r, s) = (&set.rules()[i], &sc.summary()[i]);
            vec![
                r.id.clone(),
                r.severity.as_str().into(),
                s.hits.to_string(),
                s.first.clone().unwrap_or_default(),
                s.last.clone().unwrap_or_default(),
                s.example_actor.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str("no detections\n");
    } else {
        out.push_str(&table::render(&["rule", "severity", "count", "first", "last", "example actor"], &rows));
    }
    let mut blind: Vec<Vec<String>> = Vec::new();
    for (i, s) in sc.summary().iter().enumerate() {
        for ((src, field), n) in &s.blind {
            blind.push(vec![set.rules()[i].id.clone(), src.to_string(), field.to_string(), n.to_string()]);
        }
    }
    if !blind.is_empty() {
        out.push_str("\nblind (the source cannot provide a field the rule needs):\n");
        out.push_str(&table::render(&["rule", "source", "missing field", "events"], &blind));
    }
    out
}
