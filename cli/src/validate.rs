//! `kaudit validate`: a log-health report per cluster and source — rates and
//! gaps, stage pairing, latency and skew, structure, coverage — with exit
//! code 2 when a check fails its threshold (for CI and cron).

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kaudit_core::health::{Health, HealthConfig, Report, Status, Thresholds};
use kaudit_core::{Decoder, Limits};

use crate::{input, table};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// Streams, sources and the checks that did not pass, as tables.
    Table,
    /// The whole report (every stream figure and every check) as one JSON object.
    Json,
}

fn defaults() -> (Thresholds, HealthConfig) {
    (Thresholds::default(), HealthConfig::default())
}

#[derive(clap::Args)]
pub struct Args {
    /// Files or directories (recursive; .gz is gunzipped); `-` or nothing reads stdin.
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Show every check in the table, passed and skipped ones too.
    #[arg(long)]
    all: bool,
    /// rate.gaps: longest allowed run of empty minutes.
    #[arg(long, default_value_t = defaults().0.max_gap_minutes)]
    max_gap_minutes: i64,
    /// rate.gaps: a run of empty minutes counts only if the stream's mean rate would have put this many events in it.
    #[arg(long, default_value_t = defaults().0.gap_min_expected)]
    gap_min_expected: f64,
    /// pairing.*: largest allowed share of orphan requests, orphan completions, duplicate stages.
    #[arg(long, default_value_t = defaults().0.max_unpaired_ratio)]
    max_unpaired_ratio: f64,
    /// pairing.orphan-requests: seconds before the stream's end within which a request may still complete.
    #[arg(long, default_value_t = (defaults().0.pairing_grace / 1_000_000).unsigned_abs())]
    pairing_grace: u64,
    /// latency.p95: largest allowed p95 of receive time − event time, in seconds.
    #[arg(long, default_value_t = defaults().0.max_p95_latency)]
    max_p95_latency: f64,
    /// skew.received-before-event: seconds an event time may lead its receive time.
    #[arg(long, default_value_t = defaults().0.max_skew)]
    max_skew: f64,
    /// skew.*: skewed events allowed per check.
    #[arg(long, default_value_t = defaults().0.max_skewed_events)]
    max_skewed_events: u64,
    /// structure.required-fields/event-time/unknown-values: largest allowed share of events.
    #[arg(long, default_value_t = defaults().0.max_malformed_ratio)]
    max_malformed_ratio: f64,
    /// structure.truncated: truncated events allowed.
    #[arg(long, default_value_t = defaults().0.max_truncated)]
    max_truncated: u64,
    /// structure.decode-errors: largest allowed share of undecodable units per source.
    #[arg(long, default_value_t = defaults().0.max_error_ratio)]
    max_error_ratio: f64,
    /// coverage.reads: judged only on streams with at least this many events.
    #[arg(long, default_value_t = defaults().0.min_events_for_coverage)]
    min_events_for_coverage: u64,
    /// coverage.secret-bodies: secrets events with bodies allowed.
    #[arg(long, default_value_t = defaults().0.max_secret_bodies)]
    max_secret_bodies: u64,
    /// skew.future-outliers: seconds an event must be later than both its neighbours to be an outlier.
    #[arg(long, default_value_t = (defaults().1.future_outlier / 1_000_000).unsigned_abs())]
    future_outlier: u64,
    /// Distinct minutes kept per stream for rates and gaps (oldest dropped).
    #[arg(long, default_value_t = defaults().1.max_minutes)]
    max_minutes: usize,
    /// Requests waiting for a stage kept per stream (least recently used evicted).
    #[arg(long, default_value_t = defaults().1.max_pending)]
    max_pending: usize,
    /// (cluster, source) streams analysed; events of further streams are only counted.
    #[arg(long, default_value_t = defaults().1.max_streams)]
    max_streams: usize,
    /// Largest record accepted, in bytes; longer ones count as decode errors.
    #[arg(long, default_value_t = Limits::default().max_record_bytes)]
    max_record_bytes: usize,
}

impl Args {
    fn thresholds(&self) -> Thresholds {
        Thresholds {
            max_gap_minutes: self.max_gap_minutes,
            gap_min_expected: self.gap_min_expected,
            max_unpaired_ratio: self.max_unpaired_ratio,
            pairing_grace: secs_to_micros(self.pairing_grace),
            max_p95_latency: self.max_p95_latency,
            max_skew: self.max_skew,
            max_skewed_events: self.max_skewed_events,
            max_malformed_ratio: self.max_malformed_ratio,
            max_truncated: self.max_truncated,
            max_error_ratio: self.max_error_ratio,
            min_events_for_coverage: self.min_events_for_coverage,
            max_secret_bodies: self.max_secret_bodies,
        }
    }

    fn config(&self) -> HealthConfig {
        HealthConfig {
            max_streams: self.max_streams,
            max_minutes: self.max_minutes,
            max_pending: self.max_pending,
            future_outlier: secs_to_micros(self.future_outlier),
        }
    }
}

fn secs_to_micros(s: u64) -> i64 {
    i64::try_from(s.saturating_mul(1_000_000)).unwrap_or(i64::MAX)
}

/// Feeds framed records into a [`Health`] accumulator; writes nothing.
struct HealthPump(Health);

impl input::Pump for HealthPump {
    fn record(&mut self, dec: &Decoder, rec: &[u8]) {
        dec.decode(rec, &mut self.0);
    }
    fn oversize(&mut self, _piece: &[u8], _limit: usize) {
        self.0.oversize();
    }
    fn output(&self) -> &[u8] {
        &[]
    }
    fn clear_output(&mut self) {}
    fn events(&self) -> u64 {
        self.0.sources().map(|(_, u)| u.units.events).sum()
    }
}

pub fn run(a: Args) -> ExitCode {
    let dec = Decoder::new(Limits { max_record_bytes: a.max_record_bytes, ..Limits::default() });
    let mut pump = HealthPump(Health::new(a.config()));
    let failed = match input::pump_all(
        &input::expand(&a.paths),
        &dec,
        &mut pump,
        &mut io::sink(),
        &crate::progress::Progress::hidden(),
    ) {
        input::Pumped::Closed => false,
        input::Pumped::Done(failed) => failed,
    };
    let report = pump.0.report(&a.thresholds());
    let text = match a.format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(j) => j + "\n",
            Err(e) => {
                eprintln!("kaudit: encoding the report: {e}");
                return ExitCode::FAILURE;
            }
        },
        Format::Table => render(&report, a.all),
    };
    let mut out = io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("kaudit: writing the report: {e}");
        }
    }
    if failed {
        ExitCode::FAILURE
    } else if report.status() == Status::Fail {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

/// The table form: one row per stream, one per source, then the checks.
fn render(r: &Report, all: bool) -> String {
    let mut out = String::new();
    let rows: Vec<Vec<String>> = r
        .streams
        .iter()
        .map(|s| {
            let pairing = match &s.pairing {
                None => "no stages".into(),
                Some(p) if p.request_received == 0 => {
                    format!("{} paired-only (no RequestReceived)", p.response_complete)
                }
                Some(p) => format!("{}/{} orphan req/compl", p.orphan_requests, p.orphan_completions),
            };
            let lat = s.latency.as_ref();
            vec![
                s.cluster.clone().unwrap_or_else(|| "-".into()),
                s.source.into(),
                s.events.to_string(),
                s.first.clone().unwrap_or_else(|| "-".into()),
                s.last.clone().unwrap_or_else(|| "-".into()),
                format!("{:.1}", s.rate.mean_per_minute),
                s.rate.gaps.len().to_string(),
                pairing,
                opt(lat.map(|l| l.p50_seconds)),
                opt(lat.map(|l| l.p95_seconds)),
                opt(lat.map(|l| l.max_seconds)),
            ]
        })
        .collect();
    out.push_str("streams:\n");
    out.push_str(&table::render(
        &["cluster", "source", "events", "first", "last", "ev/min", "gaps", "pairing", "p50 s", "p95 s", "max s"],
        &rows,
    ));
    let rows: Vec<Vec<String>> = r
        .sources
        .iter()
        .map(|s| {
            vec![
                s.source.into(),
                s.records.to_string(),
                s.events.to_string(),
                s.skipped.to_string(),
                s.errors.to_string(),
            ]
        })
        .collect();
    out.push_str("\nsources:\n");
    out.push_str(&table::render(&["source", "units", "events", "skipped", "errors"], &rows));
    let mut shown: Vec<&kaudit_core::health::Check> =
        r.checks.iter().filter(|c| all || matches!(c.status, Status::Fail | Status::Warn)).collect();
    shown.sort_by_key(|c| std::cmp::Reverse(c.status));
    let rows: Vec<Vec<String>> = shown
        .iter()
        .map(|c| {
            vec![
                c.status.as_str().into(),
                c.id.into(),
                c.cluster.clone().unwrap_or_else(|| "-".into()),
                c.source.into(),
                trim_num(c.value),
                format!(
                    "{} {}",
                    if c.bound == kaudit_core::health::Bound::Max { "≤" } else { "≥" },
                    trim_num(c.threshold)
                ),
                c.message.clone(),
            ]
        })
        .collect();
    let count = |s: Status| r.checks.iter().filter(|c| c.status == s).count();
    out.push_str(&format!(
        "\nchecks: {} failed, {} warned, {} passed, {} skipped\n",
        count(Status::Fail),
        count(Status::Warn),
        count(Status::Pass),
        count(Status::Skip)
    ));
    if !rows.is_empty() {
        out.push_str(&table::render(&["status", "check", "cluster", "source", "value", "threshold", "message"], &rows));
    }
    out
}

/// A number without trailing zeros (ratios, seconds, counts).
fn trim_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}
