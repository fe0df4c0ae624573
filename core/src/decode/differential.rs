//! Differential tests of the cursor fast paths — `fast::top_any` on
//! envelopes and on the Event text read out of a string, `fast::array` and
//! `fast::fields` (subscription `logEvents`, AKS `properties`),
//! `Json::as_str` (the nested string unescaped without a second parse) and
//! the gunzip shortcut (`Decoder::fast_text`) — against serde_json's typed
//! parse alone (`json::typed_only`): every record must give byte-identical
//! output (events, skip envelopes, error envelopes with their place,
//! category and message) and the same counts, whichever path ran.
//!
//! Inputs: every file of `tests/fixtures/` (real vendor samples and the
//! synthetic envelopes there) and the hostile envelopes built below, which
//! are **synthetic** (written for these tests).

use std::io::Write;

use base64::Engine;

use crate::json::typed_only;
use crate::normalize::{Normalizer, Options};
use crate::{normalize_buffer, Decoder, Limits};

/// Decoders with the default limits and with small ones (so that the
/// fast paths' depth and hop bounds are compared at their edges).
fn decoders() -> Vec<Decoder> {
    let d = Limits::default();
    [
        d,
        Limits { max_depth: 3, ..d },
        Limits { max_depth: 4, ..d },
        Limits { max_depth: 6, ..d },
        Limits { max_hops: 1, ..d },
    ]
    .into_iter()
    .map(Decoder::new)
    .collect()
}

/// The same output and counts with the fast paths as without them.
fn same(dec: &Decoder, input: &[u8], what: &str) {
    let opts = Options { keep_skipped: true };
    let (fast, fs) = normalize_buffer(dec, input, opts);
    let (typed, ts) = typed_only(|| normalize_buffer(dec, input, opts));
    assert_eq!(
        String::from_utf8_lossy(&fast),
        String::from_utf8_lossy(&typed),
        "{what} ({:?}): fast paths and typed parse disagree on {}",
        dec.limits(),
        String::from_utf8_lossy(input)
    );
    assert_eq!(fs.table(), ts.table(), "{what}: counts differ");
}

/// One record decoded whole (a gzip blob is one record).
fn same_record(dec: &Decoder, record: &[u8], what: &str) {
    let run = || {
        let mut n = Normalizer::new(Options { keep_skipped: true });
        n.record(dec, record);
        let mut out = Vec::new();
        n.take_output(&mut out);
        (out, n.stats().table())
    };
    let fast = run();
    let typed = typed_only(run);
    assert_eq!(String::from_utf8_lossy(&fast.0), String::from_utf8_lossy(&typed.0), "{what}");
    assert_eq!(fast.1, typed.1, "{what}: counts differ");
}

#[test]
fn fast_paths_agree_with_the_typed_parse_on_every_fixture_record() {
    let files = crate::testdata::fixture_files();
    assert!(files.len() >= 25, "fixtures not found under tests/fixtures");
    for dec in decoders() {
        for f in &files {
            let Ok(bytes) = std::fs::read(f) else { panic!("read {}", f.display()) };
            let what = f.display().to_string();
            if bytes.starts_with(&[0x1f, 0x8b]) {
                same_record(&dec, &bytes, &what);
                let mut plain = Vec::new();
                let mut gz = flate2::read::MultiGzDecoder::new(&bytes[..]);
                std::io::Read::read_to_end(&mut gz, &mut plain).unwrap_or_default();
                same(&dec, &plain, &what);
            } else {
                same(&dec, &bytes, &what);
            }
        }
    }
}

// ---- Synthetic hostile envelopes ----------------------------------------

/// A synthetic Event with escapes of every kind in its strings.
const EVENT: &str = r#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a-1","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?limit=500\u0026x=\/y","verb":"create","user":{"username":"alice \"the\" admin","uid":"u-1","groups":["system:authenticated","d\u00e9v \ud83d\ude00"],"extra":{"scopes":["a\tb"]}},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.29 \\ back","objectRef":{"resource":"pods","namespace":"default","name":"p","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"Pod","spec":{"containers":[{"name":"c","image":"nginx","args":["-1.5e-3",0,true,null]}]}},"requestReceivedTimestamp":"2024-01-01T00:00:00.000000Z","stageTimestamp":"2024-01-01T00:00:00.100000Z","annotations":{"authorization.k8s.io/decision":"allow"}}"#;

/// `s` as a JSON string (Go-style: the text of a nested Event).
fn esc(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

fn cloudwatch(message: &str) -> String {
    format!(
        r#"{{"logStreamName":"kube-apiserver-audit-1","timestamp":1715677200008,"message":{message},"ingestionTime":1715677201000,"eventId":"1"}}"#
    )
}

fn aks(log: &str) -> String {
    format!(
        r#"{{"time":"2024-05-14T09:00:00.7616302Z","resourceId":"/SUBSCRIPTIONS/s-1/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/c-1","category":"kube-audit","operationName":"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read","properties":{{"log":{log},"stream":"stdout","pod":"kube-apiserver-1"}}}}"#
    )
}

fn subscription(events: &str) -> String {
    format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"123456789012","logGroup":"/aws/eks/c-1/cluster","logStream":"kube-apiserver-audit-1","subscriptionFilters":["f"],"logEvents":{events}}}"#
    )
}

fn log_event(id: u32, message: &str) -> String {
    format!(r#"{{"id":"{id}","timestamp":1715677200008,"message":{message}}}"#)
}

const GKE: &str = r#"{"insertId":"a-1","labels":{"authorization.k8s.io/decision":"allow"},"logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity","operation":{"first":true,"id":"a-1","last":true,"producer":"k8s.io"},"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"system:node:n-1"},"methodName":"io.k8s.coordination.v1.leases.update","requestMetadata":{"callerIp":"10.0.0.1","callerSuppliedUserAgent":"kubelet/v1.29.3"},"resourceName":"coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n-1","serviceName":"k8s.io","status":{}},"receiveTimestamp":"2024-05-14T09:00:01.059495974Z","resource":{"labels":{"cluster_name":"c-1","location":"us-central1","project_id":"p"},"type":"k8s_cluster"},"severity":"NOTICE","timestamp":"2024-05-14T09:00:00.000074Z"}"#;

fn gzip_base64(payload: &str) -> String {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(payload.as_bytes()).unwrap_or_default();
    let bytes = gz.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn nest(n: usize) -> String {
    format!("{}1{}", "[".repeat(n), "]".repeat(n))
}

/// The synthetic hostile records: each envelope well-formed, then with
/// escaped and duplicate keys, missing members, wrong types, odd nested
/// strings, deep nesting, whitespace, and cut short.
fn hostile() -> Vec<String> {
    let ev = esc(EVENT);
    let ev_nl = esc(&format!("{EVENT}\n"));
    let inner_variants = [
        ev.clone(),
        ev_nl.clone(),
        esc(&EVENT.replace("alice", r"al\ud800ice")),
        esc(&EVENT.replace(r#""verb":"create""#, r#""verb":"create","verb":"get""#)),
        esc(&EVENT.replace(r#""code":201"#, r#""code":"201""#)),
        esc(&EVENT.replace(',', ",\n\t")),
        esc(&EVENT.replace(r#""kind":"Pod""#, &format!(r#""kind":"Pod","deep":{}"#, nest(120)))),
        esc(&EVENT.replace(r#""kind":"Pod""#, &format!(r#""kind":"Pod","deep":{}"#, nest(130)))),
        esc(&EVENT.replace(r#""kind":"Pod""#, &format!(r#""kind":"Pod","deep":{}"#, nest(2)))),
        esc(&format!("{}[Truncated...]", &EVENT[..EVENT.len() / 2])),
        esc(&EVENT[..EVENT.len() - 1]),
        esc(&format!("  {EVENT}  ")),
        esc("not json"),
        esc(""),
        esc(r#"{"kind":"Event","kaudit":{"source":"k8s"},"verb":"get"}"#),
        esc(r#"{"message":"{\"kind\":\"Event\"}","logStreamName":"x"}"#),
        EVENT.to_string(),
        "null".into(),
        "5".into(),
        "true".into(),
        "[1,2]".into(),
        r#""\ud800""#.into(),
        r#""\u007b\"kind\":\"Event\",\"verb\":\"get\"}""#.into(),
        r#""{\/}""#.into(),
    ];
    let mut out = Vec::new();
    for inner in &inner_variants {
        out.push(cloudwatch(inner));
        out.push(aks(inner));
        let events = format!("[{},{}]", log_event(1, inner), log_event(2, &ev));
        let sub = subscription(&events);
        out.push(format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, gzip_base64(&sub)));
        out.push(sub);
        out.push(format!(r#"{{"records":[{},{}]}}"#, aks(inner), aks(&ev)));
    }
    let cw = cloudwatch(&ev);
    let az = aks(&ev_nl);
    let sub = subscription(&format!("[{},{}]", log_event(1, &ev), log_event(2, &ev)));
    let bases = [cw.clone(), az.clone(), sub.clone(), GKE.to_string()];
    let edits: &[(&str, &str)] = &[
        // Escaped keys.
        (r#""message":"#, r#""mess\u0061ge":"#),
        (r#""log":"#, r#""l\u006fg":"#),
        (r#""properties":"#, r#""propert\u0069es":"#),
        (r#""logEvents":"#, r#""logEv\u0065nts":"#),
        (r#""protoPayload":"#, r#""protoP\u0061yload":"#),
        // Duplicate keys, at the top and inside.
        (r#""ingestionTime":"#, r#""message":"{}","ingestionTime":"#),
        (r#""category":"kube-audit""#, r#""category":"kube-audit","category":"kube-audit""#),
        (r#""stream":"stdout""#, r#""stream":"stdout","log":"{}""#),
        (r#""stream":"stdout""#, r#""stream":"stdout","stream":"x""#),
        (r#""id":"1","#, r#""id":"1","message":null,"#),
        (r#""id":"1","#, r#""id":"1","timestamp":1,"#),
        (r#""owner":"#, r#""owner":"x","owner":"#),
        (r#""serviceName":"k8s.io""#, r#""serviceName":"k8s.io","serviceName":"k8s.io""#),
        // Missing members.
        (r#""message":"#, r#""note":"#),
        (r#""log":"#, r#""log_":"#),
        (r#""properties":"#, r#""props":"#),
        (r#""logEvents":"#, r#""events":"#),
        (r#""logStreamName":"kube-apiserver-audit-1","#, ""),
        // Wrong types.
        (r#""properties":{"#, r#""properties":"x","p":{"#),
        (r#""properties":{"#, r#""properties":[{"#),
        (r#""pod":"kube-apiserver-1"}}"#, r#""pod":"kube-apiserver-1"}]}"#),
        (r#""properties":{"#, r#""properties":null,"p":{"#),
        (r#""logEvents":["#, r#""logEvents":{"a":["#),
        (r#"]}"#, r#"]}}"#),
        (r#""logEvents":["#, r#""logEvents":[1,"x",null,[],"#),
        (r#""logEvents":["#, r#""logEvents":[["#),
        (r#""timestamp":1715677200008"#, r#""timestamp":"x""#),
        (r#""timestamp":1715677200008"#, r#""timestamp":null"#),
        (r#""category":"kube-audit""#, r#""category":5"#),
        (r#""category":"kube-audit""#, r#""category":"KUBE-AUDIT""#),
        (r#""category":"kube-audit""#, r#""category":"cluster-autoscaler""#),
        (r#""messageType":"DATA_MESSAGE""#, r#""messageType":"CONTROL_MESSAGE""#),
        (r#""messageType":"DATA_MESSAGE""#, r#""messageType":5"#),
        (r#""logGroup":"/aws/eks/c-1/cluster""#, r#""logGroup":null"#),
        (r#""logStream":"kube-apiserver-audit-1""#, r#""logStream":"authenticator-1""#),
        (r#""logStreamName":"kube-apiserver-audit-1""#, r#""logStreamName":"kube-scheduler-1""#),
        (r#""status":{}"#, r#""status":{"code":7,"message":"denied"}"#),
        (r#""status":{}"#, r#""status":{"code":-1}"#),
        (r#""status":{}"#, r#""status":{"code":"7"}"#),
        (r#""callerIp":"#, r#""callerIP":"#),
        (r#""callerIp":"10.0.0.1","#, r#""callerIp":"10.0.0.1","callerIP":"10.0.0.2","#),
        (r#""type":"k8s_cluster""#, r#""type":5"#),
        (r#""status":{}"#, r#""status":{},"authorizationInfo":[{"granted":true,"permission":"p"}]"#),
        (r#""status":{}"#, r#""status":{},"authorizationInfo":[{"permission":"p"},{"granted":null}]"#),
        (r#""status":{}"#, r#""status":{},"authorizationInfo":[{"granted":"yes"}]"#),
        (r#""status":{}"#, r#""status":{},"authorizationInfo":[null]"#),
        (r#""status":{}"#, r#""status":{},"authorizationInfo":[]"#),
        (r#""status":{}"#, r#""status":{},"authorizationInfo":{}"#),
        (r#""status":{}"#, r#""status":{},"response":{"@type":"x.Status","kind":"Status","code":404}"#),
        (r#""status":{}"#, r#""status":{},"request":{"@type":"t","spec":{"a":[1,{"b":""}"}]}}"#),
        (r#""status":{}"#, r#""status":null"#),
        (r#""status":{}"#, r#""status":{"code":7.0}"#),
        (r#""status":{}"#, r#""status":{"code":null,"message":"mé"}"#),
        (r#""operation":{"#, r#""operation":["a-2"],"op":{"#),
        (r#""operation":{"#, r#""operation":null,"op":{"#),
        (r#""labels":{"cluster_name""#, r#""labels":{"cluster_name":null,"cluster_name""#),
        (r#""resource":{"#, r#""resource":"x","r":{"#),
        (r#""protoPayload":{"#, r#""protoPayload":{"serviceName":null,"#),
        (r#""serviceName":"k8s.io""#, r#""serviceName":"compute.googleapis.com""#),
        (r#""principalEmail":"#, r#""principalSubject":"s","principalEmail":"#),
        (r#""principalEmail":"#, r#""authoritySelector":"x@y","principalEmail":"#),
        (r#""insertId":"a-1""#, r#""insertId":5"#),
        // Escapes in envelope values.
        (r#""kube-apiserver-1""#, r#""kube-apiserver-\u0031\ud83d\ude00""#),
        (r#""c-1""#, r#""c\u002d1""#),
        (r#""/aws/eks/c-1/cluster""#, r#""\/aws\/eks\/c-1\/cluster""#),
        (r#""kube-apiserver-audit-1""#, r#""kube-apiserver-audit-\ud800""#),
        // Deep nesting in a member nobody reads.
        (r#""timestamp":"#, &format!(r#""deep":{},"timestamp":"#, nest(125))),
        (r#""timestamp":"#, &format!(r#""deep":{},"timestamp":"#, nest(126))),
        (r#""timestamp":"#, &format!(r#""deep":{},"timestamp":"#, nest(127))),
        (r#""timestamp":"#, &format!(r#""deep":{},"timestamp":"#, nest(3))),
        // Whitespace and control characters.
        (r#"":"#, r#"" : "#),
        (",", " ,\n\t"),
        (r#""timestamp":"#, "\"x\":\"a\u{1}b\",\"timestamp\":"),
        // Malformed JSON.
        (r#""timestamp":"#, r#""x":[1,],"timestamp":"#),
        (r#""timestamp":"#, r#""x":01,"timestamp":"#),
        (r#""timestamp":"#, r#""x":"\x","timestamp":"#),
    ];
    for base in &bases {
        out.push(base.clone());
        for (from, to) in edits {
            if base.contains(from) {
                out.push(base.replacen(from, to, 1));
            }
        }
        // Trailing text, several documents, cut short at many places.
        out.push(format!("{base} x"));
        out.push(format!("{base}{base}"));
        out.push(format!("[{base},{base}]"));
        for cut in (1..base.len()).step_by(13) {
            if let Some(prefix) = base.get(..cut) {
                out.push(prefix.to_string());
            }
        }
    }
    // Subscription payloads gzipped: well-formed, with a newline, padded,
    // as two documents, and not one object.
    for payload in [sub.clone(), format!("{sub}\n"), format!(" {sub}"), format!("{sub}{sub}"), "[1]".into(), "{".into()]
    {
        out.push(format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, gzip_base64(&payload)));
    }
    out
}

#[test]
fn fast_paths_agree_with_the_typed_parse_on_hostile_synthetic_envelopes() {
    let records = hostile();
    assert!(records.len() > 500);
    for dec in decoders() {
        for r in &records {
            same_record(&dec, r.as_bytes(), r);
        }
    }
}

/// The gunzip shortcut (one compact object: no framing pass) against the
/// framer, on raw gzip records (synthetic payloads).
#[test]
fn gzip_payloads_agree_with_the_framed_typed_parse() {
    let sub = subscription(&format!("[{}]", log_event(1, &esc(EVENT))));
    let payloads = [
        sub.clone(),
        format!("{sub}\n"),
        format!("{sub} "),
        format!("\u{feff}{sub}"),
        format!("{sub}\n{sub}"),
        format!("{sub}{sub}"),
        sub.replace(',', ",\n"),
        sub[..sub.len() - 1].to_string(),
        EVENT.to_string(),
        format!("{{\"a\":{}}}", nest(200)),
        String::new(),
    ];
    for dec in decoders() {
        for p in &payloads {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(p.as_bytes()).unwrap_or_default();
            let blob = gz.finish().unwrap_or_default();
            same_record(&dec, &blob, p);
        }
    }
}

/// The differential tests above compare something: on each well-formed
/// synthetic envelope the fast paths do answer.
#[test]
fn fast_paths_answer_for_well_formed_envelopes() {
    use crate::json::Json;
    let ev = esc(EVENT);
    let sub = subscription(&format!("[{},{}]", log_event(1, &ev), log_event(2, &ev)));
    for text in [cloudwatch(&ev), aks(&ev), sub.clone(), GKE.to_string()] {
        let mut top = super::Top::default();
        assert!(super::fast::top_any(&text, crate::decode::MAX_JSON_DEPTH, &mut top).is_some(), "{text}");
    }
    let a = aks(&ev);
    let mut top = super::Top::default();
    assert!(super::fast::top_any(&a, 127, &mut top).is_some());
    let props = top.properties.and_then(|p| super::fast::fields(p, [b"log"]));
    let log = props.and_then(|[log]| log).and_then(|l| l.as_str());
    assert_eq!(log.as_deref(), Some(EVENT));
    let mut top = super::Top::default();
    assert!(super::fast::top_any(&sub, 127, &mut top).is_some());
    let items = top.log_events.and_then(|l| super::fast::array_fields(l, [b"message", b"timestamp"]));
    let items = items.unwrap_or_default();
    assert_eq!(items.len(), 2);
    let (text, first) = items.first().cloned().unwrap_or((Json(""), None));
    assert_eq!(text.get(), log_event(1, &ev));
    assert!(first.is_some_and(|[m, t]| m.is_some_and(|m| m.get() == ev) && t == Some(Json("1715677200008"))));
}
