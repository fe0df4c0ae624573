//! `scan`: normalize + detect, with per-rule accounting.
//!
//! [`Scanner`] is a sink like [`crate::Normalizer`] that also evaluates a
//! [`RuleSet`] on every event, writes `kaudit.detections` (and, on request,
//! `kaudit.blind`) into the canonical output, and keeps a summary per rule:
//! hits, first and last event time, an example actor, and blind counts per
//! source. An [`Observer`] sees every event with its detections (hosts use it
//! for their own accounting and to choose which events are written).

use std::collections::BTreeMap;

use crate::decode::{Decoder, Sink, SkipReason, Unit};
use crate::error::Error;
use crate::event::{AuditEvent, Source};
use crate::findings::{self, Context, FindingFormat};
use crate::json::write_str;
use crate::normalize::{Normalizer, Options, Stats};
use crate::rules::state::StateLimits;
use crate::rules::{Detections, Detector, RuleSet};

/// What a scan writes.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScanOptions {
    pub normalize: Options,
    /// Also write `kaudit.blind`: the rules that could not be evaluated.
    pub blind: bool,
    /// Write only events on which a rule fired (errors are still written).
    pub only_hits: bool,
    /// Write events, errors and skip envelopes at all (off for a summary-only scan).
    pub write_events: bool,
    /// Bounds on stateful-rule memory.
    pub state: StateLimits,
}

/// Per-rule totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleSummary {
    pub hits: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    pub example_actor: Option<String>,
    /// Blind evaluations per source id and the field that was missing.
    pub blind: BTreeMap<(&'static str, &'static str), u64>,
}

/// Sees every event with its detections, after detection and before output.
pub trait Observer {
    /// `det` holds the rules that fired on `ev` and those that were blind.
    /// Return `false` to leave the event out of the output; it has been
    /// counted and has fed the stateful rules all the same.
    fn event(&mut self, ev: &AuditEvent<'_>, det: &Detections) -> bool;
}

/// The observer that writes every event.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepAll;

impl Observer for KeepAll {
    fn event(&mut self, _: &AuditEvent<'_>, _: &Detections) -> bool {
        true
    }
}

/// A sink that normalizes, detects and summarizes.
pub struct Scanner<'r, O: Observer = KeepAll> {
    rules: &'r RuleSet,
    detector: Detector<'r>,
    opts: ScanOptions,
    norm: Normalizer,
    det: Detections,
    summary: Vec<RuleSummary>,
    observer: O,
    /// When set, one record per detection instead of canonical events.
    findings: Option<(FindingFormat, Context)>,
    /// Findings written so far (SARIF separates results with commas).
    written: u64,
    /// The detections of a batch of events ([`Scanner::records`]).
    dets: Vec<Detections>,
}

/// Plain events [`Scanner::records`] decodes before it detects on them.
const BATCH: usize = 16;

/// `*slot = Some(t)`, reusing the string already there (no allocation per
/// hit as times advance).
fn set_text(slot: &mut Option<String>, t: &str) {
    match slot {
        Some(s) => {
            s.clear();
            s.push_str(t);
        }
        None => *slot = Some(t.to_owned()),
    }
}

fn event_time<'a>(ev: &'a AuditEvent<'_>) -> Option<&'a str> {
    ev.stage_timestamp.as_deref().or(ev.request_received_timestamp.as_deref())
}

impl<'r> Scanner<'r> {
    pub fn new(rules: &'r RuleSet, opts: ScanOptions) -> Self {
        Scanner::with_observer(rules, opts, KeepAll)
    }
}

impl<'r, O: Observer> Scanner<'r, O> {
    /// A scanner that shows every event and its detections to `observer`.
    pub fn with_observer(rules: &'r RuleSet, opts: ScanOptions, observer: O) -> Self {
        Scanner {
            rules,
            detector: Detector::new(rules, opts.state),
            opts,
            norm: Normalizer::new(opts.normalize),
            det: Detections::default(),
            summary: vec![RuleSummary::default(); rules.rules().len()],
            observer,
            findings: None,
            written: 0,
            dets: Vec::new(),
        }
    }

    /// The observer.
    pub fn observer(&self) -> &O {
        &self.observer
    }

    /// The observer, mutably.
    pub fn observer_mut(&mut self) -> &mut O {
        &mut self.observer
    }

    /// Events seen so far (cheap: no allocation).
    pub fn events(&self) -> u64 {
        self.norm.events()
    }

    /// Write one record per detection in `format` instead of canonical
    /// events (when `write_events` is on). Error and skip units are then
    /// counted but not written: these formats have no place for them.
    pub fn set_findings(&mut self, format: FindingFormat, ctx: Context) {
        self.findings = Some((format, ctx));
    }

    /// Take the stateful rules' outcomes from `fires` (see
    /// [`crate::rules::replay`]): for a slice of a parallel scan.
    pub fn set_fires(&mut self, fires: crate::rules::replay::Fires) {
        self.detector.set_fires(fires);
    }

    /// Log the stateful rules' steps (see [`crate::rules::replay`]).
    pub fn record_steps(&mut self) {
        self.detector.record_steps();
    }

    /// The steps logged since [`Scanner::record_steps`].
    pub fn take_step_log(&mut self) -> crate::rules::replay::StepLog {
        self.detector.take_step_log()
    }

    /// Findings written so far.
    pub fn findings_written(&self) -> u64 {
        self.written
    }

    /// Decode and scan one framed record.
    pub fn record(&mut self, dec: &Decoder, record: &[u8]) {
        self.norm.count_input(record.len());
        dec.decode(record, self);
    }

    /// Decode and scan framed records in order, with the output and state
    /// [`Scanner::record`] on each would give.
    ///
    /// Plain events (see [`Decoder::decode_keep`]) are decoded [`BATCH`] at
    /// a time; detection then runs on the batch, then the batch is written.
    /// The decoder's code, detection's and the encoder's each stay warm for
    /// a run of events instead of taking turns on every one (BENCHMARKS.md,
    /// "Detection overhead, session 10"). Anything else the decoder sends
    /// (an envelope's events, a skipped unit, an error) is handled after the
    /// batch held so far, so the order is kept.
    pub fn records<'a>(&mut self, dec: &Decoder, records: impl IntoIterator<Item = &'a [u8]>) {
        self.frames(dec, 0, records.into_iter().map(|r| (r, false)));
    }

    /// [`Scanner::records`] over framed input: `(bytes, oversize)`, where
    /// an oversize frame is a piece of a record longer than `limit`, passed
    /// through as an error in its place ([`Scanner::oversize`]).
    pub fn frames<'a>(&mut self, dec: &Decoder, limit: usize, frames: impl IntoIterator<Item = (&'a [u8], bool)>) {
        // The held events, each decoded in its place: slots `..held`.
        let mut slots: Vec<Option<AuditEvent<'a>>> = std::iter::repeat_with(|| None).take(BATCH).collect();
        let mut held = 0;
        for (rec, oversize) in frames {
            if oversize {
                self.flush(slots.get_mut(..held).unwrap_or_default());
                held = 0;
                self.oversize(rec, limit);
                continue;
            }
            if held >= BATCH {
                self.flush(&mut slots);
                held = 0;
            }
            self.norm.count_input(rec.len());
            // `held < BATCH == slots.len()`: there is a free slot.
            let (before, after) = slots.split_at_mut(held);
            let Some(slot) = after.first_mut() else { continue };
            let mut sink = Flushing { sc: self, held: before, flushed: false };
            let kept = dec.decode_keep(rec, &mut sink, slot);
            if sink.flushed {
                // (A record that is kept sends nothing else; should one do
                // both, its event moves to the front.)
                slots.swap(0, held);
                held = 0;
            }
            held += usize::from(kept);
        }
        self.flush(slots.get_mut(..held).unwrap_or_default());
    }

    /// Detect on every held event, in order, then write them, and empty
    /// their slots.
    fn flush(&mut self, held: &mut [Option<AuditEvent<'_>>]) {
        if held.is_empty() {
            return;
        }
        let mut dets = std::mem::take(&mut self.dets);
        if dets.len() < held.len() {
            dets.resize_with(held.len(), Detections::default);
        }
        for (ev, det) in held.iter().zip(dets.iter_mut()) {
            if let Some(ev) = ev {
                self.detector.detect_into(ev, det);
            }
        }
        for (ev, det) in held.iter().zip(dets.iter()) {
            if let Some(ev) = ev {
                self.emit(ev, det);
            }
        }
        self.dets = dets;
        held.iter_mut().for_each(|s| *s = None);
    }

    /// A piece of an oversize record (passed through as an error).
    pub fn oversize(&mut self, piece: &[u8], limit: usize) {
        if self.findings.is_some() {
            // Findings formats have no place for an error envelope: count it.
            self.norm.count_input(piece.len());
            self.norm.count_error(&Unit { raw: piece, source: None });
        } else {
            self.norm.oversize(piece, limit);
        }
    }

    pub fn output(&self) -> &[u8] {
        self.norm.output()
    }

    pub fn clear_output(&mut self) {
        self.norm.clear_output();
    }

    pub fn stats(&self) -> Stats {
        self.norm.stats()
    }

    /// The detector (for its state accounting).
    pub fn detector(&self) -> &Detector<'r> {
        &self.detector
    }

    /// Per-rule summaries, indexed like `RuleSet::rules()`.
    pub fn summary(&self) -> &[RuleSummary] {
        &self.summary
    }
}

/// The sink [`Scanner::records`] decodes into: whatever the decoder sends
/// (an event it does not hand back, a skipped unit, an error) comes after
/// the batch held so far, which is written first.
struct Flushing<'s, 'r, 'a, O: Observer> {
    sc: &'s mut Scanner<'r, O>,
    held: &'s mut [Option<AuditEvent<'a>>],
    /// Whether the held events were written.
    flushed: bool,
}

impl<O: Observer> Flushing<'_, '_, '_, O> {
    fn flush(&mut self) {
        if !self.flushed {
            self.sc.flush(self.held);
            self.flushed = true;
        }
    }
}

impl<O: Observer> Sink for Flushing<'_, '_, '_, O> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        self.flush();
        self.sc.event(ev);
    }

    fn skipped(&mut self, unit: Unit<'_>, reason: SkipReason) {
        self.flush();
        self.sc.skipped(unit, reason);
    }

    fn error(&mut self, unit: Unit<'_>, err: &Error) {
        self.flush();
        self.sc.error(unit, err);
    }
}

impl<O: Observer> Scanner<'_, O> {
    /// Summarize, show and write one event with its detections.
    fn emit(&mut self, ev: &AuditEvent<'_>, det: &Detections) {
        if !det.hits.is_empty() || !det.blind.is_empty() {
            summarize(&mut self.summary, det, ev);
        }
        let keep = self.observer.event(ev, det);
        if !keep || !self.opts.write_events || (self.opts.only_hits && det.hits.is_empty()) {
            self.norm.count_event(ev);
            return;
        }
        let rules = self.rules;
        if let Some((format, ctx)) = &self.findings {
            self.norm.count_event(ev);
            for &i in &det.hits {
                let first = self.written == 0;
                self.written += 1;
                let rule = &rules.rules()[i as usize];
                self.norm.write(|out| findings::write(*format, ev, rule, i as usize, ctx, first, out));
            }
            return;
        }
        let blind = self.opts.blind;
        self.norm.event_with(ev, &mut |out: &mut Vec<u8>| write_detections(rules, det, blind, out));
    }
}

impl<O: Observer> Sink for Scanner<'_, O> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        let mut det = std::mem::take(&mut self.det);
        self.detector.detect_into(ev, &mut det);
        self.emit(ev, &det);
        self.det = det;
    }

    fn skipped(&mut self, unit: Unit<'_>, reason: SkipReason) {
        if self.opts.write_events && self.findings.is_none() {
            self.norm.skipped(unit, reason);
        } else {
            self.norm.count_skipped(&unit);
        }
    }

    fn error(&mut self, unit: Unit<'_>, err: &Error) {
        if self.opts.write_events && self.findings.is_none() {
            self.norm.error(unit, err);
        } else {
            self.norm.count_error(&unit);
        }
    }
}

/// Count an event's hits and blind rules into the per-rule summaries. Out
/// of line: most events have neither, and the scan's per-event code is
/// kept small (it shares the instruction cache with the decoder's).
#[cold]
#[inline(never)]
fn summarize(summary: &mut [RuleSummary], det: &Detections, ev: &AuditEvent<'_>) {
    let src: &'static str = ev.source.map(Source::id).unwrap_or("unknown");
    for &i in &det.hits {
        let Some(s) = summary.get_mut(i as usize) else { continue };
        s.hits += 1;
        if let Some(t) = event_time(ev) {
            if s.first.as_deref().is_none_or(|f| t < f) {
                set_text(&mut s.first, t);
            }
            if s.last.as_deref().is_none_or(|l| t > l) {
                set_text(&mut s.last, t);
            }
        }
        if s.example_actor.is_none() {
            s.example_actor = ev.username().map(str::to_owned);
        }
    }
    for &(i, f) in &det.blind {
        if let Some(s) = summary.get_mut(i as usize) {
            *s.blind.entry((src, f.path())).or_default() += 1;
        }
    }
}

/// Write `,"detections":[…]` (and `,"blind":[…]`) into a `kaudit` object.
pub fn write_detections(rules: &RuleSet, det: &Detections, blind: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"detections\":[");
    for (n, &i) in det.hits.iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(rules.detection_json(i as usize));
    }
    out.push(b']');
    if blind {
        out.extend_from_slice(b",\"blind\":[");
        for (n, &(i, f)) in det.blind.iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"rule\":");
            write_str(out, &rules.rules()[i as usize].id);
            out.extend_from_slice(b",\"field\":");
            write_str(out, f.path());
            out.push(b'}');
        }
        out.push(b']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Builder;
    use crate::Limits;

    const RULES: &str = "rules:
  - id: denied-twice
    title: two denied requests by one user
    description: test rule
    severity: medium
    condition: code = 403
    window: {by: [user.username], within: 10m, count: 2}
";

    fn line(id: &str, t: &str) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"{id}","stage":"ResponseComplete","verb":"get","user":{{"username":"bob"}},"responseStatus":{{"code":403}},"stageTimestamp":"{t}"}}"#
        )
    }

    /// Leaves out events before a time, and records what it saw.
    struct From {
        since: &'static str,
        seen: Vec<(String, Vec<u32>)>,
    }

    impl Observer for From {
        fn event(&mut self, ev: &AuditEvent<'_>, det: &Detections) -> bool {
            self.seen.push((ev.audit_id.as_deref().unwrap_or("").to_owned(), det.hits.clone()));
            ev.stage_timestamp.as_deref().is_some_and(|t| t >= self.since)
        }
    }

    #[test]
    fn detections_are_written_from_each_rules_prepared_object() {
        let src = "rules:
  - id: quote-id
    title: a \\\"quoted\\\" title
    description: test rule
    severity: high
    tags: [attack.t1078, \"x\\\\y\"]
    condition: code = 403
  - id: plain
    title: plain
    description: test rule
    severity: low
    condition: code >= 400
";
        let mut b = Builder::new();
        b.add_file("t.yaml", src);
        let set = b.build().expect("rules compile");
        let mut det = Detections::default();
        det.hits = vec![0, 1];
        let mut out = b"{\"x\":1".to_vec();
        write_detections(&set, &det, false, &mut out);
        out.push(b'}');
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        let d = &v["detections"];
        for (k, r) in set.rules().iter().enumerate() {
            assert_eq!(d[k]["rule"], r.id.as_str());
            assert_eq!(d[k]["title"], r.title.as_str());
            assert_eq!(d[k]["severity"], r.severity.as_str());
            let tags: Vec<&str> = d[k]["tags"].as_array().expect("tags").iter().filter_map(|t| t.as_str()).collect();
            assert_eq!(tags, r.tags);
        }
        // A plain YAML scalar keeps its backslashes: the title holds both
        // characters JSON must escape.
        assert_eq!(set.rules()[0].title, "a \\\"quoted\\\" title");
        assert_eq!(set.rules()[0].tags, ["attack.t1078", "x\\y"]);
        assert!(set.detection_json(7).is_empty());
    }

    #[test]
    fn an_observer_chooses_the_output_but_every_event_feeds_the_rules() {
        let mut b = Builder::new();
        b.add_file("t.yaml", RULES);
        let set = b.build().expect("rules compile");
        let opts = ScanOptions { write_events: true, ..ScanOptions::default() };
        let mut sc = Scanner::with_observer(&set, opts, From { since: "2025-01-01T10:01", seen: Vec::new() });
        let dec = Decoder::new(Limits::default());
        sc.record(&dec, line("a", "2025-01-01T10:00:00Z").as_bytes());
        sc.record(&dec, line("b", "2025-01-01T10:01:00Z").as_bytes());
        // Both events fed the window: it fires on the second, the only one written.
        let seen: Vec<(&str, &[u32])> = sc.observer().seen.iter().map(|(a, h)| (a.as_str(), h.as_slice())).collect();
        assert_eq!(seen, [("a", &[][..]), ("b", &[0u32][..])]);
        let out = std::str::from_utf8(sc.output()).expect("utf-8");
        assert_eq!(out.lines().count(), 1);
        assert!(out.contains(r#""auditID":"b""#) && out.contains(r#""rule":"denied-twice""#), "{out}");
        // Both are counted, and the engine summary sees the hit.
        assert_eq!(sc.events(), 2);
        assert_eq!(sc.stats().total().events, 2);
        assert_eq!(sc.summary()[0].hits, 1);
        sc.observer_mut().seen.clear();
        assert!(sc.observer().seen.is_empty());
    }

    /// Every fixture record, framed, plus synthetic ones (labelled here):
    /// window events between them, a record that is not JSON, one that is
    /// not UTF-8, an empty array, and two oversize pieces.
    fn mixed_frames() -> (Vec<u8>, Vec<(std::ops::Range<usize>, bool)>) {
        let mut data = Vec::new();
        let mut frames = Vec::new();
        let mut push = |data: &mut Vec<u8>, bytes: &[u8], oversize: bool| {
            let start = data.len();
            data.extend_from_slice(bytes);
            frames.push((start..data.len(), oversize));
        };
        for (n, path) in crate::testdata::fixture_files().iter().enumerate() {
            let bytes = std::fs::read(path).expect("fixture");
            for f in crate::frame::records(&bytes, 1 << 20) {
                push(&mut data, &bytes[f.range], f.oversize);
            }
            for k in 0..4 {
                let t = format!("2025-01-01T10:{:02}:{:02}Z", n % 60, k * 10);
                push(&mut data, line(&format!("w{n}-{k}"), &t).as_bytes(), false);
            }
            match n % 5 {
                0 => push(&mut data, b"{not json", false),
                1 => push(&mut data, b"{\"kind\":\"Event\",\"verb\":\"get\xff\"}", false),
                2 => push(&mut data, b"[]", false),
                3 => push(&mut data, b"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s", true),
                _ => {}
            }
        }
        (data, frames)
    }

    /// What a scan wrote, counted, summarized, showed its observer, and
    /// holds in stateful keys.
    type Scanned = (Vec<u8>, Stats, Vec<RuleSummary>, Vec<(String, Vec<u32>)>, (usize, u64));

    /// Run `frames` through a scanner: one record at a time, or in runs of
    /// `run` through `Scanner::frames`; what it wrote, counted and saw.
    fn scan_mixed(
        set: &crate::rules::RuleSet,
        opts: ScanOptions,
        findings: Option<FindingFormat>,
        data: &[u8],
        frames: &[(std::ops::Range<usize>, bool)],
        run: Option<usize>,
    ) -> Scanned {
        let dec = Decoder::new(Limits::default());
        let mut sc = Scanner::with_observer(set, opts, From { since: "2024-01-01T00:00", seen: Vec::new() });
        if let Some(f) = findings {
            sc.set_findings(f, Context { created_ms: Some(0), hostname: None });
        }
        let mut out = Vec::new();
        match run {
            None => {
                for (r, oversize) in frames {
                    if *oversize {
                        sc.oversize(&data[r.clone()], 1 << 20);
                    } else {
                        sc.record(&dec, &data[r.clone()]);
                    }
                }
            }
            Some(n) => {
                for chunk in frames.chunks(n) {
                    sc.frames(&dec, 1 << 20, chunk.iter().map(|(r, o)| (&data[r.clone()], *o)));
                    // Output taken between runs, as the CLI does.
                    out.extend_from_slice(sc.output());
                    sc.clear_output();
                }
            }
        }
        out.extend_from_slice(sc.output());
        let keys = sc.detector().state_keys();
        (out, sc.stats(), sc.summary().to_vec(), std::mem::take(&mut sc.observer_mut().seen), keys)
    }

    #[test]
    fn records_in_runs_give_what_one_at_a_time_gives() {
        let mut b = Builder::new();
        crate::rules::add_builtin(&mut b);
        b.add_file("t.yaml", RULES);
        let set = b.build().expect("rules compile");
        let (data, frames) = mixed_frames();
        assert!(frames.len() > 300, "{} frames", frames.len());
        let base = ScanOptions { write_events: true, ..ScanOptions::default() };
        let cases = [
            (base, None),
            (ScanOptions { blind: true, ..base }, None),
            (ScanOptions { only_hits: true, blind: true, ..base }, None),
            (ScanOptions { write_events: false, ..base }, None),
            (ScanOptions { normalize: Options { keep_skipped: false }, ..base }, None),
            (base, Some(FindingFormat::Ocsf)),
        ];
        for (opts, findings) in cases {
            let one = scan_mixed(&set, opts, findings, &data, &frames, None);
            assert!(one.2.iter().any(|s| s.hits > 0), "some rule fires");
            assert!(one.3.len() > 200, "the observer saw {} events", one.3.len());
            for run in [1, 7, BATCH, 256, frames.len()] {
                let batched = scan_mixed(&set, opts, findings, &data, &frames, Some(run));
                let what = format!("{opts:?} {findings:?}, runs of {run}");
                assert!(one.0 == batched.0, "output differs: {what}");
                assert_eq!(one.1, batched.1, "stats: {what}");
                assert_eq!(one.2, batched.2, "summaries: {what}");
                assert_eq!(one.3, batched.3, "observed: {what}");
                assert_eq!(one.4, batched.4, "state: {what}");
            }
        }
    }
}
