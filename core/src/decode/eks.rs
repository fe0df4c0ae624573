//! Amazon EKS: CloudWatch Logs rows and subscription-filter payloads
//! (formats.md §3–4).

use base64::Engine;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::event::{known_event, known_event_hop};
use super::{raw, raw_str, Ctx, Decoder, Sink, Top, Unit};
use crate::error::{Category, Error};
use crate::event::{Cluster, Provider, Source};
use crate::json::{Json, Str};

/// EKS control-plane log groups: `/aws/eks/<name>/cluster`.
pub(crate) const LOG_GROUP_PREFIX: &str = "/aws/eks/";
pub(crate) const LOG_GROUP_SUFFIX: &str = "/cluster";
/// CloudWatch streams of the audit log.
pub(crate) const AUDIT_STREAM_PREFIX: &str = "kube-apiserver-audit";

/// `/aws/eks/<name>/cluster` → `<name>`.
fn cluster_name(group: &str) -> Option<&str> {
    let rest = group.strip_prefix(LOG_GROUP_PREFIX)?;
    rest.strip_suffix(LOG_GROUP_SUFFIX).filter(|n| !n.is_empty() && !n.contains('/'))
}

fn cluster<'a>(base: &Cluster<'a>, group: Option<Str<'a>>, owner: Option<Str<'a>>) -> Cluster<'a> {
    let mut c = base.clone();
    c.provider = Provider::Eks;
    if let Some(g) = group {
        c.name = match g.0 {
            std::borrow::Cow::Borrowed(b) => cluster_name(b).map(Str::borrowed),
            std::borrow::Cow::Owned(ref o) => cluster_name(o).map(|n| Str(n.to_owned().into())),
        }
        .or(c.name);
    }
    if owner.is_some() {
        c.account = owner;
    }
    c
}

/// Whether a CloudWatch stream carries audit events. Unknown streams are
/// treated as audit (the caller picked the log group).
fn audit_stream(stream: Option<&str>) -> bool {
    stream.is_none_or(|s| s.starts_with(AUDIT_STREAM_PREFIX))
}

/// Lambda input: `{"awslogs":{"data":"<base64(gzip(json))>"}}`.
pub(super) fn awslogs(dec: &Decoder, a: Json<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    #[derive(Deserialize)]
    struct AwsLogs<'a> {
        #[serde(borrow)]
        data: Option<Str<'a>>,
    }
    let c = ctx.with_source(Source::EksSubscription);
    let u = Unit { raw: unit, source: c.source };
    let data = match serde_json::from_str::<AwsLogs<'_>>(a.get()) {
        Ok(AwsLogs { data: Some(d) }) => d,
        Ok(_) => return sink.error(u, &Error::new(Category::Data, "awslogs.data", "missing")),
        Err(e) => return sink.error(u, &Error::json("awslogs", &e)),
    };
    match base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) {
        Ok(bytes) => dec.bytes(&bytes, Some(unit), &c, sink, None),
        Err(e) => sink.error(u, &Error::new(Category::Encoding, "awslogs.data", format!("base64: {e}"))),
    }
}

#[derive(Deserialize)]
struct LogEvent<'a> {
    #[serde(borrow)]
    message: Option<Json<'a>>,
    #[serde(borrow)]
    timestamp: Option<Json<'a>>,
}

/// `{"messageType","owner","logGroup","logStream","logEvents":[…]}`.
pub(super) fn subscription(dec: &Decoder, top: &Top<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let _ = dec;
    let mut c = ctx.with_source(Source::EksSubscription);
    let u = Unit { raw: unit, source: c.source };
    if raw_str(top.message_type).is_some_and(|t| t == "CONTROL_MESSAGE") {
        return sink.skipped(u, "CloudWatch CONTROL_MESSAGE");
    }
    c.cluster = cluster(&c.cluster, raw_str(top.log_group), raw_str(top.owner));
    let stream = raw_str(top.log_stream);
    let audit = audit_stream(stream.as_deref());
    // Each item with its `message` and `timestamp` when the cursor read
    // them (serde_json reads the others, and gives their errors).
    let parsed = top.log_events.map(|l| {
        super::fast::array_fields(l, [b"message", b"timestamp"]).map(Ok).unwrap_or_else(|| {
            serde_json::from_str::<Vec<&RawValue>>(l.get())
                .map(|v| v.into_iter().map(|r| (Json(r.get()), None)).collect())
        })
    });
    let events: Vec<_> = match parsed {
        Some(Ok(v)) => v,
        Some(Err(e)) => return sink.error(u, &Error::json("logEvents", &e)),
        None => return sink.error(u, &Error::new(Category::Data, "logEvents", "missing")),
    };
    if events.is_empty() {
        return sink.skipped(u, "CloudWatch message with no logEvents");
    }
    for (i, (item, fast)) in events.iter().enumerate() {
        let iu = Unit { raw: item.get().as_bytes(), source: c.source };
        if !audit {
            sink.skipped(iu, "CloudWatch stream is not kube-apiserver-audit");
            continue;
        }
        let parsed = fast.map(|[message, timestamp]| Ok(LogEvent { message, timestamp }));
        let le = match parsed.unwrap_or_else(|| serde_json::from_str::<LogEvent<'_>>(item.get())) {
            Ok(le) => le,
            Err(e) => {
                sink.error(iu, &Error::json(format!("logEvents[{i}]"), &e));
                continue;
            }
        };
        let mut ic = c.clone();
        ic.received = raw(le.timestamp).or(ic.received);
        message(le.message, &format!("logEvents[{i}].message"), iu.raw, &ic, sink);
    }
}

/// A CloudWatch `message`: a string holding the Event JSON (possibly cut),
/// or, in Sumo-style exports, the Event object itself.
fn message(m: Option<Json<'_>>, at: &str, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let u = Unit { raw: unit, source: ctx.source };
    let Some(m) = m else {
        return sink.error(u, &Error::new(Category::Data, at, "missing"));
    };
    if m.get().starts_with('{') {
        return known_event(m.get(), at, unit, ctx, sink);
    }
    if let Some(s) = m.as_str() {
        return known_event_hop(&s, at, unit, ctx, sink);
    }
    match serde_json::from_str::<Str<'_>>(m.get()) {
        Ok(s) => known_event_hop(&s, at, unit, ctx, sink),
        Err(e) => sink.error(u, &Error::json(at, &e)),
    }
}

/// A `FilterLogEvents`/`GetLogEvents` row:
/// `{"logStreamName","timestamp","message","ingestionTime","eventId"}`.
pub(super) fn cloudwatch_row(dec: &Decoder, top: &Top<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let _ = dec;
    let mut c = ctx.with_source(Source::EksCloudwatch);
    let group = raw_str(top.log_group_name).or_else(|| raw_str(top.log_group));
    c.cluster = cluster(&c.cluster, group, raw_str(top.owner));
    let stream = raw_str(top.log_stream_name);
    if !audit_stream(stream.as_deref()) {
        return sink.skipped(Unit { raw: unit, source: c.source }, "CloudWatch stream is not kube-apiserver-audit");
    }
    c.received = raw(top.timestamp).or(c.received);
    message(top.message, "message", unit, &c, sink);
}

/// Firehose transformation input item `{"recordId","data":"<base64>"}`.
pub(super) fn firehose_item(dec: &Decoder, data: Json<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let u = Unit { raw: unit, source: ctx.source };
    let s = match serde_json::from_str::<Str<'_>>(data.get()) {
        Ok(s) => s,
        Err(e) => return sink.error(u, &Error::json("records[].data", &e)),
    };
    match base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
        Ok(bytes) => dec.bytes(&bytes, Some(unit), &ctx.hop(), sink, None),
        Err(e) => sink.error(u, &Error::new(Category::Encoding, "records[].data", format!("base64: {e}"))),
    }
}
