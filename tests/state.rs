//! Stateful rules keep bounded memory: a 1,000,000-event stream with 100,000
//! distinct users (and as many source IPs) stays under the configured cap,
//! and the windows still fire where they should.

use std::borrow::Cow;

use kaudit_core::event::{AuditEvent, ObjectRef, ResponseStatus, UserInfo};
use kaudit_core::json::Str;
use kaudit_core::rules::state::StateLimits;
use kaudit_core::rules::{Detections, Detector};

fn s(x: &str) -> Option<Str<'_>> {
    Some(Str(Cow::Borrowed(x)))
}

#[test]
fn state_stays_under_its_cap_on_a_million_events_and_100k_users() {
    // The stateful rules alone: stateless ones hold no state.
    let mut b = kaudit_core::rules::Builder::new();
    for (name, src) in kaudit_core::rules::BUILTIN {
        if name.ends_with("stateful.yaml") || name.ends_with("seed.yaml") {
            b.add_file(name, src);
        }
    }
    let set = b.build().expect("rules compile");
    let limits = StateLimits { max_keys: 10_000 };
    let mut det = Detector::new(&set, limits);
    let cap = det.state_cap_bytes();
    let burst = set.find("secret-access-denied-burst").expect("rule");
    let mut out = Detections::default();
    let mut fired_burst = 0u64;
    let mut peak = 0usize;
    let users: Vec<String> = (0..100_000).map(|u| format!("user-{u}@example.com")).collect();
    let ips: Vec<String> = (0..100_000).map(|u| format!("10.{}.{}.{}", u >> 16, (u >> 8) & 255, u & 255)).collect();
    let names: Vec<String> = (0..64).map(|n| format!("secret-{n}")).collect();
    for i in 0..1_000_000u64 {
        // Most users appear ten times, spread out; user 7 hammers secrets
        // early on, so the window must fire for it before being evicted.
        let u = if i < 40 { 7 } else { (i * 7919 % 100_000) as usize };
        let secs = i / 50;
        let ts = format!("2025-01-01T{:02}:{:02}:{:02}Z", (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
        let ev = AuditEvent {
            verb: s("get"),
            user: Some(UserInfo { username: s(&users[u]), ..UserInfo::default() }),
            source_ips: Some(vec![Str(Cow::Borrowed(ips[u].as_str()))]),
            object_ref: Some(ObjectRef {
                resource: s("secrets"),
                namespace: s("prod"),
                name: s(&names[(i % 64) as usize]),
                ..ObjectRef::default()
            }),
            response_status: Some(ResponseStatus { code: Some(403), ..ResponseStatus::default() }),
            stage_timestamp: Some(Str(Cow::Owned(ts))),
            ..AuditEvent::default()
        };
        det.detect_into(&ev, &mut out);
        if out.hits.contains(&(burst as u32)) {
            fired_burst += 1;
        }
        if i % 10_000 == 0 {
            peak = peak.max(det.state_bytes());
        }
    }
    peak = peak.max(det.state_bytes());
    let (keys, evicted) = det.state_keys();
    let stateful = set.rules().iter().filter(|r| r.state.is_some()).count();
    assert!(stateful >= 8, "at least 8 stateful rules, found {stateful}");
    assert!(keys <= limits.max_keys * stateful, "{keys} keys held");
    assert!(evicted > 0, "100k users must have forced evictions");
    assert!(peak <= cap, "state peaked at {peak} bytes, over its cap of {cap}");
    assert!(fired_burst >= 1, "the burst window never fired");
}
