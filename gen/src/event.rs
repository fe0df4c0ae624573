//! The event model: one generated audit event and its renderings.

use std::fmt::Write as _;

use crate::gojson::{json_obj, obj, rfc3339};
use crate::rng::Rng;

/// The traffic class an event was drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    Lease,
    Endpoints,
    ListWatch,
    NodeStatus,
    PodCreate,
    Human,
    Anonymous,
    Review,
}

impl Class {
    /// Every class with its weight in the mix (weights add up to 100).
    pub const MIX: [(Class, u64); 8] = [
        (Class::Lease, 40),
        (Class::Endpoints, 17),
        (Class::ListWatch, 22),
        (Class::NodeStatus, 8),
        (Class::PodCreate, 4),
        (Class::Human, 5),
        (Class::Anonymous, 1),
        (Class::Review, 3),
    ];
}

#[derive(Clone, Debug, Default)]
pub(crate) struct User {
    pub(crate) username: Option<String>,
    pub(crate) uid: Option<String>,
    pub(crate) groups: Vec<String>,
    /// `map[string][]string`, keys sorted as Go writes them.
    pub(crate) extra: Vec<(&'static str, String)>,
}

#[derive(Clone, Debug)]
pub(crate) struct ObjectRef {
    pub(crate) resource: &'static str,
    pub(crate) namespace: Option<String>,
    pub(crate) name: Option<String>,
    /// `None` for the core group (Go's omitempty).
    pub(crate) api_group: Option<&'static str>,
    pub(crate) api_version: &'static str,
    pub(crate) subresource: Option<&'static str>,
}

impl ObjectRef {
    /// A `v1` reference without a subresource.
    pub(crate) fn new(
        resource: &'static str,
        namespace: Option<String>,
        name: Option<String>,
        api_group: Option<&'static str>,
    ) -> Self {
        ObjectRef { resource, namespace, name, api_group, api_version: "v1", subresource: None }
    }

    pub(crate) fn version(mut self, v: &'static str) -> Self {
        self.api_version = v;
        self
    }

    pub(crate) fn sub(mut self, s: &'static str) -> Self {
        self.subresource = Some(s);
        self
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Status {
    pub(crate) code: i64,
    pub(crate) status: Option<&'static str>,
    pub(crate) message: Option<String>,
    pub(crate) reason: Option<&'static str>,
    /// Raw JSON of `details`.
    pub(crate) details: Option<String>,
}

impl Status {
    pub(crate) fn ok(code: i64) -> Self {
        Status { code, status: None, message: None, reason: None, details: None }
    }
    pub(crate) fn failure(code: i64, reason: &'static str, message: String, details: Option<String>) -> Self {
        Status { code, status: Some("Failure"), message: Some(message), reason: Some(reason), details }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Body {
    /// The `@type` GKE puts into `request`/`response`.
    pub(crate) gke_type: &'static str,
    pub(crate) json: String,
}

/// One generated audit event.
#[derive(Clone, Debug)]
pub struct Event {
    pub class: Class,
    pub(crate) level: &'static str,
    pub(crate) audit_id: String,
    pub(crate) stage: &'static str,
    pub(crate) request_uri: String,
    pub(crate) verb: &'static str,
    pub(crate) user: User,
    pub(crate) source_ip: String,
    pub(crate) user_agent: String,
    pub(crate) object_ref: Option<ObjectRef>,
    pub(crate) status: Status,
    pub(crate) request_object: Option<Body>,
    pub(crate) response_object: Option<Body>,
    pub(crate) received_ns: i64,
    pub(crate) stage_ns: i64,
    /// Audit annotations, keys sorted.
    pub(crate) annotations: Vec<(&'static str, String)>,
}

impl Event {
    /// The apiserver's `auditID`.
    pub fn audit_id(&self) -> &str {
        &self.audit_id
    }

    /// `stageTimestamp` in Unix milliseconds.
    pub fn stage_ms(&self) -> i64 {
        self.stage_ns / 1_000_000
    }

    /// The log-backend line (no trailing newline).
    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(1024);
        obj(&mut s, |o| {
            o.str("kind", "Event")
                .str("apiVersion", "audit.k8s.io/v1")
                .str("level", self.level)
                .str("auditID", &self.audit_id)
                .str("stage", self.stage)
                .str("requestURI", &self.request_uri)
                .str("verb", self.verb);
            o.obj("user", |u| {
                u.opt("username", self.user.username.as_deref()).opt("uid", self.user.uid.as_deref());
                if !self.user.groups.is_empty() {
                    u.strs("groups", &self.user.groups);
                }
                if !self.user.extra.is_empty() {
                    u.obj("extra", |x| {
                        for (k, v) in &self.user.extra {
                            x.strs(k, &[v]);
                        }
                    });
                }
            });
            o.strs("sourceIPs", &[&self.source_ip]).str("userAgent", &self.user_agent);
            if let Some(r) = &self.object_ref {
                o.obj("objectRef", |x| {
                    x.str("resource", r.resource)
                        .opt("namespace", r.namespace.as_deref())
                        .opt("name", r.name.as_deref())
                        .opt("apiGroup", r.api_group)
                        .str("apiVersion", r.api_version)
                        .opt("subresource", r.subresource);
                });
            }
            o.obj("responseStatus", |x| {
                x.empty("metadata")
                    .opt("status", self.status.status)
                    .opt("message", self.status.message.as_deref())
                    .opt("reason", self.status.reason);
                if let Some(d) = &self.status.details {
                    x.raw("details", d);
                }
                x.num("code", self.status.code);
            });
            if let Some(b) = &self.request_object {
                o.raw("requestObject", &b.json);
            }
            if let Some(b) = &self.response_object {
                o.raw("responseObject", &b.json);
            }
            o.str("requestReceivedTimestamp", &rfc3339(self.received_ns, 6))
                .str("stageTimestamp", &rfc3339(self.stage_ns, 6));
            if !self.annotations.is_empty() {
                o.obj("annotations", |x| {
                    for (k, v) in &self.annotations {
                        x.str(k, v);
                    }
                });
            }
        });
        s
    }

    /// GKE's `resourceName`: `<group|core>/<version>/[namespaces/<ns>/]<resource>[/<name>[/<sub>]]`,
    /// or the path of a non-resource URL.
    pub(crate) fn gke_resource_name(&self) -> String {
        let Some(r) = &self.object_ref else {
            return self.request_uri.split('?').next().unwrap_or_default().to_owned();
        };
        let mut s = format!("{}/{}/", r.api_group.unwrap_or("core"), r.api_version);
        if let Some(ns) = &r.namespace {
            let _ = write!(s, "namespaces/{ns}/");
        }
        s.push_str(r.resource);
        if let Some(n) = &r.name {
            let _ = write!(s, "/{n}");
            if let Some(sub) = r.subresource {
                let _ = write!(s, "/{sub}");
            }
        }
        s
    }

    /// GKE's `methodName`: `io.k8s.<group>.<version>.<resource>[.<sub>].<verb>`,
    /// where `<group>` is `core` or the first label of the API group.
    pub(crate) fn gke_method_name(&self) -> String {
        match &self.object_ref {
            Some(r) => {
                let group = r.api_group.map(|g| g.split('.').next().unwrap_or(g)).unwrap_or("core");
                let sub = r.subresource.map(|s| format!(".{s}")).unwrap_or_default();
                format!("io.k8s.{group}.{}.{}{sub}.{}", r.api_version, r.resource, self.verb)
            }
            None => format!("io.k8s.{}", self.verb),
        }
    }

    /// The event as a GKE Cloud Audit Logs `LogEntry` (keys in the
    /// alphabetical order of Cloud Logging's JSON exports).
    pub fn to_gke_logentry(&self, rng: &mut Rng, cluster: &str) -> String {
        let resource_name = self.gke_resource_name();
        let method = self.gke_method_name();
        let write = !matches!(self.verb, "get" | "list" | "watch");
        let granted = self.status.code != 403;
        let gke_body = |b: &Body| format!("{{\"@type\":\"{}\",{}", b.gke_type, &b.json[1..]);
        json_obj(|o| {
            o.str("insertId", &self.audit_id);
            if !self.annotations.is_empty() {
                o.obj("labels", |x| {
                    for (k, v) in &self.annotations {
                        x.str(k, v);
                    }
                });
            }
            o.str(
                "logName",
                if write {
                    "projects/bench-project/logs/cloudaudit.googleapis.com%2Factivity"
                } else {
                    "projects/bench-project/logs/cloudaudit.googleapis.com%2Fdata_access"
                },
            );
            o.obj("operation", |x| {
                x.bool("first", true).str("id", &self.audit_id).bool("last", true).str("producer", "k8s.io");
            });
            o.obj("protoPayload", |p| {
                p.str("@type", "type.googleapis.com/google.cloud.audit.AuditLog");
                p.obj("authenticationInfo", |a| {
                    a.opt("principalEmail", self.user.username.as_deref());
                });
                if self.status.code != 401 {
                    p.arr("authorizationInfo", |a| {
                        a.obj(|x| {
                            x.bool("granted", granted).str("permission", &method).str("resource", &resource_name);
                        })
                    });
                }
                p.str("methodName", &method);
                if let Some(b) = &self.request_object {
                    p.raw("request", &gke_body(b));
                }
                p.obj("requestMetadata", |m| {
                    m.str("callerIp", &self.source_ip).str("callerSuppliedUserAgent", &self.user_agent);
                });
                p.str("resourceName", &resource_name);
                if let Some(b) = &self.response_object {
                    p.raw("response", &gke_body(b));
                }
                p.str("serviceName", "k8s.io");
                p.obj("status", |s| {
                    let grpc = match self.status.code {
                        401 => 16,
                        403 => 7,
                        404 => 5,
                        409 => 10,
                        c if c >= 400 => 2,
                        _ => 0,
                    };
                    if grpc != 0 {
                        s.num("code", grpc).opt("message", self.status.message.as_deref());
                    }
                });
            });
            let received = self.stage_ns + rng.range(300_000_000, 2_500_000_000) as i64;
            o.str("receiveTimestamp", &rfc3339(received, 9));
            o.obj("resource", |r| {
                r.obj("labels", |l| {
                    l.str("cluster_name", cluster).str("location", "us-central1").str("project_id", "bench-project");
                })
                .str("type", "k8s_cluster");
            });
            o.str("severity", if write { "NOTICE" } else { "INFO" });
            o.str("timestamp", &rfc3339(self.received_ns, 6));
        })
    }
}
