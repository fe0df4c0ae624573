//! Record decoding: auto-detection of the shape and one decoder per vendor.
//!
//! Decoding pushes results into a [`Sink`] (internal iteration, as
//! ripgrep's `Matcher` does): a record may hold hundreds of events (an
//! `EventList`, Azure `records[]`, CloudWatch `logEvents[]`), and every
//! nested-string hop (`properties.log`, CloudWatch `message`, Pub/Sub `data`,
//! gzip) decodes into a buffer that lives only during the call. Events borrow
//! from those buffers, so they are handed out inside the call.
//!
//! Every *unit* (a record, or one item of an envelope) reaches the sink
//! exactly once: as an event, as skipped (not audit data), or as an error
//! carrying the unit's raw bytes. That is the nothing-lost contract.
//!
//! Detection follows formats.md §10; the order of the checks in
//! [`Decoder::value`] is that order.

pub(crate) mod aks;
#[cfg(test)]
mod differential;
pub(crate) mod eks;
pub(crate) mod event;
mod fast;
pub(crate) mod gke;
pub(crate) mod openshift;

use std::io::Read;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::error::{Category, Error};
use crate::event::{AuditEvent, Cluster, Source};
use crate::frame;
use crate::json::{self, Json, Raw, Str};

/// Why a unit was skipped (it is not Kubernetes audit data).
pub type SkipReason = &'static str;

/// The raw bytes of one unit plus what is known about where it came from.
#[derive(Clone, Copy, Debug)]
pub struct Unit<'r> {
    /// The unit exactly as it appeared in its record (or in the decoded
    /// gzip/base64 payload that held it).
    pub raw: &'r [u8],
    /// The shape, when detection got that far.
    pub source: Option<Source>,
}

/// Receives every unit of a record.
pub trait Sink {
    /// A decoded event.
    fn event(&mut self, ev: &AuditEvent<'_>);
    /// A unit that is not audit data (another Azure category, a CloudWatch
    /// control message, an OVN line …).
    fn skipped(&mut self, unit: Unit<'_>, reason: SkipReason);
    /// A unit that could not be decoded.
    fn error(&mut self, unit: Unit<'_>, err: &Error);
}

/// Where [`Decoder::decode_keep`] puts a record's plain event.
type Keep<'k, 'a> = &'k mut Option<AuditEvent<'a>>;

/// Bounds on the work and memory one record may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest record accepted, and largest decompressed gzip payload.
    pub max_record_bytes: usize,
    /// Deepest nesting of envelopes and string hops (gzip → JSON → message …).
    pub max_hops: usize,
    /// Deepest nesting of JSON arrays and objects in a record (bodies
    /// included, the record itself is level 1). At most [`MAX_JSON_DEPTH`]:
    /// larger values are treated as that.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_record_bytes: 256 << 20, max_hops: 8, max_depth: MAX_JSON_DEPTH }
    }
}

/// The deepest nesting serde_json reads (its recursion limit of 128 counts
/// the levels it enters, so 127 levels parse). kaudit refuses deeper
/// records so that every event it writes can be read back by serde-based
/// readers (the rule engine's body parser, Vector, kaudit itself).
pub const MAX_JSON_DEPTH: usize = 127;

/// Decodes records of any supported shape. Holds configuration only; it is
/// cheap to create and `Sync`.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    limits: Limits,
}

/// What outer envelopes know, handed down to inner units.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ctx<'a> {
    /// The source set by an envelope, when there is one.
    pub source: Option<Source>,
    pub cluster: Cluster<'a>,
    pub received: Option<Raw<'a>>,
    pub hops: usize,
    /// The nesting limit in force ([`Limits::max_depth`], capped at
    /// [`MAX_JSON_DEPTH`]), for JSON text read out of a string.
    pub max_depth: usize,
}

impl<'a> Ctx<'a> {
    fn hop(&self) -> Ctx<'a> {
        let mut c = self.clone();
        c.hops += 1;
        c
    }

    fn with_source(&self, s: Source) -> Ctx<'a> {
        let mut c = self.hop();
        c.source = Some(s);
        if c.cluster.provider == Default::default() {
            c.cluster.provider = s.provider();
        }
        c
    }
}

/// The top-level keys of every shape, read in one pass. Event fields are
/// typed (a wrong type is a data error, as for any Event); envelope keys are
/// raw and interpreted by the decoder that needs them.
#[derive(Deserialize, Default)]
#[allow(non_snake_case)]
pub(crate) struct Top<'a> {
    #[serde(borrow)]
    kind: Option<Str<'a>>,
    #[serde(borrow, rename = "apiVersion")]
    api_version: Option<Str<'a>>,
    #[serde(borrow)]
    level: Option<Str<'a>>,
    #[serde(borrow, rename = "auditID")]
    audit_id: Option<Str<'a>>,
    #[serde(borrow)]
    stage: Option<Str<'a>>,
    #[serde(borrow, rename = "requestURI")]
    request_uri: Option<Str<'a>>,
    #[serde(borrow)]
    verb: Option<Str<'a>>,
    #[serde(borrow)]
    user: Option<crate::event::UserInfo<'a>>,
    #[serde(borrow, rename = "impersonatedUser")]
    impersonated_user: Option<crate::event::UserInfo<'a>>,
    #[serde(borrow, rename = "sourceIPs")]
    source_ips: Option<Vec<Str<'a>>>,
    #[serde(borrow, rename = "userAgent")]
    user_agent: Option<Str<'a>>,
    #[serde(borrow, rename = "objectRef")]
    object_ref: Option<crate::event::ObjectRef<'a>>,
    #[serde(borrow, rename = "responseStatus")]
    response_status: Option<crate::event::ResponseStatus<'a>>,
    #[serde(borrow, rename = "requestObject")]
    request_object: Option<Raw<'a>>,
    #[serde(borrow, rename = "responseObject")]
    response_object: Option<Raw<'a>>,
    #[serde(borrow, rename = "requestReceivedTimestamp")]
    request_received_timestamp: Option<Str<'a>>,
    #[serde(borrow, rename = "stageTimestamp")]
    stage_timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    annotations: Option<Raw<'a>>,
    /// Set by the fast decoder, which validates the annotations as it reads
    /// them: their text holds no `\u` escape (`Flags`).
    #[serde(skip)]
    annotations_without_u_escape: bool,

    // Event batches and kaudit's own output.
    #[serde(borrow)]
    items: Option<Json<'a>>,
    #[serde(borrow)]
    kaudit: Option<Json<'a>>,

    // OpenShift OTLP and ViaQ.
    #[serde(borrow, rename = "resourceLogs")]
    resource_logs: Option<Json<'a>>,
    #[serde(borrow)]
    k8s_audit_level: Option<Json<'a>>,
    #[serde(borrow)]
    openshift_audit_level: Option<Json<'a>>,
    #[serde(borrow)]
    log_type: Option<Json<'a>>,
    #[serde(borrow)]
    log_source: Option<Json<'a>>,
    #[serde(borrow)]
    openshift: Option<Json<'a>>,
    #[serde(borrow, rename = "@timestamp")]
    at_timestamp: Option<Json<'a>>,

    // AWS.
    #[serde(borrow)]
    awslogs: Option<Json<'a>>,
    #[serde(borrow, rename = "messageType")]
    message_type: Option<Json<'a>>,
    #[serde(borrow, rename = "logEvents")]
    log_events: Option<Json<'a>>,
    #[serde(borrow, rename = "logGroup")]
    log_group: Option<Json<'a>>,
    #[serde(borrow, rename = "logGroupName")]
    log_group_name: Option<Json<'a>>,
    #[serde(borrow, rename = "logStream")]
    log_stream: Option<Json<'a>>,
    #[serde(borrow, rename = "logStreamName")]
    log_stream_name: Option<Json<'a>>,
    #[serde(borrow)]
    owner: Option<Json<'a>>,
    #[serde(borrow, rename = "ingestionTime")]
    ingestion_time: Option<Json<'a>>,
    #[serde(borrow, rename = "eventId")]
    event_id: Option<Json<'a>>,
    #[serde(borrow)]
    timestamp: Option<Json<'a>>,
    #[serde(borrow)]
    message: Option<Json<'a>>,

    // GCP.
    #[serde(borrow, rename = "protoPayload")]
    proto_payload: Option<Json<'a>>,
    #[serde(borrow)]
    resource: Option<Json<'a>>,

    // Azure.
    #[serde(borrow)]
    records: Option<Json<'a>>,
    #[serde(borrow)]
    category: Option<Json<'a>>,
    #[serde(borrow)]
    properties: Option<Json<'a>>,
    #[serde(borrow, rename = "operationName")]
    operation_name: Option<Json<'a>>,
    #[serde(borrow, rename = "resourceId")]
    resource_id: Option<Json<'a>>,
    #[serde(borrow)]
    time: Option<Json<'a>>,
    #[serde(borrow, rename = "Type")]
    la_type: Option<Json<'a>>,
    #[serde(borrow, rename = "AuditId")]
    la_audit_id: Option<Json<'a>>,
    #[serde(borrow, rename = "RequestUri")]
    la_request_uri: Option<Json<'a>>,
    #[serde(borrow, rename = "StageReceivedTime")]
    la_stage_received_time: Option<Json<'a>>,
    #[serde(borrow, rename = "Category")]
    la_category: Option<Json<'a>>,
    #[serde(borrow)]
    log_s: Option<Json<'a>>,

    // Shippers.
    #[serde(borrow)]
    log: Option<Json<'a>>,

    // Panther-normalized copies.
    #[serde(borrow)]
    p_log_type: Option<Json<'a>>,
}

/// `serde_json::from_str::<Top>(text)`, through the fast path when it
/// applies (an object `Top` reads, compact; see `fast.rs`).
/// `top` (a fresh `Top::default()`) is filled in place: it is large, and
/// moving it costs.
pub(crate) fn parse_top<'a>(text: &'a str, top: &mut Top<'a>) -> Result<(), serde_json::Error> {
    if fast::top_any(text, MAX_JSON_DEPTH, top).is_none() {
        *top = serde_json::from_str(text)?;
    }
    Ok(())
}

/// A raw value as a string, if it is a JSON string.
pub(crate) fn raw_str(v: Option<Json<'_>>) -> Option<Str<'_>> {
    v?.as_str()
}

/// A raw value as `Raw`.
pub(crate) fn raw(v: Option<Json<'_>>) -> Option<Raw<'_>> {
    v.map(|v| Raw(std::borrow::Cow::Borrowed(v.get())))
}

/// `{…}{…}` (or `[…][…]`) in one record: the documents, when there are
/// several and together they are the whole text. `None` otherwise.
fn concatenated(t: &str, max: usize) -> Option<Vec<&str>> {
    let mut framer = frame::Framer::new(max);
    let mut parts = Vec::new();
    // Frame as if the text had no line breaks to split on: the JSON scanner
    // finds where each document closes.
    while let Some(f) = framer.next(t.as_bytes(), true) {
        if f.oversize {
            return None;
        }
        parts.push(t.get(f.range)?);
    }
    (parts.len() > 1 && parts.iter().all(|p| p.starts_with(['{', '[']))).then_some(parts)
}

fn is_gzip(b: &[u8]) -> bool {
    b.starts_with(&[0x1f, 0x8b])
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(limits: Limits) -> Self {
        Decoder { limits }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Decode one record (one line, one document, or one gzip blob) and push
    /// every unit it holds into `sink`.
    pub fn decode(&self, record: &[u8], sink: &mut dyn Sink) {
        let ctx = Ctx { max_depth: self.limits.max_depth.min(MAX_JSON_DEPTH), ..Ctx::default() };
        self.bytes(record, None, &ctx, sink, None);
    }

    /// [`Decoder::decode`], except that a record that is one plain Event
    /// (no envelope, no gzip: its event borrows from `record` alone) is put
    /// into `slot` instead of sent to `sink`, and `true` returned. Anything
    /// else reaches `sink` as `decode` sends it, and `slot` is left empty.
    /// (Whatever `slot` held before is dropped.) For sinks that hold several
    /// events before handling them (`Scanner::records`), each in its place
    /// in a batch.
    pub fn decode_keep<'a>(&self, record: &'a [u8], sink: &mut dyn Sink, slot: &mut Option<AuditEvent<'a>>) -> bool {
        let ctx = Ctx { max_depth: self.limits.max_depth.min(MAX_JSON_DEPTH), ..Ctx::default() };
        *slot = None;
        self.bytes(record, None, &ctx, sink, Some(&mut *slot));
        slot.is_some()
    }

    /// Any bytes: gzip, JSON, or not decodable. `outer` is the unit these
    /// bytes were decoded from (base64, gzip) when they are all of one unit:
    /// an error then passes the outer bytes through, as they arrived.
    pub(crate) fn bytes<'a, 'c: 'a>(
        &self,
        b: &'a [u8],
        outer: Option<&[u8]>,
        ctx: &Ctx<'c>,
        sink: &mut dyn Sink,
        keep: Option<Keep<'_, 'a>>,
    ) {
        let unit = Unit { raw: outer.unwrap_or(b), source: ctx.source };
        if ctx.hops > self.limits.max_hops {
            sink.error(unit, &Error::new(Category::Limit, "$", "too many nested envelopes"));
            return;
        }
        if b.len() > self.limits.max_record_bytes {
            sink.error(
                unit,
                &Error::new(
                    Category::Limit,
                    "$",
                    format!("record of {} bytes exceeds the limit of {} bytes", b.len(), self.limits.max_record_bytes),
                ),
            );
            return;
        }
        if is_gzip(b) {
            match self.gunzip(b) {
                Ok(plain) => {
                    let c = ctx.hop();
                    // One compact object and nothing else (a CloudWatch
                    // subscription payload): the framer would give it as the
                    // only frame (its JSON scan, byte by byte, ends at the
                    // object's closing brace), so when the fast path reads
                    // it whole, the framing pass is not needed.
                    let one_object = plain.first() == Some(&b'{')
                        && plain.last() == Some(&b'}')
                        && memchr::memchr(b'\n', &plain).is_none();
                    if one_object && self.fast_text(&plain, unit.raw, &c, sink) {
                        return;
                    }
                    let frames: Vec<frame::Frame> = frame::records(&plain, self.limits.max_record_bytes).collect();
                    let single = if frames.len() == 1 { Some(unit.raw) } else { None };
                    if frames.is_empty() {
                        sink.skipped(unit, "empty gzip payload");
                    }
                    for f in frames {
                        self.bytes(&plain[f.range], single, &c, sink, None);
                    }
                }
                Err(e) => sink.error(unit, &e),
            }
            return;
        }
        // The vectorized check first (it only says yes or no); std's, which
        // says where the bytes went wrong, for the error message.
        let text = match simdutf8::basic::from_utf8(b).or_else(|_| std::str::from_utf8(b)) {
            Ok(t) => t,
            Err(e) => {
                sink.error(unit, &Error::new(Category::Syntax, "$", format!("record is not UTF-8: {e}")));
                return;
            }
        };
        self.text(text, unit.raw, ctx, sink, keep);
    }

    /// [`Decoder::bytes`] of `b` (with `outer`), but only when the fast path
    /// reads it whole: `false`, with nothing sent to `sink`, otherwise.
    fn fast_text(&self, b: &[u8], outer: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) -> bool {
        if ctx.hops > self.limits.max_hops || b.len() > self.limits.max_record_bytes {
            return false;
        }
        let Ok(text) = simdutf8::basic::from_utf8(b) else { return false };
        // What `text` reads (its trimming changes nothing here: `b` starts
        // with `{` and ends with `}`).
        let mut top = Top::default();
        let ok = match fast::top_any(text, ctx.max_depth, &mut top) {
            Some(false) => true,
            Some(true) => json::lone_surrogate(text.as_bytes()).is_none(),
            None => false,
        };
        if ok {
            self.value(&mut top, text, outer, ctx, sink, None);
        }
        ok
    }

    /// Gunzip (all members) with the size limit.
    fn gunzip(&self, b: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        let limit = self.limits.max_record_bytes as u64;
        let mut r = flate2::read::MultiGzDecoder::new(b).take(limit + 1);
        r.read_to_end(&mut out).map_err(|e| Error::new(Category::Encoding, "$", format!("gzip: {e}")))?;
        if out.len() as u64 > limit {
            return Err(Error::new(Category::Limit, "$", format!("gzip payload exceeds the limit of {limit} bytes")));
        }
        Ok(out)
    }

    /// UTF-8 text of one unit. `unit` is what an error passes through.
    fn text<'a, 'c: 'a>(
        &self,
        text: &'a str,
        unit: &[u8],
        ctx: &Ctx<'c>,
        sink: &mut dyn Sink,
        keep: Option<Keep<'_, 'a>>,
    ) {
        if ctx.hops > self.limits.max_hops {
            let e = Error::new(Category::Limit, "$", "too many nested envelopes");
            return sink.error(Unit { raw: unit, source: ctx.source }, &e);
        }
        let t = text.trim_start_matches('\u{feff}').trim();
        let depth = ctx.max_depth;
        // The fast path (an Event or an envelope object, see `fast.rs`). It reads every
        // string of the record, so when it saw no surrogate escape there is
        // no lone surrogate to look for; and it answers only for a record
        // nested at most `depth` levels, so the depth check below is then
        // settled too.
        if t.starts_with('{') {
            let mut top = Top::default();
            match fast::top_any(t, depth, &mut top) {
                Some(false) => return self.value(&mut top, t, unit, ctx, sink, keep),
                Some(true) if json::lone_surrogate(t.as_bytes()).is_none() => {
                    return self.value(&mut top, t, unit, ctx, sink, keep)
                }
                _ => {}
            }
        }
        if json::deeper_than(t.as_bytes(), depth) {
            let e = Error::new(Category::Limit, "$", format!("JSON nested deeper than {depth} levels"));
            return sink.error(Unit { raw: unit, source: ctx.source }, &e);
        }
        if let Some(at) = json::lone_surrogate(t.as_bytes()) {
            let e = Error::new(
                Category::Syntax,
                "$",
                format!("lone UTF-16 surrogate in a \\u escape at byte {at}: not Unicode text"),
            );
            return sink.error(Unit { raw: unit, source: ctx.source }, &e);
        }
        match t.as_bytes().first() {
            Some(b'[') => return self.array(t, unit, ctx, sink),
            Some(b'{') => {}
            _ => {
                let e = match t.as_bytes().first() {
                    None => "empty record",
                    Some(b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
                        "record is a JSON scalar, not an object or array"
                    }
                    _ => "record is not JSON",
                };
                sink.error(Unit { raw: unit, source: ctx.source }, &Error::new(Category::Syntax, "$", e));
                return;
            }
        }
        match serde_json::from_str::<Top<'_>>(t) {
            Ok(mut top) => self.value(&mut top, t, unit, ctx, sink, keep),
            Err(e) => {
                if t.ends_with(std::str::from_utf8(frame::TRUNCATED_MARKER).unwrap_or_default()) {
                    event::truncated(t, unit, ctx, sink);
                } else if let Some(parts) = concatenated(t, self.limits.max_record_bytes) {
                    // Several documents on one line (`{…}{…}`): each is a unit.
                    let c = ctx.hop();
                    for p in parts {
                        self.text(p, p.as_bytes(), &c, sink, None);
                    }
                } else {
                    sink.error(Unit { raw: unit, source: ctx.source }, &Error::json("$", &e));
                }
            }
        }
    }

    fn array(&self, t: &str, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
        match serde_json::from_str::<Vec<&RawValue>>(t) {
            Ok(items) if items.is_empty() => sink.skipped(Unit { raw: unit, source: ctx.source }, "empty JSON array"),
            Ok(items) => {
                let c = ctx.hop();
                for it in items {
                    self.text(it.get(), it.get().as_bytes(), &c, sink, None);
                }
            }
            Err(e) => sink.error(Unit { raw: unit, source: ctx.source }, &Error::json("$", &e)),
        }
    }

    /// One parsed object: the detection order of formats.md §10.
    fn value<'a, 'c: 'a>(
        &self,
        top: &mut Top<'a>,
        text: &'a str,
        unit: &[u8],
        ctx: &Ctx<'c>,
        sink: &mut dyn Sink,
        keep: Option<Keep<'_, 'a>>,
    ) {
        let u = Unit { raw: unit, source: ctx.source };
        // 3. OTLP.
        if let Some(rl) = top.resource_logs {
            return openshift::otlp(self, rl, unit, ctx, sink);
        }
        // 4. Lambda `awslogs.data`.
        if let Some(a) = top.awslogs {
            return eks::awslogs(self, a, unit, ctx, sink);
        }
        // 5. CloudWatch subscription message.
        if top.message_type.is_some() && top.log_events.is_some() {
            return eks::subscription(self, top, unit, ctx, sink);
        }
        // 6. Pub/Sub push.
        if let Some(m) = top.message.filter(|m| m.get().starts_with('{')) {
            if let Some(done) = gke::pubsub(self, m, unit, ctx, sink) {
                return done;
            }
        }
        // 7. Azure `records[]` (Event Hub) or Firehose records.
        if let Some(r) = top.records {
            return aks::records(self, r, unit, ctx, sink);
        }
        // 8. GKE LogEntry.
        if top.proto_payload.is_some() || top.resource.is_some_and(|r| r.get().contains("k8s_cluster")) {
            if let Some(done) = gke::log_entry(text, unit, ctx, sink) {
                return done;
            }
        }
        // 9. Azure diagnostic record.
        if top.category.is_some() && (top.properties.is_some() || top.operation_name.is_some()) {
            return aks::diagnostic(top, unit, ctx, sink);
        }
        // 10. Log Analytics rows.
        if top.la_category.is_some() && top.log_s.is_some() {
            return aks::azure_diagnostics(top, text, unit, ctx, sink);
        }
        let la_type = raw_str(top.la_type).is_some_and(|t| t == "AKSAudit" || t == "AKSAuditAdmin");
        if la_type
            || (top.la_audit_id.is_some() && top.la_request_uri.is_some() && top.la_stage_received_time.is_some())
        {
            return aks::log_analytics(top, text, unit, ctx, sink);
        }
        // 11. Events and event lists.
        if top.kind.as_deref() == Some("EventList") {
            return event::event_list(top.items, unit, ctx, sink);
        }
        if let Some(reason) = openshift::viaq_non_audit(top) {
            return sink.skipped(Unit { raw: unit, source: Some(Source::OpenshiftViaq) }, reason);
        }
        let is_event = top.kind.as_deref() == Some("Event")
            || (top.audit_id.is_some() && top.stage.is_some() && top.verb.is_some());
        if is_event {
            return match keep {
                // Built in the slot (no copy of the 1 KiB event).
                Some(slot) => slot.insert(event::build(top, text, ctx)).derive_outcome(),
                None => event::event(top, text, unit, ctx, sink),
            };
        }
        // 12. Shipper wrappers and CloudWatch rows.
        if let Some(done) = self.wrapper(top, unit, ctx, sink) {
            return done;
        }
        sink.error(u, &Error::new(Category::Data, "$", "not a recognised Kubernetes audit record shape"));
    }

    /// A Fluent Bit `{"log": …}`, a Vector `{"message": …}`, a CloudWatch row
    /// `{"logStreamName", "message", …}` or a Sumo-style `{"message": {…}}`.
    fn wrapper(&self, top: &Top<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) -> Option<()> {
        let cloudwatch = top.log_stream_name.is_some() || top.ingestion_time.is_some() || top.event_id.is_some();
        let inner = top.message.or(top.log)?;
        if cloudwatch && top.message.is_some() {
            eks::cloudwatch_row(self, top, unit, ctx, sink);
            return Some(());
        }
        let mut c = ctx.hop();
        if c.source.is_none() {
            c.source = Some(Source::K8sShipper);
        }
        if inner.get().starts_with('{') {
            self.text(inner.get(), unit, &c, sink, None);
            return Some(());
        }
        let s = raw_str(Some(inner))?;
        if !s.trim_start().starts_with('{') {
            return None;
        }
        self.text(&s, unit, &c, sink, None);
        Some(())
    }
}

#[cfg(test)]
mod keep_tests {
    use super::*;
    use crate::normalize::{Normalizer, Options};

    /// `decode_keep` hands back exactly the events `decode` sends as plain
    /// Events, and sends everything else as `decode` does: over every
    /// fixture record (vanilla, EKS, AKS, GKE, OpenShift shapes) the two
    /// give the same output, units and counts.
    #[test]
    fn decode_keep_gives_back_plain_events_and_sends_the_rest() {
        let dec = Decoder::default();
        let opts = Options { keep_skipped: true };
        let (mut sent, mut kept_out) = (Normalizer::new(opts), Normalizer::new(opts));
        let (mut kept, mut not_kept) = (0, 0);
        for path in crate::testdata::fixture_files() {
            let bytes = std::fs::read(&path).expect("fixture");
            for f in frame::records(&bytes, 1 << 20) {
                let rec = &bytes[f.range];
                sent.record(&dec, rec);
                kept_out.count_input(rec.len());
                let mut slot = None;
                if dec.decode_keep(rec, &mut kept_out, &mut slot) {
                    kept += 1;
                    slot.iter().for_each(|ev| kept_out.event(ev));
                } else {
                    assert!(slot.is_none());
                    not_kept += 1;
                }
                assert!(sent.output() == kept_out.output(), "{path:?}: {}", String::from_utf8_lossy(rec));
            }
        }
        assert_eq!(sent.stats(), kept_out.stats());
        assert!(kept > 40 && not_kept > 100, "kept {kept}, not kept {not_kept}");
    }
}
