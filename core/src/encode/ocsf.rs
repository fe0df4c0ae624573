//! OCSF output: API Activity (class 6003) for every event and Detection
//! Finding (class 2004) for every detection.
//!
//! Mapping (policy-and-iac.md §12.1, after ocsf/examples' EKS mapping, with
//! its documented corrections):
//!
//! * `activity_id`: get/list/watch → 2 Read, create → 1 Create, update/patch →
//!   3 Update, delete/deletecollection → 4 Delete, any other verb → 99 Other
//!   (`activity_name` = the verb), no verb → 0 Unknown.
//! * `src_endpoint.ip` = the **last** `sourceIPs` entry (the connection's
//!   address; earlier entries come from forwarding headers), the others in
//!   `intermediate_ips`. Entries that are not IP addresses are kept in
//!   `unmapped.sourceIPs`, never put in an `ip_t`.
//! * `status_id` from `authorization.k8s.io/decision` (allow → 1, forbid → 2),
//!   else from `kaudit.outcome` (the HTTP code), else 0 Unknown.
//! * `time` = `stageTimestamp`, else `requestReceivedTimestamp`, else the
//!   transport's receive time (`kaudit.received`, also in
//!   `metadata.logged_time`). `start_time` = `requestReceivedTimestamp`.
//! * `cloud` (the cloud profile) only for EKS, AKS and GKE, whose provider is
//!   known from the source.
//!
//! Nothing is invented: a required attribute the event cannot fill is left
//! out and named in `unmapped.kaudit.unavailable`, so a consumer can tell a
//! gap in the source from a bug. Fields without an OCSF home
//! (`impersonatedUser`, `annotations`, the `kaudit` context) go to
//! `unmapped`.

use super::time::{event_micros, ms, received_micros, start_micros};
use super::{annotations, decision, is_ip, object, split_uri, Arr, Obj};
use crate::event::{AuditEvent, Outcome, Provider};
use crate::json::Members;
use crate::rules::{Rule, Severity};

/// The OCSF schema version written in `metadata.version`.
pub const OCSF_VERSION: &str = "1.8.0";

/// `metadata.product` for every record.
const PRODUCT_NAME: &str = "kaudit";
const PRODUCT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Category and class of API Activity.
pub const API_ACTIVITY: (i64, i64) = (6, 6003);
/// Category and class of Detection Finding.
pub const DETECTION_FINDING: (i64, i64) = (2, 2004);

/// The `activity_id` and its caption for a verb.
pub fn activity(verb: Option<&str>) -> (i64, &str) {
    match verb {
        None => (0, "Unknown"),
        Some("get" | "list" | "watch") => (2, "Read"),
        Some("create") => (1, "Create"),
        Some("update" | "patch") => (3, "Update"),
        Some("delete" | "deletecollection") => (4, "Delete"),
        Some(other) => (99, other),
    }
}

/// OCSF `severity_id` and caption for a rule severity.
pub fn severity(s: Severity) -> (i64, &'static str) {
    match s {
        Severity::Info => (1, "Informational"),
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

fn status(ev: &AuditEvent<'_>, ann: &Members<'_>) -> (i64, &'static str) {
    match decision(ann).unwrap_or(ev.outcome) {
        Outcome::Success => (1, "Success"),
        Outcome::Failure => (2, "Failure"),
        Outcome::Unknown => (0, "Unknown"),
    }
}

fn cloud_provider(p: Provider) -> Option<&'static str> {
    match p {
        Provider::Eks => Some("AWS"),
        Provider::Aks => Some("Azure"),
        Provider::Gke => Some("GCP"),
        Provider::Kubernetes | Provider::Openshift => None,
    }
}

/// Required attributes that could not be filled, for `unmapped.kaudit.unavailable`.
#[derive(Default)]
struct Gaps(Vec<&'static str>);

/// Write one API Activity (6003) record for `ev`.
pub fn api_activity(ev: &AuditEvent<'_>, out: &mut Vec<u8>) {
    let ann = annotations(ev);
    let mut gaps = Gaps::default();
    let (act, act_name) = activity(ev.verb.as_deref());
    object(out, |w| {
        classification(w, API_ACTIVITY, "Application Activity", "API Activity", act, act_name);
        w.int("severity_id", 1);
        w.text("severity", "Informational");
        let (st, st_name) = status(ev, &ann);
        w.int("status_id", st);
        w.text("status", st_name);
        if let Some(c) = ev.code() {
            w.text("status_code", &c.to_string());
        }
        times(ev, w, &mut gaps);
        if let Some(t) = start_micros(ev) {
            w.int("start_time", ms(t));
        }
        w.opt("message", ev.stage.as_deref());
        metadata(ev, w, None);
        if !actor(ev, w) {
            gaps.0.push("actor");
        }
        if !api(ev, w, true) {
            gaps.0.push("api");
        }
        let bad_ips = src_endpoint(ev, w);
        if !has_endpoint(ev) {
            gaps.0.push("src_endpoint");
        }
        http_request(ev, w);
        if let Some(c) = ev.code() {
            w.obj("http_response", |h| h.int("code", c));
        }
        resources(ev, w);
        cloud(ev, w);
        unmapped(ev, w, &gaps, bad_ips);
    });
}

/// Write one Detection Finding (2004) record: `rule` fired on `ev`.
/// `created_ms` is when the finding was made (the host's clock); without
/// it, the event's time is used.
pub fn detection_finding(ev: &AuditEvent<'_>, rule: &Rule, created_ms: Option<i64>, out: &mut Vec<u8>) {
    let mut gaps = Gaps::default();
    let event_ms = event_micros(ev).or_else(|| received_micros(ev)).map(ms);
    object(out, |w| {
        classification(w, DETECTION_FINDING, "Findings", "Detection Finding", 1, "Create");
        let (sev, sev_name) = severity(rule.severity);
        w.int("severity_id", sev);
        w.text("severity", sev_name);
        w.int("status_id", 1);
        w.text("status", "New");
        w.json("is_alert", "true");
        match created_ms.or(event_ms) {
            Some(t) => w.int("time", t),
            None => gaps.0.push("time"),
        }
        if let Some(t) = event_ms {
            w.int("start_time", t);
            w.int("end_time", t);
        }
        w.text("message", &rule.title);
        metadata(ev, w, Some(rule));
        w.obj("finding_info", |f| {
            f.text("uid", &finding_uid(ev, rule));
            f.text("title", &rule.title);
            if !rule.description.is_empty() {
                f.text("desc", rule.description.trim());
            }
            f.obj("analytic", |a| {
                a.text("uid", &rule.id);
                a.text("name", &rule.id);
                a.int("type_id", 1);
                a.text("type", "Rule");
            });
            if let Some(t) = created_ms {
                f.int("created_time", t);
            }
            if let Some(t) = event_ms {
                f.int("first_seen_time", t);
                f.int("last_seen_time", t);
            }
            f.arr("attacks", |a| attacks(&rule.tags, a));
            f.arr("types", |a| rule.tags.iter().for_each(|t| a.str(t)));
            f.opt("src_url", super::reference_url(rule));
        });
        resources(ev, w);
        w.arr("evidences", |a| {
            a.obj(|e| {
                actor(ev, e);
                api(ev, e, false);
                src_endpoint(ev, e);
                http_request(ev, e);
            })
        });
        cloud(ev, w);
        unmapped(ev, w, &gaps, false);
    });
}

/// A stable id for one detection: the rule, the event's `auditID` and stage
/// (the same request is logged once per stage), or a hash of the event's
/// canonical text when it has no `auditID`.
fn finding_uid(ev: &AuditEvent<'_>, rule: &Rule) -> String {
    match ev.audit_id.as_deref() {
        Some(id) => format!("{}:{}:{}", rule.id, id, ev.stage.as_deref().unwrap_or("")),
        None => {
            let mut text = Vec::new();
            super::canonical(ev, &mut text);
            // FNV-1a, 64 bits: deterministic and dependency-free.
            let h =
                text.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
            format!("{}:fnv1a64:{h:016x}", rule.id)
        }
    }
}

/// MITRE ATT&CK technique ids from `attack.t1234` / `attack.t1234.001` tags.
fn attacks(tags: &[String], a: &mut Arr<'_>) {
    for t in tags {
        let Some(id) = t.strip_prefix("attack.t") else { continue };
        let (tech, sub) = match id.split_once('.') {
            Some((t, s)) => (t, Some(s)),
            None => (id, None),
        };
        if tech.is_empty() || !tech.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        a.obj(|o| {
            o.obj("technique", |x| x.text("uid", &format!("T{tech}")));
            if let Some(s) = sub.filter(|s| s.bytes().all(|b| b.is_ascii_digit())) {
                o.obj("sub_technique", |x| x.text("uid", &format!("T{tech}.{s}")));
            }
        });
    }
}

fn classification(
    w: &mut Obj<'_>,
    (cat, class): (i64, i64),
    cat_name: &str,
    class_name: &str,
    act: i64,
    act_name: &str,
) {
    w.int("category_uid", cat);
    w.text("category_name", cat_name);
    w.int("class_uid", class);
    w.text("class_name", class_name);
    w.int("activity_id", act);
    w.text("activity_name", act_name);
    w.int("type_uid", class * 100 + act);
    w.text("type_name", &format!("{class_name}: {act_name}"));
}

fn times(ev: &AuditEvent<'_>, w: &mut Obj<'_>, gaps: &mut Gaps) {
    match event_micros(ev).or_else(|| received_micros(ev)) {
        Some(t) => w.int("time", ms(t)),
        None => gaps.0.push("time"),
    }
}

fn metadata(ev: &AuditEvent<'_>, w: &mut Obj<'_>, rule: Option<&Rule>) {
    w.obj("metadata", |m| {
        m.text("version", OCSF_VERSION);
        m.obj("product", |p| {
            p.text("name", PRODUCT_NAME);
            p.text("vendor_name", PRODUCT_NAME);
            p.text("version", PRODUCT_VERSION);
        });
        if cloud_provider(ev.cluster.provider).is_some() {
            m.arr("profiles", |a| a.str("cloud"));
        }
        m.opt("log_level", ev.level.as_deref());
        m.text("log_provider", ev.source_id());
        m.opt("correlation_uid", ev.audit_id.as_deref());
        m.opt("original_time", ev.stage_timestamp.as_deref().or(ev.request_received_timestamp.as_deref()));
        if let Some(t) = received_micros(ev) {
            m.int("logged_time", ms(t));
        }
        if let Some(r) = rule {
            m.arr("labels", |a| a.str(&format!("kaudit.rule:{}", r.id)));
        }
    });
}

fn actor(ev: &AuditEvent<'_>, w: &mut Obj<'_>) -> bool {
    w.obj("actor", |a| {
        if let Some(u) = &ev.user {
            a.obj("user", |o| {
                o.opt("name", u.username.as_deref());
                o.opt("uid", u.uid.as_deref());
                if let Some(gs) = &u.groups {
                    o.arr("groups", |arr| gs.iter().for_each(|g| arr.obj(|x| x.text("name", g))));
                }
            });
            // EKS IAM identity (ocsf/examples' mapping of user.extra).
            let extra: Members<'_> =
                u.extra.as_ref().and_then(|e| serde_json::from_str(e.get()).ok()).unwrap_or_default();
            let first = |k: &str| -> Option<String> {
                let v: Vec<crate::json::Str<'_>> = serde_json::from_str(extra.get(k)?.get()).ok()?;
                v.first().map(|s| s.as_str().to_owned())
            };
            let (key, arn, session) = (first("accessKeyId"), first("canonicalArn"), first("sessionName"));
            a.obj("session", |s| {
                s.opt("credential_uid", key.as_deref());
                s.opt("issuer", arn.as_deref());
                s.opt("uid", session.as_deref());
            });
        }
        a.opt("app_name", ev.user_agent.as_deref());
    })
}

/// Write `api`, whose `operation` (the verb) is required: without a verb the
/// object is left out (its request id is also `metadata.correlation_uid`,
/// its response in `status_code` / `http_response`). Returns whether written.
fn api(ev: &AuditEvent<'_>, w: &mut Obj<'_>, bodies: bool) -> bool {
    let Some(verb) = ev.verb.as_deref() else { return false };
    w.obj("api", |a| {
        a.text("operation", verb);
        a.obj("request", |r| {
            r.opt("uid", ev.audit_id.as_deref());
            if bodies {
                if let Some(b) = &ev.request_object {
                    r.json("data", b.get());
                }
            }
        });
        if let Some(s) = &ev.response_status {
            a.obj("response", |r| {
                if let Some(c) = s.code {
                    r.int("code", c);
                }
                r.opt("message", s.message.as_deref());
                r.opt("error", s.reason.as_deref());
                r.opt("error_message", s.status.as_deref());
                if bodies {
                    if let Some(b) = &ev.response_object {
                        r.json("data", b.get());
                    }
                }
            });
        }
        if let Some(o) = &ev.object_ref {
            a.obj("group", |g| g.opt("name", o.api_group.as_deref().filter(|g| !g.is_empty())));
            a.opt("version", o.api_version.as_deref());
        }
    })
}

fn has_endpoint(ev: &AuditEvent<'_>) -> bool {
    ev.source_ips.as_ref().is_some_and(|ips| ips.iter().any(|ip| is_ip(ip)))
}

/// Write `src_endpoint`; returns whether some `sourceIPs` entry was not an IP.
fn src_endpoint(ev: &AuditEvent<'_>, w: &mut Obj<'_>) -> bool {
    let Some(ips) = &ev.source_ips else { return false };
    let good: Vec<&str> = ips.iter().map(|s| s.as_str()).filter(|s| is_ip(s)).collect();
    w.obj("src_endpoint", |e| {
        if let Some((last, rest)) = good.split_last() {
            e.text("ip", last);
            e.arr("intermediate_ips", |a| rest.iter().for_each(|ip| a.str(ip)));
        }
    });
    good.len() != ips.len()
}

fn http_request(ev: &AuditEvent<'_>, w: &mut Obj<'_>) {
    w.obj("http_request", |h| {
        if let Some(uri) = ev.request_uri.as_deref() {
            let (path, query) = split_uri(uri);
            h.obj("url", |u| {
                u.text("path", path);
                u.opt("query_string", query);
            });
        }
        h.opt("user_agent", ev.user_agent.as_deref());
    });
}

fn resources(ev: &AuditEvent<'_>, w: &mut Obj<'_>) {
    let Some(o) = &ev.object_ref else { return };
    if o.resource.is_none() && o.name.is_none() && o.uid.is_none() {
        return;
    }
    w.arr("resources", |a| {
        a.obj(|r| {
            match (o.resource.as_deref(), o.subresource.as_deref()) {
                (Some(res), Some(sub)) => r.text("type", &format!("{res}/{sub}")),
                (Some(res), None) => r.text("type", res),
                _ => {}
            }
            r.opt("name", o.name.as_deref());
            r.opt("uid", o.uid.as_deref());
            r.opt("namespace", o.namespace.as_deref());
            r.opt("version", o.resource_version.as_deref());
            if let Some(g) = o.api_group.as_deref().filter(|g| !g.is_empty()) {
                r.obj("group", |x| x.text("name", g));
            }
        })
    });
}

fn cloud(ev: &AuditEvent<'_>, w: &mut Obj<'_>) {
    let Some(p) = cloud_provider(ev.cluster.provider) else { return };
    let c = &ev.cluster;
    w.obj("cloud", |o| {
        o.text("provider", p);
        o.opt("region", c.region.as_deref());
        if let Some(a) = c.account.as_deref() {
            o.obj("account", |x| x.text("uid", a));
        }
    });
}

fn unmapped(ev: &AuditEvent<'_>, w: &mut Obj<'_>, gaps: &Gaps, bad_ips: bool) {
    w.obj("unmapped", |u| {
        if bad_ips {
            u.strs("sourceIPs", &ev.source_ips);
        }
        if let Some(iu) = &ev.impersonated_user {
            u.key("impersonatedUser");
            super::user(iu, u.out);
        }
        if let Some(a) = &ev.annotations {
            u.json("annotations", a.get());
        }
        u.obj("kaudit", |k| {
            k.text("source", ev.source_id());
            let c = &ev.cluster;
            k.obj("cluster", |x| {
                x.text("provider", c.provider.id());
                x.opt("name", c.name.as_deref());
                x.opt("region", c.region.as_deref());
                x.opt("account", c.account.as_deref());
                x.opt("id", c.id.as_deref());
            });
            k.key("missing");
            super::str_array(k.out, ev.missing.iter().map(|f| f.path()));
            k.text("outcome", ev.outcome.id());
            k.arr("flags", |a| {
                if ev.flags.truncated {
                    a.str("truncated");
                }
                if ev.flags.body_too_big {
                    a.str("body-too-big");
                }
            });
            k.arr("unavailable", |a| gaps.0.iter().for_each(|g| a.str(g)));
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbs_map_to_activities() {
        assert_eq!(activity(Some("list")), (2, "Read"));
        assert_eq!(activity(Some("deletecollection")), (4, "Delete"));
        assert_eq!(activity(Some("patch")), (3, "Update"));
        assert_eq!(activity(Some("impersonate")), (99, "impersonate"));
        assert_eq!(activity(None), (0, "Unknown"));
    }
}
