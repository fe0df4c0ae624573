//! Falco alert payload for detections, as falcosidekick reads it on `/`
//! (falcosecurity/falcosidekick `types.FalcoPayload`: `output`, `priority`,
//! `rule`, `time`, `output_fields`, `source`, `tags`, `hostname`).
//!
//! falcosidekick refuses a payload whose priority is empty or unknown, whose
//! rule is empty, whose time is zero (it must parse as RFC 3339), or whose
//! `output_fields` is empty (`Check()`); tests/falco.rs checks every payload
//! against those rules. Here:
//!
//! * `priority`: critical → Critical, high → Error, medium → Warning,
//!   low → Notice, info → Informational.
//! * `time`: the event's `stageTimestamp`, else `requestReceivedTimestamp`,
//!   else the transport's receive time, else when kaudit raised the alert
//!   (given by the host), normalized to RFC 3339 UTC with microseconds; left
//!   out only when none is known (falcosidekick then refuses the payload
//!   rather than be told a made-up time).
//! * `output_fields`: Falco's k8saudit field names (`ka.user.name`,
//!   `ka.verb`, `ka.target.*`, `ka.uri`, `ka.response.code` as a string as
//!   in Falco, …) for the fields the event has, plus `kaudit.source` and the
//!   cluster, so the map is never empty.
//! * `source`: `k8s_audit`, Falco's source name for Kubernetes audit events.
//! * `hostname`: given by the host (the machine that ran kaudit, as Falco
//!   reports its own host); left out when unknown.

use super::time::{event_micros, received_micros, write_rfc3339};
use super::{object, Obj};
use crate::event::AuditEvent;
use crate::rules::{Rule, Severity};

/// The Falco priority name for a rule severity.
pub fn priority(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "Error",
        Severity::Medium => "Warning",
        Severity::Low => "Notice",
        Severity::Info => "Informational",
    }
}

/// Write one Falco payload: `rule` fired on `ev`.
/// `created_ms` is when the alert was raised (the host's clock), used only
/// when the record carries no time.
pub fn payload(ev: &AuditEvent<'_>, rule: &Rule, hostname: Option<&str>, created_ms: Option<i64>, out: &mut Vec<u8>) {
    object(out, |w| {
        w.text("output", &output(ev, rule));
        w.text("priority", priority(rule.severity));
        w.text("rule", &rule.title);
        if let Some(t) = event_micros(ev).or_else(|| received_micros(ev)).or(created_ms.map(|m| m.saturating_mul(1000)))
        {
            w.key("time");
            write_rfc3339(w.out, t);
        }
        w.obj("output_fields", |f| fields(ev, rule, f));
        w.text("source", "k8s_audit");
        w.arr("tags", |a| rule.tags.iter().for_each(|t| a.str(t)));
        w.opt("hostname", hostname);
    });
}

/// The one-line message, Falco style: the rule's title and the event's
/// who / what / where, leaving out what the event does not say.
fn output(ev: &AuditEvent<'_>, rule: &Rule) -> String {
    let mut s = rule.title.clone();
    let mut parts: Vec<String> = Vec::new();
    let mut add = |k: &str, v: Option<&str>| {
        if let Some(v) = v {
            parts.push(format!("{k}={v}"));
        }
    };
    add("user", ev.username());
    add("verb", ev.verb.as_deref());
    add("resource", ev.resource());
    add("subresource", ev.subresource());
    add("namespace", ev.namespace());
    add("name", ev.name());
    add("uri", ev.request_uri.as_deref());
    add("ip", ev.source_ips.as_ref().and_then(|v| v.last()).map(|s| s.as_str()));
    add("source", Some(ev.source_id()));
    add("rule_id", Some(&rule.id));
    if !parts.is_empty() {
        s.push_str(" (");
        s.push_str(&parts.join(" "));
        s.push(')');
    }
    s
}

fn fields(ev: &AuditEvent<'_>, rule: &Rule, f: &mut Obj<'_>) {
    f.opt("ka.auditid", ev.audit_id.as_deref());
    f.opt("ka.stage", ev.stage.as_deref());
    f.opt("ka.verb", ev.verb.as_deref());
    f.opt("ka.uri", ev.request_uri.as_deref());
    if let Some(u) = &ev.user {
        f.str("ka.user.name", &u.username);
        f.strs("ka.user.groups", &u.groups);
    }
    if let Some(u) = &ev.impersonated_user {
        f.str("ka.impuser.name", &u.username);
    }
    f.opt("ka.target.resource", ev.resource());
    f.opt("ka.target.subresource", ev.subresource());
    f.opt("ka.target.namespace", ev.namespace());
    f.opt("ka.target.name", ev.name());
    if let Some(c) = ev.code() {
        f.text("ka.response.code", &c.to_string());
    }
    f.opt("ka.useragent", ev.user_agent.as_deref());
    f.strs("ka.sourceips", &ev.source_ips);
    f.text("kaudit.rule", &rule.id);
    f.text("kaudit.source", ev.source_id());
    f.text("kaudit.cluster.provider", ev.cluster.provider.id());
    f.opt("kaudit.cluster.name", ev.cluster.name.as_deref());
}
