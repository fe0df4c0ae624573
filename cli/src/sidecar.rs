//! What `kaudit stream` and `kaudit serve` share: the engine flags, the
//! engine (decoder + [`Scanner`]), the counters and their JSON line, the
//! periodic stats printer, and signal handling.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use kaudit_core::frame::Frame;
use kaudit_core::normalize::Stats;
use kaudit_core::rules::state::StateLimits;
use kaudit_core::rules::RuleSet;
use kaudit_core::rules::DEFAULT_MATCH_BUDGET;
use kaudit_core::scan::{ScanOptions, Scanner};
use kaudit_core::{Decoder, Limits, Options};

/// Flags for the engine, common to `stream` and `serve`.
#[derive(clap::Args, Clone)]
pub struct EngineArgs {
    /// Rule files or directories to add to the built-in pack.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Leave the built-in pack out.
    #[arg(long)]
    pub no_builtin: bool,
    /// Add `kaudit.blind` (rules that could not be evaluated, and why).
    #[arg(long)]
    pub blind: bool,
    /// Write only events on which a rule fired (errors and skip envelopes are still written).
    #[arg(long)]
    pub only_hits: bool,
    /// Count non-audit records (other Azure categories, CloudWatch control
    /// messages) without writing them; by default they pass through in a skip envelope.
    #[arg(long)]
    pub drop_skipped: bool,
    /// Largest record accepted, in bytes; longer ones pass through as errors, in pieces.
    #[arg(long, default_value_t = Limits::default().max_record_bytes)]
    pub max_record_bytes: usize,
    /// Keys kept per stateful rule (windows, sequences); the least recently used is evicted.
    #[arg(long, default_value_t = StateLimits::default().max_keys)]
    pub max_state_keys: usize,
    /// Bytes one rule's text matchers (contains, icontains, glob, regex, body text) may scan per event;
    /// a rule over it is blind on that event (reason `budget`).
    #[arg(long, default_value_t = DEFAULT_MATCH_BUDGET)]
    pub max_match_bytes: usize,
    /// Print the counters as one JSON line on stderr every SECS seconds (0: only at exit).
    #[arg(long, value_name = "SECS", default_value_t = 0.0)]
    pub stats_interval: f64,
}

impl EngineArgs {
    /// The stats interval, if periodic stats were asked for.
    pub fn interval(&self) -> Option<Duration> {
        (self.stats_interval > 0.0).then(|| Duration::from_secs_f64(self.stats_interval))
    }
}

/// The single-threaded engine: frames in, annotated NDJSON out.
pub struct Engine<'r> {
    dec: Decoder,
    sc: Scanner<'r>,
    max: usize,
}

impl<'r> Engine<'r> {
    pub fn new(set: &'r RuleSet, a: &EngineArgs) -> Self {
        let opts = ScanOptions {
            blind: a.blind,
            only_hits: a.only_hits,
            write_events: true,
            normalize: Options { keep_skipped: !a.drop_skipped },
            state: StateLimits { max_keys: a.max_state_keys },
        };
        let limits = Limits { max_record_bytes: a.max_record_bytes, ..Limits::default() };
        Engine { dec: Decoder::new(limits), sc: Scanner::new(set, opts), max: a.max_record_bytes }
    }

    /// Scan the framed records of `buf`, in order: as one at a time would,
    /// but a few events decoded before detecting on them
    /// ([`Scanner::frames`]), which is faster.
    pub fn frames(&mut self, buf: &[u8], frames: impl IntoIterator<Item = Frame>) {
        let pieces = frames.into_iter().map(|f| (buf.get(f.range).unwrap_or_default(), f.oversize));
        self.sc.frames(&self.dec, self.max, pieces);
    }

    /// Output lines written since the last [`Engine::clear_output`].
    pub fn output(&self) -> &[u8] {
        self.sc.output()
    }

    pub fn clear_output(&mut self) {
        self.sc.clear_output();
    }

    /// The core's counters and the number of detections so far.
    pub fn snapshot(&self) -> EngineSnap {
        EngineSnap { stats: self.sc.stats(), detections: self.sc.summary().iter().map(|s| s.hits).sum() }
    }
}

/// The engine's counters at one moment (from the core's [`Stats`]).
#[derive(Clone, Debug, Default)]
pub struct EngineSnap {
    pub stats: Stats,
    pub detections: u64,
}

/// Counters kept by the I/O around the engine (all monotonic except the gauges).
#[derive(Debug, Default)]
pub struct IoCounters {
    /// Records framed from the input (accepted).
    pub records_in: AtomicU64,
    /// Output lines written (stream) or acknowledged by the downstream (serve).
    pub lines_out: AtomicU64,
    pub bytes_out: AtomicU64,
    /// Gauge: output bytes not yet known delivered.
    pub pending_bytes: AtomicU64,
    /// Gauge: open upstream connections.
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub connections_refused: AtomicU64,
    /// Downstream connections that failed after being established.
    pub reconnects: AtomicU64,
    /// Output lines given up on (downstream unreachable until the drain timeout).
    pub lines_lost: AtomicU64,
}

/// One JSON line of counters: `{"kaudit_stats":{…}}`.
pub fn stats_line(started: Instant, e: &EngineSnap, io: &IoCounters, serve: bool, last: bool) -> String {
    let t = e.stats.total();
    let ld = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let by_source: serde_json::Map<String, serde_json::Value> = e
        .stats
        .by_source
        .iter()
        .map(|(k, c)| {
            let v =
                serde_json::json!({"records": c.records, "events": c.events, "skipped": c.skipped, "errors": c.errors});
            ((*k).to_string(), v)
        })
        .collect();
    let mut m = serde_json::json!({
        "final": last,
        "uptime_s": (started.elapsed().as_millis() as f64) / 1000.0,
        "records_in": ld(&io.records_in),
        "engine_inputs": e.stats.inputs,
        "bytes_in": e.stats.bytes,
        "units": t.records,
        "events": t.events,
        "skipped": t.skipped,
        "errors": t.errors,
        "detections": e.detections,
        "records_out": ld(&io.lines_out),
        "bytes_out": ld(&io.bytes_out),
        "by_source": by_source,
    });
    if serve {
        let o = m.as_object_mut().expect("json! object literal is an object");
        o.insert("pending_bytes".into(), ld(&io.pending_bytes).into());
        o.insert("records_lost".into(), ld(&io.lines_lost).into());
        o.insert("connections_open".into(), ld(&io.connections_open).into());
        o.insert("connections_total".into(), ld(&io.connections_total).into());
        o.insert("connections_refused".into(), ld(&io.connections_refused).into());
        o.insert("downstream_reconnects".into(), ld(&io.reconnects).into());
    }
    serde_json::json!({ "kaudit_stats": m }).to_string()
}

/// Prints a stats line on stderr every `interval` (built by `line` from the
/// last published snapshot), so the line keeps coming while the engine is blocked.
pub struct Ticker {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl Ticker {
    pub fn start(interval: Duration, line: impl Fn() -> String + Send + 'static) -> Ticker {
        let (stop, rx) = mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(interval) {
                eprintln!("{}", line());
            }
        });
        Ticker { stop, handle }
    }

    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.handle.join();
    }
}

/// The last snapshot published in `slot`.
pub fn last(slot: &Mutex<EngineSnap>) -> EngineSnap {
    slot.lock().map(|g| g.clone()).unwrap_or_default()
}

/// Publish the engine's counters for the [`Ticker`] (only when one runs).
pub fn publish(slot: &Option<Arc<Mutex<EngineSnap>>>, e: &Engine<'_>) {
    if let Some(s) = slot {
        if let Ok(mut g) = s.lock() {
            *g = e.snapshot();
        }
    }
}

/// Run `on_signal` (in a thread of its own) for each SIGTERM or SIGINT.
pub fn on_signals(mut on_signal: impl FnMut(i32) + Send + 'static) -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::spawn(move || {
        for s in signals.forever() {
            on_signal(s);
        }
    });
    Ok(())
}
