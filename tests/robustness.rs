//! No panic on any input, and nothing lost: every framed record reaches the
//! sink at least once (exactly once when it is not an envelope), every output
//! line is JSON, and the per-source accounting balances.
//! (A quick property test; full fuzzing is its own work item.)

use kaudit_core::decode::{Sink, SkipReason, Unit};
use kaudit_core::{frame, normalize_buffer, AuditEvent, Decoder, Error, Limits, Options};
use kaudit_tests::{fixtures, read_fixture};
use proptest::prelude::*;

#[derive(Default)]
struct Count(usize);

impl Sink for Count {
    fn event(&mut self, _: &AuditEvent<'_>) {
        self.0 += 1;
    }
    fn skipped(&mut self, _: Unit<'_>, _: SkipReason) {
        self.0 += 1;
    }
    fn error(&mut self, _: Unit<'_>, _: &Error) {
        self.0 += 1;
    }
}

fn check(input: &[u8]) {
    let dec = Decoder::new(Limits { max_record_bytes: 1 << 20, ..Limits::default() });
    for f in frame::records(input, 1 << 20) {
        let mut c = Count::default();
        dec.decode(&input[f.range], &mut c);
        assert!(c.0 >= 1, "a record vanished: {:?}", String::from_utf8_lossy(input));
    }
    let (out, stats) = normalize_buffer(&dec, input, Options { keep_skipped: true });
    assert!(stats.balanced(), "{}", stats.table());
    let t = stats.total();
    let text = std::str::from_utf8(&out).expect("output is UTF-8");
    let n = text.lines().inspect(|l| {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("output not JSON ({e}): {l}"));
    });
    assert_eq!(n.count() as u64, t.events + t.skipped + t.errors);
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
