//! The reliability contract (RELIABILITY.md) as executable checks, one per
//! entry point. Each function takes arbitrary input and panics only when the
//! contract is broken: the property tests (`robustness.rs`), the fuzz targets
//! (`fuzz/fuzz_targets/`) and the replay of every checked-in fuzz regression
//! (`fuzz_regressions.rs`) all call these same functions, so a crash found by
//! the fuzzer is replayed by the normal test suite.

use std::sync::OnceLock;

use kaudit_core::decode::{Sink, SkipReason, Unit};
use kaudit_core::frame::{self, Framer};
use kaudit_core::rules::{Builder, RuleSet};
use kaudit_core::scan::{ScanOptions, Scanner};
use kaudit_core::{normalize_buffer, AuditEvent, Decoder, Error, Limits, Options};

/// The record-size limit the checks run with (small, so that fuzz inputs
/// reach the oversize path).
pub const MAX_RECORD: usize = 1 << 16;

fn decoder() -> Decoder {
    Decoder::new(Limits { max_record_bytes: MAX_RECORD, ..Limits::default() })
}

/// The built-in rule pack, compiled once per process.
pub fn builtin() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(RuleSet::builtin)
}

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

/// Every output line is one JSON object (RFC 8259: numbers beyond the range
/// of f64, which serde_json's `Value` refuses, are valid JSON and are kept
/// verbatim inside bodies); returns how many lines there are.
fn json_lines(out: &[u8], input: &[u8]) -> u64 {
    let text = std::str::from_utf8(out).expect("output is UTF-8");
    let mut n = 0;
    for l in text.lines() {
        serde_json::from_str::<serde::de::IgnoredAny>(l).unwrap_or_else(|e| {
            panic!("output line is not JSON ({e}): {l}\ninput: {:?}", String::from_utf8_lossy(input))
        });
        assert!(l.starts_with('{') && l.ends_with('}'), "output line is not an object: {l}");
        n += 1;
    }
    n
}

/// Decode: no panic; every framed record reaches the sink at least once;
/// per-source accounting balances; one JSON line per unit.
pub fn decode(input: &[u8]) {
    let dec = decoder();
    for f in frame::records(input, MAX_RECORD) {
        if f.oversize {
            continue;
        }
        let mut c = Count::default();
        dec.decode(&input[f.range], &mut c);
        assert!(c.0 >= 1, "a record vanished: {:?}", String::from_utf8_lossy(input));
    }
    let (out, stats) = normalize_buffer(&dec, input, Options { keep_skipped: true });
    assert!(stats.balanced(), "{}", stats.table());
    let t = stats.total();
    assert_eq!(json_lines(&out, input), t.events + t.skipped + t.errors, "{}", stats.table());
}

/// Normalize + detect with the built-in pack (stateful rules included): the
/// decode contract, plus every detection names a rule of the pack.
pub fn pipeline(input: &[u8]) {
    let rules = builtin();
    let dec = decoder();
    let opts = ScanOptions {
        normalize: Options { keep_skipped: true },
        blind: true,
        write_events: true,
        ..ScanOptions::default()
    };
    let mut s = Scanner::new(rules, opts);
    for f in frame::records(input, MAX_RECORD) {
        if f.oversize {
            s.oversize(&input[f.range], MAX_RECORD);
        } else {
            s.record(&dec, &input[f.range]);
        }
    }
    let stats = s.stats();
    assert!(stats.balanced(), "{}", stats.table());
    let t = stats.total();
    assert_eq!(json_lines(s.output(), input), t.events + t.skipped + t.errors);
    let hits: u64 = s.summary().iter().map(|r| r.hits).sum();
    let text = std::str::from_utf8(s.output()).unwrap_or_default();
    let mut seen = 0u64;
    // Only the `kaudit` member is read: bodies may hold numbers `Value` refuses.
    #[derive(serde::Deserialize)]
    struct Line {
        #[serde(default)]
        kaudit: serde_json::Value,
    }
    for l in text.lines() {
        let v: Line = serde_json::from_str(l).expect("output line has a readable kaudit member");
        if let Some(d) = v.kaudit["detections"].as_array() {
            for x in d {
                let id = x["rule"].as_str().expect("a detection names its rule");
                assert!(rules.find(id).is_some(), "unknown rule in output: {id}");
                seen += 1;
            }
        }
    }
    assert_eq!(seen, hits, "detections written = hits counted");
}

/// Framing is independent of how the stream is cut into reads: feeding
/// `input` in pieces (at `cuts`, as the CLI and hosts do) gives the same
/// records as framing it whole.
pub fn frame_chunks(input: &[u8], cuts: &[usize]) {
    let whole: Vec<(Vec<u8>, bool)> =
        frame::records(input, MAX_RECORD).map(|f| (input[f.range].to_vec(), f.oversize)).collect();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.push(input.len());
    points.sort_unstable();
    points.dedup();
    let mut framer = Framer::new(MAX_RECORD);
    let mut buf: Vec<u8> = Vec::new();
    let mut got = Vec::new();
    let mut fed = 0;
    for (k, &p) in points.iter().enumerate() {
        buf.extend_from_slice(&input[fed..p]);
        fed = p;
        let eof = k + 1 == points.len();
        while let Some(f) = framer.next(&buf, eof) {
            got.push((buf[f.range].to_vec(), f.oversize));
        }
        let keep = framer.keep_from();
        buf.drain(..keep);
        framer.shift(keep);
    }
    // Oversize records come out in pieces whose boundaries may depend on
    // the reads; what they hold may not.
    let join = |v: &[(Vec<u8>, bool)]| -> (Vec<Vec<u8>>, Vec<u8>) {
        let whole = v.iter().filter(|r| !r.1).map(|r| r.0.clone()).collect();
        let pieces = v.iter().filter(|r| r.1).flat_map(|r| r.0.clone()).collect();
        (whole, pieces)
    };
    let (a, b) = (join(&whole), join(&got));
    assert_eq!(a.0, b.0, "records differ when the input is read in pieces at {points:?}");
    assert_eq!(a.1.len(), b.1.len(), "oversize bytes differ when read in pieces at {points:?}");
}

/// A synthetic event every compiled rule set is run on.
const PROBE: &str = concat!(
    r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"fuzz-1","#,
    r#""stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods/p/exec?command=sh","#,
    r#""verb":"create","user":{"username":"alice","groups":["system:masters","system:authenticated"]},"#,
    r#""sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.30","objectRef":{"resource":"pods","#,
    r#""namespace":"default","name":"p","subresource":"exec","apiVersion":"v1"},"#,
    r#""responseStatus":{"code":101},"requestObject":{"kind":"Pod","spec":{"hostNetwork":true,"#,
    r#""containers":[{"name":"c","image":"busybox","securityContext":{"privileged":true}}]}},"#,
    r#""requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z","stageTimestamp":"2026-01-01T00:00:00.100000Z"}"#
);

/// The rule compiler (YAML, lists, macros, the condition language): no
/// panic on any text; errors name a place; a rule set that compiles
/// evaluates without panicking.
pub fn rule_file(src: &[u8]) {
    let Ok(text) = std::str::from_utf8(src) else { return };
    let mut b = Builder::new();
    b.add_file("fuzz.yaml", text);
    match b.build() {
        Ok(set) => {
            let dec = decoder();
            let opts = ScanOptions { blind: true, write_events: true, ..ScanOptions::default() };
            let mut s = Scanner::new(&set, opts);
            s.record(&dec, PROBE.as_bytes());
            s.record(&dec, PROBE.as_bytes());
            assert!(s.stats().balanced());
        }
        Err(errs) => {
            assert!(!errs.is_empty(), "a failed build reports at least one error");
            for e in errs {
                let m = e.to_string();
                assert!(m.contains("fuzz.yaml"), "a rule error names its file: {m}");
            }
        }
    }
}

/// The audit-policy reader, validator, simulator and linter: no panic on
/// any text; a policy that parses is linted, and one that validates is
/// simulated on the built-in probes and on probes read from the same text.
pub fn audit_policy(src: &[u8]) {
    use kaudit_posture::policy::{lint, probes, simulate::Checker};
    let Ok(text) = std::str::from_utf8(src) else { return };
    let findings = lint::lint_text("fuzz.yaml", text);
    assert!(findings.iter().all(|f| !f.check.is_empty() && f.file == "fuzz.yaml"));
    if let Ok(p) = kaudit_posture::policy::parse(text) {
        if let Ok(c) = Checker::new(&p) {
            for probe in probes::builtin() {
                let _ = c.decide(&probe);
            }
            if let Ok(mine) = probes::parse(text) {
                for probe in &mine {
                    let _ = c.decide(probe);
                }
            }
        }
    }
}

/// IaC checks and the inventory reader: no panic on any text; every result
/// names its check and file.
pub fn iac(src: &[u8]) {
    let Ok(text) = std::str::from_utf8(src) else { return };
    if let Ok(findings) = kaudit_posture::iac::check("fuzz.json", text, &kaudit_posture::iac::Options::default()) {
        assert!(findings.iter().all(|f| !f.check.is_empty() && f.file == "fuzz.json"));
    }
    let _ = kaudit_posture::inventory::read("fuzz.json", text);
}
