//! Replays every input the fuzzers ever crashed on (`fuzz/regressions/<target>/`)
//! through the same contract check the fuzz target runs
//! (`kaudit_tests::contract::TARGETS`). A file there is the regression test
//! for the bug it found; its name says which (see `fuzz/regressions/README.md`).

use std::path::PathBuf;

use kaudit_tests::contract;

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = kaudit_tests::root().join("../fuzz/regressions").join(target);
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_none_or(|x| x != "md"))
                .map(|p| {
                    let b = std::fs::read(&p).expect("regression input readable");
                    (p, b)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn replay(target: &str) {
    let (_, check) = contract::TARGETS.iter().find(|(n, _)| *n == target).expect("a fuzz target");
    for (p, b) in inputs(target) {
        eprintln!("replaying {}", p.display());
        check(&b);
    }
}

#[test]
fn every_regression_directory_is_a_fuzz_target() {
    let dir = kaudit_tests::root().join("../fuzz/regressions");
    for e in std::fs::read_dir(&dir).expect("fuzz/regressions exists").flatten() {
        if e.path().is_dir() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(contract::TARGETS.iter().any(|(n, _)| *n == name), "no fuzz target `{name}`");
        }
    }
}

#[test]
fn decode_regressions() {
    replay("decode");
}

#[test]
fn pipeline_regressions() {
    replay("pipeline");
}

#[test]
fn frame_regressions() {
    replay("frame");
}

#[test]
fn rules_regressions() {
    replay("rules");
}

#[test]
fn policy_regressions() {
    replay("policy");
}

#[test]
fn iac_regressions() {
    replay("iac");
}

#[test]
fn fluentbit_regressions() {
    replay("fluentbit");
}
