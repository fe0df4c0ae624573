//! Volume estimates over the default mix (100 requests: 15 get/list of which
//! one WebSocket exec, 11 watch, 73 writes, 1 non-resource), checked against
//! counts worked out by hand: one event per recorded stage, ResponseStarted
//! only for long-running requests (the 11 watches and the exec).

use std::path::PathBuf;

use kaudit_posture::policy::simulate::Checker;
use kaudit_posture::policy::volume::{default_mix, estimate};
use kaudit_posture::policy::{parse, probes};

fn rows(rel: &str) -> Vec<(String, f64, f64, f64)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policies").join(rel);
    let p = parse(&std::fs::read_to_string(path).expect("read")).expect("parse");
    let c = Checker::new(&p).expect("valid");
    estimate(&c, &default_mix())
        .into_iter()
        .map(|r| (r.class.to_string(), r.requests, r.events, r.with_request_body))
        .collect()
}

#[test]
fn metadata_everything_without_omitted_stages() {
    // RequestReceived + ResponseComplete for all, + ResponseStarted for 12 long-running.
    assert_eq!(
        rows("upstream/k8s-docs-minimal-metadata-policy.yaml"),
        vec![
            ("read".into(), 15.0, 31.0, 0.0),
            ("watch".into(), 11.0, 33.0, 0.0),
            ("write".into(), 73.0, 146.0, 0.0),
            ("non-resource".into(), 1.0, 2.0, 0.0),
            ("total".into(), 100.0, 212.0, 0.0),
        ]
    );
}

#[test]
fn only_request_received_left() {
    assert_eq!(
        rows("synthetic/bad-omits-responsecomplete.yaml"),
        vec![
            ("read".into(), 15.0, 15.0, 0.0),
            ("watch".into(), 11.0, 11.0, 0.0),
            ("write".into(), 73.0, 73.0, 0.0),
            ("non-resource".into(), 1.0, 1.0, 0.0),
            ("total".into(), 100.0, 100.0, 0.0),
        ]
    );
}

#[test]
fn global_request_response_carries_bodies_everywhere() {
    // No omitted stages, RequestResponse for all: 212 events; the non-resource ones carry no body.
    let r = rows("synthetic/bad-global-requestresponse.yaml");
    assert_eq!(r[4], ("total".into(), 100.0, 212.0, 210.0));
}

#[test]
fn a_user_mix_with_weights() {
    let mix = probes::parse(
        r#"[{"verb":"watch","resource":"pods","weight":10},{"verb":"get","path":"/healthz","weight":5}]"#,
    )
    .expect("mix");
    let p =
        parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n")
            .expect("parse");
    let c = Checker::new(&p).expect("valid");
    let total = estimate(&c, &mix).pop().expect("total");
    // watch: ResponseStarted + ResponseComplete = 2 x 10; /healthz: ResponseComplete = 1 x 5.
    assert_eq!((total.requests, total.events), (15.0, 25.0));
}
