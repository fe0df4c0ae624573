//! Google GKE: Cloud Audit Logs `LogEntry` and Pub/Sub push envelopes
//! (formats.md §7–8).
//!
//! GKE rewrites the apiserver's Event; the mapping back is field by field.
//! Where GKE dropped a field it goes into `missing`; where a value can be
//! derived faithfully it is derived here, and each derivation says why.

use std::borrow::Cow;

use base64::Engine;
use serde::Deserialize;

mod fast;

use super::{raw, Ctx, Decoder, Sink, Unit};
use crate::error::{Category, Error};
use crate::event::{AuditEvent, Field, FieldSet, ObjectRef, Outcome, Provider, ResponseStatus, Source, UserInfo};
use crate::json::{without_keys, Json, Raw, Str};

#[derive(Deserialize, Default)]
struct Resource<'a> {
    #[serde(borrow, rename = "type")]
    ty: Option<Str<'a>>,
    #[serde(borrow)]
    labels: Option<ResourceLabels<'a>>,
}

#[derive(Deserialize, Default)]
struct ResourceLabels<'a> {
    #[serde(borrow)]
    project_id: Option<Str<'a>>,
    #[serde(borrow)]
    location: Option<Str<'a>>,
    #[serde(borrow)]
    cluster_name: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Proto<'a> {
    #[serde(borrow)]
    service_name: Option<Str<'a>>,
    #[serde(borrow)]
    method_name: Option<Str<'a>>,
    #[serde(borrow)]
    resource_name: Option<Str<'a>>,
    #[serde(borrow)]
    authentication_info: Option<AuthN<'a>>,
    #[serde(borrow)]
    request_metadata: Option<ReqMeta<'a>>,
    #[serde(borrow)]
    request: Option<Json<'a>>,
    #[serde(borrow)]
    response: Option<Json<'a>>,
    #[serde(borrow)]
    status: Option<Status<'a>>,
    #[serde(borrow, default)]
    authorization_info: Option<Vec<AuthZ<'a>>>,
}

#[derive(Deserialize, Default)]
struct AuthZ<'a> {
    #[serde(default)]
    granted: Option<bool>,
    #[serde(borrow, default)]
    permission: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct AuthN<'a> {
    #[serde(borrow)]
    principal_email: Option<Str<'a>>,
    #[serde(borrow)]
    principal_subject: Option<Str<'a>>,
    #[serde(borrow)]
    authority_selector: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ReqMeta<'a> {
    #[serde(borrow, alias = "callerIP")]
    caller_ip: Option<Str<'a>>,
    #[serde(borrow)]
    caller_supplied_user_agent: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
struct Status<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    message: Option<Str<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    #[serde(borrow)]
    insert_id: Option<Str<'a>>,
    #[serde(borrow)]
    timestamp: Option<Str<'a>>,
    #[serde(borrow)]
    receive_timestamp: Option<Json<'a>>,
    #[serde(borrow)]
    operation: Option<Operation<'a>>,
    #[serde(borrow)]
    labels: Option<Json<'a>>,
    #[serde(borrow)]
    resource: Option<Resource<'a>>,
    #[serde(borrow)]
    proto_payload: Option<Proto<'a>>,
}

#[derive(Deserialize, Default)]
struct Operation<'a> {
    #[serde(borrow)]
    id: Option<Str<'a>>,
}

/// What GKE never carries.
pub(crate) const GKE_MISSING: FieldSet = FieldSet::of(&[
    Field::Level,
    Field::Stage,
    Field::StageTimestamp,
    Field::RequestUriQuery,
    Field::UserUid,
    Field::UserGroups,
    Field::UserExtra,
    Field::ObjectRefUid,
    Field::ObjectRefResourceVersion,
]);

/// gRPC code → HTTP code, only where the apiserver's error maps to exactly
/// one gRPC code and back: PERMISSION_DENIED ← 403 Forbidden,
/// UNAUTHENTICATED ← 401, NOT_FOUND ← 404, ALREADY_EXISTS ← 409
/// AlreadyExists, ABORTED ← 409 Conflict, RESOURCE_EXHAUSTED ← 429. Other
/// codes (INVALID_ARGUMENT for both 400 and 422, INTERNAL, UNKNOWN …) have no
/// single HTTP code and leave `responseStatus.code` missing.
pub fn grpc_to_http(code: i64) -> Option<i64> {
    GRPC_TO_HTTP.iter().find(|(g, _)| *g == code).map(|(_, h)| *h)
}

/// The table behind [`grpc_to_http`] (also exported to VRL).
pub(crate) const GRPC_TO_HTTP: &[(i64, i64)] = &[(7, 403), (16, 401), (5, 404), (6, 409), (10, 409), (8, 429)];

/// A GKE LogEntry. `None` when the record is not one (detection goes on).
pub(super) fn log_entry(text: &str, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) -> Option<()> {
    let source = if ctx.source == Some(Source::GkePubsub) { Source::GkePubsub } else { Source::GkeLogEntry };
    let u = Unit { raw: unit, source: Some(source) };
    let entry: Entry<'_> = match fast::entry(text).map(Ok).unwrap_or_else(|| serde_json::from_str(text)) {
        Ok(e) => e,
        Err(e) => {
            sink.error(u, &Error::json("protoPayload", &e));
            return Some(());
        }
    };
    let res = entry.resource.unwrap_or_default();
    let k8s_cluster = res.ty.as_deref() == Some("k8s_cluster");
    let Some(proto) = entry.proto_payload else {
        if k8s_cluster {
            sink.skipped(u, "GKE LogEntry without protoPayload (not an audit entry)");
            return Some(());
        }
        return None;
    };
    match proto.service_name.as_deref() {
        Some("k8s.io") => {}
        Some(_) => {
            sink.skipped(u, "Cloud Audit Log of a service other than k8s.io");
            return Some(());
        }
        None if k8s_cluster => {}
        None => return None,
    }

    let mut ev = AuditEvent {
        source: Some(source),
        missing: GKE_MISSING,
        received: raw(entry.receive_timestamp).or_else(|| ctx.received.clone()),
        ..AuditEvent::default()
    };
    ev.cluster = ctx.cluster.clone();
    ev.cluster.provider = Provider::Gke;
    if let Some(l) = res.labels {
        ev.cluster.name = l.cluster_name.or(ev.cluster.name);
        ev.cluster.region = l.location.or(ev.cluster.region);
        ev.cluster.account = l.project_id.or(ev.cluster.account);
    }
    // auditID: GKE's `operation.id` is the apiserver's auditID; `insertId`
    // equals it in every public sample.
    ev.audit_id = entry.operation.and_then(|o| o.id).or(entry.insert_id);
    // verb: the last segment of `methodName` (`io.k8s.core.v1.pods.create`).
    ev.verb = proto.method_name.as_ref().and_then(|m| last_segment(m));
    match proto.resource_name.as_ref() {
        Some(rn) => {
            let (mut uri, oref) = parse_resource_name(rn, proto.method_name.as_deref());
            // A create is POSTed to the collection: the apiserver's
            // requestURI has no name even though `resourceName` does.
            let create = ev.verb.as_deref() == Some("create");
            if let (true, Some(o)) = (create, &oref) {
                if o.subresource.is_none() && o.name.is_some() {
                    if let Some(cut) = uri.rfind('/') {
                        // `cut` is a position rfind found: in range, on a boundary.
                        uri = Str(Cow::Owned(uri[..cut].to_owned()));
                    }
                }
            }
            ev.request_uri = Some(uri);
            ev.object_ref = oref;
        }
        None => ev.missing.insert(Field::RequestUri),
    }
    let authn = proto.authentication_info.unwrap_or_default();
    let username = authn.principal_email.or(authn.principal_subject);
    if username.is_none() {
        ev.missing.insert(Field::UserUsername);
    }
    ev.user = Some(UserInfo { username, ..UserInfo::default() });
    // Impersonation: `authoritySelector` holds the impersonated user while
    // `principalEmail` stays the real caller (kyma-project/kyma#2811). GKE
    // gives no impersonated groups.
    if let Some(sel) = authn.authority_selector {
        ev.impersonated_user = Some(UserInfo { username: Some(sel), ..UserInfo::default() });
        ev.missing.insert(Field::ImpersonatedUserGroups);
    }
    let meta = proto.request_metadata.unwrap_or_default();
    match meta.caller_ip {
        Some(ip) => ev.source_ips = Some(vec![ip]),
        None => ev.missing.insert(Field::SourceIps),
    }
    ev.user_agent = meta.caller_supplied_user_agent;
    // Bodies: GKE injects `@type`; it is not part of the object. GKE gives
    // no audit level, so an absent body may have been dropped by its policy
    // (Metadata for secrets, configmaps, tokens): absent bodies are missing.
    ev.request_object = proto.request.map(|r| Raw(without_keys(r.get(), &["@type"])));
    ev.response_object = proto.response.map(|r| Raw(without_keys(r.get(), &["@type"])));
    if ev.request_object.is_none() {
        ev.missing.insert(Field::RequestObject);
    }
    if ev.response_object.is_none() {
        ev.missing.insert(Field::ResponseObject);
    }
    ev.request_received_timestamp = entry.timestamp;
    ev.annotations = entry.labels.map(|l| Raw(Cow::Borrowed(l.get())));

    // responseStatus: an HTTP code only where the record has one (a
    // Kubernetes `Status` in `response`) or the gRPC code maps to exactly one.
    let status_code = proto.response.and_then(response_status_code);
    let grpc = proto.status.as_ref().map(|s| s.code.unwrap_or(0));
    let code = status_code.or_else(|| grpc.and_then(grpc_to_http));
    let message = proto.status.and_then(|s| s.message);
    if code.is_none() {
        ev.missing.insert(Field::ResponseStatusCode);
    }
    if code.is_some() || message.is_some() {
        ev.response_status = Some(ResponseStatus { code, message, ..ResponseStatus::default() });
    }
    // Authorization: proto3 omits `granted: false`, so a check without
    // `granted: true` was denied. With no status at all, a denied check is
    // the only statement of the outcome.
    let denied = proto
        .authorization_info
        .as_ref()
        .is_some_and(|a| !a.is_empty() && a.iter().all(|x| x.granted != Some(true) && x.permission.is_some()));
    ev.outcome = match (code, grpc) {
        (Some(c), _) => Outcome::from_http(c),
        (None, Some(0)) => Outcome::Success,
        (None, Some(_)) => Outcome::Failure,
        (None, None) if denied => Outcome::Failure,
        (None, None) => Outcome::Unknown,
    };
    sink.event(&ev);
    Some(())
}

fn last_segment<'a>(m: &Str<'a>) -> Option<Str<'a>> {
    match &m.0 {
        Cow::Borrowed(b) => b.rsplit('.').next().filter(|s| !s.is_empty()).map(Str::borrowed),
        Cow::Owned(o) => o.rsplit('.').next().filter(|s| !s.is_empty()).map(|s| Str(Cow::Owned(s.to_owned()))),
    }
}

/// `response.code` when `response` is a Kubernetes `Status`.
fn response_status_code(r: Json<'_>) -> Option<i64> {
    #[derive(Deserialize)]
    struct S<'a> {
        #[serde(borrow)]
        kind: Option<Str<'a>>,
        #[serde(borrow, rename = "@type")]
        ty: Option<Str<'a>>,
        code: Option<i64>,
    }
    let s: S<'_> = serde_json::from_str(r.get()).ok()?;
    let is_status = s.kind.as_deref() == Some("Status") || s.ty.as_deref().is_some_and(|t| t.ends_with(".Status"));
    if is_status {
        s.code
    } else {
        None
    }
}

fn sub<'a>(whole: &Str<'a>, part: &str) -> Str<'a> {
    match &whole.0 {
        Cow::Borrowed(b) => {
            // `part` is a sub-slice of `b`: re-borrow it with `b`'s lifetime.
            let start = part.as_ptr() as usize - b.as_ptr() as usize;
            Str::borrowed(&b[start..start + part.len()])
        }
        Cow::Owned(_) => Str(Cow::Owned(part.to_owned())),
    }
}

/// `resourceName` → `requestURI` path and `objectRef`.
///
/// `<group|core>/<version>/[namespaces/<ns>/]<resource>[/<name>[/<subresource>]]`;
/// the URI is `/api/v1/…` for core and `/apis/<group>/<version>/…` otherwise
/// (the query string is gone: `requestURI.query` is missing). A path of a
/// namespace object's subresource (`core/v1/namespaces/<n>/finalize`) reads
/// like a namespaced list; `methodName` (`….namespaces.finalize.update`)
/// tells them apart.
pub fn parse_resource_name<'a>(rn: &Str<'a>, method: Option<&str>) -> (Str<'a>, Option<ObjectRef<'a>>) {
    let text: &str = rn;
    if text.starts_with('/') {
        // A non-resource URL.
        return (rn.clone(), None);
    }
    let segs: Vec<&str> = text.split('/').collect();
    if segs.len() < 3 {
        let uri = Str(Cow::Owned(format!("/{text}")));
        return (uri, None);
    }
    // At least three segments (checked above).
    let (group, version, rest) = (segs[0], segs[1], &segs[2..]);
    let uri = if group == "core" {
        format!("/api/{version}/{}", rest.join("/"))
    } else {
        format!("/apis/{group}/{version}/{}", rest.join("/"))
    };
    let mut o = ObjectRef {
        api_group: Some(if group == "core" { Str::borrowed("") } else { sub(rn, group) }),
        api_version: Some(sub(rn, version)),
        ..ObjectRef::default()
    };
    let method_parts: Vec<&str> = method.map(|m| m.split('.').collect()).unwrap_or_default();
    let namespace_sub = |s: &str| {
        let n = method_parts.len();
        n >= 3 && method_parts[n - 3] == "namespaces" && method_parts[n - 2] == s
    };
    let (ns, tail): (Option<&str>, &[&str]) =
        if rest.len() >= 3 && rest[0] == "namespaces" && !(rest.len() == 3 && namespace_sub(rest[2])) {
            (Some(rest[1]), &rest[2..])
        } else {
            (None, rest)
        };
    if let Some(ns) = ns {
        o.namespace = Some(sub(rn, ns));
    }
    if let Some(r) = tail.first() {
        o.resource = Some(sub(rn, r));
    }
    if let Some(n) = tail.get(1) {
        o.name = Some(sub(rn, n));
    }
    if let Some(first_sub) = tail.get(2) {
        // Everything after the name (subresources are one segment, but keep
        // the rest rather than lose it).
        // `first_sub` is a sub-slice of `text` (from `split`): in range.
        let start = first_sub.as_ptr() as usize - text.as_ptr() as usize;
        o.subresource = Some(sub(rn, &text[start..]));
    }
    (Str(Cow::Owned(uri)), Some(o))
}

/// A Pub/Sub push body `{"message":{"data":"<base64>", …},"subscription"}`.
/// `None` when `message` has no `data` (then it is some other wrapper).
pub(super) fn pubsub(dec: &Decoder, m: Json<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) -> Option<()> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Msg<'a> {
        #[serde(borrow)]
        data: Option<Str<'a>>,
        #[serde(borrow)]
        publish_time: Option<Json<'a>>,
        // Push bodies carry both spellings; serde aliases would reject that.
        #[serde(borrow, rename = "publish_time")]
        publish_time_snake: Option<Json<'a>>,
    }
    let msg: Msg<'_> = serde_json::from_str(m.get()).ok()?;
    let data = msg.data?;
    let mut c = ctx.with_source(Source::GkePubsub);
    c.received = raw(msg.publish_time.or(msg.publish_time_snake)).or(c.received);
    match base64::engine::general_purpose::STANDARD.decode(data.as_bytes()) {
        Ok(bytes) => dec.bytes(&bytes, Some(unit), &c, sink, None),
        Err(e) => sink.error(
            Unit { raw: unit, source: c.source },
            &Error::new(Category::Encoding, "message.data", format!("base64: {e}")),
        ),
    }
    Some(())
}
