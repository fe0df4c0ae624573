//! Elastic Common Schema output: the `kubernetes.audit.*` layout of Elastic's
//! `kubernetes.audit_logs` data stream plus the ECS core fields its pipeline
//! sets (policy-and-iac.md §12.3; field names only — Elastic's files are
//! Elastic License 2.0 and nothing of them is copied here).
//!
//! * `kubernetes.audit.*`: the Event with its own key names. As in Elastic's
//!   pipeline, dots in `annotations` and `user.extra` keys become `_`, and
//!   the `metadata` member of `requestObject`/`responseObject` is dropped (its
//!   dotted label and annotation keys would clash in an Elasticsearch
//!   mapping). The canonical output keeps all of it.
//! * `event.kind` `event` (`alert` for detections), `event.action` ← verb,
//!   `event.outcome` ← `authorization.k8s.io/decision` (allow → success,
//!   forbid → failure) as Elastic does, else `kaudit.outcome`; `event.id` ←
//!   `auditID`; `event.start`/`event.end` ← `requestReceivedTimestamp` /
//!   `stageTimestamp`; `@timestamp` ← `stageTimestamp`, else
//!   `requestReceivedTimestamp`, else the transport's receive time (left out
//!   when there is none).
//! * `user.*` ← `user`, `user.effective.*` ← `impersonatedUser`;
//!   `source.ip` ← the last `sourceIPs` entry (the connection), `client.ip` ←
//!   the first (the originating client as forwarded), `related.ip` ← all;
//!   `user_agent.original`, `url.*`, `http.response.status_code`;
//!   `orchestrator.*` ← `objectRef` and the cluster; `cloud.*` for EKS, AKS,
//!   GKE.
//! * `kaudit.*`: source, cluster, missing fields, outcome, flags.

use super::time::{event_micros, received_micros, start_micros, write_rfc3339};
use super::{annotations, decision, is_ip, object, split_uri, Obj};
use crate::event::{AuditEvent, Provider, UserInfo};
use crate::json::{without_keys, write_raw, write_str, Members, Raw};
use crate::rules::{Rule, Severity};

/// The ECS version written in `ecs.version`.
pub const ECS_VERSION: &str = "8.11.0";

/// Write one ECS document for `ev`.
pub fn event(ev: &AuditEvent<'_>, out: &mut Vec<u8>) {
    object(out, |w| body(ev, None, w));
}

/// Write one ECS alert document: `rule` fired on `ev` (`event.kind: alert`,
/// `rule.*`, `event.severity`, `tags`, `threat.*` from ATT&CK tags).
pub fn alert(ev: &AuditEvent<'_>, rule: &Rule, out: &mut Vec<u8>) {
    object(out, |w| body(ev, Some(rule), w));
}

/// `event.severity` for a rule severity (ECS leaves the scale to the source:
/// 1 info … 5 critical).
pub fn severity(s: Severity) -> i64 {
    match s {
        Severity::Info => 1,
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

fn cloud_provider(p: Provider) -> Option<&'static str> {
    match p {
        Provider::Eks => Some("aws"),
        Provider::Aks => Some("azure"),
        Provider::Gke => Some("gcp"),
        Provider::Kubernetes | Provider::Openshift => None,
    }
}

fn time_member(w: &mut Obj<'_>, k: &str, t: Option<i64>) {
    if let Some(t) = t {
        w.key(k);
        write_rfc3339(w.out, t);
    }
}

fn body(ev: &AuditEvent<'_>, rule: Option<&Rule>, w: &mut Obj<'_>) {
    let ann = annotations(ev);
    time_member(w, "@timestamp", event_micros(ev).or_else(|| received_micros(ev)));
    w.obj("ecs", |e| e.text("version", ECS_VERSION));
    w.obj("event", |e| {
        e.text("kind", if rule.is_some() { "alert" } else { "event" });
        e.text("module", "kubernetes");
        e.text("dataset", "kubernetes.audit_logs");
        e.opt("action", ev.verb.as_deref());
        e.text("outcome", decision(&ann).unwrap_or(ev.outcome).id());
        e.opt("id", ev.audit_id.as_deref());
        time_member(e, "start", start_micros(ev));
        time_member(e, "end", ev.stage_timestamp.as_deref().and_then(crate::rules::state::parse_time));
        if let Some(r) = rule {
            e.int("severity", severity(r.severity));
        }
    });
    if let Some(r) = rule {
        w.obj("rule", |o| {
            o.text("id", &r.id);
            o.text("name", &r.title);
            if !r.description.is_empty() {
                o.text("description", r.description.trim());
            }
            o.text("ruleset", "kaudit");
            o.opt("reference", super::reference_url(r));
        });
        w.arr("tags", |a| r.tags.iter().for_each(|t| a.str(t)));
        threat(&r.tags, w);
    }
    if let Some(u) = &ev.user {
        w.obj("user", |o| {
            ecs_user(u, o);
            if let Some(iu) = &ev.impersonated_user {
                o.obj("effective", |x| ecs_user(iu, x));
            }
        });
    }
    let ips: Vec<&str> = ev.source_ips.iter().flatten().map(|s| s.as_str()).filter(|s| is_ip(s)).collect();
    if let (Some(first), Some(last)) = (ips.first(), ips.last()) {
        w.obj("source", |s| s.text("ip", last));
        w.obj("client", |s| s.text("ip", first));
    }
    w.obj("related", |r| {
        r.arr("ip", |a| ips.iter().for_each(|ip| a.str(ip)));
        r.arr("user", |a| {
            for u in [&ev.user, &ev.impersonated_user].into_iter().flatten() {
                if let Some(n) = u.username.as_deref() {
                    a.str(n);
                }
            }
        });
    });
    w.obj("user_agent", |u| u.opt("original", ev.user_agent.as_deref()));
    if let Some(uri) = ev.request_uri.as_deref() {
        let (path, query) = split_uri(uri);
        w.obj("url", |u| {
            u.text("original", uri);
            u.text("path", path);
            u.opt("query", query);
        });
    }
    if let Some(c) = ev.code() {
        w.obj("http", |h| {
            h.obj("response", |r| r.int("status_code", c));
        });
    }
    orchestrator(ev, w);
    if let Some(p) = cloud_provider(ev.cluster.provider) {
        let c = &ev.cluster;
        w.obj("cloud", |o| {
            o.text("provider", p);
            o.opt("region", c.region.as_deref());
            if let Some(a) = c.account.as_deref() {
                o.obj("account", |x| x.text("id", a));
            }
        });
    }
    w.obj("kubernetes", |k| {
        k.obj("audit", |a| audit(ev, a));
    });
    w.obj("kaudit", |k| {
        k.text("source", ev.source_id());
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
    });
}

fn ecs_user(u: &UserInfo<'_>, o: &mut Obj<'_>) {
    o.opt("name", u.username.as_deref());
    o.opt("id", u.uid.as_deref());
    if let Some(gs) = &u.groups {
        o.obj("group", |g| {
            g.arr("name", |a| gs.iter().for_each(|x| a.str(x)));
        });
    }
}

fn threat(tags: &[String], w: &mut Obj<'_>) {
    let ids: Vec<&str> = tags.iter().filter_map(|t| t.strip_prefix("attack.t")).collect();
    let tech: Vec<String> = ids
        .iter()
        .map(|i| i.split('.').next().unwrap_or(""))
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .map(|t| format!("T{t}"))
        .collect();
    let sub: Vec<String> = ids
        .iter()
        .filter(|i| i.contains('.') && i.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .map(|i| format!("T{i}"))
        .collect();
    if tech.is_empty() {
        return;
    }
    w.obj("threat", |t| {
        t.text("framework", "MITRE ATT&CK");
        t.obj("technique", |x| {
            x.arr("id", |a| tech.iter().for_each(|s| a.str(s)));
            x.obj("subtechnique", |y| {
                y.arr("id", |a| sub.iter().for_each(|s| a.str(s)));
            });
        });
    });
}

fn orchestrator(ev: &AuditEvent<'_>, w: &mut Obj<'_>) {
    let c = &ev.cluster;
    w.obj("orchestrator", |o| {
        o.text("type", "kubernetes");
        o.obj("cluster", |x| {
            x.opt("name", c.name.as_deref());
            x.opt("id", c.id.as_deref());
        });
        if let Some(r) = &ev.object_ref {
            o.opt("namespace", r.namespace.as_deref());
            o.obj("resource", |x| {
                match (r.resource.as_deref(), r.subresource.as_deref()) {
                    (Some(res), Some(sub)) => x.text("type", &format!("{res}/{sub}")),
                    (Some(res), None) => x.text("type", res),
                    _ => {}
                }
                x.opt("name", r.name.as_deref());
                x.opt("id", r.uid.as_deref());
            });
            match (r.api_group.as_deref().filter(|g| !g.is_empty()), r.api_version.as_deref()) {
                (Some(g), Some(v)) => o.text("api_version", &format!("{g}/{v}")),
                (None, Some(v)) => o.text("api_version", v),
                _ => {}
            }
        }
    });
}

/// A `map[string]…` with dots in keys replaced by `_`, values as they are.
fn undotted(w: &mut Obj<'_>, k: &str, raw: &Raw<'_>) {
    let Ok(m) = serde_json::from_str::<Members<'_>>(raw.get()) else {
        w.json(k, raw.get());
        return;
    };
    w.key(k);
    w.out.push(b'{');
    for (i, (key, v)) in m.0.iter().enumerate() {
        if i > 0 {
            w.out.push(b',');
        }
        write_str(w.out, &key.replace('.', "_"));
        w.out.push(b':');
        write_raw(w.out, v.get());
    }
    w.out.push(b'}');
}

fn audit_user(w: &mut Obj<'_>, k: &str, u: &UserInfo<'_>) {
    w.obj(k, |o| {
        o.str("username", &u.username);
        o.str("uid", &u.uid);
        o.strs("groups", &u.groups);
        if let Some(e) = &u.extra {
            undotted(o, "extra", e);
        }
    });
}

fn body_member(w: &mut Obj<'_>, k: &str, b: &Option<Raw<'_>>) {
    if let Some(b) = b {
        w.json(k, &without_keys(b.get(), &["metadata"]));
    }
}

fn audit(ev: &AuditEvent<'_>, w: &mut Obj<'_>) {
    w.str("kind", &ev.kind);
    w.str("apiVersion", &ev.api_version);
    w.str("level", &ev.level);
    w.str("auditID", &ev.audit_id);
    w.str("stage", &ev.stage);
    w.str("requestURI", &ev.request_uri);
    w.str("verb", &ev.verb);
    if let Some(u) = &ev.user {
        audit_user(w, "user", u);
    }
    if let Some(u) = &ev.impersonated_user {
        audit_user(w, "impersonatedUser", u);
    }
    w.strs("sourceIPs", &ev.source_ips);
    w.str("userAgent", &ev.user_agent);
    if let Some(o) = &ev.object_ref {
        w.obj("objectRef", |r| {
            r.str("resource", &o.resource);
            r.str("namespace", &o.namespace);
            r.str("name", &o.name);
            r.str("uid", &o.uid);
            r.str("apiGroup", &o.api_group);
            r.str("apiVersion", &o.api_version);
            r.str("resourceVersion", &o.resource_version);
            r.str("subresource", &o.subresource);
        });
    }
    if let Some(s) = &ev.response_status {
        w.obj("responseStatus", |r| {
            if let Some(c) = s.code {
                r.int("code", c);
            }
            r.str("status", &s.status);
            r.str("message", &s.message);
            r.str("reason", &s.reason);
        });
    }
    body_member(w, "requestObject", &ev.request_object);
    body_member(w, "responseObject", &ev.response_object);
    w.str("requestReceivedTimestamp", &ev.request_received_timestamp);
    w.str("stageTimestamp", &ev.stage_timestamp);
    if let Some(a) = &ev.annotations {
        undotted(w, "annotations", a);
    }
}
