//! Stage pairing by `auditID`, with bounded memory.
//!
//! The apiserver writes up to four stages per request: `RequestReceived`
//! (unless the policy omits it), `ResponseStarted` (long-running requests
//! only: watch, exec, log follow), then `ResponseComplete` or `Panic` (the
//! *end*). [`Pairing`] keeps the requests whose stages are not all in yet:
//!
//! * `RequestReceived` and an end: **paired**, forgotten.
//! * `RequestReceived` only, more than the grace time before the stream's
//!   last event: an **orphan request** (the completion was lost).
//! * An end without `RequestReceived`, in a stream that has
//!   `RequestReceived` events at all and whose request was received after
//!   the stream's first event: an **orphan completion** (the first stage was
//!   lost). When the stream has no `RequestReceived` so far, the policy omits
//!   it and an end is complete on its own.
//! * `ResponseStarted` without an end: a long-running request in progress,
//!   never judged.
//! * The same stage twice for one `auditID`: a **duplicate**.
//!
//! Requests are keyed by a 64-bit FNV-1a hash of the `auditID` (no
//! allocation; two of 100,000 random ids collide with probability ≈ 3·10⁻¹⁰).
//! At most `cap` requests are kept; the least recently touched is evicted and
//! judged on the spot (counted in [`Pairing::evicted`] too).

use hashlink::LinkedHashMap;

/// A stage of the audit pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    RequestReceived,
    ResponseStarted,
    ResponseComplete,
    Panic,
}

impl Stage {
    /// Parse a `stage` value; `None` for any other text.
    pub fn parse(s: &str) -> Option<Stage> {
        Some(match s {
            "RequestReceived" => Stage::RequestReceived,
            "ResponseStarted" => Stage::ResponseStarted,
            "ResponseComplete" => Stage::ResponseComplete,
            "Panic" => Stage::Panic,
            _ => return None,
        })
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

const RR: u8 = 1;
const RS: u8 = 2;
const END: u8 = 4 | 8;

/// 64-bit FNV-1a.
pub fn id_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pending {
    stages: u8,
    /// When the request was received (µs): `requestReceivedTimestamp`, else
    /// the stage's own time; `i64::MIN` when unknown.
    received: i64,
}

/// Counters of one stream's stage pairing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PairingCounts {
    pub request_received: u64,
    pub response_started: u64,
    pub response_complete: u64,
    pub panic: u64,
    /// Requests with `RequestReceived` and an end.
    pub paired: u64,
    /// `RequestReceived` whose end never came (past the grace time).
    pub orphan_requests: u64,
    /// Ends whose `RequestReceived` never came, where the stream has that stage.
    pub orphan_completions: u64,
    /// The same stage twice for one `auditID`.
    pub duplicates: u64,
    /// Requests evicted from the bounded table (judged when evicted).
    pub evicted: u64,
    /// Requests still waiting: received within the grace time, or long-running.
    pub pending: u64,
}

/// See the module documentation.
#[derive(Clone, Debug)]
pub struct Pairing {
    table: LinkedHashMap<u64, Pending>,
    cap: usize,
    c: PairingCounts,
}

/// The first and last event time of the stream (µs), for judging.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    pub first: i64,
    pub last: i64,
}

impl Pairing {
    /// At most `cap` requests waiting (at least 1).
    pub fn new(cap: usize) -> Self {
        Pairing { table: LinkedHashMap::new(), cap: cap.max(1), c: PairingCounts::default() }
    }

    /// One event of `stage` for the request `id` received at `received` (µs).
    pub fn observe(&mut self, id: u64, stage: Stage, received: Option<i64>, span: Span) {
        match stage {
            Stage::RequestReceived => self.c.request_received += 1,
            Stage::ResponseStarted => self.c.response_started += 1,
            Stage::ResponseComplete => self.c.response_complete += 1,
            Stage::Panic => self.c.panic += 1,
        }
        self.put(id, stage.bit(), received.unwrap_or(i64::MIN), span);
    }

    fn put(&mut self, id: u64, bits: u8, received: i64, span: Span) {
        let p = match self.table.remove(&id) {
            Some(p) => {
                if p.stages & bits != 0 {
                    self.c.duplicates += 1;
                }
                Pending { stages: p.stages | bits, received: p.received.max(received) }
            }
            None => Pending { stages: bits, received },
        };
        if p.stages & RR != 0 && p.stages & END != 0 {
            self.c.paired += 1;
            return;
        }
        if p.stages & RR == 0 && p.stages & END != 0 && self.c.request_received == 0 {
            // The policy omits RequestReceived (so far): nothing to pair.
            return;
        }
        self.table.insert(id, p);
        while self.table.len() > self.cap {
            if let Some((_, old)) = self.table.pop_front() {
                self.c.evicted += 1;
                judge(&mut self.c, old, span, 0, true);
            }
        }
    }

    /// The counts, judging the requests still waiting against `span` with
    /// `grace` (µs) for requests received near its end.
    pub fn counts(&self, span: Span, grace: i64) -> PairingCounts {
        let mut c = self.c;
        for p in self.table.values() {
            judge(&mut c, *p, span, grace, false);
        }
        c
    }

    /// Requests waiting in the table.
    pub fn waiting(&self) -> usize {
        self.table.len()
    }

    /// Fold another part of the same stream in: its counters add, and its
    /// waiting requests meet ours, so a request whose stages fell into
    /// different parts is paired.
    pub fn merge(&mut self, o: &Pairing, span: Span) {
        let c = &mut self.c;
        c.request_received += o.c.request_received;
        c.response_started += o.c.response_started;
        c.response_complete += o.c.response_complete;
        c.panic += o.c.panic;
        c.paired += o.c.paired;
        c.orphan_requests += o.c.orphan_requests;
        c.orphan_completions += o.c.orphan_completions;
        c.duplicates += o.c.duplicates;
        c.evicted += o.c.evicted;
        for (&id, p) in o.table.iter() {
            self.put(id, p.stages, p.received, span);
        }
    }
}

/// Judge one waiting request into `c`: an orphan, or pending. An evicted
/// request is judged without grace, and a long-running one is then dropped.
fn judge(c: &mut PairingCounts, p: Pending, span: Span, grace: i64, evicted: bool) {
    if p.stages & END != 0 {
        // An end without RequestReceived.
        if c.request_received > 0 && p.received >= span.first {
            c.orphan_completions += 1;
        }
    } else if p.stages & RS != 0 {
        if !evicted {
            c.pending += 1;
        }
    } else if evicted || p.received.saturating_add(grace) < span.last {
        c.orphan_requests += 1;
    } else {
        c.pending += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000;

    fn span(first: i64, last: i64) -> Span {
        Span { first: first * S, last: last * S }
    }

    #[test]
    fn pairs_orphans_and_pending() {
        let mut p = Pairing::new(100);
        let sp = span(0, 1000);
        // Paired.
        p.observe(1, Stage::RequestReceived, Some(10 * S), sp);
        p.observe(1, Stage::ResponseComplete, Some(10 * S), sp);
        // Orphan request (no end, long before the end of the stream).
        p.observe(2, Stage::RequestReceived, Some(20 * S), sp);
        // Orphan completion.
        p.observe(3, Stage::ResponseComplete, Some(30 * S), sp);
        // Watch in progress.
        p.observe(4, Stage::RequestReceived, Some(40 * S), sp);
        p.observe(4, Stage::ResponseStarted, Some(40 * S), sp);
        // Received just before the end: pending.
        p.observe(5, Stage::RequestReceived, Some(990 * S), sp);
        // Duplicate.
        p.observe(6, Stage::RequestReceived, Some(50 * S), sp);
        p.observe(6, Stage::RequestReceived, Some(50 * S), sp);
        p.observe(6, Stage::Panic, Some(50 * S), sp);
        let c = p.counts(sp, 60 * S);
        assert_eq!((c.paired, c.orphan_requests, c.orphan_completions), (2, 1, 1));
        assert_eq!((c.pending, c.duplicates, c.evicted, c.panic), (2, 1, 0, 1));
        assert_eq!(p.waiting(), 4);
    }

    #[test]
    fn completions_before_the_stream_or_without_request_stages_are_fine() {
        let mut p = Pairing::new(100);
        let sp = span(100, 1000);
        // The policy omits RequestReceived: ends alone are complete.
        p.observe(1, Stage::ResponseComplete, Some(200 * S), sp);
        assert_eq!(p.waiting(), 0);
        p.observe(2, Stage::RequestReceived, Some(300 * S), sp);
        // Received before the stream's first event: its first stage is in an earlier file.
        p.observe(3, Stage::ResponseComplete, Some(50 * S), sp);
        p.observe(2, Stage::ResponseComplete, Some(300 * S), sp);
        let c = p.counts(sp, 60 * S);
        assert_eq!((c.paired, c.orphan_requests, c.orphan_completions), (1, 0, 0));
    }

    #[test]
    fn bounded_with_eviction() {
        let mut p = Pairing::new(10);
        let sp = span(0, 10_000);
        for id in 0..1000u64 {
            p.observe(id, Stage::RequestReceived, Some(id as i64 * S), sp);
        }
        assert_eq!(p.waiting(), 10);
        let c = p.counts(sp, 60 * S);
        assert_eq!(c.evicted, 990);
        assert_eq!(c.orphan_requests, 1000);
    }

    #[test]
    fn merge_pairs_across_parts() {
        let sp = span(0, 1000);
        let mut a = Pairing::new(100);
        let mut b = Pairing::new(100);
        a.observe(1, Stage::RequestReceived, Some(10 * S), sp);
        b.observe(2, Stage::RequestReceived, Some(10 * S), sp);
        b.observe(1, Stage::ResponseComplete, Some(10 * S), sp);
        a.merge(&b, sp);
        let c = a.counts(sp, 60 * S);
        assert_eq!((c.request_received, c.response_complete), (2, 1));
        assert_eq!((c.paired, c.orphan_requests, c.orphan_completions), (1, 1, 0));
    }

    #[test]
    fn hash_is_stable() {
        assert_eq!(id_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_ne!(id_hash("a"), id_hash("b"));
    }
}
