//! Every valid fixture policy × every built-in probe against hand-derived
//! expectations (tests/expected/simulate.txt, derived from checker.go by
//! reading it), and the invalid fixtures against validation.go's messages.

use std::path::PathBuf;

use kaudit_posture::policy::simulate::Checker;
use kaudit_posture::policy::validate::{aggregate, validate};
use kaudit_posture::policy::{parse, probes};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policies")
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(fixtures().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn simulator_matches_hand_derived_expectations() {
    let expected =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expected/simulate.txt"))
            .expect("expected file");
    let probes = probes::builtin();
    let mut current: Option<(String, kaudit_posture::policy::Policy)> = None;
    let mut mismatches = Vec::new();
    let mut checked = 0;
    let mut policies = 0;
    for line in expected.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("== ") {
            current = Some((name.to_string(), parse(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))));
            policies += 1;
            continue;
        }
        let (name, policy) = current.as_ref().expect("a policy header first");
        let checker = Checker::new(policy).unwrap_or_else(|e| panic!("{name}: {}", aggregate(&e)));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols.len(), 4, "bad line {line}");
        let probe = probes.iter().find(|p| p.id == cols[0]).expect("probe id");
        let d = checker.decide(probe);
        let omit: Vec<&str> = d.omit_stages.iter().map(|s| s.as_str()).collect();
        let got = format!(
            "{} {} {} {}",
            probe.id,
            d.level.as_str(),
            if omit.is_empty() { "-".to_string() } else { omit.join(",") },
            d.rule_index.map_or("-".to_string(), |i| i.to_string())
        );
        if got != line {
            mismatches.push(format!("{name}: expected `{line}`, got `{got}`"));
        }
        checked += 1;
    }
    assert_eq!(policies, 16);
    assert_eq!(checked, 16 * 30);
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn every_valid_fixture_policy_is_in_the_expectations() {
    let expected =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/expected/simulate.txt"))
            .expect("expected file");
    for dir in ["upstream", "synthetic"] {
        for e in std::fs::read_dir(fixtures().join(dir)).expect("dir") {
            let name = format!("{dir}/{}", e.expect("entry").file_name().to_string_lossy());
            if name.contains("invalid-") {
                continue;
            }
            assert!(expected.contains(&format!("== {name}\n")), "{name} has no expectations");
        }
    }
}

#[test]
fn invalid_schema_is_rejected_with_validation_go_messages() {
    let p = parse(&read("synthetic/invalid-schema.yaml")).expect("parses");
    let errs = validate(&p);
    let got: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        got,
        vec![
            r#"rules[0].level: Unsupported value: "Metdata": supported values: "None", "Metadata", "Request", "RequestResponse""#,
            r#"rules[1].nonResourceURLs[0]: Invalid value: "/apis/*/healthz": non-resource URL wildcards '*' must be the final character of the rule"#,
            r#"rules[2].nonResourceURLs[0]: Invalid value: "healthz": non-resource URL rules must begin with a '/' character"#,
            r#"rules[3].resources.group: Invalid value: "apps/v1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"#,
            r#"rules[4].resources.resourceNames: Invalid value: []string{"controller-leader"}: using resourceNames requires at least one resource"#,
            r#"rules[5].nonResourceURLs: Invalid value: []string{"/metrics"}: rules cannot apply to both regular resources and non-resource URLs"#,
            r#"rules[6].omitStages[0]: Invalid value: "ResponseDone": allowed stages are RequestReceived,ResponseStarted,ResponseComplete,Panic"#,
        ]
    );
    let rules: Vec<Option<usize>> = errs.iter().map(|e| e.rule).collect();
    assert_eq!(rules, vec![Some(0), Some(1), Some(2), Some(3), Some(4), Some(5), Some(6)]);
    assert!(Checker::new(&p).is_err(), "an invalid policy is not simulated");
}

#[test]
fn empty_rules_are_illegal() {
    let p = parse(&read("synthetic/invalid-empty-rules.yaml")).expect("parses");
    assert_eq!(aggregate(&validate(&p)), "loaded illegal policy with 0 rules");
    assert!(Checker::new(&p).is_err());
}

#[test]
fn small_validation_cases() {
    let cases: &[(&str, &str)] = &[
        ("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- {}\n", "rules[0].level: Required value"),
        (
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: ['*', '/ok*', '/a*b']\n",
            "rules[0].nonResourceURLs[2]: Invalid value: \"/a*b\": non-resource URL wildcards '*' must be the final character of the rule",
        ),
        ("kind: Policy\nrules:\n- level: None\n", "failed decoding: Object 'apiVersion' is missing"),
        (
            "apiVersion: audit.k8s.io/v2\nkind: Policy\nrules:\n- level: None\n",
            "unknown group version field audit.k8s.io/v2, Kind=Policy in policy",
        ),
        (
            // Two errors: kube-apiserver prints the aggregate in brackets.
            "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Bogus\n- level: None\n  namespaces: [a]\n  nonResourceURLs: [/x]\n",
            "[rules[0].level: Unsupported value: \"Bogus\": supported values: \"None\", \"Metadata\", \"Request\", \"RequestResponse\", rules[1].nonResourceURLs: Invalid value: []string{\"/x\"}: rules cannot apply to both regular resources and non-resource URLs]",
        ),
    ];
    for (src, want) in cases {
        let p = parse(src).expect("parses");
        assert_eq!(aggregate(&validate(&p)), *want, "{src}");
    }
    // Valid: `*` alone, trailing `*`, an empty-string group (core), a v1beta1 policy.
    let ok = "apiVersion: audit.k8s.io/v1beta1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: ['*', '/x*']\n- level: Metadata\n  resources: [{group: ''}]\n";
    assert!(validate(&parse(ok).expect("parses")).is_empty());
}

#[test]
fn semantics_corner_cases() {
    use kaudit_posture::policy::Probe;
    let p = parse(
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n\
         - level: None\n  resources: [{group: '', resources: ['*/status']}]\n\
         - level: Request\n  resources: [{group: '', resources: ['pods/*']}]\n\
         - level: RequestResponse\n  namespaces: ['']\n  omitStages: [Panic]\n\
         - level: Metadata\n  resources: [{group: '', resources: [configmaps], resourceNames: [a]}]\n",
    )
    .expect("parses");
    let c = Checker::new(&p).expect("valid");
    let probe = |verb: &str, res: &str, sub: &str, ns: &str, name: &str| Probe {
        user: "u".into(),
        verb: verb.into(),
        is_resource: true,
        resource: res.into(),
        subresource: sub.into(),
        namespace: ns.into(),
        name: name.into(),
        ..Probe::default()
    };
    // `*/status` matches every status subresource, not the resource itself.
    assert_eq!(c.decide(&probe("update", "pods", "status", "d", "x")).rule_index, Some(0));
    // `pods/*` matches subresources of pods and, as checker.go is written
    // (`resource == TrimSuffix(res, "/*")` without a subresource test), pods itself.
    assert_eq!(c.decide(&probe("get", "pods", "log", "d", "x")).rule_index, Some(1));
    assert_eq!(c.decide(&probe("get", "pods", "", "d", "x")).rule_index, Some(1));
    assert_eq!(c.decide(&probe("get", "services", "", "d", "x")).rule_index, None);
    // namespaces [""] selects cluster-scoped requests; the rule's stages are unioned.
    let d = c.decide(&probe("get", "nodes", "", "", "n"));
    assert_eq!(d.rule_index, Some(2));
    assert_eq!(d.omit_stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(), vec!["RequestReceived", "Panic"]);
    // resourceNames filter.
    assert_eq!(c.decide(&probe("get", "configmaps", "", "d", "a")).rule_index, Some(3));
    assert_eq!(c.decide(&probe("get", "configmaps", "", "d", "b")).rule_index, None);
    // A non-resource request never matches resource rules.
    let nr = Probe { verb: "get".into(), path: "/metrics".into(), ..Probe::default() };
    let d = c.decide(&nr);
    assert_eq!((d.rule_index, d.level.as_str()), (None, "None"));
    assert_eq!(d.omit_stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(), vec!["RequestReceived"]);
}
