//! `kaudit scan --threads N` gives exactly the one-thread output: events,
//! detections (stateful ones included), counts and the summary table.

use std::path::{Path, PathBuf};
use std::process::Command;

fn kaudit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaudit"))
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// (stdout, stderr) of a scan; a failed run fails the test.
fn scan(threads: u16, batch: usize, args: &[&str], inputs: &[&Path]) -> (Vec<u8>, String) {
    let out = kaudit()
        .arg("scan")
        .args(["--threads", &threads.to_string(), "--batch-bytes", &batch.to_string()])
        .args(args)
        .args(inputs)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.code().is_some_and(|c| c <= 1), "{err}");
    (out.stdout, err)
}

/// A generated corpus of three clusters' streams interleaved (AKS records
/// name their cluster), plus a vanilla and a gzip-batched stream.
fn generated(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for (source, clusters) in [("aks.diagnostic", "3"), ("gke.logentry", "2"), ("k8s", "1"), ("eks.subscription", "2")]
    {
        let f = dir.join(format!("{source}.jsonl"));
        let ok = kaudit()
            .args(["gen", "--events", "4000", "--seed", "11", "--source", source, "--clusters", clusters, "--out"])
            .arg(&f)
            .status()
            .unwrap();
        assert!(ok.success());
        files.push(f);
    }
    files
}

fn assert_same(inputs: &[&Path], args: &[&str], batches: &[usize]) {
    let (want_out, want_err) = scan(1, 1 << 20, args, inputs);
    assert!(!want_out.is_empty());
    for &batch in batches {
        for threads in [2, 4] {
            let (out, err) = scan(threads, batch, args, inputs);
            assert!(out == want_out, "{args:?}: {threads} threads, batches of {batch} B: output differs");
            assert_eq!(err, want_err, "{args:?}: {threads} threads, batches of {batch} B: stderr differs");
        }
    }
}

#[test]
fn parallel_scan_equals_one_thread_on_every_fixture() {
    let dir = fixtures();
    for args in [&["--format", "table"][..], &["--format", "json", "--blind"][..]] {
        // One record per batch, a few records, everything in one batch.
        assert_same(&[dir.as_path()], args, &[1, 2_000, 1 << 20]);
    }
}

#[test]
fn parallel_scan_equals_one_thread_on_a_generated_multi_cluster_corpus() {
    let dir = std::env::temp_dir().join(format!("kaudit-parallel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = generated(&dir);
    let inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let (table, stats) = scan(1, 1 << 20, &["--format", "table"], &inputs);
    let table = String::from_utf8(table).unwrap();
    // The corpus makes stateful rules fire, so batches must hand state on.
    assert!(table.contains("api-failure-burst-by-identity"), "{table}");
    // Nothing lost: every record is an event, skipped or an error.
    assert!(stats.contains("16000"), "{stats}");
    assert_same(&inputs, &["--format", "table"], &[50_000, 1 << 20]);
    assert_same(&inputs, &["--format", "json", "--blind"], &[50_000]);
    assert_same(&inputs, &["--format", "json", "--only-hits", "--actor", "bob*"], &[50_000]);
    let _ = std::fs::remove_dir_all(&dir);
}
