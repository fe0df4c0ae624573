//! Encoders. The canonical encoder writes one JSON object per event: the
//! `audit.k8s.io/v1` Event fields plus one `kaudit` object. Error and skip
//! envelopes carry a unit's raw bytes unchanged.
//!
//! The SIEM encoders live next to it, one module each: [`ocsf`] (API
//! Activity 6003, Detection Finding 2004), [`ecs`] (Elastic Common Schema with
//! the `kubernetes.audit.*` layout), [`falco`] (the Falco alert payload
//! falcosidekick accepts) and [`sarif`] (a generic SARIF 2.1.0 writer). All
//! write JSON text directly with [`write_str`]; none builds a JSON DOM.

use base64::Engine;

use crate::decode::Unit;
use crate::error::Error;
use crate::event::{AuditEvent, ObjectRef, ResponseStatus, UserInfo};
use crate::json::{write_raw, write_str, Raw, Str};

pub mod ecs;
pub mod falco;
pub mod ocsf;
pub mod sarif;
mod time;

/// What `normalize` writes for each event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    /// The canonical event (`audit.k8s.io/v1` Event + `kaudit`).
    #[default]
    Canonical,
    /// OCSF API Activity (class 6003).
    Ocsf,
    /// ECS document with `kubernetes.audit.*`.
    Ecs,
}

/// Write `ev` in `format` (no trailing newline).
pub fn event(format: Format, ev: &AuditEvent<'_>, out: &mut Vec<u8>) {
    match format {
        Format::Canonical => canonical(ev, out),
        Format::Ocsf => ocsf::api_activity(ev, out),
        Format::Ecs => ecs::event(ev, out),
    }
}

/// Write `ev` as one canonical JSON object (no trailing newline).
///
/// When the event is the vanilla Event its source carried
/// ([`AuditEvent::verbatim`]), that text is copied byte for byte (every
/// original field, known or not, comes back unchanged), `kind`/`apiVersion`
/// are added if absent, and the `kaudit` object is appended. Otherwise the
/// fields are written one by one in the apiserver's order.
pub fn canonical(ev: &AuditEvent<'_>, out: &mut Vec<u8>) {
    canonical_with(ev, &mut |_| {}, out)
}

/// [`canonical`], with `extra` writing more members into the `kaudit` object
/// (each preceded by a comma), such as `detections`.
pub fn canonical_with(ev: &AuditEvent<'_>, extra: &mut dyn FnMut(&mut Vec<u8>), out: &mut Vec<u8>) {
    out.push(b'{');
    let mut w = Obj { out, first: true };
    if ev.kind.is_none() {
        w.key("kind");
        w.out.extend_from_slice(b"\"Event\"");
    }
    if ev.api_version.is_none() {
        w.key("apiVersion");
        w.out.extend_from_slice(b"\"audit.k8s.io/v1\"");
    }
    match &ev.verbatim {
        Some(text) => {
            let t = text.trim();
            let inner = t.strip_prefix('{').and_then(|t| t.strip_suffix('}')).unwrap_or("").trim();
            if !inner.is_empty() {
                w.sep();
                write_raw(w.out, inner);
            }
        }
        None => fields(ev, &mut w),
    }
    w.key("kaudit");
    kaudit(ev, extra, w.out);
    out.push(b'}');
}

struct Obj<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl Obj<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }
    fn key(&mut self, k: &str) {
        self.sep();
        self.out.push(b'"');
        self.out.extend_from_slice(k.as_bytes());
        self.out.extend_from_slice(b"\":");
    }
    fn str(&mut self, k: &str, v: &Option<Str<'_>>) {
        if let Some(v) = v {
            self.key(k);
            write_str(self.out, v);
        }
    }
    fn raw(&mut self, k: &str, v: &Option<Raw<'_>>) {
        if let Some(v) = v {
            self.key(k);
            write_raw(self.out, v.get());
        }
    }
    fn strs(&mut self, k: &str, v: &Option<Vec<Str<'_>>>) {
        if let Some(v) = v {
            self.key(k);
            str_array(self.out, v.iter().map(|s| s.as_str()));
        }
    }
    /// A string member from a `&str`, if present.
    fn opt(&mut self, k: &str, v: Option<&str>) {
        if let Some(v) = v {
            self.key(k);
            write_str(self.out, v);
        }
    }
    /// A string member.
    fn text(&mut self, k: &str, v: &str) {
        self.key(k);
        write_str(self.out, v);
    }
    /// An integer member.
    fn int(&mut self, k: &str, v: i64) {
        self.key(k);
        self.out.extend_from_slice(v.to_string().as_bytes());
    }
    /// A member whose value is JSON text written as is (`true`, `[…]`).
    fn json(&mut self, k: &str, v: &str) {
        self.key(k);
        write_raw(self.out, v);
    }
    /// An object member built by `f`; left out entirely when `f` writes no
    /// member. Returns whether it was written.
    fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) -> bool {
        let (mark, was_first) = (self.out.len(), self.first);
        self.key(k);
        self.out.push(b'{');
        let mut c = Obj { out: &mut *self.out, first: true };
        f(&mut c);
        if c.first {
            self.out.truncate(mark);
            self.first = was_first;
            false
        } else {
            self.out.push(b'}');
            true
        }
    }
    /// An array member built by `f`; left out when `f` writes no item.
    fn arr(&mut self, k: &str, f: impl FnOnce(&mut Arr<'_>)) -> bool {
        let (mark, was_first) = (self.out.len(), self.first);
        self.key(k);
        self.out.push(b'[');
        let mut c = Arr { out: &mut *self.out, first: true };
        f(&mut c);
        if c.first {
            self.out.truncate(mark);
            self.first = was_first;
            false
        } else {
            self.out.push(b']');
            true
        }
    }
}

/// Items of a JSON array being written.
struct Arr<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

impl Arr<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }
    fn str(&mut self, s: &str) {
        self.sep();
        write_str(self.out, s);
    }
    /// An object item built by `f` (written even when empty).
    fn obj(&mut self, f: impl FnOnce(&mut Obj<'_>)) {
        self.sep();
        self.out.push(b'{');
        let mut c = Obj { out: &mut *self.out, first: true };
        f(&mut c);
        self.out.push(b'}');
    }
}

/// Write a top-level object built by `f`.
fn object(out: &mut Vec<u8>, f: impl FnOnce(&mut Obj<'_>)) {
    out.push(b'{');
    let mut w = Obj { out, first: true };
    f(&mut w);
    out.push(b'}');
}

fn str_array<'s>(out: &mut Vec<u8>, items: impl Iterator<Item = &'s str>) {
    out.push(b'[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, s);
    }
    out.push(b']');
}

fn fields(ev: &AuditEvent<'_>, w: &mut Obj<'_>) {
    w.str("kind", &ev.kind);
    w.str("apiVersion", &ev.api_version);
    w.str("level", &ev.level);
    w.str("auditID", &ev.audit_id);
    w.str("stage", &ev.stage);
    w.str("requestURI", &ev.request_uri);
    w.str("verb", &ev.verb);
    if let Some(u) = &ev.user {
        w.key("user");
        user(u, w.out);
    }
    if let Some(u) = &ev.impersonated_user {
        w.key("impersonatedUser");
        user(u, w.out);
    }
    w.strs("sourceIPs", &ev.source_ips);
    w.str("userAgent", &ev.user_agent);
    if let Some(o) = &ev.object_ref {
        w.key("objectRef");
        object_ref(o, w.out);
    }
    if let Some(s) = &ev.response_status {
        w.key("responseStatus");
        status(s, w.out);
    }
    w.raw("requestObject", &ev.request_object);
    w.raw("responseObject", &ev.response_object);
    w.str("requestReceivedTimestamp", &ev.request_received_timestamp);
    w.str("stageTimestamp", &ev.stage_timestamp);
    w.raw("annotations", &ev.annotations);
}

fn user(u: &UserInfo<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut w = Obj { out, first: true };
    w.str("username", &u.username);
    w.str("uid", &u.uid);
    w.strs("groups", &u.groups);
    w.raw("extra", &u.extra);
    out.push(b'}');
}

fn object_ref(o: &ObjectRef<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut w = Obj { out, first: true };
    w.str("resource", &o.resource);
    w.str("namespace", &o.namespace);
    w.str("name", &o.name);
    w.str("uid", &o.uid);
    w.str("apiGroup", &o.api_group);
    w.str("apiVersion", &o.api_version);
    w.str("resourceVersion", &o.resource_version);
    w.str("subresource", &o.subresource);
    out.push(b'}');
}

fn status(s: &ResponseStatus<'_>, out: &mut Vec<u8>) {
    out.push(b'{');
    let mut w = Obj { out, first: true };
    w.raw("metadata", &s.metadata);
    w.str("status", &s.status);
    w.str("message", &s.message);
    w.str("reason", &s.reason);
    w.raw("details", &s.details);
    if let Some(c) = s.code {
        w.key("code");
        w.out.extend_from_slice(c.to_string().as_bytes());
    }
    out.push(b'}');
}

/// The `kaudit` object: source, cluster, missing, outcome (+ flags, received).
fn kaudit(ev: &AuditEvent<'_>, extra: &mut dyn FnMut(&mut Vec<u8>), out: &mut Vec<u8>) {
    out.push(b'{');
    let mut w = Obj { out, first: true };
    w.key("source");
    write_id(w.out, ev.source_id());
    w.key("cluster");
    {
        let c = &ev.cluster;
        w.out.push(b'{');
        let mut cw = Obj { out: w.out, first: true };
        cw.key("provider");
        write_id(cw.out, c.provider.id());
        cw.str("name", &c.name);
        cw.str("region", &c.region);
        cw.str("account", &c.account);
        cw.str("id", &c.id);
        w.out.push(b'}');
    }
    w.key("missing");
    w.out.push(b'[');
    for (i, f) in ev.missing.iter().enumerate() {
        if i > 0 {
            w.out.push(b',');
        }
        write_id(w.out, f.path());
    }
    w.out.push(b']');
    w.key("outcome");
    write_id(w.out, ev.outcome.id());
    if ev.flags.truncated || ev.flags.body_too_big {
        w.key("flags");
        let flags = [(ev.flags.truncated, "truncated"), (ev.flags.body_too_big, "body-too-big")];
        str_array(w.out, flags.iter().filter(|(on, _)| *on).map(|(_, n)| *n));
    }
    w.raw("received", &ev.received);
    extra(out);
    out.push(b'}');
}

/// A kaudit id (a source, provider or outcome id, a canonical field path)
/// as a JSON string. Every id is printable ASCII without `"` or `\`
/// (`ids_need_no_escaping` checks them all), so it is copied between quotes
/// without the escaper's per-byte table lookups.
fn write_id(out: &mut Vec<u8>, id: &'static str) {
    out.push(b'"');
    out.extend_from_slice(id.as_bytes());
    out.push(b'"');
}

fn raw_member(unit: &Unit<'_>, out: &mut Vec<u8>) {
    match std::str::from_utf8(unit.raw) {
        Ok(s) => {
            out.extend_from_slice(b"\"raw\":");
            write_str(out, s);
        }
        Err(_) => {
            out.extend_from_slice(b"\"raw_base64\":\"");
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(unit.raw).as_bytes());
            out.push(b'"');
        }
    }
}

/// `{"kaudit":{"error":{category, at, message, source}},"raw":"<unit>"}`.
/// The unit's bytes come back unchanged: as a JSON string when they are
/// UTF-8, else base64 in `raw_base64`.
pub fn error_envelope(unit: &Unit<'_>, err: &Error, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"kaudit\":{\"error\":{\"category\":");
    write_str(out, err.classify().as_str());
    out.extend_from_slice(b",\"at\":");
    write_str(out, err.at());
    out.extend_from_slice(b",\"message\":");
    write_str(out, err.message());
    out.extend_from_slice(b",\"source\":");
    write_str(out, unit.source.map(|s| s.id()).unwrap_or("unknown"));
    out.extend_from_slice(b"}},");
    raw_member(unit, out);
    out.push(b'}');
}

/// `{"kaudit":{"skipped":{reason, source}},"raw":"<unit>"}`.
pub fn skip_envelope(unit: &Unit<'_>, reason: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"kaudit\":{\"skipped\":{\"reason\":");
    write_str(out, reason);
    out.extend_from_slice(b",\"source\":");
    write_str(out, unit.source.map(|s| s.id()).unwrap_or("unknown"));
    out.extend_from_slice(b"}},");
    raw_member(unit, out);
    out.push(b'}');
}

/// The event's annotations as members (values raw), empty when absent or
/// not an object.
fn annotations<'e>(ev: &'e AuditEvent<'_>) -> crate::json::Members<'e> {
    ev.annotations.as_ref().and_then(|a| serde_json::from_str(a.get()).ok()).unwrap_or_default()
}

/// The string value of annotation `key`, if present and a string.
fn annotation<'e>(members: &crate::json::Members<'e>, key: &str) -> Option<Str<'e>> {
    members.get(key).and_then(|v| serde_json::from_str::<Str<'e>>(v.get()).ok())
}

/// `authorization.k8s.io/decision` read as an outcome (`allow` / `forbid`).
fn decision(members: &crate::json::Members<'_>) -> Option<crate::event::Outcome> {
    match annotation(members, "authorization.k8s.io/decision")?.as_str() {
        "allow" => Some(crate::event::Outcome::Success),
        "forbid" => Some(crate::event::Outcome::Failure),
        _ => None,
    }
}

/// `requestURI` split into path and query (without `?`).
fn split_uri(uri: &str) -> (&str, Option<&str>) {
    match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    }
}

/// Whether `s` is an IPv4 or IPv6 address.
fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// The first of a rule's references that is a URL (others are credits in prose).
pub(crate) fn reference_url(rule: &crate::rules::Rule) -> Option<&str> {
    rule.references.iter().map(|r| r.trim()).find(|r| r.starts_with("https://") || r.starts_with("http://"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Field, Outcome, Provider, Source};

    /// `write_id` copies ids without escaping: every id kaudit writes that
    /// way must come out exactly as the escaper would write it.
    #[test]
    fn ids_need_no_escaping() {
        let outcome = |o: Outcome| match o {
            // Exhaustive: a new outcome must be added to the list below.
            Outcome::Success | Outcome::Failure | Outcome::Unknown => o.id(),
        };
        let mut ids: Vec<&'static str> = vec!["unknown", Provider::default().id()];
        ids.extend(Source::ALL.iter().map(|s| s.id()));
        ids.extend(Source::ALL.iter().map(|s| s.provider().id()));
        ids.extend([Outcome::Success, Outcome::Failure, Outcome::Unknown].map(outcome));
        ids.extend(Field::ALL.iter().map(|f| f.path()));
        for id in ids {
            let (mut plain, mut escaped) = (Vec::new(), Vec::new());
            write_id(&mut plain, id);
            write_str(&mut escaped, id);
            assert_eq!(plain, escaped, "{id}");
        }
    }
}
