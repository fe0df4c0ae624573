//! `kaudit scan --threads N`: one scan on several threads, with output,
//! counts and summary identical to one thread.
//!
//! * One reader thread opens the inputs (gunzipping) and frames them with
//!   the core's `Framer`, exactly as a one-thread scan does, then hands out
//!   batches of whole records (about `chunk_bytes`, 128 KiB by default, each,
//!   in input order). Every
//!   split point is therefore a record boundary the one-thread scan also
//!   has, whatever the input: NDJSON, pretty-printed or concatenated
//!   documents, gzip.
//! * Worker threads scan batches. Stateful rules (windows, sequences) need
//!   every earlier event, so a worker scans its batch assuming that no
//!   stateful rule fires in it, logging what each event asks of the
//!   stateful rules' state; the main thread applies the logs in batch order
//!   to one `Sequencer` (the only sequential engine work) and sends back
//!   where stateful rules fire. When none does (most batches: stateful rules
//!   fire rarely) the scan stands; otherwise the worker scans the batch
//!   again with those outcomes. Either way the batch's result is the one a
//!   one-thread scan gives for it.
//! * The main thread writes each batch's output, and folds its counts and
//!   summary into the totals, in batch order.
//!
//! Memory stays bounded: at most `window` batches (about 16 MiB of input)
//! are between the reader and the writer at any time.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Mutex;

use kaudit_core::rules::replay::{Fires, Sequencer, StepLog};
use kaudit_core::rules::RuleSet;
use kaudit_core::scan::{Observer, ScanOptions, Scanner};
use kaudit_core::{Decoder, Stats};

use crate::input;
use crate::progress::Progress;

/// An observer whose accounting can be split across batches and folded
/// back together in input order.
pub trait Merge {
    /// Fold in the observer of the batch that came right after.
    fn merge(&mut self, later: Self);
}

/// How to run.
pub struct Plan<'a, O: Observer> {
    pub threads: usize,
    /// Input bytes per batch.
    pub chunk_bytes: usize,
    pub set: &'a RuleSet,
    pub dec: &'a Decoder,
    pub opts: ScanOptions,
    /// Configures each batch's scanner (output format).
    pub configure: &'a (dyn Fn(&mut Scanner<'a, O>) + Sync),
    /// A fresh observer for a batch.
    pub observer: &'a (dyn Fn() -> O + Sync),
    /// SARIF: results are separated by commas across batches.
    pub comma_between_findings: bool,
}

/// What a parallel scan ended with.
pub struct Outcome<O> {
    pub stats: Stats,
    pub observer: O,
    /// Some input could not be read (reported on stderr).
    pub failed: bool,
    /// The reader of our output went away.
    pub closed: bool,
}

struct Batch {
    idx: u64,
    data: Vec<u8>,
    /// Records: range in `data`, oversize piece or not.
    frames: Vec<(Range<usize>, bool)>,
}

struct Done<O> {
    idx: u64,
    output: Vec<u8>,
    stats: Stats,
    observer: O,
    findings: u64,
}

enum Msg<O> {
    Log(u64, StepLog, SyncSender<Fires>),
    Done(Done<O>),
    /// The reader sent this many batches; `true` if an input failed.
    ReadAll(u64, bool),
}

/// Scan `paths` on `plan.threads` worker threads, writing to `out`.
pub fn scan<O: Observer + Merge + Send>(
    plan: &Plan<'_, O>,
    paths: &[String],
    out: &mut dyn Write,
    progress: &Progress,
) -> Outcome<O> {
    let threads = plan.threads.max(1);
    // Batches between the reader and the writer: enough to keep every worker
    // busy while one is slow, about 16 MiB in all.
    let window = (threads * 4).max((16 << 20) / plan.chunk_bytes.max(1)).min(1024);
    let stop = AtomicBool::new(false);
    let (batch_tx, batch_rx) = sync_channel::<Batch>(threads);
    let batch_rx = Mutex::new(batch_rx);
    let (credit_tx, credit_rx) = sync_channel::<()>(window);
    for _ in 0..window {
        let _ = credit_tx.send(());
    }
    let (msg_tx, msg_rx) = channel::<Msg<O>>();
    std::thread::scope(|s| {
        {
            let msg_tx = msg_tx.clone();
            let stop = &stop;
            s.spawn(move || read(plan, paths, progress, batch_tx, credit_rx, msg_tx, stop));
        }
        for _ in 0..threads {
            let msg_tx = msg_tx.clone();
            let (batch_rx, stop) = (&batch_rx, &stop);
            s.spawn(move || work(plan, batch_rx, msg_tx, stop));
        }
        drop(msg_tx);
        merge(plan, msg_rx, credit_tx, out, progress, &stop)
    })
}

/// The reader: frame every input into batches.
fn read<O: Observer>(
    plan: &Plan<'_, O>,
    paths: &[String],
    progress: &Progress,
    batch_tx: SyncSender<Batch>,
    credit_rx: Receiver<()>,
    msg_tx: Sender<Msg<O>>,
    stop: &AtomicBool,
) {
    let max = plan.dec.limits().max_record_bytes;
    let mut failed = false;
    let mut idx = 0u64;
    let mut batch = Batch { idx, data: Vec::new(), frames: Vec::new() };
    let send = |b: &mut Batch, idx: &mut u64| -> bool {
        if stop.load(Ordering::Relaxed) || credit_rx.recv().is_err() {
            return false;
        }
        let next = Batch { idx: *idx + 1, data: Vec::with_capacity(plan.chunk_bytes + 64 * 1024), frames: Vec::new() };
        let full = std::mem::replace(b, next);
        *idx += 1;
        batch_tx.send(full).is_ok()
    };
    for path in paths {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        progress.set_input(path);
        let res = input::open_counted(path, progress).and_then(|r| {
            input::for_each_record_while(r, max, |rec, frame| {
                let start = batch.data.len();
                batch.data.extend_from_slice(rec);
                batch.frames.push((start..batch.data.len(), frame.oversize));
                batch.data.len() < plan.chunk_bytes || send(&mut batch, &mut idx)
            })
        });
        if let Err(e) = res {
            progress.suspend(|| eprintln!("kaudit: {path}: {e}"));
            failed = true;
        }
    }
    if !batch.frames.is_empty() && !stop.load(Ordering::Relaxed) {
        send(&mut batch, &mut idx);
    }
    let _ = msg_tx.send(Msg::ReadAll(idx, failed));
}

/// A worker: scan batches until the reader is done.
fn work<O: Observer + Send>(
    plan: &Plan<'_, O>,
    batch_rx: &Mutex<Receiver<Batch>>,
    msg_tx: Sender<Msg<O>>,
    stop: &AtomicBool,
) {
    let stateful = Sequencer::needed(plan.set);
    let max = plan.dec.limits().max_record_bytes;
    loop {
        let next = match batch_rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok(b) = next else { return };
        let records = || b.frames.iter().map(|(r, oversize)| (&b.data[r.clone()], *oversize));
        let run = |fires: Option<Fires>| {
            let mut sc = Scanner::with_observer(plan.set, plan.opts, (plan.observer)());
            (plan.configure)(&mut sc);
            if stateful {
                sc.set_fires(fires.unwrap_or_default());
                sc.record_steps();
            }
            if !stop.load(Ordering::Relaxed) {
                sc.frames(plan.dec, max, records());
            }
            sc
        };
        // Optimistic: no stateful rule fires in this batch.
        let mut sc = run(None);
        if stateful {
            let (tx, rx) = sync_channel(1);
            if msg_tx.send(Msg::Log(b.idx, sc.take_step_log(), tx)).is_err() {
                return;
            }
            match rx.recv() {
                // Some do: scan again with them.
                Ok(f) if !f.is_empty() => sc = run(Some(f)),
                Ok(_) => {}
                Err(_) => return,
            }
        }
        let done = Done {
            idx: b.idx,
            output: sc.output().to_vec(),
            stats: sc.stats(),
            findings: sc.findings_written(),
            observer: std::mem::replace(sc.observer_mut(), (plan.observer)()),
        };
        if msg_tx.send(Msg::Done(done)).is_err() {
            return;
        }
    }
}

/// The main thread: sequence the stateful steps, write and fold in order.
fn merge<O: Observer + Merge>(
    plan: &Plan<'_, O>,
    msg_rx: Receiver<Msg<O>>,
    credit_tx: SyncSender<()>,
    out: &mut dyn Write,
    progress: &Progress,
    stop: &AtomicBool,
) -> Outcome<O> {
    let mut seq = Sequencer::new(plan.set, plan.opts.state);
    let (mut next_log, mut next_out) = (0u64, 0u64);
    let mut logs: BTreeMap<u64, (StepLog, SyncSender<Fires>)> = BTreeMap::new();
    let mut outs: BTreeMap<u64, Done<O>> = BTreeMap::new();
    let mut stats = Stats::default();
    let mut observer: Option<O> = None;
    let mut findings = 0u64;
    let (mut total, mut failed, mut closed) = (None, false, false);
    for msg in msg_rx {
        match msg {
            Msg::Log(idx, log, reply) => {
                logs.insert(idx, (log, reply));
                while let Some((log, reply)) = logs.remove(&next_log) {
                    let _ = reply.send(seq.run(&log));
                    next_log += 1;
                }
            }
            Msg::Done(d) => {
                outs.insert(d.idx, d);
                while let Some(d) = outs.remove(&next_out) {
                    next_out += 1;
                    if !closed {
                        if let Err(e) = write_batch(plan, &d, findings, out) {
                            closed = true;
                            stop.store(true, Ordering::Relaxed);
                            if e.kind() != io::ErrorKind::BrokenPipe {
                                progress.suspend(|| eprintln!("kaudit: writing the output: {e}"));
                                failed = true;
                            }
                        }
                    }
                    findings += d.findings;
                    stats.merge(&d.stats);
                    match &mut observer {
                        Some(o) => o.merge(d.observer),
                        None => observer = Some(d.observer),
                    }
                    progress.set_events(stats.total().events);
                    let _ = credit_tx.send(());
                }
            }
            Msg::ReadAll(n, f) => {
                total = Some(n);
                failed |= f;
            }
        }
        if total == Some(next_out) {
            break;
        }
    }
    let observer = observer.unwrap_or_else(|| (plan.observer)());
    Outcome { stats, observer, failed, closed }
}

fn write_batch<O: Observer>(
    plan: &Plan<'_, O>,
    d: &Done<O>,
    findings_before: u64,
    out: &mut dyn Write,
) -> io::Result<()> {
    if plan.comma_between_findings && findings_before > 0 && d.findings > 0 {
        out.write_all(b",")?;
    }
    out.write_all(&d.output)
}
