//! The health report: plain data, and the checks against [`Thresholds`].
//!
//! Every check has an id, the stream it is about (cluster and source; a
//! per-source check has no cluster), a status, the measured value, the bound
//! it is held to, and a message. A check that cannot be judged on a stream
//! (pairing on a source without stages, latency without receive times,
//! coverage on a small sample) is `skip`, with the reason.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{format_utc, Health, PairingCounts, StreamHealth, REQUIRED};
use crate::event::Provider;
use crate::rules::state::Micros;

/// What the checks are held to. The defaults suit a live cluster's stream;
/// every one is a `kaudit validate` flag.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// `rate.gaps`: longest allowed run of empty minutes. Default 5.
    pub max_gap_minutes: i64,
    /// `rate.gaps`: a run is a gap only if the stream's mean rate would have
    /// put at least this many events into it. Default 100.
    pub gap_min_expected: f64,
    /// `pairing.*`: largest allowed share of orphan requests, of orphan
    /// completions, and of duplicate stages. Default 0.01 (1 %).
    pub max_unpaired_ratio: f64,
    /// `pairing.orphan-requests`: a `RequestReceived` this close (µs) to the
    /// stream's last event may still complete. Default 60 s (the apiserver's
    /// default `--request-timeout`).
    pub pairing_grace: Micros,
    /// `latency.p95`: largest allowed 95th percentile of receive − event
    /// time, in seconds. Default 300.
    pub max_p95_latency: f64,
    /// `skew.received-before-event`: tolerance (seconds) before an event
    /// time later than its receive time counts as skew. Default 5.
    pub max_skew: f64,
    /// `skew.*`: skewed events allowed per check. Default 0.
    pub max_skewed_events: u64,
    /// `structure.required-fields`, `.event-time`, `.unknown-values`:
    /// largest allowed share of events. Default 0.
    pub max_malformed_ratio: f64,
    /// `structure.truncated`: truncated events allowed. Default 0.
    pub max_truncated: u64,
    /// `structure.decode-errors`: largest allowed share of undecodable
    /// units per source. Default 0.
    pub max_error_ratio: f64,
    /// `coverage.reads`: judged only on streams with at least this many
    /// events. Default 100.
    pub min_events_for_coverage: u64,
    /// `coverage.secret-bodies`: secrets events with bodies allowed. Default 0.
    pub max_secret_bodies: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            max_gap_minutes: 5,
            gap_min_expected: 100.0,
            max_unpaired_ratio: 0.01,
            pairing_grace: 60_000_000,
            max_p95_latency: 300.0,
            max_skew: 5.0,
            max_skewed_events: 0,
            max_malformed_ratio: 0.0,
            max_truncated: 0,
            max_error_ratio: 0.0,
            min_events_for_coverage: 100,
            max_secret_bodies: 0,
        }
    }
}

/// The outcome of a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Skip,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Skip => "skip",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// Whether the threshold is a maximum (`value > threshold` fails) or a
/// minimum (`value < threshold` fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Max,
    Min,
}

/// One check on one stream (or source).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub cluster: Option<String>,
    pub source: &'static str,
    pub status: Status,
    pub value: f64,
    pub bound: Bound,
    pub threshold: f64,
    pub message: String,
}

/// Rates of one stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    /// Minutes from the first to the last non-empty minute kept.
    pub span_minutes: i64,
    pub active_minutes: usize,
    /// Events kept / span minutes.
    pub mean_per_minute: f64,
    pub max_per_minute: u64,
    /// Events outside the kept minutes (the `max_minutes` bound).
    pub outside_window: u64,
    /// Significant gaps, longest first (at most 10).
    pub gaps: Vec<GapReport>,
}

/// A gap, with its first empty minute as a time.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GapReport {
    pub start: String,
    pub minutes: i64,
    pub expected_events: f64,
}

/// Latency of one stream, in seconds (quantiles within 3.125 %).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_seconds: f64,
    pub p95_seconds: f64,
    pub max_seconds: f64,
}

/// Skew of one stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Skew {
    /// Events received more than `max_skew` before their own time.
    pub received_before_event: u64,
    /// The largest lead of an event time over its receive time, in seconds.
    pub max_lead_seconds: f64,
    pub stage_before_request: u64,
    pub future_outliers: u64,
}

/// Structure of one stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Structure {
    /// Required field → events without it (the source not listing it missing).
    pub absent: BTreeMap<&'static str, u64>,
    pub events_with_absent: u64,
    pub no_event_time: u64,
    pub unknown_level: u64,
    pub unknown_stage: u64,
    pub truncated: u64,
    pub truncated_annotation: u64,
    pub body_too_big: u64,
}

/// Coverage of one stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Coverage {
    pub reads: u64,
    pub secret_events: u64,
    pub secret_bodies: u64,
}

/// The figures of one (cluster, source) stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StreamReport {
    pub cluster: Option<String>,
    pub provider: &'static str,
    pub source: &'static str,
    pub events: u64,
    pub first: Option<String>,
    pub last: Option<String>,
    pub rate: Rate,
    /// `None` where the source has no stages (GKE).
    pub pairing: Option<PairingCounts>,
    /// `None` where the records carry no receive time.
    pub latency: Option<Latency>,
    pub skew: Skew,
    pub structure: Structure,
    pub coverage: Coverage,
}

/// Decode-level counts of one source.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SourceReport {
    pub source: &'static str,
    pub records: u64,
    pub events: u64,
    pub skipped: u64,
    pub errors: u64,
    /// Error category → count.
    pub errors_by_category: BTreeMap<&'static str, u64>,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub streams: Vec<StreamReport>,
    pub sources: Vec<SourceReport>,
    /// Events of streams beyond the configured number of streams.
    pub overflow_events: u64,
    pub checks: Vec<Check>,
}

impl Report {
    /// The worst status of any check (`Pass` when there are none).
    pub fn status(&self) -> Status {
        self.checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass)
    }

    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }
}

const SECS: f64 = 1_000_000.0;

fn ratio(n: u64, d: u64) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

struct Checks {
    out: Vec<Check>,
    cluster: Option<String>,
    source: &'static str,
}

impl Checks {
    fn max(&mut self, id: &'static str, value: f64, threshold: f64, message: String) {
        let status = if value > threshold { Status::Fail } else { Status::Pass };
        self.push(id, status, value, Bound::Max, threshold, message);
    }

    fn skip(&mut self, id: &'static str, bound: Bound, threshold: f64, why: &str) {
        self.push(id, Status::Skip, 0.0, bound, threshold, why.to_owned());
    }

    fn push(&mut self, id: &'static str, status: Status, value: f64, bound: Bound, threshold: f64, message: String) {
        self.out.push(Check {
            id,
            cluster: self.cluster.clone(),
            source: self.source,
            status,
            value,
            bound,
            threshold,
            message,
        });
    }
}

pub(super) fn build(h: &Health, t: &Thresholds) -> Report {
    let mut checks = Vec::new();
    let mut streams = Vec::new();
    for s in h.streams() {
        let (r, c) = stream(s, t);
        streams.push(r);
        checks.extend(c);
    }
    let mut sources = Vec::new();
    for (id, u) in h.sources() {
        let cats = ["syntax", "data", "encoding", "limit"];
        let by: BTreeMap<&'static str, u64> =
            cats.iter().zip(u.errors_by_category).filter(|(_, n)| *n > 0).map(|(c, n)| (*c, n)).collect();
        let mut ck = Checks { out: Vec::new(), cluster: None, source: id };
        let detail: Vec<String> = by.iter().map(|(c, n)| format!("{n} {c}")).collect();
        ck.max(
            "structure.decode-errors",
            ratio(u.units.errors, u.units.records),
            t.max_error_ratio,
            if u.units.errors == 0 {
                format!("{} units decoded", u.units.records)
            } else {
                format!(
                    "{} of {} units could not be decoded ({}); they pass through as error envelopes",
                    u.units.errors,
                    u.units.records,
                    detail.join(", ")
                )
            },
        );
        checks.extend(ck.out);
        sources.push(SourceReport {
            source: id,
            records: u.units.records,
            events: u.units.events,
            skipped: u.units.skipped,
            errors: u.units.errors,
            errors_by_category: by,
        });
    }
    if h.overflow_events() > 0 {
        checks.push(Check {
            id: "streams.overflow",
            cluster: None,
            source: "*",
            status: Status::Warn,
            value: h.overflow_events() as f64,
            bound: Bound::Max,
            threshold: 0.0,
            message: format!(
                "{} events belong to streams beyond the first {} (counted, not analysed)",
                h.overflow_events(),
                h.config().max_streams
            ),
        });
    }
    Report { streams, sources, overflow_events: h.overflow_events(), checks }
}

fn secs(us: u64) -> f64 {
    us as f64 / SECS
}

fn stream(s: &StreamHealth, t: &Thresholds) -> (StreamReport, Vec<Check>) {
    let source = s.source.map(|x| x.id()).unwrap_or("unknown");
    let cluster = s.cluster.as_deref().map(str::to_owned);
    let mut ck = Checks { out: Vec::new(), cluster: cluster.clone(), source };

    // Rate and gaps.
    let span_minutes = s.minutes.span().map(|(a, b)| b - a + 1).unwrap_or(0);
    let gaps = s.minutes.gaps(t.max_gap_minutes, t.gap_min_expected);
    let rate = Rate {
        span_minutes,
        active_minutes: s.minutes.active_minutes(),
        mean_per_minute: ratio(s.minutes.kept(), span_minutes.max(0) as u64),
        max_per_minute: s.minutes.max_per_minute(),
        outside_window: s.minutes.dropped(),
        gaps: gaps
            .iter()
            .take(10)
            .map(|g| GapReport {
                start: format_utc(g.start_minute.saturating_mul(60_000_000)),
                minutes: g.minutes,
                expected_events: (g.expected_events * 10.0).round() / 10.0,
            })
            .collect(),
    };
    if s.minutes.active_minutes() < 2 {
        ck.skip("rate.gaps", Bound::Max, t.max_gap_minutes as f64, "fewer than two minutes with events");
    } else {
        let longest = gaps.first().map(|g| g.minutes).unwrap_or(0);
        let msg = match gaps.first() {
            Some(g) => format!(
                "{} gap(s); longest {} min from {} where ~{:.0} events were expected",
                gaps.len(),
                g.minutes,
                format_utc(g.start_minute.saturating_mul(60_000_000)),
                g.expected_events
            ),
            None => format!("no gaps over {span_minutes} min at {:.1} events/min", rate.mean_per_minute),
        };
        let status = if gaps.is_empty() { Status::Pass } else { Status::Fail };
        ck.push("rate.gaps", status, longest as f64, Bound::Max, t.max_gap_minutes as f64, msg);
    }

    // Stage pairing.
    let pairing = (s.staged_events > 0).then(|| s.pairing.counts(s.span(), t.pairing_grace));
    match &pairing {
        None => {
            for id in ["pairing.orphan-requests", "pairing.orphan-completions", "pairing.duplicates"] {
                ck.skip(id, Bound::Max, t.max_unpaired_ratio, "the source has no stages");
            }
        }
        Some(p) => {
            let ends = p.response_complete + p.panic;
            if p.request_received == 0 {
                let why = "no RequestReceived events (omitted by the policy): nothing to pair";
                ck.skip("pairing.orphan-requests", Bound::Max, t.max_unpaired_ratio, why);
                ck.skip("pairing.orphan-completions", Bound::Max, t.max_unpaired_ratio, why);
            } else {
                ck.max(
                    "pairing.orphan-requests",
                    ratio(p.orphan_requests, p.request_received),
                    t.max_unpaired_ratio,
                    format!(
                        "{} of {} RequestReceived without ResponseComplete/Panic ({} paired, {} pending)",
                        p.orphan_requests, p.request_received, p.paired, p.pending
                    ),
                );
                ck.max(
                    "pairing.orphan-completions",
                    ratio(p.orphan_completions, ends),
                    t.max_unpaired_ratio,
                    format!("{} of {ends} ResponseComplete/Panic without RequestReceived", p.orphan_completions),
                );
            }
            ck.max(
                "pairing.duplicates",
                ratio(p.duplicates, s.staged_events),
                t.max_unpaired_ratio,
                format!("{} repeated (auditID, stage) of {} staged events", p.duplicates, s.staged_events),
            );
            if p.evicted > 0 {
                ck.push(
                    "pairing.capacity",
                    Status::Warn,
                    p.evicted as f64,
                    Bound::Max,
                    0.0,
                    format!("{} requests evicted from the pairing table and judged early", p.evicted),
                );
            }
        }
    }

    // Latency and skew.
    let latency = (!s.latency.is_empty() || !s.early.is_empty()).then(|| {
        let early = s.early.len();
        let q = |q: f64| -> f64 {
            // Early events have a negative latency: they sort first.
            let n = s.latency.len() + early;
            let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
            if rank <= early {
                // The rank-th most negative: the (early − rank + 1)-th smallest lead.
                -secs(s.early.at_rank(early - rank + 1).unwrap_or(0))
            } else {
                secs(s.latency.at_rank(rank - early).unwrap_or(0))
            }
        };
        Latency {
            samples: s.latency.len() + early,
            p50_seconds: q(0.5),
            p95_seconds: q(0.95),
            max_seconds: match s.latency.max() {
                Some(m) => secs(m),
                None => -secs(s.early.min().unwrap_or(0)),
            },
        }
    });
    let tolerance = (t.max_skew.max(0.0) * SECS) as u64;
    let received_before_event = s.early.count_above(tolerance);
    match &latency {
        None => {
            let why = "the records carry no receive time";
            ck.skip("latency.p95", Bound::Max, t.max_p95_latency, why);
            ck.skip("skew.received-before-event", Bound::Max, t.max_skewed_events as f64, why);
        }
        Some(l) => {
            ck.max(
                "latency.p95",
                l.p95_seconds,
                t.max_p95_latency,
                format!(
                    "receive − event time over {} events: p50 {:.3} s, p95 {:.3} s, max {:.3} s",
                    l.samples, l.p50_seconds, l.p95_seconds, l.max_seconds
                ),
            );
            ck.max(
                "skew.received-before-event",
                received_before_event as f64,
                t.max_skewed_events as f64,
                format!(
                    "{received_before_event} events received more than {} s before their own time (clock skew; \
                     largest lead {:.3} s)",
                    t.max_skew,
                    secs(s.early.max().unwrap_or(0))
                ),
            );
        }
    }
    ck.max(
        "skew.stage-before-request",
        s.skew.stage_before_request as f64,
        t.max_skewed_events as f64,
        format!("{} events with stageTimestamp before requestReceivedTimestamp", s.skew.stage_before_request),
    );
    ck.max(
        "skew.future-outliers",
        s.skew.future_outliers as f64,
        t.max_skewed_events as f64,
        format!("{} events far later than the events around them (a clock ahead)", s.skew.future_outliers),
    );

    // Structure.
    let st = &s.structure;
    let absent: BTreeMap<&'static str, u64> =
        REQUIRED.iter().zip(st.absent).filter(|(_, n)| *n > 0).map(|(f, n)| (f.path(), n)).collect();
    let list: Vec<String> = absent.iter().map(|(f, n)| format!("{f} ×{n}")).collect();
    ck.max(
        "structure.required-fields",
        ratio(st.events_with_absent, s.events),
        t.max_malformed_ratio,
        if list.is_empty() {
            "every required field present (or declared missing by the source)".into()
        } else {
            format!("{} of {} events lack required fields: {}", st.events_with_absent, s.events, list.join(", "))
        },
    );
    ck.max(
        "structure.event-time",
        ratio(st.no_event_time, s.events),
        t.max_malformed_ratio,
        format!(
            "{} of {} events without a parseable stageTimestamp/requestReceivedTimestamp",
            st.no_event_time, s.events
        ),
    );
    let unknown = st.unknown_level + st.unknown_stage;
    ck.max(
        "structure.unknown-values",
        ratio(unknown, s.events),
        t.max_malformed_ratio,
        format!("{} unknown level values, {} unknown stage values", st.unknown_level, st.unknown_stage),
    );
    let truncated = st.truncated + st.truncated_annotation + st.body_too_big;
    ck.max(
        "structure.truncated",
        truncated as f64,
        t.max_truncated as f64,
        format!(
            "{} cut in transport (EKS [Truncated...]), {} annotated audit.k8s.io/truncated, {} bodies \
             skipped-too-big-size-object",
            st.truncated, st.truncated_annotation, st.body_too_big
        ),
    );

    // Coverage.
    let cov = &s.coverage;
    if s.events < t.min_events_for_coverage {
        let why = format!("{} events: fewer than {} to judge coverage", s.events, t.min_events_for_coverage);
        ck.skip("coverage.reads", Bound::Min, 1.0, &why);
    } else {
        let status = if cov.reads == 0 { Status::Fail } else { Status::Pass };
        let msg = if cov.reads > 0 {
            format!("{} of {} events are reads (get/list/watch)", cov.reads, s.events)
        } else {
            format!("no get/list/watch in {} events: {}", s.events, no_reads_cause(s.provider))
        };
        ck.push("coverage.reads", status, cov.reads as f64, Bound::Min, 1.0, msg);
    }
    ck.max(
        "coverage.secret-bodies",
        cov.secret_bodies as f64,
        t.max_secret_bodies as f64,
        if cov.secret_bodies > 0 {
            format!(
                "{} of {} secrets events carry request/response bodies: the audit policy logs secret content \
                 (use level Metadata for secrets)",
                cov.secret_bodies, cov.secret_events
            )
        } else {
            format!("no bodies on {} secrets events", cov.secret_events)
        },
    );

    let report = StreamReport {
        cluster,
        provider: s.provider.id(),
        source,
        events: s.events,
        first: s.first.map(format_utc),
        last: s.last.map(format_utc),
        rate,
        pairing,
        latency,
        skew: Skew {
            received_before_event,
            max_lead_seconds: secs(s.early.max().unwrap_or(0)),
            stage_before_request: s.skew.stage_before_request,
            future_outliers: s.skew.future_outliers,
        },
        structure: Structure {
            absent,
            events_with_absent: st.events_with_absent,
            no_event_time: st.no_event_time,
            unknown_level: st.unknown_level,
            unknown_stage: st.unknown_stage,
            truncated: st.truncated,
            truncated_annotation: st.truncated_annotation,
            body_too_big: st.body_too_big,
        },
        coverage: Coverage { reads: cov.reads, secret_events: cov.secret_events, secret_bodies: cov.secret_bodies },
    };
    (report, ck.out)
}

/// Why a stream has no reads, per provider.
fn no_reads_cause(p: Provider) -> &'static str {
    match p {
        Provider::Aks => {
            "the kube-audit-admin category (which leaves out get and list) is exported instead of kube-audit"
        }
        Provider::Gke => "Data Access audit logs (DATA_READ) are not enabled for the Kubernetes Engine API",
        Provider::Eks => "the audit policy drops reads, or a subscription filter removes them",
        Provider::Kubernetes | Provider::Openshift => "the audit policy logs reads at level None",
    }
}
