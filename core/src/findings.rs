//! Detections as SIEM records: one record per rule hit, in the format a
//! consumer asked for (OCSF Detection Finding, ECS alert, Falco payload,
//! SARIF result). The [`crate::scan::Scanner`] calls [`write`] for every hit
//! when its output is set to one of these ([`crate::scan::Scanner::set_findings`]).

use crate::encode::sarif::{self, Kind, Level, Location, LogicalLocation, RuleDescriptor, SarifResult, Tool};
use crate::encode::{ecs, falco, ocsf};
use crate::event::AuditEvent;
use crate::rules::{Rule, RuleSet, Severity};

/// The record written per detection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingFormat {
    /// OCSF Detection Finding (2004), one per line.
    Ocsf,
    /// ECS alert document, one per line.
    Ecs,
    /// Falco payload (falcosidekick input), one per line.
    Falco,
    /// SARIF result objects, comma-separated, to go between
    /// [`sarif_begin`] and [`sarif::end`].
    Sarif,
}

/// What the host knows that the core must not read itself.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// When the findings are made, in epoch milliseconds (OCSF `time`).
    pub created_ms: Option<i64>,
    /// The host's name (Falco `hostname`).
    pub hostname: Option<String>,
}

/// The SARIF level of a rule severity: critical/high → error, medium →
/// warning, low/info → note.
pub fn sarif_level(s: Severity) -> Level {
    match s {
        Severity::Critical | Severity::High => Level::Error,
        Severity::Medium => Level::Warning,
        Severity::Low | Severity::Info => Level::Note,
    }
}

/// Write the SARIF log's opening for `rules` (every rule of the set, so a
/// result's `ruleIndex` is its index in the set).
pub fn sarif_begin(rules: &RuleSet, out: &mut Vec<u8>) {
    let descs: Vec<RuleDescriptor<'_>> = rules
        .rules()
        .iter()
        .map(|r| RuleDescriptor {
            id: &r.id,
            name: None,
            short: &r.title,
            full: Some(r.description.trim()).filter(|d| !d.is_empty()),
            help_uri: crate::encode::reference_url(r),
            level: sarif_level(r.severity),
            tags: &r.tags,
            properties: &[],
        })
        .collect();
    let tool = Tool { name: "kaudit", version: Some(env!("CARGO_PKG_VERSION")), information_uri: None };
    sarif::begin(out, &tool, &descs);
}

/// Write the record for `rule` (index `index` in its set) firing on `ev`.
/// For SARIF, `first` says whether this is the run's first result.
pub fn write(
    format: FindingFormat,
    ev: &AuditEvent<'_>,
    rule: &Rule,
    index: usize,
    ctx: &Context,
    first: bool,
    out: &mut Vec<u8>,
) {
    match format {
        FindingFormat::Ocsf => {
            ocsf::detection_finding(ev, rule, ctx.created_ms, out);
            out.push(b'\n');
        }
        FindingFormat::Ecs => {
            ecs::alert(ev, rule, out);
            out.push(b'\n');
        }
        FindingFormat::Falco => {
            falco::payload(ev, rule, ctx.hostname.as_deref(), ctx.created_ms, out);
            out.push(b'\n');
        }
        FindingFormat::Sarif => {
            write_sarif(ev, rule, index, first, out);
            out.push(b'\n');
        }
    }
}

/// The Kubernetes object as a path: `namespaces/NS/RESOURCE/NAME`,
/// `RESOURCE/NAME`, or what of it the event has.
fn object_path(ev: &AuditEvent<'_>) -> Option<String> {
    let res = match (ev.resource(), ev.subresource()) {
        (Some(r), Some(s)) => Some(format!("{r}/{{name}}/{s}")),
        (Some(r), None) => Some(format!("{r}/{{name}}")),
        _ => None,
    }?;
    let res = match ev.name() {
        Some(n) => res.replace("{name}", n),
        None => res.replace("/{name}", ""),
    };
    Some(match ev.namespace() {
        Some(ns) => format!("namespaces/{ns}/{res}"),
        None => res,
    })
}

fn sarif_message(ev: &AuditEvent<'_>, rule: &Rule, path: Option<&str>) -> String {
    let mut msg = format!(
        "{}: {} {}",
        rule.title,
        ev.username().unwrap_or("(unknown user)"),
        ev.verb.as_deref().unwrap_or("(unknown verb)")
    );
    if let Some(p) = path {
        msg.push(' ');
        msg.push_str(p);
    }
    if let Some(t) = ev.stage_timestamp.as_deref().or(ev.request_received_timestamp.as_deref()) {
        msg.push_str(" at ");
        msg.push_str(t);
    }
    msg
}

fn write_sarif(ev: &AuditEvent<'_>, rule: &Rule, index: usize, first: bool, out: &mut Vec<u8>) {
    let path = object_path(ev);
    let msg = sarif_message(ev, rule, path.as_deref());
    let mut props = vec![("source", ev.source_id().to_string()), ("provider", ev.cluster.provider.id().to_string())];
    let mut push = |k: &'static str, v: Option<&str>| {
        if let Some(v) = v {
            props.push((k, v.to_string()));
        }
    };
    push("severity", Some(rule.severity.as_str()));
    push("cluster", ev.cluster.name.as_deref());
    push("auditID", ev.audit_id.as_deref());
    push("user", ev.username());
    push("verb", ev.verb.as_deref());
    push("time", ev.stage_timestamp.as_deref().or(ev.request_received_timestamp.as_deref()));
    let mut fingerprints = Vec::new();
    if let Some(id) = ev.audit_id.as_deref() {
        fingerprints.push(("kauditEvent/v1", format!("{id}:{}", ev.stage.as_deref().unwrap_or(""))));
    }
    let locations = path
        .as_deref()
        .map(|p| Location {
            uri: None,
            start_line: None,
            logical: vec![LogicalLocation { name: ev.name(), fully_qualified_name: Some(p), kind: Some("resource") }],
        })
        .into_iter()
        .collect();
    let r = SarifResult {
        rule_id: &rule.id,
        rule_index: Some(index),
        level: Some(sarif_level(rule.severity)),
        kind: Some(Kind::Fail),
        message: &msg,
        locations,
        fingerprints,
        properties: props,
    };
    sarif::result(out, &r, first);
}
