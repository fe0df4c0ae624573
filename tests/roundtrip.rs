//! A vanilla line in gives every original field back unchanged: the output
//! is the input object with `kaudit` appended (and `kind`/`apiVersion` added
//! when the line lacked them), byte for byte.

use std::path::Path;

use kaudit_tests::{lines, normalize_fixture, read_fixture};
use serde_json::Value;

const VANILLA: &[&str] = &[
    "vendors/vanilla/falco-trace-files.jsonl",
    "vendors/openshift/clo-functional-kube-apiserver-audit-selected.jsonl",
    "vendors/openshift/clo-logsamples-raw.jsonl",
    "vendors/eks/panther-eks-audit-rule-tests.jsonl",
];

#[test]
fn vanilla_lines_round_trip_byte_for_byte() {
    let mut checked = 0;
    for f in VANILLA {
        let input = read_fixture(Path::new(f));
        let (out, _) = normalize_fixture(Path::new(f));
        let ins: Vec<&str> = std::str::from_utf8(&input).unwrap().lines().filter(|l| !l.trim().is_empty()).collect();
        let outs: Vec<&str> = std::str::from_utf8(&out).unwrap().lines().collect();
        assert_eq!(ins.len(), outs.len(), "{f}: one event per line");
        for (i, (inp, outp)) in ins.iter().zip(&outs).enumerate() {
            let inner = inp.trim().strip_prefix('{').and_then(|s| s.strip_suffix('}')).unwrap();
            assert!(outp.contains(inner), "{f}:{}: original text not copied verbatim", i + 1);
            assert!(outp.ends_with('}') && outp.contains(",\"kaudit\":{"), "{f}:{}", i + 1);
            // Value level: remove what kaudit added, the rest equals the input.
            let mut o: Value = serde_json::from_str(outp).unwrap();
            let inv: Value = serde_json::from_str(inp).unwrap();
            let obj = o.as_object_mut().unwrap();
            obj.remove("kaudit");
            for k in ["kind", "apiVersion"] {
                if inv.get(k).is_none() {
                    obj.remove(k);
                }
            }
            assert_eq!(o, inv, "{f}:{}", i + 1);
            checked += 1;
        }
    }
    assert!(checked >= 37, "checked {checked}");
}

#[test]
fn canonical_output_is_a_fixed_point() {
    // Normalizing kaudit's own output again keeps source, cluster, missing.
    for f in ["synthetic/mixed-vendors.jsonl", "vendors/gke/khi-gke-k8s-audit-logentries.jsonl"] {
        let (once, _) = normalize_fixture(Path::new(f));
        let (twice, stats) = kaudit_core::normalize_buffer(&kaudit_core::Decoder::default(), &once, Default::default());
        assert_eq!(stats.total().errors, 0, "{f}");
        let a = lines(&once);
        let b = lines(&twice);
        assert_eq!(a.len(), b.len(), "{f}");
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(x == y, "{f}:{}: re-normalizing changed the event:\n{x}\n{y}", i + 1);
        }
    }
}
