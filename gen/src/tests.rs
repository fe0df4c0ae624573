use std::collections::BTreeMap;

use kaudit_core::rules::state::{civil_from_days, days_from_civil};
use kaudit_core::{normalize_buffer, Decoder};

use super::*;
use crate::gojson::{rfc3339, NS};

/// The top-level keys of an object, in input order.
struct TopKeys(Vec<String>);

impl<'de> serde::Deserialize<'de> for TopKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = TopKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<TopKeys, A::Error> {
                let mut keys = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    m.next_value::<serde::de::IgnoredAny>()?;
                    keys.push(k);
                }
                Ok(TopKeys(keys))
            }
        }
        d.deserialize_map(V)
    }
}

#[test]
fn timestamps() {
    let t = (days_from_civil(2024, 5, 14) * 86_400 + 9 * 3600 + 62) * NS + 123_456_789;
    assert_eq!(rfc3339(t, 6), "2024-05-14T09:01:02.123456Z");
    assert_eq!(rfc3339(t, 7), "2024-05-14T09:01:02.1234567Z");
    assert_eq!(rfc3339(t, 9), "2024-05-14T09:01:02.123456789Z");
    assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
}

#[test]
fn go_escapes() {
    let mut s = String::new();
    go_quote(&mut s, "a&b<c>\"d\"\\\u{1}");
    assert_eq!(s, r#""a\u0026b\u003cc\u003e\"d\"\\\u0001""#);
}

#[test]
fn deterministic() {
    assert_eq!(vanilla_corpus(200_000), vanilla_corpus(200_000));
    assert_eq!(gke_logentries(100_000), gke_logentries(100_000));
}

#[test]
fn vanilla_lines_are_events_in_apiserver_order() {
    let corpus = vanilla_corpus(2 << 20);
    assert!(corpus.len() >= 2 << 20);
    assert_eq!(corpus.last(), Some(&b'\n'));
    let text = std::str::from_utf8(&corpus).unwrap();
    assert!(text.contains("\\u0026"), "Go-style escapes in query strings");
    let order = [
        "kind",
        "apiVersion",
        "level",
        "auditID",
        "stage",
        "requestURI",
        "verb",
        "user",
        "sourceIPs",
        "userAgent",
        "objectRef",
        "responseStatus",
        "requestObject",
        "responseObject",
        "requestReceivedTimestamp",
        "stageTimestamp",
        "annotations",
    ];
    let mut codes = BTreeMap::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
        assert_eq!(v["kind"], "Event");
        assert_eq!(v["apiVersion"], "audit.k8s.io/v1");
        *codes.entry(v["responseStatus"]["code"].as_i64().unwrap()).or_insert(0) += 1;
        // Top-level keys appear in the apiserver's order.
        let keys: TopKeys = serde_json::from_str(line).unwrap();
        let ranks: Vec<usize> = keys.0.iter().map(|k| order.iter().position(|o| o == k).expect("known key")).collect();
        assert!(ranks.windows(2).all(|w| w[0] < w[1]), "keys out of order: {:?}", keys.0);
    }
    for code in [101, 200, 201, 401, 403, 409] {
        assert!(codes.contains_key(&code), "status {code} present: {codes:?}");
    }
}

#[test]
fn mix_and_sizes() {
    let evs = events(20_000);
    let mut by: BTreeMap<Class, (usize, usize)> = BTreeMap::new();
    for e in &evs {
        let c = by.entry(e.class).or_default();
        c.0 += 1;
        c.1 += e.to_json().len();
    }
    for (class, w) in Class::MIX {
        let (n, bytes) = by[&class];
        let share = n as f64 / evs.len() as f64 * 100.0;
        assert!((share - w as f64).abs() < 1.0 + w as f64 * 0.1, "{class:?}: {share:.1}% vs {w}%");
        let mean = bytes / n;
        match class {
            Class::Lease => assert!((600..1000).contains(&mean), "lease mean {mean}"),
            Class::PodCreate => assert!((4000..7000).contains(&mean), "pod create mean {mean}"),
            _ => {}
        }
    }
}

#[test]
fn every_corpus_normalizes_without_errors() {
    let dec = Decoder::default();
    for (id, gen) in SOURCES {
        let corpus = gen(1 << 20);
        let (out, stats) = normalize_buffer(&dec, &corpus, kaudit_core::Options::default());
        let t = stats.total();
        assert_eq!(t.errors, 0, "{id}: {}", String::from_utf8_lossy(&out[..out.len().min(2000)]));
        assert_eq!(t.skipped, 0, "{id}");
        assert!(t.events > 100, "{id}");
        assert_eq!(stats.by_source.keys().copied().collect::<Vec<_>>(), [id], "{id}");
        assert!(stats.balanced(), "{id}");
        if id != "eks.subscription" {
            assert_eq!(t.events, stats.inputs, "{id}: one event per line");
        }
    }
}

#[test]
fn same_options_same_bytes_and_exact_event_counts() {
    for source in Source::ALL {
        let opts = Options { source, seed: 7, clusters: 3 };
        let a = corpus(&opts, Stop::Events(500));
        assert_eq!(a, corpus(&opts, Stop::Events(500)), "{source:?}");
        assert_ne!(a, corpus(&Options { seed: 8, ..opts }, Stop::Events(500)), "{source:?}: the seed matters");
        let dec = Decoder::default();
        let (_, stats) = normalize_buffer(&dec, &a, kaudit_core::Options::default());
        let t = stats.total();
        assert_eq!((t.events, t.errors, t.skipped), (500, 0, 0), "{source:?}");
        let mut w = Vec::new();
        let written = write(&opts, Stop::Events(500), &mut w).unwrap();
        assert_eq!((written.events, written.bytes), (500, a.len() as u64), "{source:?}");
    }
}

#[test]
fn several_clusters_are_interleaved_in_time_order() {
    let opts = Options { source: Source::GkeLogentry, seed: 1, clusters: 3 };
    let text = String::from_utf8(corpus(&opts, Stop::Events(3000))).unwrap();
    let mut names = BTreeMap::new();
    let mut last = String::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *names.entry(v["resource"]["labels"]["cluster_name"].as_str().unwrap().to_owned()).or_insert(0) += 1;
        let t = v["timestamp"].as_str().unwrap().to_owned();
        assert!(t >= last, "{t} after {last}");
        last = t;
    }
    assert_eq!(names.keys().collect::<Vec<_>>(), ["bench", "bench-2", "bench-3"]);
    assert!(names.values().all(|&n| n > 800), "{names:?}");
}
