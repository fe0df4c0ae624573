//! The body reader against the DOM: whatever `check` admits must read
//! exactly as `serde_json::Value` reads it; everything else is declined.

use serde_json::Value;

use super::*;
use crate::rules::derive;

/// Bodies `check` admits (synthetic, hostile in small ways).
const ADMITTED: &[&str] = &[
    r#"{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","labels":{"b":"2","a":"1"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}"#,
    r#"  { "b" : 1 , "a" : [ 1 , { "d" : null , "c" : true } ] , "e" : { } , "f" : [ ] }  "#,
    // Duplicate keys: the last one wins, in place of the first.
    r#"{"b":1,"a":2,"b":3}"#,
    r#"{"spec":{"hostPID":false},"spec":{"hostPID":true}}"#,
    // An escaped key equal to a plain one, and keys that sort differently
    // escaped and unescaped.
    r#"{"\u0062":1,"a":2,"b":3,"\u0041":4,"\\":5,"Z":6}"#,
    // Escapes in strings that serde_json writes differently (or not at all).
    r#"{"s":"a\u0026b\/c\"d\\e\nf\u001fg\u00e9h\t","t":"plain é 中"}"#,
    r#"["\b\f\r", "\u007f", "x"]"#,
    // Integers at the edges of what a Value holds exactly.
    r#"{"max":18446744073709551615,"min":-9223372036854775808,"i":9223372036854775807,"z":0,"n":-1}"#,
    r#"{"containers":[[1,2],[[3]],{"a":[]}]}"#,
    "true",
    "null",
    r#""just a string""#,
    "12",
];

/// Bodies `check` declines (serde_json decides them).
const DECLINED: &[&str] = &[
    r#"{"x":1.5}"#,
    r#"{"x":1e5}"#,
    r#"{"x":1E-2}"#,
    r#"{"x":1e999}"#,
    r#"{"x":-1e400}"#,
    r#"{"x":99999999999999999999999}"#,
    r#"{"x":18446744073709551616}"#,
    r#"{"x":-9223372036854775809}"#,
    r#"{"x":-0}"#,
    r#"{"x":"\ud83d\ude00"}"#,
    r#"{"x":"\ud800"}"#,
    r#"{"\ud800":1}"#,
    "{\"x\":\n1}",
    "{\"x\":\"a\tb\"}",
    r#"{"x":1,}"#,
    r#"{"x":01}"#,
    r#"{"x":1} {"#,
    r#"{"x":"abc"#,
    r#"{"x":tru}"#,
    "",
    "   ",
];

fn nested(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

#[test]
fn check_admits_only_what_reads_the_same_as_the_dom() {
    for t in ADMITTED {
        assert!(check(t).is_some(), "declined {t:?}");
        assert!(serde_json::from_str::<Value>(t).is_ok(), "{t:?}");
    }
    for t in DECLINED {
        assert!(check(t).is_none(), "admitted {t:?}");
    }
    // Surrounding whitespace is not part of the value.
    assert_eq!(check(" {} ").unwrap().root().text(), "{}");
}

#[test]
fn deep_nesting_is_admitted_only_within_the_cursors_limit() {
    let limit = Cursor::MAX_DEPTH as usize;
    let ok = nested(limit);
    assert!(check(&ok).is_some());
    assert!(serde_json::from_str::<Value>(&ok).is_ok(), "serde_json reads as deep");
    let deep = nested(limit + 1);
    assert!(check(&deep).is_none());
    // Far deeper than serde_json's own limit: declined, no stack overflow.
    assert!(check(&nested(100_000)).is_none());
    let objects = format!("{}1{}", r#"{"a":"#.repeat(limit + 1), "}".repeat(limit + 1));
    assert!(check(&objects).is_none());
}

#[test]
fn canonical_text_is_the_doms_text() {
    let deep = nested(Cursor::MAX_DEPTH as usize);
    for t in ADMITTED.iter().copied().chain([deep.as_str()]) {
        let tape = check(t).unwrap();
        let dom: Value = serde_json::from_str(t).unwrap();
        assert_eq!(tape.root().canonical(), dom.to_string(), "{t:?}");
    }
}

/// `raw` and `dom` answer every `Node` question the same way, recursively.
fn same(raw: Raw<'_>, dom: &Value, at: &str) {
    assert_eq!(raw.is_object(), dom.is_object(), "{at}");
    assert_eq!(raw.as_str(), Node::as_str(dom), "{at}");
    assert_eq!(raw.as_bool(), dom.as_bool(), "{at}");
    assert_eq!(raw.as_i64(), dom.as_i64(), "{at}");
    assert_eq!(raw.as_f64(), if dom.is_number() { dom.as_f64() } else { None }, "{at}");
    assert_eq!(raw.is_null(), dom.is_null(), "{at}");
    assert_eq!(raw.is_container(), dom.is_object() || dom.is_array(), "{at}");
    let mut raws = Vec::new();
    let is_array = raw.each(|x| raws.push(x));
    assert_eq!(is_array, dom.is_array(), "{at}");
    if let Some(a) = dom.as_array() {
        assert_eq!(raws.len(), a.len(), "{at}");
        for (i, (r, d)) in raws.iter().zip(a).enumerate() {
            same(*r, d, &format!("{at}[{i}]"));
        }
    }
    if let Some(m) = dom.as_object() {
        for (k, d) in m {
            let r = raw.get(k).unwrap_or_else(|| panic!("{at}.{k} missing"));
            same(r, d, &format!("{at}.{k}"));
        }
        assert_eq!(raw.get("no such key"), None, "{at}");
        let keys: Vec<&str> = m.keys().map(String::as_str).take(3).collect();
        if let [a, b, c] = keys[..] {
            let [x, y, z] = raw.pick([a, b, c]);
            assert_eq!([x, y, z], [a, b, c].map(|k| raw.get(k)), "{at}");
        }
    } else {
        assert_eq!(raw.get("a"), None, "{at}: not an object");
    }
}

#[test]
fn navigation_agrees_with_the_dom() {
    for t in ADMITTED {
        let dom: Value = serde_json::from_str(t).unwrap();
        same(check(t).unwrap().root(), &dom, t);
    }
    // Duplicates: the last value, as a Value keeps it.
    let tape = check(r#"{"a":1,"a":{"b":"x"},"b":2}"#).unwrap();
    let raw = tape.root();
    assert_eq!(raw.get("a").and_then(|a| a.get("b")).and_then(Node::as_str).as_deref(), Some("x"));
}

/// Every request and response body in the fixture files.
fn fixture_bodies() -> Vec<String> {
    let mut out = Vec::new();
    for p in crate::testdata::fixture_files() {
        if p.extension().is_some_and(|x| x == "jsonl" || x == "json") {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for line in text.lines() {
                collect_bodies(serde_json::from_str::<Value>(line).ok().as_ref(), &mut out);
            }
            collect_bodies(serde_json::from_str::<Value>(&text).ok().as_ref(), &mut out);
        }
    }
    out
}

fn collect_bodies(v: Option<&Value>, out: &mut Vec<String>) {
    match v {
        Some(Value::Object(m)) => {
            for (k, x) in m {
                if matches!(k.as_str(), "requestObject" | "responseObject") && x.is_object() {
                    out.push(x.to_string());
                }
                collect_bodies(Some(x), out);
            }
        }
        Some(Value::Array(a)) => a.iter().for_each(|x| collect_bodies(Some(x), out)),
        _ => {}
    }
}

/// Synthetic pods and RBAC objects with every field the summaries read,
/// in odd spellings.
const SUMMARY_CASES: &[&str] = &[
    r#"{"spec":{"hostPID":true,"hostIPC":"true","hostNetwork":"yes","serviceAccountName":"sa","securityContext":{"runAsUser":"0"},
       "volumes":[{"name":"d","hostPath":{"path":"/var/run/docker.sock"}},{"name":"e","emptyDir":{}},{"hostPath":{"path":7}}],
       "initContainers":[{"name":"i","image":"busybox","securityContext":{"privileged":"true","allowPrivilegeEscalation":true}}],
       "containers":[{"name":"c","image":"nginx","ports":[{"hostPort":8080},{"hostPort":"9090"},{"containerPort":1},{"hostPort":-1}],
         "securityContext":{"runAsUser":1000,"runAsNonRoot":false,"capabilities":{"add":["SYS_ADMIN","cap_net_raw","SYS_ADMIN",3]}}}],
       "ephemeralContainers":[{"name":"dbg","image":"x","securityContext":{"runAsNonRoot":false}}]}}"#,
    r#"{"spec":{"serviceAccountName":null,"serviceAccount":"legacy","containers":{"not":"an array"},"securityContext":"odd"}}"#,
    r#"{"spec":{"serviceAccount":"legacy","containers":[{"securityContext":{"runAsUser":18446744073709551615}}],
       "securityContext":{"runAsNonRoot":false}}}"#,
    r#"{"spec":{"containers":[{"name":"a"}],"containers":[{"name":"b","securityContext":{"runAsUser":0}}]}}"#,
    r#"{"spec":{"template":{"spec":{"containers":[{"name":"t","image":"\u0041lpine"}]}}}}"#,
    r#"{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"hostNetwork":true}}}}}}"#,
    r#"{"template":{"spec":{"hostPID":true}},"spec":{}}"#,
    r#"{"spec":[]}"#,
    r#"{"rules":[{"verbs":["get","*","get"],"resources":["pods","secrets"],"apiGroups":[""]},{"verbs":"*"},{"resources":[1,"x"]}],
       "roleRef":{"kind":"ClusterRole","name":"cluster-admin"},
       "subjects":[{"kind":"ServiceAccount","name":"ci","namespace":"build"},{"kind":"User","name":"alice"},{"kind":"ServiceAccount","name":"nons"},{"name":"nokind"},{"kind":5}]}"#,
    r#"{"roleRef":"odd","subjects":{"kind":"User"}}"#,
];

const RESOURCES: &[&str] = &[
    "pods",
    "deployments",
    "replicasets",
    "statefulsets",
    "daemonsets",
    "jobs",
    "replicationcontrollers",
    "cronjobs",
    "podtemplates",
    "roles",
];

#[test]
fn summaries_agree_with_the_dom() {
    let bodies = fixture_bodies();
    assert!(bodies.len() > 20, "found the fixture bodies: {}", bodies.len());
    // One line each (a newline is a control character: `check` declines it).
    let cases: Vec<String> = SUMMARY_CASES.iter().map(|c| c.replace('\n', " ")).collect();
    let mut compared = 0;
    for t in bodies.iter().chain(&cases).map(String::as_str) {
        let dom: Value = serde_json::from_str(t).unwrap();
        let Some(tape) = check(t) else { continue };
        let raw = tape.root();
        compared += 1;
        same(raw, &dom, "body");
        for res in RESOURCES {
            let (r, d) = (derive::pod_spec(res, raw), derive::pod_spec(res, &dom));
            assert_eq!(r.is_some(), d.is_some(), "{res}: {t}");
            if let (Some(r), Some(d)) = (r, d) {
                assert_eq!(derive::summarize_pod(r), derive::summarize_pod(d), "{res}: {t}");
            }
        }
        assert_eq!(derive::summarize_rbac(raw), derive::summarize_rbac(&dom), "{t}");
    }
    assert!(compared > 20, "{compared}");
    let tape = check(&cases[0]).unwrap();
    let first = derive::summarize_pod(derive::pod_spec("pods", tape.root()).unwrap());
    assert!(first.privileged && first.host_pid && first.host_ipc && !first.host_network && first.runs_as_root);
    assert_eq!(first.host_ports, ["8080", "9090", "-1"]);
    assert_eq!(first.caps_added, ["SYS_ADMIN", "NET_RAW"]);
    let tape = check(&cases[3]).unwrap();
    let dup = derive::summarize_pod(derive::pod_spec("pods", tape.root()).unwrap());
    assert_eq!((dup.container_names, dup.runs_as_root), (vec!["b".to_string()], true), "the last `containers` wins");
}

/// `Raw::shadow` describes the canonical text exactly, on every value and
/// key of every admitted synthetic and fixture body: its length, and every
/// run of piece bytes in it (no JSON structure, quotes, backslashes,
/// whitespace, controls) occurs in the raw text or in the canonical
/// spelling of the escaped strings — what the prefilter relies on.
#[test]
fn shadow_describes_the_canonical_text() {
    let token = |b: u8| b > b' ' && !matches!(b, b'"' | b'\\' | b':' | b',' | b'{' | b'}' | b'[' | b']');
    let mut bodies: Vec<String> = ADMITTED.iter().map(|s| s.to_string()).collect();
    bodies.extend(fixture_bodies());
    bodies.push(r#"{"a":"x\u0026y","b":"x\/y","c":"\u0009tab","d":["\u0041",{"e":"\"q\""}]}"#.to_string());
    bodies.push(r#"{"a":"x\u0026y","b":"x\/y","a":"dropped\u0041"}"#.to_string());
    let (mut values, mut left) = (0, 0);
    for t in &bodies {
        let Some(tape) = check(t) else { continue };
        for at in 0..tape.nodes.len() as u32 {
            let v = Raw { tape: &tape, at };
            let canon = v.canonical();
            let Some(sh) = v.shadow() else {
                // Left to the full path: escaped or duplicate keys only.
                let dom: Value = serde_json::from_str(v.text()).unwrap();
                let raw_nodes = v.entry().next - at;
                assert!(v.text().contains('\\') || dom_nodes(&dom) < raw_nodes as usize, "{}", v.text());
                left += 1;
                continue;
            };
            assert_eq!(sh.len, canon.len(), "{}", v.text());
            for run in canon.as_bytes().split(|&b| !token(b)).filter(|r| !r.is_empty()) {
                let found = |hay: &[u8]| memchr::memmem::find(hay, run).is_some();
                assert!(
                    found(v.text().as_bytes()) || found(sh.escaped.as_bytes()),
                    "{:?} of {canon} neither in {} nor in {}",
                    String::from_utf8_lossy(run),
                    v.text(),
                    sh.escaped
                );
            }
            values += 1;
        }
    }
    assert!(values > 1000, "{values}");
    assert!(left > 3 && left < values / 50, "{left} of {values} left to the full path");
}

/// The entries a tape would hold for `v` (one per value and per key).
fn dom_nodes(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(|x| 1 + dom_nodes(x)).sum::<usize>(),
        Value::Array(a) => 1 + a.iter().map(dom_nodes).sum::<usize>(),
        _ => 1,
    }
}
