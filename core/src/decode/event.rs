//! The leaf: a vanilla `Event` object (log backend, webhook item, the inside
//! of every string hop), its OpenShift ViaQ variant, and EKS cut-off events.

use memchr::memmem;
use serde_json::value::RawValue;
use std::sync::LazyLock;

use super::{raw, raw_str, Ctx, Sink, Top, Unit};
use crate::error::Error;
use crate::event::{AuditEvent, Field, FieldSet, Flags, Outcome, Provider, Source};
use std::borrow::Cow;

use crate::json::{last_complete_member, without_keys, Json, Raw, Str};

/// AKS puts this string where a body was too large.
pub const AKS_SKIPPED_BODY: &str = "skipped-too-big-size-object";

/// Build the canonical event from an Event object's top-level keys.
pub(super) fn event<'a, 'c: 'a>(top: &mut Top<'a>, text: &'a str, unit: &[u8], ctx: &Ctx<'c>, sink: &mut dyn Sink) {
    let _ = unit;
    let mut ev = build(top, text, ctx);
    ev.derive_outcome();
    sink.event(&ev);
}

/// Build the event from `top`, taking its fields (the struct is large: it is
/// never moved whole).
pub(super) fn build<'a, 'c: 'a>(top: &mut Top<'a>, text: &'a str, ctx: &Ctx<'c>) -> AuditEvent<'a> {
    // ViaQ: the forwarder overwrote `level`; the audit level is in
    // `k8s_audit_level` / `openshift_audit_level`.
    let viaq_level = raw_str(top.k8s_audit_level).or_else(|| raw_str(top.openshift_audit_level));
    let viaq = viaq_level.is_some() || raw_str(top.log_type).is_some_and(|t| t == "audit") && top.log_source.is_some();
    let mut ev = AuditEvent {
        kind: top.kind.take(),
        api_version: top.api_version.take(),
        level: top.level.take(),
        audit_id: top.audit_id.take(),
        stage: top.stage.take(),
        request_uri: top.request_uri.take(),
        verb: top.verb.take(),
        user: top.user.take(),
        impersonated_user: top.impersonated_user.take(),
        source_ips: top.source_ips.take(),
        user_agent: top.user_agent.take(),
        object_ref: top.object_ref.take(),
        response_status: top.response_status.take(),
        request_object: top.request_object.take(),
        response_object: top.response_object.take(),
        request_received_timestamp: top.request_received_timestamp.take(),
        stage_timestamp: top.stage_timestamp.take(),
        annotations: top.annotations.take(),
        flags: Flags { annotations_without_u_escape: top.annotations_without_u_escape, ..Flags::default() },
        cluster: ctx.cluster.clone(),
        received: ctx.received.clone(),
        ..AuditEvent::default()
    };
    // kaudit's own output fed back in: keep its source, cluster and missing
    // set, and copy the rest verbatim without the old `kaudit` object.
    let reencode = top.kaudit.is_some();
    if let Some(k) = top.kaudit {
        carry_kaudit(&mut ev, k);
    }
    if viaq {
        ev.source = Some(match ctx.source {
            None | Some(Source::K8sShipper) => Source::OpenshiftViaq,
            Some(s) => s,
        });
        ev.cluster.provider = Provider::Openshift;
        match viaq_level {
            Some(l) => ev.level = Some(l),
            None => {
                if matches!(ev.level.as_deref(), Some("default" | "info")) {
                    ev.level = None;
                    ev.missing.insert(Field::Level);
                }
            }
        }
        if let Some(id) = top.openshift.and_then(|o| serde_json::from_str::<ViaqOpenshift<'_>>(o.get()).ok()) {
            ev.cluster.id = id.cluster_id;
        }
        if ev.received.is_none() {
            ev.received = raw(top.at_timestamp);
        }
    } else if ev.source.is_none() {
        ev.source = Some(ctx.source.unwrap_or(Source::K8s));
    }
    if raw_str(top.p_log_type).is_some_and(|t| t == "Amazon.EKS.Audit") && ev.source == Some(Source::K8s) {
        // A Panther-normalized copy of an EKS CloudWatch message.
        ev.source = Some(Source::EksCloudwatch);
        ev.cluster.provider = Provider::Eks;
    }
    if ev.cluster.provider == Provider::Kubernetes {
        ev.cluster.provider = infer_provider(&ev);
    }
    let body_skipped = mark_skipped_body(&mut ev);
    if !viaq && !body_skipped {
        ev.verbatim = Some(if reencode { without_keys(text, &["kaudit"]) } else { Cow::Borrowed(text) });
    }
    ev
}

#[derive(serde::Deserialize)]
struct ViaqOpenshift<'a> {
    #[serde(borrow)]
    cluster_id: Option<Str<'a>>,
}

#[derive(serde::Deserialize)]
struct KauditCtx<'a> {
    #[serde(borrow)]
    source: Option<Str<'a>>,
    #[serde(borrow)]
    cluster: Option<KauditCluster<'a>>,
    #[serde(borrow)]
    missing: Option<Vec<Str<'a>>>,
    #[serde(borrow)]
    received: Option<Raw<'a>>,
    #[serde(borrow)]
    outcome: Option<Str<'a>>,
    #[serde(borrow)]
    flags: Option<Vec<Str<'a>>>,
}

#[derive(serde::Deserialize)]
struct KauditCluster<'a> {
    #[serde(borrow)]
    provider: Option<Str<'a>>,
    #[serde(borrow)]
    name: Option<Str<'a>>,
    #[serde(borrow)]
    region: Option<Str<'a>>,
    #[serde(borrow)]
    account: Option<Str<'a>>,
    #[serde(borrow)]
    id: Option<Str<'a>>,
}

/// Re-read the `kaudit` object of an already canonical event.
fn carry_kaudit<'a>(ev: &mut AuditEvent<'a>, k: Json<'a>) {
    let Ok(k) = serde_json::from_str::<KauditCtx<'a>>(k.get()) else { return };
    ev.source = k.source.as_deref().and_then(Source::from_id);
    if let Some(c) = k.cluster {
        ev.cluster.provider = match c.provider.as_deref() {
            Some("eks") => Provider::Eks,
            Some("aks") => Provider::Aks,
            Some("gke") => Provider::Gke,
            Some("openshift") => Provider::Openshift,
            _ => Provider::Kubernetes,
        };
        ev.cluster.name = c.name;
        ev.cluster.region = c.region;
        ev.cluster.account = c.account;
        ev.cluster.id = c.id;
    }
    for m in k.missing.iter().flatten() {
        if let Some(f) = Field::from_path(m) {
            ev.missing.insert(f);
        }
    }
    if k.received.is_some() {
        ev.received = k.received;
    }
    ev.outcome = match k.outcome.as_deref() {
        Some("success") => Outcome::Success,
        Some("failure") => Outcome::Failure,
        _ => Outcome::Unknown,
    };
    for f in k.flags.iter().flatten() {
        match f.as_str() {
            "truncated" => ev.flags.truncated = true,
            "body-too-big" => ev.flags.body_too_big = true,
            _ => {}
        }
    }
}

/// AKS replaces oversized bodies with a string; that string is not a body.
pub(super) fn mark_skipped_body(ev: &mut AuditEvent<'_>) -> bool {
    let mut hit = false;
    for (slot, field) in
        [(&mut ev.request_object, Field::RequestObject), (&mut ev.response_object, Field::ResponseObject)]
    {
        if slot.as_ref().is_some_and(|r| r.is_string() && r.get().contains(AKS_SKIPPED_BODY)) {
            *slot = None;
            ev.missing.insert(field);
            ev.flags.body_too_big = true;
            hit = true;
        }
    }
    hit
}

// Built once: constructing a searcher costs more than most searches here.
static OPENSHIFT_KEY: LazyLock<memmem::Finder<'static>> = LazyLock::new(|| memmem::Finder::new(".openshift.io/"));
static OPENSHIFT_SCOPES: LazyLock<memmem::Finder<'static>> =
    LazyLock::new(|| memmem::Finder::new("scopes.authorization.openshift.io"));

/// A provider only when the record itself says so.
fn infer_provider(ev: &AuditEvent<'_>) -> Provider {
    let openshift =
        ev.object_ref.as_ref().and_then(|o| o.api_group.as_deref()).is_some_and(|g| g.ends_with(".openshift.io"))
            || ev.annotations.as_ref().is_some_and(|a| OPENSHIFT_KEY.find(a.get().as_bytes()).is_some())
            || ev
                .user
                .as_ref()
                .and_then(|u| u.extra.as_ref())
                .is_some_and(|x| OPENSHIFT_SCOPES.find(x.get().as_bytes()).is_some());
    if openshift {
        return Provider::Openshift;
    }
    let uid = ev.user.as_ref().and_then(|u| u.uid.as_deref()).unwrap_or("");
    if uid.starts_with("aws-iam-authenticator:") || uid.starts_with("heptio-authenticator-aws:") {
        return Provider::Eks;
    }
    Provider::Kubernetes
}

/// A webhook batch: every item is an Event (items may omit `kind`).
pub(super) fn event_list(items: Option<Json<'_>>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let c = ctx.with_source(Source::K8sEventList);
    let items: Vec<&RawValue> = match items.map(|i| serde_json::from_str(i.get())) {
        Some(Ok(v)) => v,
        Some(Err(e)) => return sink.error(Unit { raw: unit, source: c.source }, &Error::json("items", &e)),
        None => {
            return sink.error(
                Unit { raw: unit, source: c.source },
                &Error::new(crate::Category::Data, "items", "EventList without items"),
            )
        }
    };
    if items.is_empty() {
        return sink.skipped(Unit { raw: unit, source: c.source }, "EventList with no items");
    }
    for (i, it) in items.iter().enumerate() {
        let t = it.get();
        if !t.starts_with('{') {
            let e = Error::new(crate::Category::Data, format!("items[{i}]"), "EventList item is not an object");
            sink.error(Unit { raw: t.as_bytes(), source: c.source }, &e);
            continue;
        }
        let mut top = Top::default();
        match super::parse_top(t, &mut top) {
            Ok(()) => event(&mut top, t, t.as_bytes(), &c, sink),
            Err(e) => sink.error(Unit { raw: t.as_bytes(), source: c.source }, &Error::json(format!("items[{i}]"), &e)),
        }
    }
}

/// Parse `text` as an Event without shape detection (the container already
/// said it is one: AKS `properties.log`, CloudWatch `message`, OTLP body).
/// Handles the EKS `[Truncated...]` cut.
/// The checks the decoder makes on a record's text (nesting within `depth`,
/// no lone surrogate escape), for JSON text read out of a JSON string (a
/// hop), which the outer record's checks could not see into. `depth` is
/// the limit in force for the hop's text (the configured
/// [`super::Limits::max_depth`], capped).
pub(super) fn hop_limits(t: &str, at: &str, depth: usize) -> Result<(), Error> {
    if crate::json::deeper_than(t.as_bytes(), depth) {
        return Err(Error::new(crate::Category::Limit, at, format!("JSON nested deeper than {depth} levels")));
    }
    if let Some(i) = crate::json::lone_surrogate(t.as_bytes()) {
        let m = format!("lone UTF-16 surrogate in a \\u escape at byte {i}: not Unicode text");
        return Err(Error::new(crate::Category::Syntax, at, m));
    }
    Ok(())
}

/// [`known_event`] on Event text read out of a JSON string: [`hop_limits`]
/// first.
pub(super) fn known_event_hop(text: &str, at: &str, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    // The fast path answers only for text nested within the limit and tells
    // whether any surrogate escape was read: then `hop_limits` would pass
    // (the lone-surrogate pass runs only after a surrogate escape), and
    // `known_event`'s parse would give this `Top` (see `Decoder::text`).
    let t = text.trim();
    if t.starts_with('{') {
        let mut top = Top::default();
        match super::fast::top_any(t, ctx.max_depth, &mut top) {
            Some(false) => return event(&mut top, t, unit, ctx, sink),
            Some(true) if crate::json::lone_surrogate(t.as_bytes()).is_none() => {
                return event(&mut top, t, unit, ctx, sink)
            }
            _ => {}
        }
    }
    match hop_limits(text, at, ctx.max_depth) {
        Ok(()) => known_event(text, at, unit, ctx, sink),
        Err(e) => sink.error(Unit { raw: unit, source: ctx.source }, &e),
    }
}

pub(super) fn known_event(text: &str, at: &str, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let t = text.trim();
    let mut top = Top::default();
    match super::parse_top(t, &mut top) {
        Ok(()) => event(&mut top, t, unit, ctx, sink),
        Err(e) => {
            if t.as_bytes().ends_with(crate::frame::TRUNCATED_MARKER) {
                truncated(t, unit, ctx, sink)
            } else {
                sink.error(Unit { raw: unit, source: ctx.source }, &Error::json(at, &e))
            }
        }
    }
}

/// The fields an apiserver writes after the bodies: lost when a message is cut.
pub(crate) const AFTER_BODIES: FieldSet = FieldSet::of(&[
    Field::RequestObject,
    Field::ResponseObject,
    Field::RequestReceivedTimestamp,
    Field::StageTimestamp,
    Field::Annotations,
]);

/// An event cut by CloudWatch (`…[Truncated...]`): keep the complete leading
/// members, mark the event truncated, list what was lost. Not an error.
pub(super) fn truncated(t: &str, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    // Both callers checked that `t` ends with the (ASCII) marker; `get`
    // keeps this total anyway.
    let body = t.get(..t.len().saturating_sub(crate::frame::TRUNCATED_MARKER.len())).unwrap_or_default();
    let fixed = last_complete_member(body.as_bytes()).map(|end| format!("{}}}", &body[..end]));
    let top = fixed.as_deref().map(|f| (f, serde_json::from_str::<Top<'_>>(f)));
    match top {
        Some((f, Ok(mut top))) => {
            let mut c = ctx.clone();
            if c.source.is_none() {
                c.source = Some(Source::EksCloudwatch);
                c.cluster.provider = Provider::Eks;
            }
            let mut ev = build(&mut top, f, &c);
            ev.verbatim = None;
            ev.flags.truncated = true;
            let have = [
                (Field::RequestObject, ev.request_object.is_some()),
                (Field::ResponseObject, ev.response_object.is_some()),
                (Field::RequestReceivedTimestamp, ev.request_received_timestamp.is_some()),
                (Field::StageTimestamp, ev.stage_timestamp.is_some()),
                (Field::Annotations, ev.annotations.is_some()),
            ];
            for (f, present) in have {
                if !present && AFTER_BODIES.contains(f) {
                    ev.missing.insert(f);
                }
            }
            ev.derive_outcome();
            sink.event(&ev);
        }
        Some((_, Err(e))) => sink.error(Unit { raw: unit, source: ctx.source }, &Error::json("$", &e)),
        None => sink.error(
            Unit { raw: unit, source: ctx.source },
            &Error::new(crate::Category::Syntax, "$", "truncated record without one complete field"),
        ),
    }
}
