//! Stateful rules apart from decoding, for hosts that scan in parallel with
//! results identical to one thread.
//!
//! A stateful rule's outcome on an event depends on every earlier event, so
//! it cannot be computed on a slice of the input alone. What an event asks
//! of the state can ([`state::prepare`]): a host scans slices on several
//! threads, logging those steps ([`Detector::record_steps`], or a
//! [`Recorder`] that only decodes and prepares them), feeds the
//! [`StepLog`]s in input order to one [`Sequencer`] (the only sequential
//! part: hash-map updates for the few events a stateful condition matched),
//! and gets back the [`Fires`] of each slice. A slice scanned with the same
//! `Fires` ([`Detector::set_fires`]) has every stateful outcome a single
//! [`Detector`] would have given, whatever the slicing. Stateful rules fire
//! rarely, so a host can scan a slice once optimistically with no fires
//! (`Fires::default()`) and scan it again only when the sequencer says some
//! rule fires in it.
//!
//! No threads here: the core only provides the pieces.

use super::eval::View;
use super::state::{self, Ask, Prepared, RuleState, StateLimits, Step};
use super::{Detector, RuleSet};
use crate::decode::{Decoder, Sink, SkipReason, Unit};
use crate::error::Error;
use crate::event::AuditEvent;

/// The state-touching steps of a slice of input, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepLog {
    /// Events in the slice.
    pub events: u64,
    /// (event ordinal in the slice, stateful rule number, step).
    pub steps: Vec<(u64, u32, Prepared)>,
}

/// Pass 1: decodes records and prepares the stateful rules' steps.
pub struct Recorder<'r> {
    rules: &'r RuleSet,
    log: StepLog,
    /// Scratch space for the stateful index's candidates.
    candidates: Vec<u32>,
}

impl<'r> Recorder<'r> {
    pub fn new(rules: &'r RuleSet) -> Self {
        Recorder { rules, log: StepLog::default(), candidates: Vec::new() }
    }

    /// Decode one framed record (oversize pieces hold no event: skip them).
    pub fn record(&mut self, dec: &Decoder, record: &[u8]) {
        dec.decode(record, self);
    }

    /// The log of everything recorded.
    pub fn finish(self) -> StepLog {
        self.log
    }
}

impl Sink for Recorder<'_> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        let view = View::new(ev);
        let ordinal = self.log.events;
        self.log.events += 1;
        let steps = &mut self.log.steps;
        self.rules.prepare_stateful(&view, &mut self.candidates, false, false, |k, _, _, p| {
            if p.touches_state() {
                steps.push((ordinal, k as u32, p));
            }
        });
    }
    fn skipped(&mut self, _: Unit<'_>, _: SkipReason) {}
    fn error(&mut self, _: Unit<'_>, _: &Error) {}
}

/// The stateful rules' state across slices, fed their logs in input order.
pub struct Sequencer<'r> {
    rules: &'r RuleSet,
    states: Vec<RuleState>,
    limits: StateLimits,
}

impl<'r> Sequencer<'r> {
    pub fn new(rules: &'r RuleSet, limits: StateLimits) -> Self {
        Sequencer { rules, states: rules.stateful.iter().map(|_| RuleState::default()).collect(), limits }
    }

    /// Apply the next slice's steps; the rules that fired, for pass 2.
    pub fn run(&mut self, log: &StepLog) -> Fires {
        let mut list = Vec::new();
        for &(ordinal, k, ref p) in &log.steps {
            let Some(&i) = self.rules.stateful.get(k as usize) else { continue };
            let Some(spec) = &self.rules.rules[i as usize].state else { continue };
            let Some(st) = self.states.get_mut(k as usize) else { continue };
            if state::apply(spec, st, self.limits, p) == Step::Fire {
                list.push((ordinal, k));
            }
        }
        Fires { list, at: 0 }
    }

    /// Whether any rule is stateful (without one, pass 1 can be skipped).
    pub fn needed(rules: &RuleSet) -> bool {
        !rules.stateful.is_empty()
    }
}

/// The stateful rules that fire in one slice: (event ordinal, rule number), in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fires {
    list: Vec<(u64, u32)>,
    at: usize,
}

impl Fires {
    /// The outcome of stateful rule `k` on event `ordinal` (asked in order).
    pub(super) fn outcome(&mut self, ordinal: u64, k: u32, p: &Prepared) -> Step {
        if let Ask::Known(s) = p.ask {
            return s;
        }
        while self.list.get(self.at).is_some_and(|&x| x < (ordinal, k)) {
            self.at += 1;
        }
        if self.list.get(self.at) == Some(&(ordinal, k)) {
            self.at += 1;
            Step::Fire
        } else {
            Step::Quiet
        }
    }

    /// How many fire.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl Detector<'_> {
    /// Events seen so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Log the state-touching steps of the events from now on (what a
    /// [`Recorder`] gives, as a side effect of a full scan).
    pub fn record_steps(&mut self) {
        self.log = Some(StepLog::default());
    }

    /// The steps logged since [`Detector::record_steps`].
    pub fn take_step_log(&mut self) -> StepLog {
        self.log.take().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Builder, Detections};
    use crate::Limits;

    const RULES: &str = "rules:
  - id: denied-thrice
    title: three denied requests by one user
    description: test rule
    severity: medium
    condition: code = 403
    window: {by: [user.username], within: 10m, count: 3, suppress: 1m}
  - id: distinct-secrets
    title: two distinct secrets
    description: test rule
    severity: low
    condition: objectRef.resource = secrets
    window: {by: [user.username], within: 10m, count: 2, distinct: objectRef.name}
  - id: bind-then-exec
    title: a binding, then an exec
    description: test rule
    severity: high
    sequence:
      by: [user.username]
      within: 5m
      first: objectRef.resource = rolebindings
    condition: objectRef.subresource = exec
  - id: plain
    title: stateless
    description: test rule
    severity: info
    condition: verb = delete
";

    fn line(i: usize) -> String {
        let user = ["ann", "bob", "cy"][i % 3];
        let (verb, res, sub, name, code) = match (i * 7) % 6 {
            0 => ("get", "pods", "", "p", 403),
            1 => ("get", "secrets", "", ["s1", "s2", "s3"][i % 3], 200),
            2 => ("create", "rolebindings", "", "rb", 201),
            3 => ("create", "pods", "exec", "p", 101),
            4 => ("delete", "pods", "", "p", 200),
            _ => ("get", "pods", "", "p", 403),
        };
        let sub = if sub.is_empty() { String::new() } else { format!(r#","subresource":"{sub}""#) };
        // Some events have no time: stateful rules are blind on them.
        let time = if i % 17 == 5 {
            String::new()
        } else {
            format!(r#","stageTimestamp":"2025-01-01T10:{:02}:{:02}Z""#, i / 60 % 60, i % 60)
        };
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a{i}","stage":"ResponseComplete","verb":"{verb}","user":{{"username":"{user}"}},"objectRef":{{"resource":"{res}","name":"{name}"{sub}}},"responseStatus":{{"code":{code}}}{time}}}"#
        )
    }

    /// One detector over the whole stream: what every slicing must give.
    fn live(set: &RuleSet, dec: &Decoder, lines: &[String]) -> Vec<(Vec<u32>, Vec<u32>)> {
        live_with(&mut Detector::new(set, StateLimits::default()), dec, lines)
    }

    #[test]
    fn sliced_scans_with_a_sequencer_equal_one_detector_at_every_slicing() {
        let mut b = Builder::new();
        b.add_file("t.yaml", RULES);
        let set = b.build().expect("rules compile");
        let dec = Decoder::new(Limits::default());
        let lines: Vec<String> = (0..240).map(line).collect();
        let want = live(&set, &dec, &lines);
        assert!(want.iter().filter(|(h, _)| !h.is_empty()).count() > 20, "the stream makes rules fire");
        assert!(want.iter().any(|(_, b)| !b.is_empty()), "and some blind");
        for size in [1, 2, 7, 50, 240] {
            let mut seq = Sequencer::new(&set, StateLimits::default());
            let mut got = Vec::new();
            for slice in lines.chunks(size) {
                let mut rec = Recorder::new(&set);
                slice.iter().for_each(|l| rec.record(&dec, l.as_bytes()));
                let log = rec.finish();
                // An optimistic full scan (no fires) logs the same steps.
                let mut opt = Detector::new(&set, StateLimits::default());
                opt.set_fires(Fires::default());
                opt.record_steps();
                let optimistic = live_with(&mut opt, &dec, slice);
                assert_eq!(opt.take_step_log(), log, "slices of {size}");
                let fires = seq.run(&log);
                if fires.is_empty() {
                    got.extend(optimistic);
                    continue;
                }
                let mut det = Detector::new(&set, StateLimits::default());
                det.set_fires(fires);
                got.extend(live_with(&mut det, &dec, slice));
            }
            assert_eq!(got, want, "slices of {size}");
        }
    }

    fn live_with(det: &mut Detector<'_>, dec: &Decoder, lines: &[String]) -> Vec<(Vec<u32>, Vec<u32>)> {
        struct S<'a, 'r>(&'a mut Detector<'r>, Vec<(Vec<u32>, Vec<u32>)>);
        impl Sink for S<'_, '_> {
            fn event(&mut self, ev: &AuditEvent<'_>) {
                let mut d = Detections::default();
                self.0.detect_into(ev, &mut d);
                self.1.push((d.hits.clone(), d.blind.iter().map(|b| b.0).collect()));
            }
            fn skipped(&mut self, _: Unit<'_>, _: SkipReason) {}
            fn error(&mut self, _: Unit<'_>, _: &Error) {}
        }
        let mut s = S(det, Vec::new());
        lines.iter().for_each(|l| dec.decode(l.as_bytes(), &mut s));
        s.1
    }
}
