//! Exactly what `benches/benches/normalize.rs` times for `normalize/k8s`, in a
//! plain loop, for profilers (`valgrind --tool=cachegrind`, callgrind) and
//! quick A/B timings:
//! `cargo build --release -p kaudit-benches --example normalize_loop`, then
//! `target/release/examples/normalize_loop [MB] [PASSES] [FLUSH_BYTES] [validate]`.
//!
//! The corpus (default 20 MB, the bench's `k8s` stream, seed 42) is generated
//! and split into lines first; each pass feeds every line to one reused
//! `Normalizer::record` and clears its output at the end of the pass, as the
//! bench does — or, with FLUSH_BYTES > 0, whenever the output reaches that
//! size (as the CLI does with its 1 MiB writer). With `validate`, each pass
//! runs the bench's floor instead (`serde_json` validation of every line);
//! with `decode`, decoding alone (a sink that only counts events); with
//! `scan`, the `detect/scan_builtin` pass (a new `Scanner` with the built-in
//! pack each pass, events written with their detections); with `overhead`,
//! a normalize pass and a scan pass in turns (the order swapped every
//! round), printing the detection overhead by minima and by the median of
//! the per-round ratios, as the `detect` bench's `detect/overhead` does.
//! Prints the fastest and the median pass in MB/s, by wall clock and by the
//! thread's CPU time (`/proc/thread-self/schedstat`, Linux; on a loaded
//! machine the CPU time leaves out the time the thread waited for a core).

use std::hint::black_box;
use std::time::Instant;

use kaudit_core::{AuditEvent, Decoder, Normalizer, Options, Sink, Unit};

/// Counts events and writes nothing.
struct Discard(usize);

impl Sink for Discard {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        self.0 += usize::from(black_box(ev).verb.is_some());
    }
    fn skipped(&mut self, _: Unit<'_>, _: &'static str) {}
    fn error(&mut self, _: Unit<'_>, _: &kaudit_core::Error) {}
}

/// Nanoseconds this thread has run on a CPU (0 where Linux's schedstat is
/// not available).
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn arg(i: usize, default: usize) -> usize {
    std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default)
}

fn main() {
    let (mb, passes, flush) = (arg(1, 20), arg(2, 1), arg(3, 0));
    let mode = std::env::args().nth(4).unwrap_or_default();
    let corpus = kaudit_benches::vanilla_corpus(mb * 1_000_000);
    let lines: Vec<&[u8]> = corpus.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
    let dec = Decoder::default();
    let mut n = Normalizer::new(Options::default());
    let builtin = kaudit_core::rules::RuleSet::builtin();
    let scan_opts = kaudit_core::scan::ScanOptions { write_events: true, ..Default::default() };
    let mut written = 0;
    let mut times = Vec::with_capacity(passes);
    let mut cpu = Vec::with_capacity(passes);
    if mode == "overhead" {
        let mut timed = |f: &mut dyn FnMut() -> usize| {
            let t = Instant::now();
            written += f();
            t.elapsed().as_secs_f64()
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for i in 0..passes {
            let mut norm = || norm_pass(&mut n, &dec, &lines, flush);
            let mut scan = || scan_pass(&builtin, scan_opts, &dec, &lines, flush);
            if i % 2 == 0 {
                a.push(timed(&mut norm));
                b.push(timed(&mut scan));
            } else {
                b.push(timed(&mut scan));
                a.push(timed(&mut norm));
            }
        }
        let mut r: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y / x).collect();
        for v in [&mut a, &mut b, &mut r] {
            v.sort_by(f64::total_cmp);
        }
        let med = |v: &[f64]| v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
        let (a0, b0) = (a.first().copied().unwrap_or(f64::NAN), b.first().copied().unwrap_or(f64::NAN));
        eprintln!(
            "{passes} rounds: normalize min {:.2} ms, scan min {:.2} ms; overhead {:+.1} % (minima), {:+.1} % (median ratio); {written} bytes out",
            a0 * 1e3,
            b0 * 1e3,
            100.0 * (b0 / a0 - 1.0),
            100.0 * (med(&r) - 1.0)
        );
        return;
    }
    for _ in 0..passes {
        let (t, c) = (Instant::now(), cpu_ns());
        let mut done = |times: &mut Vec<f64>| {
            times.push(t.elapsed().as_secs_f64());
            cpu.push((cpu_ns() - c) as f64 / 1e9);
        };
        if mode == "decode" {
            let mut sink = Discard(0);
            for line in &lines {
                dec.decode(black_box(line), &mut sink);
            }
            written += black_box(sink.0);
            done(&mut times);
            continue;
        }
        if mode == "scan" {
            written += scan_pass(&builtin, scan_opts, &dec, &lines, flush);
            done(&mut times);
            continue;
        }
        if mode == "validate" {
            for line in &lines {
                if serde_json::from_slice::<serde::de::IgnoredAny>(black_box(line)).is_err() {
                    eprintln!("invalid JSON line");
                }
            }
            done(&mut times);
            continue;
        }
        written += norm_pass(&mut n, &dec, &lines, flush);
        done(&mut times);
    }
    times.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    let mbs = |s: f64| corpus.len() as f64 / s / 1e6;
    let t = n.stats().total();
    eprint!("{} bytes in, {written} bytes out, {} events, {} errors", corpus.len() * passes, t.events, t.errors);
    if let (Some(&best), Some(&med)) = (times.first(), times.get(times.len() / 2)) {
        eprint!("; best pass {:.1} MB/s, median {:.1} MB/s", mbs(best), mbs(med));
    }
    if let (Some(&best), Some(&med)) = (cpu.first(), cpu.get(cpu.len() / 2)) {
        eprint!("; CPU time: best {:.1} MB/s, median {:.1} MB/s", mbs(best), mbs(med));
    }
    eprintln!();
}

/// One normalize pass over `lines` (output taken every `flush` bytes when
/// non-zero, and at the end): the bytes written.
fn norm_pass(n: &mut Normalizer, dec: &Decoder, lines: &[&[u8]], flush: usize) -> usize {
    let mut written = 0;
    for line in lines {
        n.record(dec, black_box(line));
        if flush > 0 && n.output().len() >= flush {
            written += black_box(n.output()).len();
            n.clear_output();
        }
    }
    written += black_box(n.output()).len();
    n.clear_output();
    written
}

/// One scan pass (a new scanner: fresh stateful state), as `norm_pass`, but
/// with the records given in runs of 256 (`Scanner::records`), as the CLI
/// and the `detect` bench give them; with `KAUDIT_PER_RECORD` set, one at a
/// time (`Scanner::record`).
fn scan_pass(
    rules: &kaudit_core::rules::RuleSet,
    opts: kaudit_core::scan::ScanOptions,
    dec: &Decoder,
    lines: &[&[u8]],
    flush: usize,
) -> usize {
    let mut s = kaudit_core::scan::Scanner::new(rules, opts);
    let mut written = 0;
    if std::env::var_os("KAUDIT_PER_RECORD").is_none() {
        for chunk in lines.chunks(256) {
            s.records(dec, chunk.iter().map(|l| black_box(*l)));
            if flush > 0 && s.output().len() >= flush {
                written += black_box(s.output()).len();
                s.clear_output();
            }
        }
        return written + black_box(s.output()).len();
    }
    for line in lines {
        s.record(dec, black_box(line));
        if flush > 0 && s.output().len() >= flush {
            written += black_box(s.output()).len();
            s.clear_output();
        }
    }
    written + black_box(s.output()).len()
}
