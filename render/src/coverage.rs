//! The fidelity matrix: for every rule and every [`Target`], what the rule's
//! own tests show on that source.
//!
//! * A test whose record decodes to a **vanilla-shaped** event (source `k8s`,
//!   `k8s.eventlist`, `k8s.shipper`, no vendor provider) is normalized, its
//!   canonical event rendered for every target ([`crate::render`]), and the
//!   rendered record decoded and judged again.
//! * A test whose record is already a **vendor** shape counts as recorded for
//!   its own source only (`eks.*` → eks, `aks.*` → aks or aks-admin by
//!   category, `gke.*` → gke, `openshift.*` or provider openshift →
//!   openshift); it is never rendered elsewhere, so a vendor-only behaviour
//!   never claims coverage on another vendor.
//! * Stateful rules' `events:` tests render every event of the sequence and
//!   run a fresh [`Detector`] over the delivered ones (as the core's
//!   `run_sequence_test` does).
//!
//! A cell's status: `fires` if a positive case fired there; else `blind` if
//! a positive (or `expect: blind`) case was blind; else `misses` if a
//! delivered positive case stayed quiet (a silent miss: a bug in the rule,
//! the decoder or the renderer); else `not-delivered` if the vendor never
//! delivers the positive cases; else `untested`. Independently, a negative
//! case that fires on a target is a `negative-fires` error for that cell.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use kaudit_core::rules::{Expect, RuleSet, RuleTest, Verdict};
use kaudit_core::{normalize_buffer, AuditEvent, Decoder, Error, Options, Sink, Unit};

use crate::{render, Target};

/// What one test case gave on one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Fire,
    Quiet,
    /// Blind, with the canonical path of the missing field.
    Blind(String),
    /// The vendor never delivers the event (or, for a sequence, one of them).
    NotDelivered,
    /// The rendered record did not decode to an event (a renderer bug).
    Error(String),
}

impl Outcome {
    pub fn id(&self) -> String {
        match self {
            Outcome::Fire => "fire".into(),
            Outcome::Quiet => "quiet".into(),
            Outcome::Blind(f) => format!("blind({f})"),
            Outcome::NotDelivered => "not-delivered".into(),
            Outcome::Error(e) => format!("error: {e}"),
        }
    }

    fn of(v: Verdict) -> Outcome {
        match v {
            Verdict::Fire => Outcome::Fire,
            Verdict::Quiet => Outcome::Quiet,
            Verdict::Blind(f) => Outcome::Blind(f.path().to_string()),
        }
    }
}

/// One test case on one target.
#[derive(Clone, Debug)]
pub struct Case {
    pub test: String,
    pub expect: Expect,
    /// `true`: the test's own record (vanilla on vanilla, or a vendor
    /// sample on its own vendor); `false`: rendered from a vanilla event.
    pub recorded: bool,
    pub outcome: Outcome,
}

/// A cell's summary status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Fires,
    Blind(String),
    Misses,
    NotDelivered,
    Untested,
}

impl Status {
    pub fn id(&self) -> String {
        match self {
            Status::Fires => "fires".into(),
            Status::Blind(f) => format!("blind({f})"),
            Status::Misses => "misses".into(),
            Status::NotDelivered => "not-delivered".into(),
            Status::Untested => "untested".into(),
        }
    }
}

/// One rule on one target.
#[derive(Clone, Debug)]
pub struct Cell {
    pub target: Target,
    pub status: Status,
    pub cases: Vec<Case>,
}

impl Cell {
    fn new(target: Target, cases: Vec<Case>) -> Cell {
        let pos = || cases.iter().filter(|c| c.expect == Expect::Fire);
        let blind = cases.iter().filter(|c| c.expect != Expect::Quiet).find_map(|c| match &c.outcome {
            Outcome::Blind(f) => Some(f.clone()),
            _ => None,
        });
        let status = if pos().any(|c| c.outcome == Outcome::Fire) {
            Status::Fires
        } else if let Some(f) = blind {
            Status::Blind(f)
        } else if pos().any(|c| matches!(c.outcome, Outcome::Quiet | Outcome::Error(_))) {
            Status::Misses
        } else if pos().any(|c| c.outcome == Outcome::NotDelivered) {
            Status::NotDelivered
        } else {
            Status::Untested
        };
        Cell { target, status, cases }
    }

    /// Negative (`expect: quiet`) cases evaluated here (delivered).
    pub fn negatives(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| c.expect == Expect::Quiet && matches!(c.outcome, Outcome::Quiet | Outcome::Blind(_)))
            .count()
    }

    /// Negative cases that fired here.
    pub fn negative_fires(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|c| c.expect == Expect::Quiet && c.outcome == Outcome::Fire)
            .map(|c| c.test.as_str())
            .collect()
    }

    /// Cases whose rendered record did not decode.
    pub fn errors(&self) -> Vec<String> {
        self.cases
            .iter()
            .filter_map(|c| match &c.outcome {
                Outcome::Error(e) => Some(format!("{}: {e}", c.test)),
                _ => None,
            })
            .collect()
    }

    /// Positive cases delivered here that stayed quiet.
    pub fn silent_misses(&self) -> Vec<&str> {
        self.cases
            .iter()
            .filter(|c| c.expect == Expect::Fire && c.outcome == Outcome::Quiet)
            .map(|c| c.test.as_str())
            .collect()
    }

    /// No negative fired, nothing failed to decode, and the status is not a
    /// silent miss. (`untested` is judged by the caller.)
    pub fn ok(&self) -> bool {
        self.negative_fires().is_empty() && self.errors().is_empty() && self.status != Status::Misses
    }
}

/// One rule's row.
#[derive(Clone, Debug)]
pub struct Row {
    pub rule: String,
    pub file: String,
    /// One cell per [`Target::ALL`], in that order.
    pub cells: Vec<Cell>,
}

/// The whole matrix.
#[derive(Clone, Debug, Default)]
pub struct Matrix {
    pub rows: Vec<Row>,
}

/// Counts of one target's column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub fires: usize,
    pub blind: usize,
    pub not_delivered: usize,
    pub misses: usize,
    pub untested: usize,
    pub negative_fires: usize,
}

impl Matrix {
    /// Column counts, in [`Target::ALL`] order.
    pub fn counts(&self) -> Vec<(Target, Counts)> {
        Target::ALL
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut c = Counts::default();
                for r in &self.rows {
                    let cell = &r.cells[i];
                    match cell.status {
                        Status::Fires => c.fires += 1,
                        Status::Blind(_) => c.blind += 1,
                        Status::NotDelivered => c.not_delivered += 1,
                        Status::Misses => c.misses += 1,
                        Status::Untested => c.untested += 1,
                    }
                    if !cell.negative_fires().is_empty() {
                        c.negative_fires += 1;
                    }
                }
                (*t, c)
            })
            .collect()
    }

    /// The matrix as JSON: legend, per-rule cells with their cases, counts.
    pub fn to_json(&self) -> Value {
        let legend: Map<String, Value> = Target::ALL.iter().map(|t| (t.id().to_string(), t.assumes().into())).collect();
        let rules: Vec<Value> = self
            .rows
            .iter()
            .map(|r| {
                let cells: Map<String, Value> = r
                    .cells
                    .iter()
                    .map(|c| {
                        let cases: Vec<Value> = c
                            .cases
                            .iter()
                            .map(|k| {
                                json!({
                                    "test": k.test,
                                    "expect": expect_id(k.expect),
                                    "origin": if k.recorded { "recorded" } else { "rendered" },
                                    "outcome": k.outcome.id(),
                                })
                            })
                            .collect();
                        (
                            c.target.id().to_string(),
                            json!({
                                "status": c.status.id(),
                                "negatives": c.negatives(),
                                "negative_fires": c.negative_fires(),
                                "errors": c.errors(),
                                "cases": cases,
                            }),
                        )
                    })
                    .collect();
                json!({"rule": r.rule, "file": r.file, "cells": cells})
            })
            .collect();
        let counts: Map<String, Value> = self
            .counts()
            .into_iter()
            .map(|(t, c)| {
                (
                    t.id().to_string(),
                    json!({"fires": c.fires, "blind": c.blind, "not_delivered": c.not_delivered,
                           "misses": c.misses, "untested": c.untested, "negative_fires": c.negative_fires}),
                )
            })
            .collect();
        json!({
            "targets": Target::ALL.iter().map(|t| t.id()).collect::<Vec<_>>(),
            "legend": legend,
            "rules": rules,
            "counts": counts,
        })
    }
}

pub fn expect_id(e: Expect) -> &'static str {
    match e {
        Expect::Fire => "fire",
        Expect::Quiet => "quiet",
        Expect::Blind => "blind",
    }
}

/// Where a decoded test event comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Vanilla,
    Recorded(Target),
}

/// Classify a canonical line by `kaudit.source` and `kaudit.cluster.provider`.
/// `admin` says whether the record is an AKS `kube-audit-admin` one.
fn origin(line: &Value, admin: &dyn Fn() -> bool) -> Option<Origin> {
    let k = line.get("kaudit")?;
    let source = k.get("source")?.as_str()?;
    let provider = k.pointer("/cluster/provider").and_then(Value::as_str).unwrap_or("kubernetes");
    let aks = || if admin() { Target::AksAdmin } else { Target::Aks };
    Some(if source.starts_with("eks.") {
        Origin::Recorded(Target::Eks)
    } else if source.starts_with("aks.") {
        Origin::Recorded(aks())
    } else if source.starts_with("gke.") {
        Origin::Recorded(Target::Gke)
    } else if source.starts_with("openshift.") {
        Origin::Recorded(Target::Openshift)
    } else {
        match provider {
            "openshift" => Origin::Recorded(Target::Openshift),
            "eks" => Origin::Recorded(Target::Eks),
            "aks" => Origin::Recorded(aks()),
            "gke" => Origin::Recorded(Target::Gke),
            _ if source == "k8s" || source.starts_with("k8s.") => Origin::Vanilla,
            _ => return None,
        }
    })
}

/// Canonical NDJSON lines of a buffer, one per unit (`--keep-skipped`).
fn canonical(bytes: &[u8]) -> Vec<Value> {
    let (out, _) = normalize_buffer(&Decoder::default(), bytes, Options { keep_skipped: true });
    String::from_utf8_lossy(&out).lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn is_event(v: &Value) -> bool {
    v.get("kaudit").and_then(|k| k.get("source")).is_some()
}

/// The framed record holding unit `n` (1-based) of `bytes`.
fn frame_of_unit(bytes: &[u8], n: usize) -> Option<&[u8]> {
    struct Count(usize);
    impl Sink for Count {
        fn event(&mut self, _: &AuditEvent<'_>) {
            self.0 += 1;
        }
        fn skipped(&mut self, _: Unit<'_>, _: &'static str) {
            self.0 += 1;
        }
        fn error(&mut self, _: Unit<'_>, _: &Error) {
            self.0 += 1;
        }
    }
    let dec = Decoder::default();
    let mut c = Count(0);
    for f in kaudit_core::frame::records(bytes, dec.limits().max_record_bytes) {
        let r = &bytes[f.range];
        dec.decode(r, &mut c);
        if c.0 >= n {
            return Some(r);
        }
    }
    None
}

fn is_admin(text: &[u8]) -> bool {
    let t = String::from_utf8_lossy(text);
    t.contains("\"kube-audit-admin\"") || t.contains("\"KUBE-AUDIT-ADMIN\"")
}

/// The outcome of a sequence test from its fire count and last verdict.
fn sequence_outcome(expect: Expect, fired: usize, last: Option<Verdict>, all_delivered: bool) -> Outcome {
    if expect == Expect::Quiet {
        return match (fired, last) {
            (1.., _) => Outcome::Fire,
            (_, None) => Outcome::NotDelivered,
            (_, Some(Verdict::Blind(f))) => Outcome::Blind(f.path().to_string()),
            _ => Outcome::Quiet,
        };
    }
    match last {
        Some(Verdict::Fire) => Outcome::Fire,
        None => Outcome::NotDelivered,
        Some(Verdict::Blind(f)) => Outcome::Blind(f.path().to_string()),
        Some(Verdict::Quiet) if !all_delivered => Outcome::NotDelivered,
        Some(Verdict::Quiet) => Outcome::Quiet,
    }
}

/// A fixture's bytes and its canonical lines.
type Loaded = (Vec<u8>, Vec<Value>);

/// Fixture files, loaded and normalized once.
struct Fixtures<'l> {
    load: &'l mut dyn FnMut(&str) -> Option<Vec<u8>>,
    cache: HashMap<String, Option<Loaded>>,
}

impl Fixtures<'_> {
    fn get(&mut self, path: &str) -> Option<&Loaded> {
        if !self.cache.contains_key(path) {
            let v = (self.load)(path).map(|b| {
                let c = canonical(&b);
                (b, c)
            });
            self.cache.insert(path.to_string(), v);
        }
        self.cache.get(path).and_then(Option::as_ref)
    }
}

/// Every (target, case) a test contributes.
fn test_cases(set: &RuleSet, rule: usize, t: &RuleTest, fx: &mut Fixtures<'_>) -> Vec<(Target, Case)> {
    let case = |target: Target, recorded: bool, outcome: Outcome| {
        (target, Case { test: t.name.clone(), expect: t.expect, recorded, outcome })
    };
    if !t.records.is_empty() {
        // A sequence: every record's events, classified.
        let mut events: Vec<(Value, Origin)> = Vec::new();
        for r in &t.records {
            let admin = || is_admin(r.as_bytes());
            for line in canonical(r.as_bytes()).into_iter().filter(is_event) {
                let Some(o) = origin(&line, &admin) else { return Vec::new() };
                events.push((line, o));
            }
        }
        let vendor = events.iter().find_map(|(_, o)| match o {
            Origin::Recorded(t) => Some(*t),
            Origin::Vanilla => None,
        });
        if let Some(target) = vendor {
            let recs: Vec<&[u8]> = t.records.iter().map(|r| r.as_bytes()).collect();
            let outcome = match set.run_sequence(rule, &recs) {
                Ok((fired, last)) => sequence_outcome(t.expect, fired, last, true),
                Err(e) => Outcome::Error(e),
            };
            return vec![case(target, true, outcome)];
        }
        return Target::ALL
            .iter()
            .map(|&target| {
                let rendered: Vec<Option<String>> = events.iter().map(|(e, _)| render(e, target)).collect();
                let all = rendered.iter().all(Option::is_some);
                let last_delivered = rendered.last().is_some_and(Option::is_some);
                let recs: Vec<&[u8]> = rendered.iter().flatten().map(|s| s.as_bytes()).collect();
                let outcome = match set.run_sequence(rule, &recs) {
                    Ok((fired, last)) => {
                        let last = if last_delivered { last } else { last.map(|_| Verdict::Quiet) };
                        sequence_outcome(t.expect, fired, last, all)
                    }
                    Err(e) => Outcome::Error(e),
                };
                case(target, target == Target::Vanilla, outcome)
            })
            .collect();
    }

    // A single record: inline, or unit N of a fixture.
    let (bytes, n, line): (Vec<u8>, usize, Value) = match (&t.record, &t.fixture) {
        (Some(rec), _) => match canonical(rec.as_bytes()).into_iter().next() {
            Some(l) => (rec.clone().into_bytes(), 1, l),
            None => return Vec::new(),
        },
        (None, Some(f)) => {
            let Some((path, n)) = f.rsplit_once(':') else { return Vec::new() };
            let Ok(n) = n.parse::<usize>() else { return Vec::new() };
            let Some((bytes, lines)) = fx.get(path) else { return Vec::new() };
            let Some(l) = lines.get(n.wrapping_sub(1)).cloned() else { return Vec::new() };
            (bytes.clone(), n, l)
        }
        _ => return Vec::new(),
    };
    if !is_event(&line) {
        return Vec::new();
    }
    let admin = || frame_of_unit(&bytes, n).is_some_and(is_admin);
    match origin(&line, &admin) {
        None => Vec::new(),
        Some(Origin::Recorded(target)) => {
            let outcome = match set.verdict_on_unit(rule, &bytes, n) {
                Ok(v) => Outcome::of(v),
                Err(e) => Outcome::Error(e),
            };
            vec![case(target, true, outcome)]
        }
        Some(Origin::Vanilla) => Target::ALL
            .iter()
            .map(|&target| {
                let outcome = match render(&line, target) {
                    None => Outcome::NotDelivered,
                    Some(rec) => match set.verdict_on_unit(rule, rec.as_bytes(), 1) {
                        Ok(v) => Outcome::of(v),
                        Err(e) => Outcome::Error(e),
                    },
                };
                case(target, target == Target::Vanilla, outcome)
            })
            .collect(),
    }
}

/// Build the matrix for every rule of `set` from the rules' own tests.
/// `load_fixture` returns a fixture's bytes (gunzipped) for a path relative
/// to the fixture directory, as for `RuleSet::run_test`.
pub fn matrix(set: &RuleSet, load_fixture: &mut dyn FnMut(&str) -> Option<Vec<u8>>) -> Matrix {
    let mut fx = Fixtures { load: load_fixture, cache: HashMap::new() };
    let rows = set
        .rules()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut by_target: Vec<Vec<Case>> = Target::ALL.iter().map(|_| Vec::new()).collect();
            for t in &r.tests {
                for (target, c) in test_cases(set, i, t, &mut fx) {
                    let k = Target::ALL.iter().position(|x| *x == target).unwrap_or(0);
                    by_target[k].push(c);
                }
            }
            let cells = Target::ALL.iter().zip(by_target).map(|(t, cases)| Cell::new(*t, cases)).collect();
            Row { rule: r.id.clone(), file: r.file.clone(), cells }
        })
        .collect();
    Matrix { rows }
}
