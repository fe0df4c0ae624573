//! Azure AKS: diagnostic-settings records (Event Hub `records[]`, storage
//! lines), Log Analytics `AKSAudit`/`AKSAuditAdmin` rows and legacy
//! `AzureDiagnostics` rows (formats.md §5–6).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::event::{hop_limits, known_event, known_event_hop};
use super::{raw, raw_str, Ctx, Decoder, Sink, Top, Unit};
use crate::error::{Category, Error};
use crate::event::{AuditEvent, Cluster, Field, ObjectRef, Provider, ResponseStatus, Source, UserInfo};
use crate::json::{Json, Raw, Str};

/// JSON text read out of a JSON string (a hop) must also parse (it is
/// copied into the event as it is).
fn check_hop(t: &str, at: &str, depth: usize) -> Result<(), Error> {
    hop_limits(t, at, depth)?;
    serde_json::from_str::<serde::de::IgnoredAny>(t).map(|_| ()).map_err(|e| Error::json(at, &e))
}

/// Azure resource-log categories of the audit log (compared ignoring ASCII case).
pub(crate) const AUDIT_CATEGORIES: &[&str] = &["kube-audit", "kube-audit-admin"];

fn is_audit_category(c: &str) -> bool {
    AUDIT_CATEGORIES.iter().any(|a| c.eq_ignore_ascii_case(a))
}

/// Cluster context from an Azure resource id:
/// `/SUBSCRIPTIONS/<sub>/RESOURCEGROUPS/<rg>/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/<name>`.
pub(crate) fn cluster_from_resource_id<'a>(base: &Cluster<'a>, id: Option<Str<'a>>) -> Cluster<'a> {
    let mut c = base.clone();
    c.provider = Provider::Aks;
    let Some(id) = id else { return c };
    let text: &str = &id;
    let parts: Vec<&str> = text.split('/').collect();
    let after = |key: &str| -> Option<Str<'a>> {
        let i = parts.iter().position(|p| p.eq_ignore_ascii_case(key))?;
        let v = parts.get(i + 1).filter(|v| !v.is_empty())?;
        Some(Str(Cow::Owned((*v).to_owned())))
    };
    c.account = after("subscriptions").or(c.account);
    c.name = after("managedclusters").or(c.name);
    c.id = Some(id);
    c
}

/// Event Hub body `{"records":[…]}`, or a Firehose transformation input
/// `{"records":[{"recordId","data"}]}`.
pub(super) fn records(dec: &Decoder, r: Json<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    #[derive(Deserialize)]
    struct Firehose<'a> {
        #[serde(borrow, rename = "recordId")]
        record_id: Option<Json<'a>>,
        #[serde(borrow)]
        data: Option<Json<'a>>,
    }
    let items: Vec<&RawValue> = match serde_json::from_str(r.get()) {
        Ok(v) => v,
        Err(e) => return sink.error(Unit { raw: unit, source: ctx.source }, &Error::json("records", &e)),
    };
    if items.is_empty() {
        return sink.skipped(Unit { raw: unit, source: ctx.source }, "records[] is empty");
    }
    let c = ctx.hop();
    for item in items {
        let t = item.get();
        if let Ok(Firehose { record_id: Some(_), data: Some(d) }) = serde_json::from_str::<Firehose<'_>>(t) {
            super::eks::firehose_item(dec, d, t.as_bytes(), &c, sink);
        } else {
            dec.text(t, t.as_bytes(), &c, sink, None);
        }
    }
}

#[derive(Deserialize)]
struct Properties<'a> {
    #[serde(borrow)]
    log: Option<Json<'a>>,
}

/// One diagnostic record: `{"category","resourceId","time","properties":{"log":"<Event JSON>"}}`.
pub(super) fn diagnostic(top: &Top<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let mut c = ctx.with_source(Source::AksDiagnostic);
    let u = Unit { raw: unit, source: c.source };
    let category = raw_str(top.category);
    if !category.as_deref().is_some_and(is_audit_category) {
        return sink.skipped(u, "Azure resource log of a non-audit category");
    }
    let rid = raw_str(top.resource_id);
    c.cluster = cluster_from_resource_id(&c.cluster, rid);
    c.received = raw(top.time).or(c.received);
    let fast = top.properties.and_then(|p| super::fast::fields(p, [b"log"])).map(|[log]| Ok(Properties { log }));
    let props = match fast.or_else(|| top.properties.map(|p| serde_json::from_str::<Properties<'_>>(p.get()))) {
        Some(Ok(p)) => p,
        Some(Err(e)) => return sink.error(u, &Error::json("properties", &e)),
        None => return sink.error(u, &Error::new(Category::Data, "properties", "missing in a kube-audit record")),
    };
    let Some(log) = props.log else {
        return sink.error(u, &Error::new(Category::Data, "properties.log", "missing in a kube-audit record"));
    };
    if log.get().starts_with('{') {
        // Some shippers pre-parse `properties.log` into an object.
        return known_event(log.get(), "properties.log", unit, &c, sink);
    }
    let parsed = log.as_str().map(Ok).unwrap_or_else(|| serde_json::from_str::<Str<'_>>(log.get()));
    match parsed {
        Ok(s) if s.trim_start().starts_with('{') => known_event_hop(&s, "properties.log", unit, &c, sink),
        Ok(_) => sink.skipped(u, "properties.log is not JSON"),
        Err(e) => sink.error(u, &Error::json("properties.log", &e)),
    }
}

/// Legacy `AzureDiagnostics`: `Category` plus the Event JSON string in `log_s`.
pub(super) fn azure_diagnostics(top: &Top<'_>, text: &str, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let mut c = ctx.with_source(Source::AksAzureDiagnostics);
    let u = Unit { raw: unit, source: c.source };
    if !raw_str(top.la_category).as_deref().is_some_and(is_audit_category) {
        return sink.skipped(u, "AzureDiagnostics row of a non-audit category");
    }
    #[derive(Deserialize)]
    struct Row<'a> {
        #[serde(borrow, rename = "ResourceId", alias = "_ResourceId")]
        resource_id: Option<Str<'a>>,
        #[serde(borrow, rename = "SubscriptionId", alias = "_SubscriptionId")]
        subscription: Option<Str<'a>>,
        #[serde(borrow, rename = "TimeGenerated")]
        time: Option<Json<'a>>,
    }
    if let Ok(r) = serde_json::from_str::<Row<'_>>(text) {
        c.cluster = cluster_from_resource_id(&c.cluster, r.resource_id);
        if r.subscription.is_some() {
            c.cluster.account = r.subscription;
        }
        c.received = raw(r.time).or(c.received);
    }
    match raw_str(top.log_s) {
        Some(s) => known_event_hop(&s, "log_s", unit, &c, sink),
        None => sink.error(u, &Error::new(Category::Data, "log_s", "not a string")),
    }
}

/// Log Analytics string columns and the Event keys they hold (as `LaRow`
/// maps them; exported to VRL).
pub(crate) const LA_STRING_COLUMNS: &[(&str, &str)] = &[
    ("AuditId", "auditID"),
    ("Level", "level"),
    ("Stage", "stage"),
    ("RequestUri", "requestURI"),
    ("Verb", "verb"),
    ("UserAgent", "userAgent"),
    ("RequestReceivedTime", "requestReceivedTimestamp"),
    ("StageReceivedTime", "stageTimestamp"),
];

/// Log Analytics dynamic columns (objects, or JSON text) and their Event keys.
pub(crate) const LA_DYNAMIC_COLUMNS: &[(&str, &str)] = &[
    ("User", "user"),
    ("SourceIps", "sourceIPs"),
    ("ObjectRef", "objectRef"),
    ("ResponseStatus", "responseStatus"),
    ("RequestObject", "requestObject"),
    ("ResponseObject", "responseObject"),
    ("Annotations", "annotations"),
];

/// A Log Analytics row. Dynamic columns keep the Event's camelCase keys
/// inside; depending on the export path they arrive as objects or as JSON
/// strings, and both are accepted.
#[derive(Deserialize)]
#[allow(non_snake_case)]
struct LaRow<'a> {
    #[serde(borrow)]
    AuditId: Option<Str<'a>>,
    #[serde(borrow)]
    Level: Option<Str<'a>>,
    #[serde(borrow)]
    Stage: Option<Str<'a>>,
    #[serde(borrow)]
    RequestUri: Option<Str<'a>>,
    #[serde(borrow)]
    Verb: Option<Str<'a>>,
    #[serde(borrow)]
    User: Option<Json<'a>>,
    #[serde(borrow)]
    SourceIps: Option<Json<'a>>,
    #[serde(borrow)]
    UserAgent: Option<Str<'a>>,
    #[serde(borrow)]
    ObjectRef: Option<Json<'a>>,
    #[serde(borrow)]
    ResponseStatus: Option<Json<'a>>,
    #[serde(borrow)]
    RequestObject: Option<Json<'a>>,
    #[serde(borrow)]
    ResponseObject: Option<Json<'a>>,
    #[serde(borrow)]
    RequestReceivedTime: Option<Str<'a>>,
    #[serde(borrow)]
    StageReceivedTime: Option<Str<'a>>,
    #[serde(borrow)]
    Annotations: Option<Json<'a>>,
    #[serde(borrow)]
    _ResourceId: Option<Str<'a>>,
    #[serde(borrow)]
    _SubscriptionId: Option<Str<'a>>,
    #[serde(borrow)]
    TimeGenerated: Option<Json<'a>>,
}

/// The JSON text of a dynamic column: the value itself when it is an object
/// or array, the unescaped content when it is a string holding JSON. `null`
/// and empty strings are absent. A plain string (such as AKS's
/// `skipped-too-big-size-object`) is returned as JSON string text. JSON text
/// inside a string must pass [`check_hop`] within `depth` (the limit in force
/// less one: the column sits one level inside the event).
fn dynamic<'t>(v: Option<Json<'t>>, at: &str, depth: usize) -> Result<Option<Cow<'t, str>>, Error> {
    let Some(v) = v else { return Ok(None) };
    let t = v.get();
    Ok(match t.as_bytes().first() {
        Some(b'{' | b'[') => Some(Cow::Borrowed(t)),
        Some(b'"') => {
            let Ok(s) = serde_json::from_str::<Str<'_>>(t) else { return Ok(None) };
            let inner = s.trim();
            if inner.is_empty() {
                None
            } else if inner.starts_with('{') || inner.starts_with('[') {
                check_hop(inner, at, depth)?;
                Some(Cow::Owned(inner.to_owned()))
            } else {
                Some(Cow::Borrowed(t))
            }
        }
        Some(b'n') => None,
        _ => Some(Cow::Borrowed(t)),
    })
}

fn as_raw<'t>(t: &'t Option<Cow<'_, str>>) -> Option<Raw<'t>> {
    t.as_deref().map(|s| Raw(Cow::Borrowed(s)))
}

fn parse_dyn<'a, T: Deserialize<'a>>(text: &'a Option<Cow<'_, str>>, at: &str) -> Result<Option<T>, Error> {
    match text {
        None => Ok(None),
        Some(t) => serde_json::from_str(t).map(Some).map_err(|e| Error::json(at, &e)),
    }
}

pub(super) fn log_analytics(top: &Top<'_>, text: &str, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let _ = top;
    let c = ctx.with_source(Source::AksLogAnalytics);
    let u = Unit { raw: unit, source: c.source };
    let row: LaRow<'_> = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => return sink.error(u, &Error::json("$", &e)),
    };
    let depth = ctx.max_depth.saturating_sub(1);
    let cols = (|| -> Result<_, Error> {
        Ok([
            dynamic(row.User, "User", depth)?,
            dynamic(row.SourceIps, "SourceIps", depth)?,
            dynamic(row.ObjectRef, "ObjectRef", depth)?,
            dynamic(row.ResponseStatus, "ResponseStatus", depth)?,
            dynamic(row.RequestObject, "RequestObject", depth)?,
            dynamic(row.ResponseObject, "ResponseObject", depth)?,
            dynamic(row.Annotations, "Annotations", depth)?,
        ])
    })();
    let [user_t, ips_t, oref_t, status_t, req_t, resp_t, ann_t] = match cols {
        Ok(c) => c,
        Err(e) => return sink.error(u, &e),
    };
    let parsed = (|| -> Result<_, Error> {
        let user: Option<UserInfo<'_>> = parse_dyn(&user_t, "User")?;
        let ips: Option<Vec<Str<'_>>> = parse_dyn(&ips_t, "SourceIps")?;
        let oref: Option<ObjectRef<'_>> = parse_dyn(&oref_t, "ObjectRef")?;
        let status: Option<ResponseStatus<'_>> = parse_dyn(&status_t, "ResponseStatus")?;
        Ok((user, ips, oref, status))
    })();
    let (user, source_ips, object_ref, response_status) = match parsed {
        Ok(p) => p,
        Err(e) => return sink.error(u, &e),
    };
    let mut ev = AuditEvent {
        level: row.Level,
        audit_id: row.AuditId,
        stage: row.Stage,
        request_uri: row.RequestUri,
        verb: row.Verb,
        user,
        source_ips,
        user_agent: row.UserAgent,
        object_ref,
        response_status,
        request_object: as_raw(&req_t),
        response_object: as_raw(&resp_t),
        request_received_timestamp: row.RequestReceivedTime,
        stage_timestamp: row.StageReceivedTime,
        annotations: as_raw(&ann_t),
        source: c.source,
        cluster: cluster_from_resource_id(&c.cluster, row._ResourceId),
        received: raw(row.TimeGenerated).or_else(|| c.received.clone()),
        ..AuditEvent::default()
    };
    if row._SubscriptionId.is_some() {
        ev.cluster.account = row._SubscriptionId;
    }
    // The documented AKSAudit schema has no ImpersonatedUser column.
    ev.missing.insert(Field::ImpersonatedUser);
    super::event::mark_skipped_body(&mut ev);
    ev.derive_outcome();
    sink.event(&ev);
}
