//! Per-record cost of each export: the wasm module under wasmtime (called
//! exactly like Fluent Bit calls it: malloc + copy tag and record, call,
//! read the NUL-terminated result, free) versus the same engine compiled
//! natively. Run: `cargo bench -p kaudit-fluentbit --bench exports`.
//!
//! Wasmtime (Cranelift) is not WAMR: Fluent Bit's interpreter is much
//! slower and its AOT mode close to this (fluentbit.md §9).

#[path = "../tests/host/mod.rs"]
mod host;

use std::hint::black_box;
use std::path::Path;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kaudit_fluentbit::{Engine, Mode, Setup};

/// Sample records (vendor fixtures, see tests/fixtures/vendors/README.md).
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").join("tests/fixtures");
    let first_line = |p: &str, n: usize| -> Vec<u8> {
        let text = std::fs::read_to_string(root.join(p)).expect("fixture");
        text.lines().nth(n).expect("line").as_bytes().to_vec()
    };
    vec![
        ("k8s", first_line("vendors/vanilla/falco-trace-files.jsonl", 0)),
        ("eks.cloudwatch", first_line("synthetic/eks-cloudwatch-rows.jsonl", 0)),
        ("gke.logentry", first_line("vendors/gke/khi-gke-k8s-audit-logentries.jsonl", 0)),
    ]
}

fn bench(c: &mut Criterion) {
    let setup = Box::leak(Box::new(Setup::builtin()));
    for (name, rec) in samples() {
        let mut g = c.benchmark_group(format!("fluentbit/{name}"));
        g.throughput(Throughput::Elements(1));
        for mode in Mode::ALL {
            let mut native = Engine::new(setup, mode);
            g.bench_function(format!("native/{}", mode.export()), |b| {
                b.iter(|| black_box(native.process(black_box(&rec)).len()))
            });
            let mut h = host::Host::new(mode.export(), None);
            g.bench_function(format!("wasmtime/{}", mode.export()), |b| {
                b.iter(|| black_box(h.call("kube.audit", (0, 0), black_box(&rec))))
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
