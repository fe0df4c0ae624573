//! Throughput of kaudit-core per source shape: framing alone, and
//! decode + canonical encode (`Normalizer::record`) of pre-split lines, the
//! output taken in ~1 MiB pieces as the CLI takes it.
//!
//! Run with `cargo bench -p kaudit-benches --bench normalize`. Corpora are
//! ~20 MB each (set `KAUDIT_BENCH_MB` to change that) and generated before
//! anything is timed; their sizes and event counts are printed first so
//! that events/s can be derived from criterion's bytes/s.

use std::hint::black_box;
use std::io::Read as _;
use std::time::{Duration, Instant};

use base64::Engine as _;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use kaudit_core::{frame, normalize_buffer, Decoder, Normalizer, Options};

struct Corpus {
    id: &'static str,
    bytes: Vec<u8>,
    events: u64,
    /// How long one untimed `normalize_buffer` pass took: sizes the measurement.
    pass: Duration,
}

fn corpus_bytes() -> usize {
    let mb = std::env::var("KAUDIT_BENCH_MB").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(20);
    mb * 1_000_000
}

/// Generate every corpus and check that it decodes cleanly (not timed).
fn corpora(dec: &Decoder) -> Vec<Corpus> {
    let target = corpus_bytes();
    eprintln!(
        "{:<18} {:>12} {:>9} {:>9} {:>12} {:>8} {:>8}",
        "source", "bytes", "lines", "events", "bytes/event", "gen s", "pass s"
    );
    kaudit_benches::SOURCES
        .iter()
        .map(|&(id, gen)| {
            let t = Instant::now();
            let bytes = gen(target);
            let gen_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let (_, stats) = normalize_buffer(dec, &bytes, Options::default());
            let pass = t.elapsed();
            let total = stats.total();
            assert_eq!(total.errors, 0, "{id}: the corpus must decode without errors");
            assert_eq!(total.skipped, 0, "{id}: the corpus must hold only audit events");
            assert_eq!(stats.by_source.get(id).map(|c| c.events), Some(total.events), "{id}: detected source");
            eprintln!(
                "{:<18} {:>12} {:>9} {:>9} {:>12.1} {:>8.2} {:>8.2}",
                id,
                bytes.len(),
                stats.inputs,
                total.events,
                bytes.len() as f64 / total.events as f64,
                gen_s,
                pass.as_secs_f64()
            );
            Corpus { id, bytes, events: total.events, pass }
        })
        .collect()
}

/// Lines of a corpus, split outside the timed region.
fn lines(buf: &[u8]) -> Vec<&[u8]> {
    buf.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect()
}

/// Output handed on (and the buffer cleared) once it reaches this size.
const OUTPUT_PIECE: usize = 1 << 20;

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

/// 10 flat samples in ~5 s, or just enough time for 10 passes when one pass
/// is slower than that allows (so criterion does not warn).
fn configure(g: &mut Group<'_>, pass: Duration) {
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5).max(pass * 12))
        .sampling_mode(SamplingMode::Flat);
}

fn benches(c: &mut Criterion) {
    let dec = Decoder::default();
    let corpora = corpora(&dec);

    let mut g = c.benchmark_group("normalize");
    for corpus in &corpora {
        configure(&mut g, corpus.pass);
        let lines = lines(&corpus.bytes);
        let mut n = Normalizer::new(Options::default());
        g.throughput(Throughput::Bytes(corpus.bytes.len() as u64));
        g.bench_function(corpus.id, |b| {
            b.iter(|| {
                let mut written = 0;
                for line in &lines {
                    n.record(&dec, black_box(line));
                    // Hand the output on in ~1 MiB pieces, as every host does
                    // (the CLI's `input::pump_all`): a whole pass's ~21 MB
                    // would be a cold buffer far larger than the caches.
                    if n.output().len() >= OUTPUT_PIECE {
                        written += black_box(n.output()).len();
                        n.clear_output();
                    }
                }
                written += black_box(n.output()).len();
                n.clear_output();
                written
            })
        });
        // Sanity: everything timed above decoded to events.
        let t = n.stats().total();
        assert_eq!(t.errors, 0, "{}", corpus.id);
        assert_eq!(t.events % corpus.events, 0, "{}: whole corpus per iteration", corpus.id);
    }
    g.finish();

    let mut g = c.benchmark_group("frame");
    configure(&mut g, Duration::ZERO);
    let limit = dec.limits().max_record_bytes;
    for corpus in &corpora {
        g.throughput(Throughput::Bytes(corpus.bytes.len() as u64));
        g.bench_function(corpus.id, |b| b.iter(|| frame::records(black_box(&corpus.bytes), limit).count()));
    }
    g.finish();

    // Floors, for reading the numbers above: what serde_json alone takes to
    // validate the vanilla lines, and what base64 + gunzip alone take for
    // the subscription payloads (kaudit-core cannot go below either).
    let mut g = c.benchmark_group("baseline");
    configure(&mut g, Duration::ZERO);
    let k8s = corpora.iter().find(|c| c.id == "k8s").expect("k8s corpus");
    let k8s_lines = lines(&k8s.bytes);
    g.throughput(Throughput::Bytes(k8s.bytes.len() as u64));
    g.bench_function("k8s.serde_json_validate", |b| {
        b.iter(|| {
            for line in &k8s_lines {
                serde_json::from_slice::<serde::de::IgnoredAny>(black_box(line)).expect("valid JSON");
            }
        })
    });
    let sub = corpora.iter().find(|c| c.id == "eks.subscription").expect("eks.subscription corpus");
    let payloads: Vec<&[u8]> = lines(&sub.bytes)
        .into_iter()
        .map(|l| {
            l.strip_prefix(b"{\"awslogs\":{\"data\":\"")
                .and_then(|l| l.strip_suffix(b"\"}}"))
                .expect("generated awslogs line")
        })
        .collect();
    g.throughput(Throughput::Bytes(sub.bytes.len() as u64));
    g.bench_function("eks.subscription.base64_gunzip", |b| {
        let mut gz = Vec::new();
        let mut plain = Vec::new();
        b.iter(|| {
            let mut n = 0;
            for p in &payloads {
                gz.clear();
                plain.clear();
                base64::engine::general_purpose::STANDARD.decode_vec(black_box(p), &mut gz).expect("base64");
                flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut plain).expect("gzip");
                n += plain.len();
            }
            n
        })
    });
    g.finish();
}

criterion_group!(normalize, benches);
criterion_main!(normalize);
