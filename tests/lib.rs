//! Test harness shared by the data-driven suites: where the fixtures are,
//! how a host reads them, and the expected-output files no engine owns.
//!
//! Every host (native here; wasm, Fluent Bit ABI and VRL later) runs the same
//! fixture → expected pairs: `fixtures/<path>` → `expected/<path>.jsonl`.

use std::io::Read;
use std::path::{Path, PathBuf};

use kaudit_core::{normalize_buffer, Decoder, Options, Stats};

pub mod contract;

/// `tests/` of the workspace.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every fixture file (vendor samples and synthetic envelopes), sorted,
/// as paths relative to `tests/fixtures/`.
pub fn fixtures() -> Vec<PathBuf> {
    let base = root().join("fixtures");
    let mut out = Vec::new();
    walk(&base, &base, &mut out);
    out.sort();
    out
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(base, &p, out);
        } else {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.ends_with(".json") || name.ends_with(".jsonl") || name.ends_with(".gz") {
                out.push(p.strip_prefix(base).unwrap_or(&p).to_path_buf());
            }
        }
    }
}

/// Read a fixture as a host would: gzip files are gunzipped (all members).
pub fn read_fixture(rel: &Path) -> Vec<u8> {
    let bytes = std::fs::read(root().join("fixtures").join(rel)).expect("fixture readable");
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).expect("fixture gunzips");
        out
    } else {
        bytes
    }
}

/// The expected-output file of a fixture.
pub fn expected_path(rel: &Path) -> PathBuf {
    let mut p = root().join("expected").join(rel);
    let name = format!("{}.out.jsonl", p.file_name().and_then(|n| n.to_str()).unwrap_or("x"));
    p.set_file_name(name);
    p
}

/// Normalize a fixture the way `kaudit normalize --keep-skipped` does.
pub fn normalize_fixture(rel: &Path) -> (Vec<u8>, Stats) {
    normalize_buffer(&Decoder::default(), &read_fixture(rel), Options { keep_skipped: true })
}

/// Parse NDJSON output into values, failing on any line that is not JSON.
pub fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    std::str::from_utf8(out)
        .expect("output is UTF-8")
        .lines()
        .enumerate()
        .map(|(i, l)| serde_json::from_str(l).unwrap_or_else(|e| panic!("output line {} is not JSON: {e}: {l}", i + 1)))
        .collect()
}
