//! The naive baseline of `benches/compare.sh`: every line parsed into a
//! `serde_json::Value` DOM, then a loop over 84 rules (as many as the
//! built-in pack) of the shapes the pack uses — field equals, one of a
//! list, starts with, contains, code at least — each read by JSON pointer.
//! No index, no zero-copy, no blind accounting: what one writes first.
//!
//! `cargo run --release -p kaudit-benches --example naive -- FILE`
//! prints `events hits` on stdout.

use std::io::{BufRead, BufReader};

use serde_json::Value;

enum Test {
    Eq(&'static str, String),
    In(&'static str, Vec<String>),
    Prefix(&'static str, String),
    Contains(&'static str, String),
    CodeAtLeast(i64),
}

fn str_at<'v>(v: &'v Value, p: &str) -> Option<&'v str> {
    v.pointer(p).and_then(Value::as_str)
}

impl Test {
    fn eval(&self, v: &Value) -> bool {
        match self {
            Test::Eq(p, x) => str_at(v, p) == Some(x.as_str()),
            Test::In(p, xs) => str_at(v, p).is_some_and(|s| xs.iter().any(|x| x == s)),
            Test::Prefix(p, x) => str_at(v, p).is_some_and(|s| s.starts_with(x.as_str())),
            Test::Contains(p, x) => str_at(v, p).is_some_and(|s| s.to_lowercase().contains(x.as_str())),
            Test::CodeAtLeast(c) => v.pointer("/responseStatus/code").and_then(Value::as_i64).is_some_and(|x| x >= *c),
        }
    }
}

const VERBS: [&str; 7] = ["get", "list", "watch", "create", "update", "patch", "delete"];
const RESOURCES: [&str; 12] = [
    "pods",
    "secrets",
    "configmaps",
    "leases",
    "endpoints",
    "deployments",
    "nodes",
    "serviceaccounts",
    "roles",
    "clusterrolebindings",
    "rolebindings",
    "pods/exec",
];

/// 84 rules: all tests of a rule must hold.
fn rules() -> Vec<Vec<Test>> {
    (0..84)
        .map(|i| {
            let verb = VERBS[i % VERBS.len()].to_owned();
            let res = RESOURCES[i % RESOURCES.len()].to_owned();
            let mut r = vec![Test::Eq("/verb", verb.clone()), Test::Eq("/objectRef/resource", res)];
            match i % 6 {
                0 => r.push(Test::Prefix("/user/username", "system:serviceaccount:".to_owned())),
                1 => r.push(Test::In("/objectRef/namespace", vec!["kube-system".to_owned(), "default".to_owned()])),
                2 => r.push(Test::Contains("/userAgent", "curl".to_owned())),
                3 => r.push(Test::CodeAtLeast(400)),
                4 => r.push(Test::Eq("/annotations/authorization.k8s.io~1decision", "forbid".to_owned())),
                _ => r.push(Test::Contains("/requestURI", "command=".to_owned())),
            }
            r
        })
        .collect()
}

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: naive FILE");
        std::process::exit(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("naive: {path}: {e}");
            std::process::exit(1);
        }
    };
    let rules = rules();
    let (mut events, mut hits) = (0u64, 0u64);
    for line in BufReader::with_capacity(1 << 20, file).lines() {
        let Ok(line) = line else { break };
        let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
        events += 1;
        hits += rules.iter().filter(|r| r.iter().all(|t| t.eval(&v))).count() as u64;
    }
    println!("{events} {hits}");
}
