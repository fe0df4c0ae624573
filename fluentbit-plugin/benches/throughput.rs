//! Throughput of normalize + detect (`kaudit_filter`, the built-in pack) on
//! the generated corpora, record by record: the core compiled to
//! wasm32-wasip1 under wasmtime through the Fluent Bit ABI (the harness in
//! `tests/host`), against the same engine compiled natively; and the ABI's
//! fixed per-record cost (`abi/*`: a 2-byte record, which the engine turns
//! into an error envelope at once, so nearly all of it is the host's
//! malloc + copy in + call + copy out + free); and the start-up of an
//! instance (`startup/*`: instantiate, load the built-in pack, first record),
//! which Fluent Bit pays once per filter instance, not per record.
//!
//! Run: `cargo bench -p kaudit-fluentbit --bench throughput` (corpora of
//! `KAUDIT_BENCH_MB`, default 5, MB per source).

#[path = "../tests/host/mod.rs"]
mod host;

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kaudit_fluentbit::{Engine, Mode, Setup};

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect()
}

fn bench(c: &mut Criterion) {
    let setup = Box::leak(Box::new(Setup::builtin()));
    let mb = std::env::var("KAUDIT_BENCH_MB").ok().and_then(|v| v.parse::<usize>().ok()).unwrap_or(5);
    let export = Mode::Filter.export();
    let mut g = c.benchmark_group("wasm");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6));
    for (id, gen) in [kaudit_gen::SOURCES[0], kaudit_gen::SOURCES[1], kaudit_gen::SOURCES[3]] {
        let corpus = gen(mb * 1_000_000);
        let recs = lines(&corpus);
        eprintln!("{id}: {} bytes, {} records", corpus.len(), recs.len());
        g.throughput(Throughput::Bytes(corpus.len() as u64));
        // One persistent engine / instance per source, as Fluent Bit keeps
        // one instance per filter: start-up (instantiation, loading the
        // pack) is measured apart, in `startup/*`, not in every iteration.
        let mut native = Engine::new(setup, Mode::Filter);
        g.bench_function(format!("native/{id}"), |b| {
            b.iter(|| recs.iter().map(|r| native.process(r).len()).sum::<usize>())
        });
        let mut h = host::Host::new(export, None);
        let _ = h.call("kube.audit", (0, 0), b"{}");
        g.bench_function(format!("wasmtime/{id}"), |b| {
            b.iter(|| {
                let mut n = 0usize;
                for r in &recs {
                    if let host::Out::Record(o) = h.call("kube.audit", (0, 0), r) {
                        n += o.len();
                    }
                }
                black_box(n)
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("startup");
    g.sample_size(10);
    g.bench_function("native/engine + first record", |b| {
        b.iter(|| {
            let s = Setup::builtin();
            let mut e = Engine::new(&s, Mode::Filter);
            black_box(e.process(b"{}").len())
        })
    });
    g.bench_function("wasmtime/instance + first record", |b| {
        b.iter(|| {
            let mut h = host::Host::new(export, None);
            black_box(h.call("kube.audit", (0, 0), b"{}"))
        })
    });
    g.finish();
    let mut g = c.benchmark_group("abi");
    g.throughput(Throughput::Elements(1));
    let tiny = b"{}";
    let mut native = Engine::new(setup, Mode::Filter);
    g.bench_function("native/2-byte record", |b| b.iter(|| black_box(native.process(black_box(tiny)).len())));
    let mut h = host::Host::new(export, None);
    g.bench_function("wasmtime/2-byte record", |b| b.iter(|| black_box(h.call("kube.audit", (0, 0), black_box(tiny)))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
