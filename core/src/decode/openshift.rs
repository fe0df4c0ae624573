//! OpenShift cluster-logging-operator: OTLP exports and the non-audit parts
//! of the ViaQ `audit` stream (formats.md §9). ViaQ API events themselves are
//! Events with extra keys and are decoded by the leaf (`event.rs`).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::event::known_event_hop;
use super::{raw, raw_str, Ctx, Decoder, Sink, SkipReason, Top, Unit};
use crate::error::Error;
use crate::event::Source;
use crate::json::{Json, Str};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResourceLogs<'a> {
    #[serde(borrow)]
    resource: Option<Attrs<'a>>,
    #[serde(borrow)]
    scope_logs: Option<Vec<ScopeLogs<'a>>>,
}

#[derive(Deserialize)]
struct Attrs<'a> {
    #[serde(borrow)]
    attributes: Option<Vec<KeyValue<'a>>>,
}

#[derive(Deserialize)]
struct KeyValue<'a> {
    #[serde(borrow)]
    key: Str<'a>,
    #[serde(borrow)]
    value: Option<AnyValue<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnyValue<'a> {
    #[serde(borrow)]
    string_value: Option<Str<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScopeLogs<'a> {
    #[serde(borrow)]
    log_records: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogRecord<'a> {
    #[serde(borrow)]
    body: Option<AnyValue<'a>>,
    #[serde(borrow)]
    attributes: Option<Vec<KeyValue<'a>>>,
    #[serde(borrow)]
    observed_time_unix_nano: Option<Json<'a>>,
}

fn attr<'a, 'b>(attrs: &'b [KeyValue<'a>], key: &str) -> Option<&'b Str<'a>> {
    attrs.iter().find(|kv| kv.key == key)?.value.as_ref()?.string_value.as_ref()
}

/// `openshift.log.source` / `log_source` values of the audit stream that are not API events.
pub(crate) const NON_AUDIT_SOURCES: &[&str] = &["ovn", "auditd"];

fn non_audit_source(s: &str) -> bool {
    NON_AUDIT_SOURCES.contains(&s)
}

/// `{"resourceLogs":[{"resource":…,"scopeLogs":[{"logRecords":[…]}]}]}`.
pub(super) fn otlp(dec: &Decoder, rl: Json<'_>, unit: &[u8], ctx: &Ctx<'_>, sink: &mut dyn Sink) {
    let _ = dec;
    let c = ctx.with_source(Source::OpenshiftOtlp);
    let u = Unit { raw: unit, source: c.source };
    let rls: Vec<ResourceLogs<'_>> = match serde_json::from_str(rl.get()) {
        Ok(v) => v,
        Err(e) => return sink.error(u, &Error::json("resourceLogs", &e)),
    };
    let mut seen = 0usize;
    for (ri, rlog) in rls.iter().enumerate() {
        let rattrs = rlog.resource.as_ref().and_then(|r| r.attributes.as_deref()).unwrap_or(&[]);
        let mut rc = c.clone();
        if let Some(id) = attr(rattrs, "openshift.cluster.uid").or_else(|| attr(rattrs, "k8s.cluster.uid")) {
            rc.cluster.id = Some(id.clone());
        }
        let rsource = attr(rattrs, "openshift.log.source").or_else(|| attr(rattrs, "log_source"));
        for (si, sl) in rlog.scope_logs.iter().flatten().enumerate() {
            for (li, rec) in sl.log_records.iter().flatten().enumerate() {
                seen += 1;
                let at = format!("resourceLogs[{ri}].scopeLogs[{si}].logRecords[{li}]");
                let ru = Unit { raw: rec.get().as_bytes(), source: rc.source };
                let lr: LogRecord<'_> = match serde_json::from_str(rec.get()) {
                    Ok(l) => l,
                    Err(e) => {
                        sink.error(ru, &Error::json(at, &e));
                        continue;
                    }
                };
                let lattrs = lr.attributes.as_deref().unwrap_or(&[]);
                let src = attr(lattrs, "openshift.log.source").or(rsource);
                if src.is_some_and(|s| non_audit_source(s)) {
                    sink.skipped(ru, "OpenShift OVN/auditd record (not an API audit event)");
                    continue;
                }
                let mut lc = rc.clone();
                lc.received = raw(lr.observed_time_unix_nano).or(lc.received);
                match lr.body.and_then(|b| b.string_value) {
                    Some(body) => known_event_hop(&body, &format!("{at}.body.stringValue"), ru.raw, &lc, sink),
                    None => {
                        sink.error(ru, &Error::new(crate::Category::Data, format!("{at}.body.stringValue"), "missing"))
                    }
                }
            }
        }
    }
    if seen == 0 {
        sink.skipped(u, "OTLP export without log records");
    }
}

/// A ViaQ record of the `audit` log type that is not an API event (OVN ACL
/// or Linux auditd), or a ViaQ record of another log type.
pub(super) fn viaq_non_audit(top: &Top<'_>) -> Option<SkipReason> {
    let log_type = raw_str(top.log_type)?;
    if top.kind.is_some() || top.audit_id.is_some() {
        return None;
    }
    if log_type != "audit" {
        return Some("OpenShift ViaQ record of a non-audit log type");
    }
    if raw_str(top.log_source).is_some_and(|s| non_audit_source(&s)) {
        return Some("OpenShift OVN/auditd record (not an API audit event)");
    }
    None
}
