//! Log health: completeness, latency, skew, structure and coverage of an
//! audit stream, counted per (cluster, source).
//!
//! [`Health`] is an incremental accumulator. Feed it every unit — it is a
//! [`Sink`] itself, and [`Tee`] adds it to another sink — and ask for a
//! [`Report`] at any time with [`Health::report`]. It does no I/O and reads no
//! clock: every time comes from the events (`stageTimestamp`, else
//! `requestReceivedTimestamp`) and from the transport's receive time the
//! decoders keep (`AuditEvent::received`). Memory is bounded by
//! [`HealthConfig`]; per event the work is two time parses, a histogram
//! increment, a map update for the minute and one for the `auditID`.
//! Two accumulators over parts of the same input can be [`Health::merge`]d.
//!
//! What is counted, per stream:
//!
//! * **rate** — events per minute of event time ([`minutes`], with the
//!   definition of a gap);
//! * **stage pairing** by `auditID`, where the source has stages
//!   ([`pairing`]);
//! * **latency** — receive time − event time, in a log-bucket histogram
//!   ([`hist`], ≤ 3.125 % error on quantiles);
//! * **skew** — receive time before the event time, `stageTimestamp` before
//!   `requestReceivedTimestamp`, and *future outliers*: an event more than
//!   [`HealthConfig::future_outlier`] later than the events just before and
//!   just after it in the stream, those two being within that much of each
//!   other (one apiserver with a clock ahead among others); an outlier is
//!   taken out of the per-minute counts. A stream that jumps about in time
//!   (an unordered collection of samples) has no outliers by this
//!   definition, and neither does a run of several skewed events in a row;
//! * **structure** — required fields (`level`, `auditID`, `stage`,
//!   `requestURI`, `verb`, `user.username`) absent although the source does
//!   not list them in `kaudit.missing`; no parseable event time; unknown
//!   `level`/`stage` values; truncation (EKS `[Truncated...]`, annotation
//!   `audit.k8s.io/truncated`, AKS `skipped-too-big-size-object`); and, per
//!   source, units that could not be decoded;
//! * **coverage** — reads (`get`/`list`/`watch`) at all, and `secrets`
//!   events carrying request or response bodies (a policy logging secrets).

mod hist;
mod minutes;
mod pairing;
mod report;
mod time;

pub use hist::LogHistogram;
pub use minutes::{Gap, MinuteCounts};
pub use pairing::{id_hash, Pairing, PairingCounts, Span, Stage};
pub use report::{Bound, Check, Report, Status, StreamReport, Thresholds};
pub use time::{format_utc, received_micros};

use memchr::memmem;

use crate::decode::{Sink, SkipReason, Unit};
use crate::error::{Category, Error};
use crate::event::{AuditEvent, Field, Provider, Source};
use crate::json::Members;
use crate::normalize::Counts;
use crate::rules::state::{parse_time, Micros};

/// Bounds on the accumulator's memory, and the one judgement it must make
/// while counting (future outliers). Report thresholds are in [`Thresholds`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthConfig {
    /// Streams ((cluster, source) pairs) tracked; events of further streams
    /// are only counted ([`Report::overflow_events`]). Default 256.
    pub max_streams: usize,
    /// Distinct minutes kept per stream for rates and gaps; the oldest are
    /// dropped. Default 10,080 (a week of busy minutes, ≤ ~0.5 MiB).
    pub max_minutes: usize,
    /// Requests waiting for a stage per stream; the least recently touched
    /// is evicted and judged. Default 100,000 (≈ 5 MiB).
    pub max_pending: usize,
    /// An event later than both its neighbours in the stream by more than
    /// this (µs) is a future outlier. Default 5 minutes.
    pub future_outlier: Micros,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { max_streams: 256, max_minutes: 10_080, max_pending: 100_000, future_outlier: 300_000_000 }
    }
}

/// The required `Event` fields checked for presence (policy-and-iac.md §1.5).
pub const REQUIRED: [Field; 6] =
    [Field::Level, Field::AuditId, Field::Stage, Field::RequestUri, Field::Verb, Field::UserUsername];

const LEVELS: [&str; 4] = ["None", "Metadata", "Request", "RequestResponse"];

/// Structure counters of one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StructureCounts {
    /// Per [`REQUIRED`] field: events without it, the source not listing it missing.
    pub absent: [u64; REQUIRED.len()],
    /// Events with at least one required field absent.
    pub events_with_absent: u64,
    /// Events with no parseable time, the source not listing both times missing.
    pub no_event_time: u64,
    pub unknown_level: u64,
    pub unknown_stage: u64,
    /// EKS `[Truncated...]`: the record was cut in transport.
    pub truncated: u64,
    /// Annotation (GKE label) `audit.k8s.io/truncated: "true"`.
    pub truncated_annotation: u64,
    /// AKS `skipped-too-big-size-object` in place of a body.
    pub body_too_big: u64,
}

/// Skew counters of one stream (see also [`StreamHealth::early`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SkewCounts {
    /// `stageTimestamp` earlier than `requestReceivedTimestamp`.
    pub stage_before_request: u64,
    /// Events far later than their neighbours (taken out of the rates).
    pub future_outliers: u64,
}

/// Coverage counters of one stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CoverageCounts {
    /// `get`, `list` and `watch` events.
    pub reads: u64,
    /// Events on `secrets`.
    pub secret_events: u64,
    /// Events on `secrets` carrying a request or response body (a `Status`
    /// or `DeleteOptions` body does not count).
    pub secret_bodies: u64,
}

/// Everything counted for one (cluster, source) stream.
#[derive(Clone, Debug)]
pub struct StreamHealth {
    pub source: Option<Source>,
    pub provider: Provider,
    /// Cluster name, else the provider's cluster id.
    pub cluster: Option<Box<str>>,
    pub events: u64,
    pub minutes: MinuteCounts,
    /// Earliest and latest event time (µs), outliers excepted.
    pub first: Option<Micros>,
    pub last: Option<Micros>,
    /// Receive time − event time, where ≥ 0 (µs).
    pub latency: LogHistogram,
    /// Event time − receive time, where the receive time is earlier (µs).
    pub early: LogHistogram,
    /// Events with a stage the source provides (pairing applies).
    pub staged_events: u64,
    pub pairing: Pairing,
    pub skew: SkewCounts,
    pub structure: StructureCounts,
    pub coverage: CoverageCounts,
    /// The previous event's time, and an event time waiting to be confirmed
    /// or found an outlier by the next event.
    prev: Option<Micros>,
    /// (suspect time, the time before it).
    suspect: Option<(Micros, Micros)>,
    future_outlier: Micros,
}

fn minute(t: Micros) -> i64 {
    t.div_euclid(60_000_000)
}

impl StreamHealth {
    fn new(ev: &AuditEvent<'_>, cfg: &HealthConfig) -> Self {
        StreamHealth {
            source: ev.source,
            provider: ev.cluster.provider,
            cluster: cluster_label(ev).map(Box::from),
            events: 0,
            minutes: MinuteCounts::new(cfg.max_minutes),
            first: None,
            last: None,
            latency: LogHistogram::default(),
            early: LogHistogram::default(),
            staged_events: 0,
            pairing: Pairing::new(cfg.max_pending),
            skew: SkewCounts::default(),
            structure: StructureCounts::default(),
            coverage: CoverageCounts::default(),
            prev: None,
            suspect: None,
            future_outlier: cfg.future_outlier,
        }
    }

    /// The first and last event times, for pairing judgements.
    pub fn span(&self) -> Span {
        Span { first: self.first.unwrap_or(i64::MIN), last: self.last.unwrap_or(i64::MIN) }
    }

    fn confirm(&mut self, t: Micros) {
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
        self.prev = Some(t);
    }

    /// Count the event time `t`: rates, span, future outliers.
    fn time(&mut self, t: Micros) {
        if let Some((s, before)) = self.suspect.take() {
            let x = self.future_outlier;
            if t < s.saturating_sub(x) && t.abs_diff(before) <= x.unsigned_abs() {
                // Back to where the stream was: `s` was an outlier.
                self.skew.future_outliers += 1;
                self.minutes.remove(minute(s));
            } else {
                self.confirm(s);
            }
        }
        self.minutes.add(minute(t));
        match self.prev {
            Some(p) if t > p.saturating_add(self.future_outlier) => self.suspect = Some((t, p)),
            _ => self.confirm(t),
        }
    }

    fn event(&mut self, ev: &AuditEvent<'_>) {
        self.events += 1;
        let st = ev.stage_timestamp.as_deref().and_then(parse_time);
        let rrt = ev.request_received_timestamp.as_deref().and_then(parse_time);
        let t = st.or(rrt);

        // Rate, span and outliers.
        match t {
            Some(t) => self.time(t),
            None => {
                let declared =
                    ev.missing.contains(Field::StageTimestamp) && ev.missing.contains(Field::RequestReceivedTimestamp);
                if !declared {
                    self.structure.no_event_time += 1;
                }
            }
        }

        // Latency and skew.
        if let (Some(t), Some(r)) = (t, ev.received.as_ref().and_then(|r| received_micros(r.get()))) {
            match r.checked_sub(t) {
                Some(d) if d >= 0 => self.latency.add(d as u64),
                Some(d) => self.early.add(d.unsigned_abs()),
                None => {}
            }
        }
        if let (Some(s), Some(r)) = (st, rrt) {
            if s < r {
                self.skew.stage_before_request += 1;
            }
        }

        // Stage pairing.
        if let Some(stage) = ev.stage.as_deref() {
            match Stage::parse(stage) {
                Some(s) => {
                    self.staged_events += 1;
                    if let Some(id) = ev.audit_id.as_deref() {
                        let span = self.span();
                        self.pairing.observe(id_hash(id), s, rrt.or(t), span);
                    }
                }
                None => self.structure.unknown_stage += 1,
            }
        }

        // Structure.
        let present = [
            ev.level.is_some(),
            ev.audit_id.is_some(),
            ev.stage.is_some(),
            ev.request_uri.is_some(),
            ev.verb.is_some(),
            ev.username().is_some(),
        ];
        let mut any = false;
        for (i, (f, p)) in REQUIRED.iter().zip(present).enumerate() {
            if !p && !ev.missing.contains(*f) {
                self.structure.absent[i] += 1;
                any = true;
            }
        }
        self.structure.events_with_absent += u64::from(any);
        if ev.level.as_deref().is_some_and(|l| !LEVELS.contains(&l)) {
            self.structure.unknown_level += 1;
        }
        self.structure.truncated += u64::from(ev.flags.truncated);
        self.structure.body_too_big += u64::from(ev.flags.body_too_big);
        if ev.annotations.as_ref().is_some_and(|a| truncated_annotation(a.get())) {
            self.structure.truncated_annotation += 1;
        }

        // Coverage.
        if matches!(ev.verb.as_deref(), Some("get" | "list" | "watch")) {
            self.coverage.reads += 1;
        }
        if ev.resource() == Some("secrets") {
            self.coverage.secret_events += 1;
            let body = |b: Option<&crate::json::Raw<'_>>| b.is_some_and(|b| is_secret_body(b.get()));
            if body(ev.request_object.as_ref()) || body(ev.response_object.as_ref()) {
                self.coverage.secret_bodies += 1;
            }
        }
    }

    fn merge(&mut self, o: &StreamHealth) {
        self.events += o.events;
        self.minutes.merge(&o.minutes);
        for t in [o.first, o.last].into_iter().flatten() {
            self.first = Some(self.first.map_or(t, |f| f.min(t)));
            self.last = Some(self.last.map_or(t, |l| l.max(t)));
        }
        self.latency.merge(&o.latency);
        self.early.merge(&o.early);
        self.staged_events += o.staged_events;
        let span = self.span();
        self.pairing.merge(&o.pairing, span);
        self.skew.stage_before_request += o.skew.stage_before_request;
        self.skew.future_outliers += o.skew.future_outliers;
        let (s, os) = (&mut self.structure, &o.structure);
        for (a, b) in s.absent.iter_mut().zip(os.absent) {
            *a += b;
        }
        s.events_with_absent += os.events_with_absent;
        s.no_event_time += os.no_event_time;
        s.unknown_level += os.unknown_level;
        s.unknown_stage += os.unknown_stage;
        s.truncated += os.truncated;
        s.truncated_annotation += os.truncated_annotation;
        s.body_too_big += os.body_too_big;
        self.coverage.reads += o.coverage.reads;
        self.coverage.secret_events += o.coverage.secret_events;
        self.coverage.secret_bodies += o.coverage.secret_bodies;
    }
}

/// The cluster of an event as streams name it: its name, else its id.
fn cluster_label<'e>(ev: &'e AuditEvent<'_>) -> Option<&'e str> {
    ev.cluster.name.as_deref().or(ev.cluster.id.as_deref())
}

/// `audit.k8s.io/truncated: "true"` in an annotations (or GKE labels) object.
fn truncated_annotation(annotations: &str) -> bool {
    if memmem::find(annotations.as_bytes(), b"audit.k8s.io/truncated").is_none() {
        return false;
    }
    serde_json::from_str::<Members<'_>>(annotations)
        .ok()
        .and_then(|m| m.get("audit.k8s.io/truncated").map(|v| v.get().trim() == "\"true\""))
        .unwrap_or(false)
}

/// A body of a `secrets` event that holds secret content: anything but
/// `null`, a string (AKS's placeholder), a `Status` or `DeleteOptions`.
fn is_secret_body(body: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(borrow)]
        kind: Option<crate::json::Str<'a>>,
    }
    let b = body.trim();
    if !b.starts_with(['{', '[']) {
        return false;
    }
    match serde_json::from_str::<Kind<'_>>(b) {
        Ok(k) => !matches!(k.kind.as_deref(), Some("Status" | "DeleteOptions")),
        Err(_) => b.starts_with('['),
    }
}

/// Decode-level counts of one source: units and error categories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceUnits {
    pub units: Counts,
    /// Errors per [`Category`]: syntax, data, encoding, limit.
    pub errors_by_category: [u64; 4],
}

fn category_index(c: Category) -> usize {
    match c {
        Category::Syntax => 0,
        Category::Data => 1,
        Category::Encoding => 2,
        Category::Limit => 3,
    }
}

/// The health accumulator. See the module documentation.
#[derive(Clone, Debug)]
pub struct Health {
    cfg: HealthConfig,
    streams: Vec<StreamHealth>,
    last: usize,
    /// Indexed by `Source as usize`; the last slot is `unknown`.
    units: [SourceUnits; Source::ALL.len() + 1],
    overflow_events: u64,
}

impl Default for Health {
    fn default() -> Self {
        Health::new(HealthConfig::default())
    }
}

fn slot(s: Option<Source>) -> usize {
    s.map(|s| s as usize).unwrap_or(Source::ALL.len())
}

impl Health {
    pub fn new(cfg: HealthConfig) -> Self {
        Health {
            cfg,
            streams: Vec::new(),
            last: 0,
            units: [SourceUnits::default(); Source::ALL.len() + 1],
            overflow_events: 0,
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &HealthConfig {
        &self.cfg
    }

    /// Count one decoded event.
    pub fn event(&mut self, ev: &AuditEvent<'_>) {
        let u = &mut self.units[slot(ev.source)].units;
        u.records += 1;
        u.events += 1;
        let label = cluster_label(ev);
        let same = |s: &StreamHealth| s.source == ev.source && s.cluster.as_deref() == label;
        let i = match self.streams.get(self.last) {
            Some(s) if same(s) => self.last,
            _ => match self.streams.iter().position(same) {
                Some(i) => i,
                None if self.streams.len() < self.cfg.max_streams => {
                    self.streams.push(StreamHealth::new(ev, &self.cfg));
                    self.streams.len() - 1
                }
                None => {
                    self.overflow_events += 1;
                    return;
                }
            },
        };
        self.last = i;
        self.streams[i].event(ev);
    }

    /// Count one unit that is not audit data.
    pub fn skipped(&mut self, source: Option<Source>) {
        let u = &mut self.units[slot(source)].units;
        u.records += 1;
        u.skipped += 1;
    }

    /// Count one unit that could not be decoded.
    pub fn error(&mut self, source: Option<Source>, err: &Error) {
        let s = &mut self.units[slot(source)];
        s.units.records += 1;
        s.units.errors += 1;
        s.errors_by_category[category_index(err.classify())] += 1;
    }

    /// Count a piece of a record longer than the decoder's limit (hosts pass
    /// such pieces through as errors): a `limit` error of unknown source.
    pub fn oversize(&mut self) {
        let s = &mut self.units[Source::ALL.len()];
        s.units.records += 1;
        s.units.errors += 1;
        s.errors_by_category[category_index(Category::Limit)] += 1;
    }

    /// The streams, in order of first appearance.
    pub fn streams(&self) -> &[StreamHealth] {
        &self.streams
    }

    /// Decode-level counts per source id (`unknown` where detection did not
    /// get that far), sources without units left out.
    pub fn sources(&self) -> impl Iterator<Item = (&'static str, &SourceUnits)> {
        self.units
            .iter()
            .enumerate()
            .filter(|(_, u)| u.units.records > 0)
            .map(|(i, u)| (Source::ALL.get(i).map(|s| s.id()).unwrap_or("unknown"), u))
    }

    /// Events of streams beyond [`HealthConfig::max_streams`] (counted only).
    pub fn overflow_events(&self) -> u64 {
        self.overflow_events
    }

    /// Fold another accumulator (over another part of the input) into this one.
    pub fn merge(&mut self, o: &Health) {
        for (a, b) in self.units.iter_mut().zip(&o.units) {
            a.units.records += b.units.records;
            a.units.events += b.units.events;
            a.units.skipped += b.units.skipped;
            a.units.errors += b.units.errors;
            for (x, y) in a.errors_by_category.iter_mut().zip(b.errors_by_category) {
                *x += y;
            }
        }
        self.overflow_events += o.overflow_events;
        for s in &o.streams {
            match self.streams.iter().position(|m| m.source == s.source && m.cluster == s.cluster) {
                Some(i) => self.streams[i].merge(s),
                None if self.streams.len() < self.cfg.max_streams => self.streams.push(s.clone()),
                None => self.overflow_events += s.events,
            }
        }
    }

    /// The report: per-stream figures and every check against `t`.
    pub fn report(&self, t: &Thresholds) -> Report {
        report::build(self, t)
    }
}

impl Sink for Health {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        Health::event(self, ev);
    }

    fn skipped(&mut self, unit: Unit<'_>, _reason: SkipReason) {
        Health::skipped(self, unit.source);
    }

    fn error(&mut self, unit: Unit<'_>, err: &Error) {
        Health::error(self, unit.source, err);
    }
}

/// A sink that passes every unit to `inner` and counts it in `health`: how a
/// host adds health counters to the sink it already has.
pub struct Tee<'s> {
    pub inner: &'s mut dyn Sink,
    pub health: &'s mut Health,
}

impl Sink for Tee<'_> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        self.health.event(ev);
        self.inner.event(ev);
    }

    fn skipped(&mut self, unit: Unit<'_>, reason: SkipReason) {
        self.health.skipped(unit.source);
        self.inner.skipped(unit, reason);
    }

    fn error(&mut self, unit: Unit<'_>, err: &Error) {
        self.health.error(unit.source, err);
        self.inner.error(unit, err);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decoder, Normalizer, Options};

    fn line(id: usize, stage: &str, t: &str) -> String {
        format!(
            r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a-{id}","stage":"{stage}","requestURI":"/api/v1/pods","verb":"list","user":{{"username":"u"}},"requestReceivedTimestamp":"{t}","stageTimestamp":"{t}"}}"#
        )
    }

    fn feed(h: &mut Health, times: &[&str]) {
        let dec = Decoder::default();
        for (i, t) in times.iter().enumerate() {
            dec.decode(line(i, "ResponseComplete", t).as_bytes(), h);
        }
    }

    #[test]
    fn future_outlier_needs_calm_neighbours() {
        // One event two hours ahead between events a second apart: an outlier.
        let mut h = Health::default();
        feed(&mut h, &["2024-01-01T10:00:00Z", "2024-01-01T12:00:00Z", "2024-01-01T10:00:01Z"]);
        assert_eq!(h.streams()[0].skew.future_outliers, 1);
        assert_eq!(h.streams()[0].minutes.active_minutes(), 1);
        // A collection of samples jumping about in time: no outliers.
        let mut h = Health::default();
        feed(&mut h, &["2024-01-01T10:00:00Z", "2024-01-01T12:00:00Z", "2024-01-01T09:00:00Z", "2024-01-03T00:00:00Z"]);
        assert_eq!(h.streams()[0].skew.future_outliers, 0);
        // A jump the stream stays at: a gap, not an outlier.
        let mut h = Health::default();
        feed(&mut h, &["2024-01-01T10:00:00Z", "2024-01-01T12:00:00Z", "2024-01-01T12:00:01Z"]);
        assert_eq!(h.streams()[0].skew.future_outliers, 0);
        assert_eq!(h.streams()[0].last, parse_time("2024-01-01T12:00:01Z"));
    }

    #[test]
    fn tee_counts_what_the_inner_sink_gets() {
        let dec = Decoder::default();
        let mut norm = Normalizer::new(Options::default());
        let mut h = Health::default();
        for rec in [line(1, "RequestReceived", "2024-01-01T10:00:00Z").as_str(), "not json", "[]"] {
            dec.decode(rec.as_bytes(), &mut Tee { inner: &mut norm, health: &mut h });
        }
        let stats = norm.stats();
        let units: Vec<(&str, Counts)> = h.sources().map(|(s, u)| (s, u.units)).collect();
        let want: Vec<(&str, Counts)> = stats.by_source.iter().map(|(s, c)| (*s, *c)).collect();
        assert_eq!(units, want);
        assert_eq!(h.streams()[0].pairing.counts(h.streams()[0].span(), 0).request_received, 1);
        let r = h.report(&Thresholds::default());
        assert!(r.failed().any(|c| c.id == "structure.decode-errors"));
    }

    #[test]
    fn streams_are_bounded() {
        let dec = Decoder::default();
        let mut h = Health::new(HealthConfig { max_streams: 1, ..HealthConfig::default() });
        dec.decode(line(1, "ResponseComplete", "2024-01-01T10:00:00Z").as_bytes(), &mut h);
        let gke = r#"{"protoPayload":{"serviceName":"k8s.io","methodName":"io.k8s.core.v1.pods.list"},"resource":{"type":"k8s_cluster","labels":{"cluster_name":"c"}},"timestamp":"2024-01-01T10:00:00Z"}"#;
        dec.decode(gke.as_bytes(), &mut h);
        assert_eq!((h.streams().len(), h.overflow_events()), (1, 1));
        assert!(h.report(&Thresholds::default()).checks.iter().any(|c| c.id == "streams.overflow"));
    }
}
