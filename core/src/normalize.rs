//! `normalize`: decode records and write canonical NDJSON, with accounting.
//!
//! [`Normalizer`] is the sink every host uses (CLI, Fluent Bit, WASM): it
//! writes one line per event, one error envelope per undecodable unit, and
//! optionally one skip envelope per non-audit unit, and counts them per
//! source so that `records = events + skipped + errors` can be checked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::decode::{Decoder, Sink, SkipReason, Unit};
use crate::encode;
use crate::error::Error;
use crate::event::{AuditEvent, Source};

/// Counts for one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Units seen: a record, or one item of an envelope.
    pub records: u64,
    pub events: u64,
    pub skipped: u64,
    pub errors: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.records += o.records;
        self.events += o.events;
        self.skipped += o.skipped;
        self.errors += o.errors;
    }
}

/// Accounting for a run: physical inputs, and units per source.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Records framed from the input (lines or documents).
    pub inputs: u64,
    /// Bytes of input records.
    pub bytes: u64,
    /// Per source id (`unknown` where detection did not get that far).
    pub by_source: BTreeMap<&'static str, Counts>,
}

impl Stats {
    /// Totals over all sources.
    pub fn total(&self) -> Counts {
        let mut t = Counts::default();
        for c in self.by_source.values() {
            t.add(c);
        }
        t
    }

    /// Fold another run's stats into this one.
    pub fn merge(&mut self, o: &Stats) {
        self.inputs += o.inputs;
        self.bytes += o.bytes;
        for (k, c) in &o.by_source {
            self.by_source.entry(k).or_default().add(c);
        }
    }

    /// Whether every unit is accounted for: per source and in total,
    /// records = events + skipped + errors, and every input gave ≥ 1 unit.
    pub fn balanced(&self) -> bool {
        let t = self.total();
        self.by_source.values().all(|c| c.records == c.events + c.skipped + c.errors) && t.records >= self.inputs
    }

    /// A plain-text table (for `--stats`).
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{:<22} {:>10} {:>10} {:>10} {:>10}", "source", "records", "events", "skipped", "errors");
        for (k, c) in &self.by_source {
            let _ = writeln!(s, "{:<22} {:>10} {:>10} {:>10} {:>10}", k, c.records, c.events, c.skipped, c.errors);
        }
        let t = self.total();
        let _ = writeln!(s, "{:<22} {:>10} {:>10} {:>10} {:>10}", "total", t.records, t.events, t.skipped, t.errors);
        let _ = writeln!(
            s,
            "inputs: {} records ({} bytes) -> {} units; records = events + skipped + errors: {}",
            self.inputs,
            self.bytes,
            t.records,
            if self.balanced() { "yes" } else { "NO" }
        );
        s
    }
}

/// Options for [`Normalizer`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Also write a skip envelope for each non-audit unit (default: count only).
    pub keep_skipped: bool,
}

/// A sink that writes canonical NDJSON into a buffer and counts.
#[derive(Debug, Default)]
pub struct Normalizer {
    opts: Options,
    /// What each event is written as (canonical unless set).
    format: encode::Format,
    out: Vec<u8>,
    inputs: u64,
    bytes: u64,
    /// Indexed by `Source as usize`; the last slot is `unknown`.
    counts: [Counts; Source::ALL.len() + 1],
}

fn slot(s: Option<Source>) -> usize {
    s.map(|s| s as usize).unwrap_or(Source::ALL.len())
}

impl Normalizer {
    pub fn new(opts: Options) -> Self {
        Normalizer { opts, out: Vec::with_capacity(1 << 16), ..Normalizer::default() }
    }

    /// A normalizer writing each event in `format` (OCSF, ECS …); error and
    /// skip envelopes are written as in the canonical output.
    pub fn with_format(opts: Options, format: encode::Format) -> Self {
        Normalizer { format, ..Normalizer::new(opts) }
    }

    /// Decode one framed record, appending output lines to the buffer.
    pub fn record(&mut self, dec: &Decoder, record: &[u8]) {
        self.count_input(record.len());
        dec.decode(record, self);
    }

    /// Count one framed input record of `len` bytes (for sinks that wrap this one).
    pub fn count_input(&mut self, len: usize) {
        self.inputs += 1;
        self.bytes += len as u64;
    }

    /// Count an event without writing it.
    pub fn count_event(&mut self, ev: &AuditEvent<'_>) {
        let c = &mut self.counts[slot(ev.source)];
        c.records += 1;
        c.events += 1;
    }

    /// Count a skipped unit without writing it.
    pub fn count_skipped(&mut self, unit: &Unit<'_>) {
        let c = &mut self.counts[slot(unit.source)];
        c.records += 1;
        c.skipped += 1;
    }

    /// Count an undecodable unit without writing it.
    pub fn count_error(&mut self, unit: &Unit<'_>) {
        let c = &mut self.counts[slot(unit.source)];
        c.records += 1;
        c.errors += 1;
    }

    /// Count and write an event, with `extra` members in its `kaudit` object
    /// (canonical format only: the other formats have no `kaudit` object to
    /// extend, and ignore `extra`).
    pub fn event_with(&mut self, ev: &AuditEvent<'_>, extra: &mut dyn FnMut(&mut Vec<u8>)) {
        self.count_event(ev);
        match self.format {
            encode::Format::Canonical => encode::canonical_with(ev, extra, &mut self.out),
            f => encode::event(f, ev, &mut self.out),
        }
        self.out.push(b'\n');
    }

    /// Append raw bytes to the output (for sinks that wrap this one and
    /// write their own records, such as detection findings).
    pub fn write(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        f(&mut self.out);
    }

    /// A framed piece of an oversize record: passed through as an error.
    pub fn oversize(&mut self, piece: &[u8], limit: usize) {
        self.inputs += 1;
        self.bytes += piece.len() as u64;
        let e = Error::new(
            crate::Category::Limit,
            "$",
            format!("record longer than the limit of {limit} bytes; passed through in pieces"),
        );
        self.error(Unit { raw: piece, source: None }, &e);
    }

    /// The output written so far.
    pub fn output(&self) -> &[u8] {
        &self.out
    }

    /// Take the output, leaving the buffer empty (its capacity is kept).
    pub fn take_output(&mut self, into: &mut Vec<u8>) {
        into.extend_from_slice(&self.out);
        self.out.clear();
    }

    /// Clear the output buffer.
    pub fn clear_output(&mut self) {
        self.out.clear();
    }

    /// Events counted so far (cheap: no allocation).
    pub fn events(&self) -> u64 {
        self.counts.iter().map(|c| c.events).sum()
    }

    /// The counts so far.
    pub fn stats(&self) -> Stats {
        let mut by_source = BTreeMap::new();
        for (i, c) in self.counts.iter().enumerate() {
            if c.records > 0 {
                by_source.insert(Source::ALL.get(i).map(|s| s.id()).unwrap_or("unknown"), *c);
            }
        }
        Stats { inputs: self.inputs, bytes: self.bytes, by_source }
    }
}

impl Sink for Normalizer {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        self.event_with(ev, &mut |_| {});
    }

    fn skipped(&mut self, unit: Unit<'_>, reason: SkipReason) {
        self.count_skipped(&unit);
        if self.opts.keep_skipped {
            encode::skip_envelope(&unit, reason, &mut self.out);
            self.out.push(b'\n');
        }
    }

    fn error(&mut self, unit: Unit<'_>, err: &Error) {
        self.count_error(&unit);
        encode::error_envelope(&unit, err, &mut self.out);
        self.out.push(b'\n');
    }
}
