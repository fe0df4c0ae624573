//! No panic on any input, and nothing lost: every framed record reaches the
//! sink at least once (exactly once when it is not an envelope), every output
//! line is JSON, and the per-source accounting balances. The checks are the
//! ones the fuzz targets run (`kaudit_tests::contract`); these property tests
//! run them on stable in CI.

use kaudit_core::{frame, normalize_buffer, Decoder, Limits, Options};
use kaudit_tests::{contract, fixtures, read_fixture};
use proptest::prelude::*;

fn check(input: &[u8]) {
    contract::decode(input);
}

/// Real fixture lines to mutate.
fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for rel in fixtures() {
        let b = read_fixture(&rel);
        for f in frame::records(&b, 1 << 20) {
            out.push(b[f.range].to_vec());
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        check(&bytes);
    }

    #[test]
    fn json_like_noise_never_panics(s in "[\\[\\]{}\":,a-z0-9\\\\ \n]{0,300}") {
        check(s.as_bytes());
    }

    #[test]
    fn mutated_fixtures_never_panic(
        seed in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let all = seeds();
        let mut rec = all[seed.index(all.len())].clone();
        for (at, b) in flips {
            let i = at.index(rec.len().max(1));
            if i < rec.len() {
                rec[i] = b;
            }
        }
        let end = cut.index(rec.len() + 1);
        check(&rec);
        check(&rec[..end]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    /// Normalize + detect (stateful rules too) on mutated real records.
    #[test]
    fn pipeline_on_mutated_fixtures(
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..6),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    ) {
        let all = seeds();
        let mut buf = Vec::new();
        for p in picks {
            buf.extend_from_slice(&all[p.index(all.len())]);
            buf.push(b'\n');
        }
        for (at, b) in flips {
            let i = at.index(buf.len());
            buf[i] = b;
        }
        contract::pipeline(&buf);
    }

    /// The same records whichever way the stream is cut into reads.
    #[test]
    fn framing_does_not_depend_on_reads(
        picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..5),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        noise in "[\\[\\]{}\":,a\\\\ \n\r]{0,40}",
    ) {
        let all = seeds();
        let mut buf = Vec::new();
        for p in picks {
            buf.extend_from_slice(&all[p.index(all.len())]);
            buf.push(b'\n');
        }
        buf.extend_from_slice(noise.as_bytes());
        contract::frame_chunks(&buf, &cuts);
    }

    /// The rule compiler on mutated rule files of the built-in pack.
    #[test]
    fn rule_compiler_on_mutated_rule_files(
        file in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    ) {
        let (_, src) = kaudit_core::rules::BUILTIN[file.index(kaudit_core::rules::BUILTIN.len())];
        // A window of the file keeps compilation quick.
        let start = cut.index(src.len());
        let mut b = src.as_bytes()[start..(start + 4000).min(src.len())].to_vec();
        for (at, x) in flips {
            let i = at.index(b.len().max(1));
            if i < b.len() {
                b[i] = x;
            }
        }
        contract::rule_file(&b);
    }
}

/// Posture inputs: every policy and IaC fixture of the posture crate, cut and
/// mutated, through the policy and IaC checks.
fn posture_seeds(dir: &str) -> Vec<Vec<u8>> {
    fn walk(p: &std::path::Path, out: &mut Vec<Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        let mut es: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        es.sort();
        for e in es {
            if e.is_dir() {
                walk(&e, out);
            } else if e.extension().is_some_and(|x| x != "md" && x != "txt") {
                out.push(std::fs::read(&e).unwrap_or_default());
            }
        }
    }
    let mut out = Vec::new();
    walk(&kaudit_tests::root().join("../posture/tests/fixtures").join(dir), &mut out);
    assert!(!out.is_empty(), "posture fixtures under {dir}");
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn policy_checks_on_mutated_policies(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let all = posture_seeds("policies");
        let mut b = all[pick.index(all.len())].clone();
        for (at, x) in flips {
            let i = at.index(b.len().max(1));
            if i < b.len() {
                b[i] = x;
            }
        }
        let end = cut.index(b.len() + 1);
        contract::audit_policy(&b);
        contract::audit_policy(&b[..end]);
    }

    #[test]
    fn iac_checks_on_mutated_inputs(
        pick in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let all = posture_seeds("iac");
        let mut b = all[pick.index(all.len())].clone();
        for (at, x) in flips {
            let i = at.index(b.len().max(1));
            if i < b.len() {
                b[i] = x;
            }
        }
        let end = cut.index(b.len() + 1);
        contract::iac(&b);
        contract::iac(&b[..end]);
    }
}

#[test]
fn every_fixture_through_the_pipeline() {
    for rel in fixtures() {
        contract::pipeline(&read_fixture(&rel));
    }
}

#[test]
fn every_fixture_is_accounted_for() {
    for rel in fixtures() {
        check(&read_fixture(&rel));
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    check(deep.as_bytes());
    let deep_obj =
        format!("{{\"kind\":\"Event\",\"verb\":\"get\",\"requestObject\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
    check(deep_obj.as_bytes());
}

#[test]
fn nested_envelopes_are_bounded() {
    // A Fluent Bit wrapper inside a wrapper inside … : the hop limit stops it.
    let mut s = r#"{"kind":"Event","auditID":"a","stage":"ResponseComplete","verb":"get"}"#.to_string();
    for _ in 0..20 {
        s = serde_json::to_string(&serde_json::json!({ "log": s })).unwrap();
    }
    let (out, stats) = normalize_buffer(&Decoder::default(), s.as_bytes(), Options::default());
    assert_eq!(stats.total().errors, 1, "{}", String::from_utf8_lossy(&out));
    assert!(String::from_utf8_lossy(&out).contains("too many nested envelopes"));
}

#[test]
fn oversize_records_pass_through_in_pieces() {
    let big = format!("{{\"kind\":\"Event\",\"verb\":\"get\",\"requestObject\":\"{}\"}}\n", "x".repeat(10_000));
    let dec = Decoder::new(Limits { max_record_bytes: 4096, ..Limits::default() });
    let (out, stats) = normalize_buffer(&dec, big.as_bytes(), Options::default());
    assert!(stats.balanced());
    assert!(stats.total().errors >= 3);
    // Every byte of the record comes back inside the error envelopes.
    let mut raw = String::new();
    for l in std::str::from_utf8(&out).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["kaudit"]["error"]["category"], "limit");
        raw.push_str(v["raw"].as_str().unwrap());
    }
    assert_eq!(raw, big.trim_end());
}

#[test]
fn regression_two_documents_on_one_line_are_two_events() {
    let one = r#"{"kind":"Event","auditID":"a1","stage":"ResponseComplete","verb":"get"}"#;
    let two = r#"{"kind":"Event","auditID":"a2","stage":"ResponseComplete","verb":"list"}"#;
    let line = format!("{one}{two}\n{one}\n");
    let (out, stats) = normalize_buffer(&Decoder::default(), line.as_bytes(), Options::default());
    let t = stats.total();
    assert_eq!((t.events, t.errors), (3, 0), "{}", String::from_utf8_lossy(&out));
    assert!(stats.balanced());
    // A line that is not two whole documents stays one error, passed through.
    let bad = format!("{one}{{\"kind\":\n");
    let (_, stats) = normalize_buffer(&Decoder::default(), bad.as_bytes(), Options::default());
    assert_eq!(stats.total().errors, 1);
}
