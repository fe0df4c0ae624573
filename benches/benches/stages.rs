//! Cost per stage and end to end, per source, on the generated corpora.
//!
//! * `decode/<source>`: `Decoder::decode` of every record into a sink that
//!   only counts (framing done beforehand).
//! * `derive/<source>`, `detect/<source>`, `encode/<source>`: the time spent
//!   inside that stage only, summed over the corpus (criterion `iter_custom`;
//!   the records are decoded in the same pass, outside the timed regions):
//!   derive = what the rule engine derives (actor kind; exec command from the
//!   query; the Pod-spec or RBAC summary of a request body, parsed into a
//!   `serde_json::Value` as the engine does); detect = `Detector::detect_into`
//!   with the built-in pack (stateless + stateful); encode = the canonical
//!   encoder.
//! * `e2e/<source>`: `Scanner::record` with the built-in pack writing
//!   annotated canonical events (decode + detect + encode + counting).
//! * `timer/<source>`: an empty timed region per event: the measuring
//!   overhead included in derive/detect/encode (two `Instant::now` per event).
//!
//! Every benchmark reports `Throughput::Bytes` of the whole corpus, so
//! MB/s of the stages add up to the end-to-end cost (1/x). Corpora are
//! `KAUDIT_BENCH_MB` (default 5) MB per source.
//! Run: `cargo bench -p kaudit-benches --bench stages [-- FILTER]`.

use std::hint::black_box;
use std::ops::Range;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kaudit_core::rules::{derive, Detections, Detector, RuleSet};
use kaudit_core::scan::{ScanOptions, Scanner};
use kaudit_core::{encode, frame, AuditEvent, Decoder, Sink};

struct Corpus {
    id: &'static str,
    bytes: Vec<u8>,
    records: Vec<Range<usize>>,
}

fn corpora() -> Vec<Corpus> {
    let mb = std::env::var("KAUDIT_BENCH_MB").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(5);
    kaudit_benches::SOURCES
        .iter()
        .map(|&(id, gen)| {
            let bytes = gen(mb * 1_000_000);
            let records = frame::records(&bytes, 1 << 30).map(|f| f.range).collect();
            Corpus { id, bytes, records }
        })
        .collect()
}

/// Which stage a [`Timed`] sink measures.
#[derive(Clone, Copy)]
enum Stage {
    Timer,
    Derive,
    Detect,
    Encode,
}

/// Decodes (untimed) and times one stage per event.
struct Timed<'r> {
    stage: Stage,
    det: Detector<'r>,
    out: Detections,
    buf: Vec<u8>,
    spent: Duration,
    acc: usize,
}

/// What the rule engine derives from an event (see the module comment).
fn derive_all(ev: &AuditEvent<'_>) -> usize {
    let mut n = 0;
    if let Some(u) = ev.username() {
        let groups = ev.user.as_ref().and_then(|u| u.groups.as_deref());
        n += derive::actor_kind(u, groups).len();
    }
    let sub = ev.object_ref.as_ref().and_then(|o| o.subresource.as_deref());
    if sub == Some("exec") {
        n += derive::query_values(ev.request_uri.as_deref().unwrap_or(""), "command").len();
    }
    if let (Some(res), Some(body)) = (ev.resource(), &ev.request_object) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(body.get()) {
            if let Some(spec) = derive::pod_spec(res, &v) {
                n += derive::summarize_pod(spec).container_names.len();
            } else if res.contains("binding") || res.ends_with("roles") {
                n += derive::summarize_rbac(&v).subject_names.len();
            }
        }
    }
    n
}

impl Sink for Timed<'_> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        let t = Instant::now();
        match self.stage {
            Stage::Timer => {}
            Stage::Derive => self.acc += derive_all(ev),
            Stage::Detect => {
                self.det.detect_into(ev, &mut self.out);
                self.acc += self.out.hits.len();
            }
            Stage::Encode => {
                self.buf.clear();
                encode::canonical(ev, &mut self.buf);
                self.acc += self.buf.len();
            }
        }
        self.spent += t.elapsed();
    }
    fn skipped(&mut self, _: kaudit_core::Unit<'_>, _: &'static str) {}
    fn error(&mut self, _: kaudit_core::Unit<'_>, _: &kaudit_core::Error) {}
}

/// Counts events only.
struct Count(u64);

impl Sink for Count {
    fn event(&mut self, _: &AuditEvent<'_>) {
        self.0 += 1;
    }
    fn skipped(&mut self, _: kaudit_core::Unit<'_>, _: &'static str) {}
    fn error(&mut self, _: kaudit_core::Unit<'_>, _: &kaudit_core::Error) {}
}

fn bench(c: &mut Criterion) {
    let dec = Decoder::default();
    let rules = RuleSet::builtin();
    let corpora = corpora();
    for cp in &corpora {
        let mut n = Count(0);
        cp.records.iter().for_each(|r| dec.decode(&cp.bytes[r.clone()], &mut n));
        eprintln!("{:<18} {:>10} bytes {:>8} records {:>8} events", cp.id, cp.bytes.len(), cp.records.len(), n.0);
    }
    for (name, stage) in [("timer", Some(Stage::Timer)), ("decode", None), ("derive", Some(Stage::Derive))]
        .into_iter()
        .chain([("detect", Some(Stage::Detect)), ("encode", Some(Stage::Encode)), ("e2e", None)])
    {
        let mut g = c.benchmark_group(name);
        g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
        for cp in &corpora {
            g.throughput(Throughput::Bytes(cp.bytes.len() as u64));
            let recs = || cp.records.iter().map(|r| &cp.bytes[r.clone()]);
            match (name, stage) {
                ("decode", _) => g.bench_function(cp.id, |b| {
                    b.iter(|| {
                        let mut n = Count(0);
                        recs().for_each(|r| dec.decode(r, &mut n));
                        black_box(n.0)
                    })
                }),
                ("e2e", _) => g.bench_function(cp.id, |b| {
                    let opts = ScanOptions { write_events: true, ..ScanOptions::default() };
                    b.iter(|| {
                        let mut s = Scanner::new(&rules, opts);
                        for r in recs() {
                            s.record(&dec, r);
                            if s.output().len() > 1 << 22 {
                                s.clear_output();
                            }
                        }
                        black_box(s.output().len())
                    })
                }),
                (_, Some(stage)) => g.bench_function(cp.id, |b| {
                    b.iter_custom(|iters| {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let mut t = Timed {
                                stage,
                                det: Detector::new(&rules, Default::default()),
                                out: Detections::default(),
                                buf: Vec::with_capacity(64 * 1024),
                                spent: Duration::ZERO,
                                acc: 0,
                            };
                            recs().for_each(|r| dec.decode(r, &mut t));
                            black_box(t.acc);
                            total += t.spent;
                        }
                        total
                    })
                }),
                _ => unreachable!("every stage is listed"),
            };
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
