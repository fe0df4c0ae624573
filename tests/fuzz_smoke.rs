//! A short fuzz smoke on stable (in `.ci/run` through `cargo test`): every
//! fuzz target's body (`kaudit_tests::contract::TARGETS`, the functions the
//! cargo-fuzz targets call) runs on its seed corpus and on deterministic
//! mutations of it. Not a substitute for the fuzz runs (RELIABILITY.md);
//! it keeps the targets' checks honest on every build.
//!
//! Seeds are what `fuzz/seed.sh` puts in the corpora (fixtures, their NDJSON
//! lines, the built-in rules, the posture fixtures) plus the checked-in
//! regressions; the mutations are libFuzzer's usual kinds (bit flips,
//! interesting bytes, erasing, inserting, duplicating, splicing two seeds,
//! truncating) drawn from a fixed-seed generator, so every run is the same.

use std::path::{Path, PathBuf};

use kaudit_tests::contract::{self, Check};

/// Mutated inputs per target (seeds are run unmutated as well).
const MUTATIONS: usize = 500;
/// Inputs longer than this are cut (the fuzz runs use `-max_len=65536`).
const MAX_LEN: usize = 1 << 16;

/// xorshift64*: small, fixed, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn files_under(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            files_under(&p, exts, out);
        } else if p.file_name().and_then(|n| n.to_str()).is_some_and(|n| exts.iter().any(|x| n.ends_with(x))) {
            out.push(p);
        }
    }
}

/// The seed corpus of a target, as `fuzz/seed.sh` builds it, plus its
/// checked-in regressions.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let root = kaudit_tests::root();
    let repo = root.join("..");
    let mut files = Vec::new();
    let mut lines_too = true;
    match target {
        "decode" | "pipeline" | "frame" => files_under(&root.join("fixtures"), &[".json", ".jsonl", ".gz"], &mut files),
        "fluentbit" => files_under(&root.join("fixtures"), &[".json", ".jsonl"], &mut files),
        "rules" => files_under(&repo.join("core/rules"), &[".yaml"], &mut files),
        "policy" => files_under(&repo.join("posture/tests/fixtures/policies"), &[".yaml", ".json"], &mut files),
        "iac" => files_under(&repo.join("posture/tests/fixtures/iac"), &[".json", ".yaml", ".yml", ".tf"], &mut files),
        other => panic!("no seeds for {other}"),
    }
    if !matches!(target, "decode" | "pipeline" | "frame" | "fluentbit") {
        lines_too = false;
    }
    files_under(&repo.join("fuzz/regressions").join(target), &[""], &mut files);
    let mut out = Vec::new();
    for f in files {
        let Ok(b) = std::fs::read(&f) else { continue };
        let name = f.to_string_lossy();
        if lines_too && name.ends_with(".jsonl") {
            out.extend(b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
        }
        // Whole multi-record files only where the target reads streams.
        if !(target == "fluentbit" && name.ends_with(".jsonl")) {
            out.push(b);
        }
    }
    for s in &mut out {
        s.truncate(MAX_LEN);
    }
    out
}

const INTERESTING: &[u8] = b"\x00\x01\x7f\x80\xff{}[]\":,\\\n\r 0-eE.";

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = seeds[rng.below(seeds.len())].clone();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            2 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(64)).min(len);
                v.drain(a..b);
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let a = rng.below(len);
                let b = (a + 1 + rng.below(256)).min(len);
                let at = rng.below(len + 1);
                let piece = v[a..b].to_vec();
                v.splice(at..at, piece);
            }
            5 => {
                let other = &seeds[rng.below(seeds.len())];
                let at = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                v.truncate(at);
                v.extend_from_slice(&other[from..]);
            }
            _ => v.truncate(rng.below(len + 1)),
        }
    }
    v.truncate(MAX_LEN);
    v
}

fn smoke(target: &str) {
    let (_, check): &(&str, Check) =
        contract::TARGETS.iter().find(|(n, _)| *n == target).expect("a fuzz target of that name");
    let seeds = seeds(target);
    assert!(!seeds.is_empty(), "{target}: no seeds");
    for s in &seeds {
        check(s);
    }
    let mut rng = Rng(0x6b61_7564_6974 ^ target.len() as u64);
    for _ in 0..MUTATIONS {
        let input = mutate(&mut rng, &seeds);
        check(&input);
    }
}

#[test]
fn every_fuzz_target_has_a_smoke_test() {
    let names: Vec<&str> = contract::TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["decode", "pipeline", "frame", "rules", "policy", "iac", "fluentbit"]);
    let dir = kaudit_tests::root().join("../fuzz/fuzz_targets");
    for n in names {
        assert!(dir.join(format!("{n}.rs")).is_file(), "fuzz/fuzz_targets/{n}.rs");
    }
}

#[test]
fn decode_smoke() {
    smoke("decode");
}

#[test]
fn pipeline_smoke() {
    smoke("pipeline");
}

#[test]
fn frame_smoke() {
    smoke("frame");
}

#[test]
fn rules_smoke() {
    smoke("rules");
}

#[test]
fn policy_smoke() {
    smoke("policy");
}

#[test]
fn iac_smoke() {
    smoke("iac");
}

#[test]
fn fluentbit_smoke() {
    smoke("fluentbit");
}
