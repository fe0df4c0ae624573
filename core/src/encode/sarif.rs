//! A generic SARIF 2.1.0 writer: one run of one tool, its rules, results and
//! locations (OASIS SARIF v2.1.0; policy-and-iac.md §12.5). Nothing here
//! knows about detections: `kaudit scan` feeds it rule hits, and posture
//! checks (policy lint, IaC) can feed it their findings the same way.
//!
//! The log is streamed: [`begin`] writes everything up to the results array
//! (tool, driver, rules), [`result`] writes one result, [`end`] closes the
//! array and writes the invocation. A result's `ruleIndex` is the index of
//! its rule in the slice given to [`begin`].

use super::{object, Obj};
use crate::json::write_str;

/// The schema URI written in `$schema`.
pub const SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// `result.level` / `defaultConfiguration.level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    None,
    Note,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Note => "note",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// `result.kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    NotApplicable,
    Pass,
    Fail,
    Review,
    Open,
    Informational,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NotApplicable => "notApplicable",
            Kind::Pass => "pass",
            Kind::Fail => "fail",
            Kind::Review => "review",
            Kind::Open => "open",
            Kind::Informational => "informational",
        }
    }
}

/// The tool: `runs[0].tool.driver`.
#[derive(Clone, Debug, Default)]
pub struct Tool<'a> {
    pub name: &'a str,
    pub version: Option<&'a str>,
    pub information_uri: Option<&'a str>,
}

/// A rule (`reportingDescriptor`).
#[derive(Clone, Debug)]
pub struct RuleDescriptor<'a> {
    pub id: &'a str,
    /// A short human name (`name`).
    pub name: Option<&'a str>,
    /// `shortDescription.text`.
    pub short: &'a str,
    /// `fullDescription.text`.
    pub full: Option<&'a str>,
    pub help_uri: Option<&'a str>,
    /// `defaultConfiguration.level`.
    pub level: Level,
    /// `properties.tags`.
    pub tags: &'a [String],
    /// Extra string properties (`properties.<key>`), e.g. a severity.
    pub properties: &'a [(&'a str, &'a str)],
}

/// A logical location (a Kubernetes object, a Terraform address …).
#[derive(Clone, Debug, Default)]
pub struct LogicalLocation<'a> {
    pub name: Option<&'a str>,
    pub fully_qualified_name: Option<&'a str>,
    /// E.g. `resource`, `namespace`, `module`.
    pub kind: Option<&'a str>,
}

/// A location: a file (and line), logical locations, or both.
#[derive(Clone, Debug, Default)]
pub struct Location<'a> {
    pub uri: Option<&'a str>,
    /// 1-based.
    pub start_line: Option<u64>,
    pub logical: Vec<LogicalLocation<'a>>,
}

/// One result.
#[derive(Clone, Debug)]
pub struct SarifResult<'a> {
    pub rule_id: &'a str,
    /// Index into the rules given to [`begin`].
    pub rule_index: Option<usize>,
    pub level: Option<Level>,
    pub kind: Option<Kind>,
    pub message: &'a str,
    pub locations: Vec<Location<'a>>,
    /// `partialFingerprints` (stable identity across runs).
    pub fingerprints: Vec<(&'a str, String)>,
    /// `properties.<key>` strings.
    pub properties: Vec<(&'a str, String)>,
}

/// Write the log's opening: `{"$schema", "version", "runs":[{"tool":…,"results":[`.
pub fn begin(out: &mut Vec<u8>, tool: &Tool<'_>, rules: &[RuleDescriptor<'_>]) {
    out.extend_from_slice(b"{\"$schema\":");
    write_str(out, SCHEMA);
    out.extend_from_slice(b",\"version\":\"2.1.0\",\"runs\":[{\"tool\":{\"driver\":");
    object(out, |d| {
        d.text("name", tool.name);
        d.opt("version", tool.version);
        d.opt("informationUri", tool.information_uri);
        d.key("rules");
        d.out.push(b'[');
        for (i, r) in rules.iter().enumerate() {
            if i > 0 {
                d.out.push(b',');
            }
            object(d.out, |o| rule(r, o));
        }
        d.out.push(b']');
    });
    out.extend_from_slice(b"},\"results\":[");
}

fn rule(r: &RuleDescriptor<'_>, o: &mut Obj<'_>) {
    o.text("id", r.id);
    o.opt("name", r.name);
    o.obj("shortDescription", |x| x.text("text", r.short));
    if let Some(f) = r.full {
        o.obj("fullDescription", |x| x.text("text", f));
    }
    o.opt("helpUri", r.help_uri);
    o.obj("defaultConfiguration", |x| x.text("level", r.level.as_str()));
    o.obj("properties", |p| {
        p.arr("tags", |a| r.tags.iter().for_each(|t| a.str(t)));
        for (k, v) in r.properties {
            p.text(k, v);
        }
    });
}

/// Write one result; `first` is whether it is the first of the run.
pub fn result(out: &mut Vec<u8>, r: &SarifResult<'_>, first: bool) {
    if !first {
        out.push(b',');
    }
    object(out, |o| {
        o.text("ruleId", r.rule_id);
        if let Some(i) = r.rule_index {
            o.int("ruleIndex", i as i64);
        }
        if let Some(l) = r.level {
            o.text("level", l.as_str());
        }
        if let Some(k) = r.kind {
            o.text("kind", k.as_str());
        }
        o.obj("message", |m| m.text("text", r.message));
        o.key("locations");
        o.out.push(b'[');
        for (i, l) in r.locations.iter().enumerate() {
            if i > 0 {
                o.out.push(b',');
            }
            object(o.out, |x| location(l, x));
        }
        o.out.push(b']');
        o.obj("partialFingerprints", |p| r.fingerprints.iter().for_each(|(k, v)| p.text(k, v)));
        o.obj("properties", |p| r.properties.iter().for_each(|(k, v)| p.text(k, v)));
    });
}

fn location(l: &Location<'_>, o: &mut Obj<'_>) {
    if let Some(uri) = l.uri {
        o.obj("physicalLocation", |p| {
            p.obj("artifactLocation", |a| a.text("uri", uri));
            if let Some(n) = l.start_line {
                p.obj("region", |r| r.int("startLine", n as i64));
            }
        });
    }
    o.arr("logicalLocations", |a| {
        for ll in &l.logical {
            a.obj(|x| {
                x.opt("name", ll.name);
                x.opt("fullyQualifiedName", ll.fully_qualified_name);
                x.opt("kind", ll.kind);
            });
        }
    });
}

/// A tool notification (`toolExecutionNotifications[]`), e.g. input that
/// could not be read.
#[derive(Clone, Debug)]
pub struct Notification<'a> {
    pub level: Level,
    pub message: &'a str,
}

/// Close the results and the log, with one invocation.
pub fn end(out: &mut Vec<u8>, successful: bool, notes: &[Notification<'_>]) {
    out.extend_from_slice(b"],\"invocations\":[");
    object(out, |o| {
        o.json("executionSuccessful", if successful { "true" } else { "false" });
        o.arr("toolExecutionNotifications", |a| {
            for n in notes {
                a.obj(|x| {
                    x.text("level", n.level.as_str());
                    x.obj("message", |m| m.text("text", n.message));
                });
            }
        });
    });
    out.extend_from_slice(b"]}]}");
}
