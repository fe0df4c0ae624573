//! Cost of detection on top of normalization, and rule-count scaling.
//!
//! * `detect/normalize` vs `detect/scan_builtin`: the same vanilla corpus
//!   through `Normalizer` (decode + encode) and through `Scanner` with the
//!   whole built-in pack (decode + detect + encode with `kaudit.detections`).
//! * `rules/100` vs `rules/1000`: generated stateless rules of the shapes
//!   the pack uses (verb/resource-indexed, user and annotation tests, list
//!   membership, substring needles), evaluated on the same corpus.
//!
//! * `detect/overhead` (printed, not a criterion benchmark): the two passes
//!   above in turns, minima and the median per-round ratio, for a machine
//!   whose speed drifts between the two criterion measurements.
//!
//! Run with `cargo bench -p kaudit-benches --bench detect`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kaudit_core::rules::{Builder, Detections, Detector, RuleSet};
use kaudit_core::scan::{ScanOptions, Scanner};
use kaudit_core::{frame, AuditEvent, Decoder, Normalizer, Options, Sink};

fn corpus() -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
    let mb = std::env::var("KAUDIT_BENCH_MB").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(20);
    let bytes = kaudit_benches::vanilla_corpus(mb * 1_000_000);
    let lines = frame::records(&bytes, 1 << 30).map(|f| f.range).collect();
    (bytes, lines)
}

const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];
const RESOURCES: &[&str] = &[
    "pods",
    "secrets",
    "configmaps",
    "leases",
    "endpoints",
    "deployments",
    "nodes",
    "serviceaccounts",
    "roles",
    "clusterrolebindings",
];

/// `n` synthetic rules, deterministic.
fn generated_rules(n: usize) -> RuleSet {
    let mut src = String::from(if n == 0 { "rules: []\n" } else { "rules:\n" });
    for i in 0..n {
        let v = VERBS[i % VERBS.len()];
        let r = RESOURCES[(i / VERBS.len()) % RESOURCES.len()];
        let cond = match i % 5 {
            0 => format!("verb = {v} and objectRef.resource = {r} and user.username startswith 'user-{i}'"),
            1 => format!("verb in ({v}, get) and objectRef.resource = {r} and not authz.decision = allow"),
            2 => format!("objectRef.resource = {r} and userAgent icontains ('tool-{i}', 'scanner-{i}', 'x{i}y')"),
            3 => format!("verb = {v} and objectRef.namespace in (ns-{i}, kube-{i}) and code >= 400"),
            _ => format!(
                "verb = {v} and objectRef.resource = {r} and actor.kind = human and objectRef.name glob 'n{i}-*'"
            ),
        };
        src.push_str(&format!(
            "  - id: gen-{i}\n    title: generated {i}\n    severity: low\n    condition: \"{cond}\"\n"
        ));
    }
    let mut b = Builder::new();
    b.add_file("generated.yaml", &src);
    b.build().expect("generated rules compile")
}

/// A sink that runs a detector and discards the results.
struct DetectOnly<'r> {
    det: Detector<'r>,
    out: Detections,
    hits: usize,
}

impl Sink for DetectOnly<'_> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        self.det.detect_into(ev, &mut self.out);
        self.hits += self.out.hits.len();
    }
    fn skipped(&mut self, _: kaudit_core::Unit<'_>, _: &'static str) {}
    fn error(&mut self, _: kaudit_core::Unit<'_>, _: &kaudit_core::Error) {}
}

fn bench(c: &mut Criterion) {
    let (bytes, lines) = corpus();
    let dec = Decoder::default();
    let builtin = RuleSet::builtin();
    eprintln!("corpus: {} bytes, {} events; built-in rules: {}", bytes.len(), lines.len(), builtin.rules().len());

    let mut g = c.benchmark_group("detect");
    g.sample_size(10).measurement_time(Duration::from_secs(8)).throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("normalize", |b| {
        let mut n = Normalizer::new(Options::default());
        b.iter(|| normalize_pass(&mut n, &dec, &bytes, &lines))
    });
    g.bench_function("scan_builtin", |b| b.iter(|| scan_pass(&builtin, &dec, &bytes, &lines)));
    g.finish();
    interleaved(&bytes, &lines, &dec, &builtin);

    let mut g = c.benchmark_group("rules");
    g.sample_size(10).measurement_time(Duration::from_secs(8)).throughput(Throughput::Bytes(bytes.len() as u64));
    for n in [0usize, 100, 1000] {
        let set = generated_rules(n);
        g.bench_function(format!("{n}"), |b| {
            b.iter(|| {
                let mut sink =
                    DetectOnly { det: Detector::new(&set, Default::default()), out: Detections::default(), hits: 0 };
                for r in &lines {
                    dec.decode(&bytes[r.clone()], &mut sink);
                }
                black_box(sink.hits)
            })
        });
    }
    g.finish();
}

/// One `detect/normalize` pass. Output is taken in pieces as the scan
/// below does (and the CLI): one whole pass's output in one buffer misses
/// the cache on every write (BENCHMARKS.md, #2).
fn normalize_pass(n: &mut Normalizer, dec: &Decoder, bytes: &[u8], lines: &[std::ops::Range<usize>]) {
    for r in lines {
        n.record(dec, &bytes[r.clone()]);
        if n.output().len() > 1 << 22 {
            n.clear_output();
        }
    }
    black_box(n.output().len());
    n.clear_output();
}

/// One `detect/scan_builtin` pass: a new scanner (fresh stateful state),
/// given the records in runs of 256 as the CLI gives them
/// (`Scanner::records`, which decodes a few events before detecting on
/// them; normalize is fastest one record at a time, as above).
fn scan_pass(rules: &RuleSet, dec: &Decoder, bytes: &[u8], lines: &[std::ops::Range<usize>]) {
    let opts = ScanOptions { write_events: true, ..ScanOptions::default() };
    let mut s = Scanner::new(rules, opts);
    for run in lines.chunks(256) {
        s.records(dec, run.iter().map(|r| &bytes[r.clone()]));
        if s.output().len() > 1 << 22 {
            s.clear_output();
        }
    }
    black_box(s.output().len());
}

/// `detect/normalize` and `detect/scan_builtin` again, one pass of each in
/// turns (the order swapped every round), printing minima, medians and the
/// overhead: this VM's speed changes by up to 1.7x within seconds, so the
/// two criterion benchmarks above, measured one after the other, can land
/// in different speeds. `KAUDIT_BENCH_ROUNDS` rounds (default 31); skipped
/// when a filter names neither benchmark.
fn interleaved(bytes: &[u8], lines: &[std::ops::Range<usize>], dec: &Decoder, builtin: &RuleSet) {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    if !args.is_empty() && !args.iter().any(|a| "detect/overhead".contains(a.as_str()) || a.contains("overhead")) {
        return;
    }
    let rounds = std::env::var("KAUDIT_BENCH_ROUNDS").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(31).max(1);
    let mut n = Normalizer::new(Options::default());
    let mut norm = || {
        let t = std::time::Instant::now();
        normalize_pass(&mut n, dec, bytes, lines);
        t.elapsed().as_secs_f64()
    };
    let scan = || {
        let t = std::time::Instant::now();
        scan_pass(builtin, dec, bytes, lines);
        t.elapsed().as_secs_f64()
    };
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for i in 0..rounds {
        if i % 2 == 0 {
            a.push(norm());
            b.push(scan());
        } else {
            b.push(scan());
            a.push(norm());
        }
    }
    // Per-round ratios: both passes of a round ran at nearly the same speed.
    let mut ratios: Vec<f64> = a.iter().zip(&b).map(|(x, y)| y / x).collect();
    for v in [&mut a, &mut b, &mut ratios] {
        v.sort_by(f64::total_cmp);
    }
    let mib = bytes.len() as f64 / (1 << 20) as f64;
    let med = |v: &[f64]| v[v.len() / 2];
    eprintln!("detect/overhead: {rounds} rounds, normalize and scan_builtin in turns");
    eprintln!("  normalize     min {:7.2} ms ({:6.1} MiB/s)  median {:7.2} ms", a[0] * 1e3, mib / a[0], med(&a) * 1e3);
    eprintln!("  scan_builtin  min {:7.2} ms ({:6.1} MiB/s)  median {:7.2} ms", b[0] * 1e3, mib / b[0], med(&b) * 1e3);
    eprintln!(
        "  detection overhead: {:+.1} % (minima), {:+.1} % (median of the per-round ratios)",
        100.0 * (b[0] / a[0] - 1.0),
        100.0 * (med(&ratios) - 1.0)
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
