//! One Fluent Bit record in, one JSON object (or a drop) out.
//!
//! The engine runs the core's [`Normalizer`] or [`Scanner`] on the record and
//! packs the lines they write into exactly one output object, because the
//! Fluent Bit ABI allows one record out per record in:
//!
//! * one line (the usual case: one event, or one error/skip envelope) is
//!   returned as it is, byte for byte the native core's output;
//! * several lines (an envelope such as an AKS `records[]`, an `EventList` or
//!   a CloudWatch subscription payload) are returned as
//!   `{"kaudit_events":[<line>,<line>,…]}` ([`EVENTS_KEY`]);
//! * no line (an envelope with no units at all) returns the input unchanged
//!   (`kaudit_filter`, `kaudit_normalize`) or drops it (`kaudit_alerts`).
//!
//! A configuration error is added to every output object as the member
//! `"kaudit_config_error":"<message>"` ([`CONFIG_ERROR_KEY`]).

use kaudit_core::decode::SkipReason;
use kaudit_core::json::{write_str, Str};
use kaudit_core::scan::{ScanOptions, Scanner};
use kaudit_core::{AuditEvent, Decoder, Error, Limits, Normalizer, Options, Sink, Unit};

use crate::config::Setup;

/// The member holding the events of a multi-event record.
pub const EVENTS_KEY: &str = "kaudit_events";
/// The member carrying a configuration error.
pub const CONFIG_ERROR_KEY: &str = "kaudit_config_error";

/// What an export does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `kaudit_filter`: normalize + detect; every record comes out.
    Filter,
    /// `kaudit_normalize`: the canonical event only; every record comes out.
    Normalize,
    /// `kaudit_alerts`: only events on which a rule fired; the rest is dropped.
    Alerts,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Filter, Mode::Normalize, Mode::Alerts];

    /// The exported function's name.
    pub fn export(self) -> &'static str {
        match self {
            Mode::Filter => "kaudit_filter",
            Mode::Normalize => "kaudit_normalize",
            Mode::Alerts => "kaudit_alerts",
        }
    }

    /// The core options the native equivalent of this mode uses.
    pub fn scan_options(self, setup: &Setup) -> ScanOptions {
        ScanOptions {
            normalize: Options { keep_skipped: self != Mode::Alerts },
            blind: false,
            only_hits: self == Mode::Alerts,
            write_events: true,
            state: setup.state,
        }
    }
}

enum Core<'r> {
    Normalize(Box<Normalizer>),
    Scan(Box<Scanner<'r>>),
}

/// A sink in front of the core's: applies the cluster-name override and,
/// for alerts, leaves errors and skipped units out.
struct Front<'s, 'r> {
    core: &'s mut Core<'r>,
    cluster: Option<&'s str>,
    alerts_only: bool,
}

impl Front<'_, '_> {
    fn inner(&mut self) -> &mut dyn Sink {
        match self.core {
            Core::Normalize(n) => n.as_mut(),
            Core::Scan(s) => s.as_mut(),
        }
    }
}

impl Sink for Front<'_, '_> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        match self.cluster {
            Some(name) => {
                let mut e = ev.clone();
                e.cluster.name = Some(Str::borrowed(name));
                self.inner().event(&e);
            }
            None => self.inner().event(ev),
        }
    }

    fn skipped(&mut self, unit: Unit<'_>, reason: SkipReason) {
        if !self.alerts_only {
            self.inner().skipped(unit, reason);
        }
    }

    fn error(&mut self, unit: Unit<'_>, err: &Error) {
        if !self.alerts_only {
            self.inner().error(unit, err);
        }
    }
}

/// The per-instance engine for one export. Its output buffer is reused
/// across calls and always ends with a NUL byte.
pub struct Engine<'r> {
    mode: Mode,
    dec: Decoder,
    core: Core<'r>,
    cluster: Option<&'r str>,
    /// `,"kaudit_config_error":"…"`, pre-encoded.
    config_error: Option<Vec<u8>>,
    out: Vec<u8>,
}

impl<'r> Engine<'r> {
    pub fn new(setup: &'r Setup, mode: Mode) -> Self {
        let opts = mode.scan_options(setup);
        let core = match mode {
            Mode::Normalize => Core::Normalize(Box::new(Normalizer::new(opts.normalize))),
            Mode::Filter | Mode::Alerts => Core::Scan(Box::new(Scanner::new(&setup.rules, opts))),
        };
        let config_error = setup.error.as_deref().map(|e| {
            let mut m = Vec::with_capacity(e.len() + 32);
            m.push(b',');
            write_str(&mut m, CONFIG_ERROR_KEY);
            m.push(b':');
            write_str(&mut m, e);
            m
        });
        Engine {
            mode,
            dec: Decoder::new(Limits::default()),
            core,
            cluster: setup.cluster.as_deref(),
            config_error,
            out: vec![0],
        }
    }

    /// Process one record; the result (without its NUL) is empty for a drop.
    pub fn process(&mut self, record: &[u8]) -> &[u8] {
        self.out.clear();
        match &mut self.core {
            Core::Normalize(n) => n.clear_output(),
            Core::Scan(s) => s.clear_output(),
        }
        let mut front = Front { core: &mut self.core, cluster: self.cluster, alerts_only: self.mode == Mode::Alerts };
        self.dec.decode(record, &mut front);
        let lines = match &self.core {
            Core::Normalize(n) => n.output(),
            Core::Scan(s) => s.output(),
        };
        pack(lines, record, self.mode != Mode::Alerts, &mut self.out);
        if let Some(m) = &self.config_error {
            add_member(&mut self.out, m);
        }
        self.out.push(0);
        // Not empty: the NUL was just pushed.
        &self.out[..self.out.len() - 1]
    }

    /// The last result, NUL-terminated (valid until the next call).
    pub fn output_ptr(&self) -> *const u8 {
        self.out.as_ptr()
    }

    /// Bytes held by the output buffer (for memory checks).
    pub fn output_capacity(&self) -> usize {
        self.out.capacity()
    }
}

/// Pack the core's NDJSON `lines` into one object (see the module doc).
pub fn pack(lines: &[u8], record: &[u8], keep_empty: bool, out: &mut Vec<u8>) {
    let mut it = nonempty_lines(lines);
    let Some(first) = it.next() else {
        if keep_empty {
            out.extend_from_slice(record);
        }
        return;
    };
    let Some(second) = it.next() else {
        out.extend_from_slice(first);
        return;
    };
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(EVENTS_KEY.as_bytes());
    out.extend_from_slice(b"\":[");
    out.extend_from_slice(first);
    for l in std::iter::once(second).chain(it) {
        out.push(b',');
        out.extend_from_slice(l);
    }
    out.extend_from_slice(b"]}");
}

/// The non-empty lines of `b`. memchr rather than a byte-wise split: every
/// output byte passes through here once per record (a byte-wise split was
/// 7.6 % of the native per-record profile, BENCHMARKS.md).
fn nonempty_lines(b: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = b;
    std::iter::from_fn(move || loop {
        if rest.is_empty() {
            return None;
        }
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        if !line.is_empty() {
            return Some(line);
        }
    })
}

/// Insert `member` (`,"key":value`) before the closing brace of the object
/// in `out`; nothing when `out` is not an object (a drop, or odd input).
fn add_member(out: &mut Vec<u8>, member: &[u8]) {
    let Some(end) = out.iter().rposition(|b| !b.is_ascii_whitespace()) else { return };
    let starts_object = out.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if out[end] != b'}' || !starts_object {
        return;
    }
    let empty = out[..end].iter().rposition(|b| !b.is_ascii_whitespace()).is_some_and(|i| out[i] == b'{');
    let m = if empty { &member[1..] } else { member };
    out.splice(end..end, m.iter().copied());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing() {
        let mut out = Vec::new();
        pack(b"{\"a\":1}\n", b"{}", true, &mut out);
        assert_eq!(out, b"{\"a\":1}");
        out.clear();
        pack(b"{\"a\":1}\n{\"b\":2}\n", b"{}", true, &mut out);
        assert_eq!(out, b"{\"kaudit_events\":[{\"a\":1},{\"b\":2}]}");
        out.clear();
        pack(b"", b"{\"records\":[]}", true, &mut out);
        assert_eq!(out, b"{\"records\":[]}");
        out.clear();
        pack(b"", b"{\"records\":[]}", false, &mut out);
        assert_eq!(out, b"");
    }

    #[test]
    fn nonempty_lines_match_a_bytewise_split() {
        for text in [&b""[..], b"\n", b"\n\n", b"a", b"a\n", b"\na", b"a\n\nb\n", b"{\"x\":1}\n{}\n\n{\"y\":[]}"] {
            let want: Vec<&[u8]> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
            assert_eq!(nonempty_lines(text).collect::<Vec<_>>(), want, "{:?}", String::from_utf8_lossy(text));
        }
    }

    #[test]
    fn members_are_added_inside_the_object() {
        let mut o = b"{\"a\":1} ".to_vec();
        add_member(&mut o, b",\"e\":\"x\"");
        assert_eq!(o, b"{\"a\":1,\"e\":\"x\"} ");
        let mut o = b"{ }".to_vec();
        add_member(&mut o, b",\"e\":\"x\"");
        assert_eq!(o, b"{ \"e\":\"x\"}");
        let mut o = Vec::new();
        add_member(&mut o, b",\"e\":\"x\"");
        assert!(o.is_empty());
        let mut o = b"[1]".to_vec();
        add_member(&mut o, b",\"e\":\"x\"");
        assert_eq!(o, b"[1]");
    }
}
