//! Hostile input: each case of the reliability issue's list, with what must
//! happen (RELIABILITY.md). Every case also goes through the contract checks
//! (`kaudit_tests::contract`): no panic, nothing lost, valid output. All
//! inputs here are synthetic, built by the test.

use std::io::Write;

use kaudit_core::rules::Builder;
use kaudit_core::{normalize_buffer, Decoder, Limits, Options};
use kaudit_tests::contract;
use serde_json::{json, Value};

const EVENT: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"h-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods","verb":"list","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"default"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:00.000000Z","stageTimestamp":"2026-01-01T00:00:00.001000Z"}"#;

/// Normalize `input` with `dec`; the output lines as JSON, and the totals
/// (events, skipped, errors). The contract checks run first.
fn run_with(dec: &Decoder, input: &[u8]) -> (Vec<Value>, (u64, u64, u64)) {
    contract::decode(input);
    contract::pipeline(input);
    let (out, stats) = normalize_buffer(dec, input, Options { keep_skipped: true });
    assert!(stats.balanced(), "{}", stats.table());
    let lines = std::str::from_utf8(&out)
        .expect("UTF-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON output"))
        .collect();
    let t = stats.total();
    (lines, (t.events, t.skipped, t.errors))
}

fn run(input: &[u8]) -> (Vec<Value>, (u64, u64, u64)) {
    run_with(&Decoder::default(), input)
}

/// The error object of an error envelope.
fn error_of(v: &Value) -> &Value {
    &v["kaudit"]["error"]
}

/// EVENT with one more member, its value given as JSON text (appended as
/// text: the values here are ones a parser may refuse).
fn with(field: &str, value: &str) -> String {
    format!("{},\"{field}\":{value}}}", &EVENT[..EVENT.len() - 1])
}

#[test]
fn ten_megabyte_event_is_one_event() {
    let body = format!(r#"{{"kind":"ConfigMap","data":{{"blob":"{}"}}}}"#, "x".repeat(10 << 20));
    let rec = with("requestObject", &body);
    let (lines, totals) = run(rec.as_bytes());
    assert_eq!(totals, (1, 0, 0));
    assert_eq!(lines[0]["requestObject"]["data"]["blob"].as_str().map(str::len), Some(10 << 20));
}

#[test]
fn ten_megabyte_event_over_the_record_limit_passes_through_as_errors() {
    let body = format!(r#"{{"blob":"{}"}}"#, "y".repeat(10 << 20));
    let rec = with("requestObject", &body);
    let dec = Decoder::new(Limits { max_record_bytes: 1 << 20, ..Limits::default() });
    let (lines, (events, _, errors)) = run_with(&dec, rec.as_bytes());
    assert_eq!(events, 0);
    assert!(errors >= 10, "one error per 1 MiB piece, got {errors}");
    let raw: String = lines.iter().map(|l| l["raw"].as_str().unwrap_or("")).collect();
    assert_eq!(raw, rec, "every byte comes back");
    assert!(lines.iter().all(|l| error_of(l)["category"] == "limit"));
}

#[test]
fn hundred_thousand_element_arrays() {
    let ips: Vec<String> = (0..100_000).map(|i| format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255)).collect();
    let groups: Vec<String> = (0..100_000).map(|i| format!("g{i}")).collect();
    let mut v: Value = serde_json::from_str(EVENT).unwrap();
    v["sourceIPs"] = json!(ips);
    v["user"]["groups"] = json!(groups);
    v["requestObject"] = json!({ "items": (0..100_000).collect::<Vec<u32>>() });
    v["level"] = json!("Request");
    let (lines, totals) = run(v.to_string().as_bytes());
    assert_eq!(totals, (1, 0, 0));
    assert_eq!(lines[0]["sourceIPs"].as_array().map(Vec::len), Some(100_000));
}

#[test]
fn ten_thousand_deep_nesting_is_a_clear_error() {
    for deep in [
        format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)),
        with("requestObject", &format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000))),
        with("annotations", &format!("{}{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000)).replace(r#"{"a":}"#, "{}")),
    ] {
        let (lines, totals) = run(deep.as_bytes());
        assert_eq!(totals, (0, 0, 1));
        let e = error_of(&lines[0]);
        assert_eq!(e["category"], "limit");
        assert!(e["message"].as_str().unwrap().contains("nested deeper than 127"), "{e}");
        assert_eq!(lines[0]["raw"].as_str(), Some(deep.as_str()));
    }
}

#[test]
fn nesting_at_the_limit_is_accepted_and_one_over_is_not() {
    // The record object itself is level 1: 126 arrays in requestObject make
    // 127 levels, the default and largest limit (what serde_json reads).
    assert_eq!(Limits::default().max_depth, 127);
    let at = with("requestObject", &format!("{}1{}", "[".repeat(126), "]".repeat(126)));
    assert_eq!(run(at.as_bytes()).1, (1, 0, 0));
    let over = with("requestObject", &format!("{}1{}", "[".repeat(127), "]".repeat(127)));
    assert_eq!(run(over.as_bytes()).1, (0, 0, 1));
    // A larger configured limit is capped: events stay readable.
    let dec = Decoder::new(Limits { max_depth: 10_000, ..Limits::default() });
    assert_eq!(run_with(&dec, over.as_bytes()).1, (0, 0, 1));
    // A lower configured limit applies the same way.
    let dec = Decoder::new(Limits { max_depth: 8, ..Limits::default() });
    let at = with("requestObject", &format!("{}1{}", "[".repeat(7), "]".repeat(7)));
    assert_eq!(run_with(&dec, at.as_bytes()).1, (1, 0, 0));
    let over = with("requestObject", &format!("{}1{}", "[".repeat(8), "]".repeat(8)));
    assert_eq!(run_with(&dec, over.as_bytes()).1, (0, 0, 1));
}

#[test]
fn invalid_utf8_error_says_where_the_bytes_went_wrong() {
    // The decoder checks UTF-8 with a vectorized yes/no check first; the
    // message must still be std's, with the offset of the bad bytes.
    for (at, bad) in [(0, &[0xff][..]), (300, &[0xc3, 0x28]), (EVENT.len() - 2, &[0xe2, 0x82])] {
        let mut rec = EVENT.as_bytes().to_vec();
        rec.splice(at..at + bad.len(), bad.iter().copied());
        let (lines, totals) = run(&rec);
        assert_eq!(totals, (0, 0, 1));
        let want = format!("record is not UTF-8: {}", std::str::from_utf8(&rec).unwrap_err());
        assert_eq!(error_of(&lines[0])["message"], want.as_str());
    }
}

#[test]
fn invalid_utf8_passes_through_as_base64() {
    let mut rec = EVENT.as_bytes().to_vec();
    let at = rec.windows(5).position(|w| w == b"alice").unwrap();
    rec[at] = 0xff;
    let (lines, totals) = run(&rec);
    assert_eq!(totals, (0, 0, 1));
    let b64 = lines[0]["raw_base64"].as_str().expect("raw_base64 for non-UTF-8 bytes");
    use base64::Engine;
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(b64).unwrap(), rec);
}

#[test]
fn lone_surrogates_in_escapes() {
    // In a field kaudit reads: the record is an error, passed through.
    let rec = EVENT.replace("alice", r"\ud800alice");
    let (lines, totals) = run(rec.as_bytes());
    assert_eq!(totals, (0, 0, 1));
    assert_eq!(lines[0]["raw"].as_str(), Some(rec.as_str()));
    // In a body kept as raw JSON text: also an error (strict readers refuse
    // such output), the record passed through unchanged.
    let rec = with("requestObject", r#"{"note":"\udfff"}"#);
    let (lines, totals) = run(rec.as_bytes());
    assert_eq!(totals, (0, 0, 1));
    assert!(error_of(&lines[0])["message"].as_str().unwrap().contains("lone UTF-16 surrogate"));
    assert_eq!(lines[0]["raw"].as_str(), Some(rec.as_str()));
    // A proper pair is text.
    let rec = with("requestObject", r#"{"note":"\ud83d\ude00"}"#);
    assert_eq!(run(rec.as_bytes()).1, (1, 0, 0));
}

#[test]
fn duplicate_keys_make_the_record_an_error() {
    // Which of two `verb`s is the real one is ambiguous: flag, never guess.
    let rec = EVENT.replace(r#""verb":"list""#, r#""verb":"list","verb":"delete""#);
    let (lines, totals) = run(rec.as_bytes());
    assert_eq!(totals, (0, 0, 1));
    assert!(error_of(&lines[0])["message"].as_str().unwrap().contains("duplicate field"));
}

#[test]
fn nan_like_and_huge_numbers() {
    for bad in ["NaN", "Infinity", "-Infinity", "0x1F", "+1", "01"] {
        let rec = EVENT.replace(r#""code":200"#, &format!(r#""code":{bad}"#));
        let (lines, totals) = run(rec.as_bytes());
        assert_eq!(totals, (0, 0, 1), "{bad}");
        assert_eq!(error_of(&lines[0])["category"], "syntax", "{bad}");
    }
    // Valid JSON numbers that do not fit: an error for the status code,
    // kept verbatim inside bodies.
    for huge in ["99999999999999999999999", "1e999", "-1e400"] {
        let rec = EVENT.replace(r#""code":200"#, &format!(r#""code":{huge}"#));
        let (_, totals) = run(rec.as_bytes());
        assert_eq!(totals, (0, 0, 1), "{huge}");
        let rec = with("requestObject", &format!(r#"{{"n":{huge}}}"#));
        contract::decode(rec.as_bytes());
        contract::pipeline(rec.as_bytes());
        let (out, stats) = normalize_buffer(&Decoder::default(), rec.as_bytes(), Options::default());
        assert_eq!(stats.total().events, 1, "{huge}");
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains(&format!(r#""requestObject":{{"n":{huge}}}"#)), "kept verbatim: {out}");
    }
}

#[test]
fn an_unreadable_body_makes_body_rules_blind_not_quiet() {
    // A pod whose body serde_json cannot read as a value (a number beyond
    // f64) must not slip past the privileged-pod rules unseen.
    let src = format!(
        "{}{}",
        rule_file("pod_spec.privileged = true", ""),
        "  - id: by-path\n    title: t\n    severity: low\n    condition: requestObject.kind = Pod\n    tests:\n      - name: quiet\n        expect: quiet\n        event: {kind: Event, verb: get}\n"
    );
    let mut b = Builder::new();
    b.add_file("blind.yaml", &src);
    let set = b.build().expect("compiles");
    let pod = r#"{"kind":"Pod","spec":{"containers":[{"name":"c","securityContext":{"privileged":true}}],"x":1e999}}"#;
    let rec = with("requestObject", pod)
        .replace(r#""level":"Metadata""#, r#""level":"Request""#)
        .replace(r#""verb":"list""#, r#""verb":"create""#)
        .replace(r#""namespace":"default"}"#, r#""namespace":"default","name":"p"}"#);
    let dec = Decoder::default();
    let ev_rules = |text: &str| {
        let mut s = kaudit_core::scan::Scanner::new(&set, Default::default());
        s.record(&dec, text.as_bytes());
        let sum = s.summary();
        [0, 1].map(|r| (sum[r].hits, sum[r].blind.values().sum::<u64>()))
    };
    assert_eq!(ev_rules(&rec), [(0, 1), (0, 1)], "blind, counted");
    assert_eq!(ev_rules(&rec.replace("1e999", "1")), [(1, 0), (1, 0)], "readable: fires");
}

#[test]
fn byte_order_marks_crlf_and_empty_lines() {
    let input = format!("\u{feff}{EVENT}\r\n\r\n\n   \n{EVENT}\r\n\n");
    let (lines, totals) = run(input.as_bytes());
    assert_eq!(totals, (2, 0, 0));
    assert!(lines.iter().all(|l| l["auditID"] == "h-1"));
    // A BOM at the start of a record inside a stream, too.
    let input = format!("{EVENT}\n\u{feff}{EVENT}\n");
    assert_eq!(run(input.as_bytes()).1, (2, 0, 0));
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A CloudWatch subscription payload holding one event.
fn subscription() -> Vec<u8> {
    let msg = json!({
        "messageType": "DATA_MESSAGE", "owner": "111122223333",
        "logGroup": "/aws/eks/c1/cluster", "logStream": "kube-apiserver-audit-x",
        "subscriptionFilters": ["f"],
        "logEvents": [{ "id": "1", "timestamp": 1767225600000u64, "message": EVENT }]
    });
    gzip(msg.to_string().as_bytes())
}

#[test]
fn truncated_gzip_and_base64_garbage_in_envelopes() {
    let gz = subscription();
    // Sanity: the whole payload is one event.
    let firehose = json!({ "records": [{ "recordId": "r1", "data": b64(&gz) }] });
    assert_eq!(run(firehose.to_string().as_bytes()).1 .0, 1);
    // Cut gzip: an error for that record, the record passed through.
    let cut = json!({ "records": [{ "recordId": "r1", "data": b64(&gz[..gz.len() / 2]) }] });
    let (lines, (events, _, errors)) = run(cut.to_string().as_bytes());
    assert_eq!((events, errors), (0, 1));
    assert!(error_of(&lines[0])["message"].as_str().unwrap().contains("gzip"), "{}", lines[0]);
    // Base64 garbage.
    let junk = json!({ "records": [{ "recordId": "r1", "data": "%%%not base64!!" }] });
    let (_, (events, _, errors)) = run(junk.to_string().as_bytes());
    assert_eq!((events, errors), (0, 1));
    // A Lambda `awslogs.data` payload cut short.
    let lambda = json!({ "awslogs": { "data": b64(&gz[..10]) } });
    let (_, (events, _, errors)) = run(lambda.to_string().as_bytes());
    assert_eq!((events, errors), (0, 1));
}

#[test]
fn eks_truncated_messages_are_repaired_and_flagged() {
    let cut = &EVENT[..EVENT.find(r#","responseStatus""#).unwrap() + 20];
    let rec = format!("{cut}[Truncated...]");
    let (lines, totals) = run(rec.as_bytes());
    assert_eq!(totals, (1, 0, 0));
    let flags = lines[0]["kaudit"]["flags"].as_array().expect("flags");
    assert!(flags.iter().any(|f| f == "truncated"), "{}", lines[0]);
    assert_eq!(lines[0]["verb"], "list");
}

fn rule_file(condition: &str, lists: &str) -> String {
    format!(
        "{lists}rules:\n  - id: hostile\n    title: t\n    severity: low\n    condition: {condition}\n    tests:\n      - name: quiet\n        expect: quiet\n        event: {{kind: Event, verb: get}}\n"
    )
}

#[test]
fn regex_heavy_user_rules_compile_and_run_in_linear_time() {
    // Patterns that backtracking engines take exponential time on; the
    // regex crate is linear in the input. Run on a 1 MB body.
    for re in [r"'(a+)+b'", r"'(a|aa)*c'", r"'(x+x+)+y'", r"'^(([a-z])+.)+[A-Z]([a-z])+$'"] {
        let src = rule_file(&format!("requestObject regex {re}"), "");
        let mut b = Builder::new();
        b.add_file("hostile.yaml", &src);
        let set = b.build().unwrap_or_else(|e| panic!("{re}: {e:?}"));
        let body = format!(r#"{{"a":"{}"}}"#, "a".repeat(1 << 20));
        let mut v: Value = serde_json::from_str(EVENT).unwrap();
        v["requestObject"] = serde_json::from_str(&body).unwrap();
        v["level"] = json!("Request");
        let text = v.to_string();
        let dec = Decoder::default();
        let mut s = kaudit_core::scan::Scanner::new(&set, Default::default());
        s.record(&dec, text.as_bytes());
        assert_eq!(s.stats().total().events, 1);
    }
    // A pattern too big to compile is a rule error, not a crash.
    let src = rule_file(r"requestObject regex '(?:a{1000}){1000}'", "");
    let mut b = Builder::new();
    b.add_file("hostile.yaml", &src);
    let Err(errs) = b.build() else { panic!("an oversized regex is rejected") };
    assert!(errs[0].to_string().contains("hostile.yaml"), "{}", errs[0]);
}

#[test]
fn macro_cycles_are_rule_errors() {
    for macros in ["macros:\n  a: b\n  b: c\n  c: a\n", "macros:\n  a: a or verb = get\n"] {
        let src = format!("{macros}{}", rule_file("a", ""));
        let mut b = Builder::new();
        b.add_file("cycle.yaml", &src);
        let Err(errs) = b.build() else { panic!("a macro cycle is rejected") };
        assert!(errs.iter().any(|e| e.to_string().contains("macro cycle")), "{errs:?}");
    }
}

#[test]
fn enormous_lists_compile_and_match() {
    let items: Vec<String> = (0..100_000).map(|i| format!("user-{i}")).collect();
    let lists = format!("lists:\n  many: [{}]\n", items.join(", "));
    let src = rule_file("user.username in (many)", &lists);
    let mut b = Builder::new();
    b.add_file("lists.yaml", &src);
    let set = b.build().expect("a 100k-item list compiles");
    let dec = Decoder::default();
    let mut s = kaudit_core::scan::Scanner::new(&set, Default::default());
    s.record(&dec, EVENT.replace("alice", "user-99999").as_bytes());
    s.record(&dec, EVENT.as_bytes());
    assert_eq!(s.summary()[0].hits, 1);
}

#[test]
fn gzip_bomb_stops_at_the_decompressed_size_limit() {
    // 8 MB of JSON that gzips to a few KB, in a Firehose record.
    let big = with("requestObject", &format!(r#"{{"pad":"{}"}}"#, "0".repeat(8 << 20)));
    let msg = json!({
        "messageType": "DATA_MESSAGE", "owner": "1", "logGroup": "/aws/eks/c1/cluster",
        "logStream": "kube-apiserver-audit-x", "subscriptionFilters": ["f"],
        "logEvents": [{ "id": "1", "timestamp": 1767225600000u64, "message": big }]
    });
    let gz = gzip(msg.to_string().as_bytes());
    assert!(gz.len() < 64 << 10);
    let rec = json!({ "records": [{ "recordId": "r1", "data": b64(&gz) }] }).to_string();
    // Under a 1 MiB limit: an error naming the limit, the record passed through.
    let small = Decoder::new(Limits { max_record_bytes: 1 << 20, ..Limits::default() });
    let (lines, (events, _, errors)) = run_with(&small, rec.as_bytes());
    assert_eq!((events, errors), (0, 1));
    assert_eq!(error_of(&lines[0])["category"], "limit");
    assert!(error_of(&lines[0])["message"].as_str().unwrap().contains("gzip payload exceeds the limit"));
    // With room for it: one event.
    let roomy = Decoder::new(Limits { max_record_bytes: 16 << 20, ..Limits::default() });
    let (out, stats) = normalize_buffer(&roomy, rec.as_bytes(), Options::default());
    assert_eq!(stats.total().events, 1, "{}", String::from_utf8_lossy(&out[..200.min(out.len())]));
}

/// Regression (fuzz `fluentbit`): an AKS Log Analytics dynamic column
/// (`Annotations`, `RequestObject`, …) holding a *string* whose text starts
/// like JSON was copied into the event unchecked, so the output line was not
/// JSON (or held a raw newline, a lone surrogate, or nesting past the
/// limit). Such a column is now read like any string hop: it must be valid
/// JSON within the limits, or the record is an error, passed through.
#[test]
fn aks_string_columns_holding_bad_json_are_errors_not_broken_output() {
    let row = |col: &str, inner: &str| {
        json!({"TimeGenerated":"2025-04-20T16:30:04.1Z","AuditId":"a-1","Level":"RequestResponse","Stage":"ResponseComplete",
            "RequestUri":"/api/v1/pods","Verb":"create","User":{"username":"u"},"ObjectRef":{"resource":"pods"},
            "ResponseStatus":{"code":201},"SourceSystem":"Azure","Type":"AKSAudit", col: inner})
        .to_string()
    };
    let deep = format!("{}{}", "[".repeat(130), "]".repeat(130));
    for (col, inner) in [
        ("Annotations", r#"{"authorization.k8s.io/reason" "no colon"}"#),
        ("RequestObject", "{\"a\":\"line\nbreak\"}"),
        ("RequestObject", r#"{"a":"\ud800"}"#),
        ("ResponseObject", deep.as_str()),
    ] {
        let rec = row(col, inner);
        let (lines, totals) = run(rec.as_bytes());
        assert_eq!(totals, (0, 0, 1), "{col}: {inner}");
        assert_eq!(error_of(&lines[0])["at"], json!(col), "{col}: {inner}");
    }
    // Valid JSON text in a string column is still read as the body.
    let (lines, totals) = run(row("RequestObject", r#"{"kind":"Pod"}"#).as_bytes());
    assert_eq!(totals, (1, 0, 0));
    assert_eq!(lines[0]["requestObject"], json!({"kind":"Pod"}));
}

/// A Request-level Event whose `requestObject` is `body` (JSON text).
fn event_with_body(body: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Request","auditID":"x","stage":"ResponseComplete","requestURI":"/","verb":"get","user":{{"username":"u"}},"requestObject":{body}}}"#
    )
}

/// Regression (same bug, the `properties.log` hop of AKS diagnostic
/// records): the Event text inside the string is checked like a record.
#[test]
fn aks_properties_log_string_is_checked_like_a_record() {
    let rec = |body: &str| {
        json!({"records":[{"category":"kube-audit","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read","properties":{"log":event_with_body(body),"pod":"kube-apiserver-1"}}]}).to_string()
    };
    let deep = format!("{}{}", "[".repeat(130), "]".repeat(130));
    for body in [r#"{"a":"\ud800"}"#, deep.as_str()] {
        let (_, totals) = run(rec(body).as_bytes());
        assert_eq!(totals, (0, 0, 1), "{body}");
    }
    let (_, totals) = run(rec(r#"{"a":1}"#).as_bytes());
    assert_eq!(totals, (1, 0, 0));
}

/// A CloudWatch subscription record whose one log event's `message` is an
/// Event (as a JSON string) with `body` as its requestObject.
fn cloudwatch_with_body(body: &str) -> String {
    json!({"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/eks/c/cluster","logStream":"kube-apiserver-audit-1",
        "subscriptionFilters":["f"],"logEvents":[{"id":"1","timestamp":1,"message":event_with_body(body)}]})
    .to_string()
}

/// An AzureDiagnostics record whose `log_s` is an Event (as a JSON string)
/// with `body` as its requestObject.
fn diag_with_body(body: &str) -> String {
    json!({"Category":"kube-audit","log_s":event_with_body(body),"ResourceId":"/SUBSCRIPTIONS/S/RESOURCEGROUPS/R/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/C"})
        .to_string()
}

/// Regression (same bug in every string hop): an Event carried as a JSON
/// string (CloudWatch `message`, OpenShift OTLP `body.stringValue`,
/// AzureDiagnostics `log_s`) holding a lone surrogate escape or nesting past
/// the limit is an error, like the same Event as a record.
#[test]
fn events_inside_strings_are_checked_like_records() {
    let deep = format!("{}{}", "[".repeat(130), "]".repeat(130));
    for make in [cloudwatch_with_body as fn(&str) -> String, diag_with_body] {
        for body in [r#"{"a":"\ud800"}"#, deep.as_str()] {
            let (_, totals) = run(make(body).as_bytes());
            assert_eq!(totals, (0, 0, 1), "{}", make(body));
        }
        let (_, totals) = run(make(r#"{"a":1}"#).as_bytes());
        assert_eq!(totals, (1, 0, 0), "{}", make("{}"));
    }
}

#[test]
fn a_configured_nesting_limit_applies_inside_strings_too() {
    // A lower `max_depth` bounds JSON read out of a string (a hop) as it
    // bounds a record: the Event inside a CloudWatch `message`, an AKS
    // `log_s`, an AKS Log Analytics dynamic column (one level inside the row).
    let dec = Decoder::new(Limits { max_depth: 8, ..Limits::default() });
    let nest = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    for make in [cloudwatch_with_body as fn(&str) -> String, diag_with_body] {
        // The Event inside the string is level 1, requestObject's arrays below it.
        assert_eq!(run_with(&dec, make(&nest(7)).as_bytes()).1, (1, 0, 0), "{}", make(&nest(7)));
        let (lines, totals) = run_with(&dec, make(&nest(8)).as_bytes());
        assert_eq!(totals, (0, 0, 1), "{}", make(&nest(8)));
        // The unit that held the Event (the record, or its CloudWatch log
        // event) passes through unchanged.
        let raw = lines[0]["raw"].as_str().expect("raw");
        assert!(raw.contains("[[[[[[[[1]]]]]]]]") && make(&nest(8)).contains(raw), "{raw}");
    }
    // A Log Analytics row: a dynamic column holding JSON text in a string.
    let row = |n: usize| {
        json!({"Type":"AKSAudit","Level":"Metadata","AuditId":"a","Stage":"ResponseComplete","RequestUri":"/api/v1/pods",
            "Verb":"get","User":{"username":"u"},"RequestObject":nest(n),"_ResourceId":"/subscriptions/s/resourcegroups/r/providers/microsoft.containerservice/managedclusters/c"})
        .to_string()
    };
    assert_eq!(run_with(&dec, row(7).as_bytes()).1, (1, 0, 0), "{}", row(7));
    assert_eq!(run_with(&dec, row(8).as_bytes()).1, (0, 0, 1), "{}", row(8));
}
