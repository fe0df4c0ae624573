//! Replays every input the fuzzers ever crashed on (`fuzz/regressions/<target>/`)
//! through the same contract check the fuzz target runs. A file there is the
//! regression test for the bug it found; its name says which (see
//! `fuzz/regressions/README.md`).

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

#[test]
fn decode_regressions() {
    for (p, b) in inputs("decode") {
        eprintln!("replaying {}", p.display());
        contract::decode(&b);
    }
}

#[test]
fn pipeline_regressions() {
    for (p, b) in inputs("pipeline") {
        eprintln!("replaying {}", p.display());
        contract::pipeline(&b);
    }
}

#[test]
fn frame_regressions() {
    for (p, b) in inputs("frame") {
        eprintln!("replaying {}", p.display());
        // The same decoding of the input as fuzz_targets/frame.rs.
        let Some((&n, rest)) = b.split_first() else { continue };
        let k = ((n % 8) as usize).min(rest.len());
        let (cuts, stream) = rest.split_at(k);
        let cuts: Vec<usize> = cuts.iter().map(|&c| c as usize * (stream.len() + 1) / 256).collect();
        contract::frame_chunks(stream, &cuts);
    }
}

#[test]
fn rules_regressions() {
    for (p, b) in inputs("rules") {
        eprintln!("replaying {}", p.display());
        contract::rule_file(&b);
    }
}

#[test]
fn policy_regressions() {
    for (p, b) in inputs("policy") {
        eprintln!("replaying {}", p.display());
        contract::audit_policy(&b);
    }
}

#[test]
fn iac_regressions() {
    for (p, b) in inputs("iac") {
        eprintln!("replaying {}", p.display());
        contract::iac(&b);
    }
}
