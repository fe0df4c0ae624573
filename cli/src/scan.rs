//! `kaudit scan`: normalize + detect over files, directories or stdin, with
//! a forensic summary, annotated events, and an HTML report.
//!
//! Every event is evaluated by every rule; the filters (`filter.rs`) only
//! choose what is reported (summary, report, written events).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kaudit_core::rules::state::StateLimits;
use kaudit_core::rules::Detections;
use kaudit_core::rules::DEFAULT_MATCH_BUDGET;
use kaudit_core::scan::{Observer, ScanOptions, Scanner};
use kaudit_core::{AuditEvent, Decoder, Limits, Options};

use crate::filter::{Filter, FilterArgs};
use crate::formats::{self, ScanFormat as Format};
use crate::progress::{self, Progress};
use crate::summary::Summary;
use crate::{input, parallel, report, ruleload};

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
    #[command(flatten)]
    filter: FilterArgs,
    /// Also write a self-contained HTML report (summary, detections per hour, hit list) to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Hits listed in the report (the earliest ones; all are counted).
    #[arg(long, value_name = "N", default_value_t = 5000)]
    report_hits: usize,
    /// Actors shown in the summary's top list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    top: usize,
    /// Never draw the progress bar (it is drawn only when stderr is a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Largest record accepted, in bytes; longer ones pass through as errors.
    #[arg(long, default_value_t = Limits::default().max_record_bytes)]
    max_record_bytes: usize,
    /// Keys kept per stateful rule (windows, sequences); the least recently used is evicted.
    #[arg(long, default_value_t = StateLimits::default().max_keys)]
    max_state_keys: usize,
    /// Bytes one rule's text matchers (contains, icontains, glob, regex, body text) may scan per event;
    /// a rule over it is blind on that event (reason `budget`).
    #[arg(long, default_value_t = DEFAULT_MATCH_BUDGET)]
    max_match_bytes: usize,
    /// Worker threads (default: the available cores). The output, counts and summary are
    /// the same with any number.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
    /// Input bytes per batch handed to a worker thread (tests use small batches).
    #[arg(long, value_name = "BYTES", default_value_t = 128 << 10, hide = true)]
    batch_bytes: usize,
}

/// The worker threads to use: `--threads`, else the available cores.
fn threads(flag: Option<u16>) -> usize {
    flag.map(usize::from).unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Chooses the reported events and accounts them.
struct Reported<'r> {
    filter: Filter,
    summary: Option<Summary<'r>>,
}

impl<'r> parallel::Merge for Reported<'r> {
    fn merge(&mut self, later: Self) {
        if let (Some(a), Some(b)) = (&mut self.summary, later.summary) {
            a.merge(b);
        }
    }
}

impl Observer for Reported<'_> {
    fn event(&mut self, ev: &AuditEvent<'_>, det: &Detections) -> bool {
        if !self.filter.keep(ev, det) {
            return false;
        }
        if let Some(s) = &mut self.summary {
            s.add(ev, det, &self.filter);
        }
        true
    }
}

/// Whether to draw a progress bar on this process's stderr.
pub fn draw_progress(no_progress: bool) -> bool {
    progress::should_draw(io::stderr().is_terminal(), no_progress, std::env::var("TERM").ok().as_deref())
}

pub fn run(a: Args) -> ExitCode {
    let Some(set) = ruleload::load_for_detection(&a.rules, a.no_builtin) else { return ExitCode::from(2) };
    let set = set.with_match_budget(a.max_match_bytes);
    let filter = match Filter::new(&a.filter, &set) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kaudit scan: {e}");
            return ExitCode::from(2);
        }
    };
    let filters = filter.describe(&a.filter);
    let limits = Limits { max_record_bytes: a.max_record_bytes, ..Limits::default() };
    let dec = Decoder::new(limits);
    let json = a.format.writes_records();
    let opts = ScanOptions {
        blind: a.blind,
        only_hits: a.only_hits,
        write_events: json,
        normalize: Options::default(),
        state: StateLimits { max_keys: a.max_state_keys },
    };
    let summarize = !json || a.report.is_some();
    let max_hits = if a.report.is_some() { a.report_hits } else { 0 };
    let files = input::expand(&a.paths);
    let progress = Progress::new(progress::total_bytes(&files), draw_progress(a.no_progress));
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let findings = formats::findings_context(a.format);
    let _ = formats::begin(&set, a.format, &mut out);
    let observer = || Reported { filter: filter.clone(), summary: summarize.then(|| Summary::new(&set, max_hits)) };
    let (stats, reported, mut failed) = match threads(a.threads) {
        1 => {
            let mut sc = Scanner::with_observer(&set, opts, observer());
            formats::apply(&mut sc, &findings);
            let pumped = input::pump_all(&files, &dec, &mut sc, &mut out, &progress);
            progress.finish();
            match pumped {
                input::Pumped::Closed => return ExitCode::SUCCESS,
                input::Pumped::Done(failed) => {
                    let stats = sc.stats();
                    (stats, std::mem::replace(sc.observer_mut(), observer()), failed)
                }
            }
        }
        n => {
            let configure = |sc: &mut Scanner<'_, Reported<'_>>| formats::apply(sc, &findings);
            let plan = parallel::Plan {
                threads: n,
                chunk_bytes: a.batch_bytes.max(1),
                set: &set,
                dec: &dec,
                opts,
                configure: &configure,
                observer: &observer,
                comma_between_findings: a.format == Format::Sarif,
            };
            let done = parallel::scan(&plan, &files, &mut out, &progress);
            progress.finish();
            if done.closed && !done.failed {
                return ExitCode::SUCCESS;
            }
            (done.stats, done.observer, done.failed)
        }
    };
    let summary = reported.summary.as_ref();
    if let (Format::Table, Some(s)) = (a.format, summary) {
        let _ = out.write_all(s.render_text(&stats, &filters, a.top).as_bytes());
    }
    let _ = formats::end(a.format, failed, &stats, &mut out);
    let _ = out.flush();
    if let (Some(path), Some(s)) = (&a.report, summary) {
        failed |= !write_report(
            path,
            s,
            &report::Context { inputs: &files, stats: &stats, filters: &filters, top: a.top, max_hits: a.report_hits },
        );
    }
    if !json || io::stderr().is_terminal() {
        eprint!("\n{}", stats.table());
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Write the HTML report; `false` (after saying why) if it could not be.
fn write_report(path: &std::path::Path, s: &Summary<'_>, cx: &report::Context<'_>) -> bool {
    match std::fs::write(path, report::render(s, cx)) {
        Ok(()) => {
            eprintln!("kaudit scan: report written to {}", path.display());
            true
        }
        Err(e) => {
            eprintln!("kaudit scan: cannot write the report {}: {e}", path.display());
            false
        }
    }
}
