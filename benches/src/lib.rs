//! Deterministic corpora of Kubernetes audit events for kaudit's benchmarks.
//!
//! [`EventGen`] produces an endless, reproducible stream of `audit.k8s.io/v1`
//! `Event`s (seeded PRNG, no clock, no `rand`) with the mix of a busy
//! production cluster: node and leader-election lease renewals, endpoint
//! churn, controller list/watch, kubelet node-status patches, pod creates at
//! `RequestResponse`, human `kubectl` traffic (exec, secrets, RBAC writes,
//! 403s), anonymous scanners and delegated authn/authz reviews.
//!
//! Events are written the way the apiserver's log backend writes them: one
//! compact JSON object per line, keys in Go struct order, map keys sorted,
//! and Go's HTML-safe escaping (`&` → `\u0026`, `<` → `\u003c`, `>` →
//! `\u003e`), so requestURIs with query strings look like the real thing.
//!
//! The same events can be wrapped into every vendor shape kaudit benchmarks:
//! [`vanilla_corpus`], [`eks_cloudwatch_rows`], [`eks_subscription_gzip_lines`],
//! [`aks_diagnostic_lines`], [`gke_logentries`]. Every generator takes a target
//! size in bytes and stops at the first whole line at or past it.

use std::fmt::Write as _;
use std::io::Write as _;

use base64::Engine as _;

/// The seed every corpus uses.
pub const SEED: u64 = 42;

// ---------------------------------------------------------------------------
// PRNG

/// SplitMix64: small, fast, and good enough for synthetic data.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `pct`/100.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    pub fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Index into `weights`, chosen with probability proportional to the weight.
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n).map(|_| char::from(*self.pick(alphabet))).collect()
    }

    /// Lower-case hex digits.
    pub fn hex(&mut self, n: usize) -> String {
        self.chars(b"0123456789abcdef", n)
    }

    /// Decimal digits.
    pub fn digits(&mut self, n: usize) -> String {
        self.chars(b"0123456789", n)
    }

    /// Kubernetes' `rand.String` alphabet (generateName suffixes, pod-template-hash).
    pub fn k8s_suffix(&mut self, n: usize) -> String {
        self.chars(b"bcdfghjklmnpqrstvwxz2456789", n)
    }

    /// A random (version 4) UUID.
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        let variant = char::from(*self.pick(b"89ab"));
        format!("{}-{}-4{}-{}{}-{}", &h[0..8], &h[8..12], &h[13..16], variant, &h[17..20], &h[20..32])
    }
}

// ---------------------------------------------------------------------------
// Time

use kaudit_core::rules::state::{civil_from_days, days_from_civil};

const NS: i64 = 1_000_000_000;

/// RFC 3339 UTC with `digits` fractional digits (6 for the apiserver's
/// MicroTime, 7 for Azure, 9 for Google).
fn rfc3339(t_ns: i64, digits: u32) -> String {
    let secs = t_ns.div_euclid(NS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let mut out = format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    if digits > 0 {
        let frac = t_ns.rem_euclid(NS) / 10_i64.pow(9 - digits);
        let _ = write!(out, ".{frac:0w$}", w = digits as usize);
    }
    out.push('Z');
    out
}

// ---------------------------------------------------------------------------
// A JSON writer with Go's encoding/json escaping

/// Append `s` as a JSON string, escaped as Go's `encoding/json` does by
/// default (HTML-safe: `<`, `>`, `&` become `\u003c`, `\u003e`, `\u0026`).
pub fn go_quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// An object being written.
struct Obj<'o> {
    out: &'o mut String,
    first: bool,
}

/// An array being written.
struct Arr<'o> {
    out: &'o mut String,
    first: bool,
}

fn obj(out: &mut String, f: impl FnOnce(&mut Obj<'_>)) {
    out.push('{');
    f(&mut Obj { out, first: true });
    out.push('}');
}

fn arr(out: &mut String, f: impl FnOnce(&mut Arr<'_>)) {
    out.push('[');
    f(&mut Arr { out, first: true });
    out.push(']');
}

fn json_obj(f: impl FnOnce(&mut Obj<'_>)) -> String {
    let mut s = String::with_capacity(1024);
    obj(&mut s, f);
    s
}

impl Obj<'_> {
    fn key(&mut self, k: &str) -> &mut Self {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        go_quote(self.out, k);
        self.out.push(':');
        self
    }
    fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        go_quote(self.out, v);
        self
    }
    fn opt(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.str(k, v);
        }
        self
    }
    fn num(&mut self, k: &str, v: i64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }
    fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }
    fn raw(&mut self, k: &str, json: &str) -> &mut Self {
        self.key(k);
        self.out.push_str(json);
        self
    }
    fn strs<S: AsRef<str>>(&mut self, k: &str, vs: &[S]) -> &mut Self {
        self.key(k);
        arr(self.out, |a| {
            for v in vs {
                a.str(v.as_ref());
            }
        });
        self
    }
    fn obj(&mut self, k: &str, f: impl FnOnce(&mut Obj<'_>)) -> &mut Self {
        self.key(k);
        obj(self.out, f);
        self
    }
    fn arr(&mut self, k: &str, f: impl FnOnce(&mut Arr<'_>)) -> &mut Self {
        self.key(k);
        arr(self.out, f);
        self
    }
    /// `"k":{}` — an empty managedFields marker, `metadata:{}` etc.
    fn empty(&mut self, k: &str) -> &mut Self {
        self.raw(k, "{}")
    }
}

impl Arr<'_> {
    fn sep(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }
    fn str(&mut self, v: &str) {
        self.sep();
        go_quote(self.out, v);
    }
    fn obj(&mut self, f: impl FnOnce(&mut Obj<'_>)) {
        self.sep();
        obj(self.out, f);
    }
}

// ---------------------------------------------------------------------------
// The event model

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
struct User {
    username: Option<String>,
    uid: Option<String>,
    groups: Vec<String>,
    /// `map[string][]string`, keys sorted as Go writes them.
    extra: Vec<(&'static str, String)>,
}

#[derive(Clone, Debug)]
struct ObjectRef {
    resource: &'static str,
    namespace: Option<String>,
    name: Option<String>,
    /// `None` for the core group (Go's omitempty).
    api_group: Option<&'static str>,
    api_version: &'static str,
    subresource: Option<&'static str>,
}

#[derive(Clone, Debug)]
struct Status {
    code: i64,
    status: Option<&'static str>,
    message: Option<String>,
    reason: Option<&'static str>,
    /// Raw JSON of `details`.
    details: Option<String>,
}

impl Status {
    fn ok(code: i64) -> Self {
        Status { code, status: None, message: None, reason: None, details: None }
    }
    fn failure(code: i64, reason: &'static str, message: String, details: Option<String>) -> Self {
        Status { code, status: Some("Failure"), message: Some(message), reason: Some(reason), details }
    }
}

#[derive(Clone, Debug)]
struct Body {
    /// The `@type` GKE puts into `request`/`response`.
    gke_type: &'static str,
    json: String,
}

/// One generated audit event.
#[derive(Clone, Debug)]
pub struct Event {
    pub class: Class,
    level: &'static str,
    audit_id: String,
    stage: &'static str,
    request_uri: String,
    verb: &'static str,
    user: User,
    source_ip: String,
    user_agent: String,
    object_ref: Option<ObjectRef>,
    status: Status,
    request_object: Option<Body>,
    response_object: Option<Body>,
    received_ns: i64,
    stage_ns: i64,
    /// Audit annotations, keys sorted.
    annotations: Vec<(&'static str, String)>,
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
    fn gke_resource_name(&self) -> String {
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
    fn gke_method_name(&self) -> String {
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
    pub fn to_gke_logentry(&self, rng: &mut Rng) -> String {
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
                    l.str("cluster_name", "bench").str("location", "us-central1").str("project_id", "bench-project");
                })
                .str("type", "k8s_cluster");
            });
            o.str("severity", if write { "NOTICE" } else { "INFO" });
            o.str("timestamp", &rfc3339(self.received_ns, 6));
        })
    }
}

// ---------------------------------------------------------------------------
// The cluster the events come from

const K8S_VERSION: &str = "v1.29.3";
const K8S_COMMIT: &str = "6813625";
const CONTROL_PLANE_IPS: [&str; 3] = ["10.0.0.10", "10.0.0.11", "10.0.0.12"];

/// (namespace, app, service account).
const APPS: [(&str, &str, &str); 15] = [
    ("shop", "web", "web"),
    ("shop", "cart", "cart"),
    ("shop", "catalog", "catalog"),
    ("payments", "payments-api", "payments-api"),
    ("payments", "ledger", "ledger"),
    ("auth", "keycloak", "keycloak"),
    ("data", "kafka-broker", "kafka"),
    ("data", "postgres-primary", "postgres"),
    ("monitoring", "grafana", "grafana"),
    ("monitoring", "alertmanager-main", "alertmanager-main"),
    ("ingress-nginx", "ingress-nginx-controller", "ingress-nginx"),
    ("argocd", "argocd-server", "argocd-server"),
    ("argocd", "argocd-repo-server", "argocd-repo-server"),
    ("cert-manager", "cert-manager-webhook", "cert-manager-webhook"),
    ("kube-system", "coredns", "coredns"),
];

struct App {
    ns: &'static str,
    name: &'static str,
    sa: &'static str,
    rs_hash: String,
    rs_uid: String,
    pods: Vec<String>,
    image: String,
    slices: Vec<String>,
}

struct Node {
    name: String,
    ip: String,
}

/// A controller or workload that lists and watches.
struct Watcher {
    user: &'static str,
    /// Namespace of the service account, when it is one.
    sa_ns: Option<&'static str>,
    agent: &'static str,
    binding: &'static str,
    /// (resource, apiGroup, version, namespaced)
    resources: &'static [(&'static str, Option<&'static str>, &'static str, bool)],
    in_pod: bool,
}

const WATCHERS: [Watcher; 8] = [
    Watcher {
        user: "system:serviceaccount:kube-system:coredns",
        sa_ns: Some("kube-system"),
        agent: "coredns/v1.11.1 (linux/amd64) kubernetes/ae2bbc2",
        binding: "system:coredns",
        resources: &[
            ("endpointslices", Some("discovery.k8s.io"), "v1", true),
            ("services", None, "v1", true),
            ("namespaces", None, "v1", false),
        ],
        in_pod: true,
    },
    Watcher {
        user: "system:serviceaccount:kube-system:kube-proxy",
        sa_ns: Some("kube-system"),
        agent: "kube-proxy/v1.29.3 (linux/amd64) kubernetes/6813625",
        binding: "system:node-proxier",
        resources: &[
            ("services", None, "v1", true),
            ("endpointslices", Some("discovery.k8s.io"), "v1", true),
            ("nodes", None, "v1", false),
        ],
        in_pod: true,
    },
    Watcher {
        user: "system:kube-scheduler",
        sa_ns: None,
        agent: "kube-scheduler/v1.29.3 (linux/amd64) kubernetes/6813625/scheduler",
        binding: "system:kube-scheduler",
        resources: &[
            ("pods", None, "v1", true),
            ("nodes", None, "v1", false),
            ("persistentvolumeclaims", None, "v1", true),
            ("csinodes", Some("storage.k8s.io"), "v1", false),
            ("poddisruptionbudgets", Some("policy"), "v1", true),
        ],
        in_pod: false,
    },
    Watcher {
        user: "system:serviceaccount:monitoring:prometheus-k8s",
        sa_ns: Some("monitoring"),
        agent: "prometheus/v2.51.1",
        binding: "prometheus-k8s",
        resources: &[("pods", None, "v1", true), ("services", None, "v1", true), ("endpoints", None, "v1", true)],
        in_pod: true,
    },
    Watcher {
        user: "system:serviceaccount:cert-manager:cert-manager",
        sa_ns: Some("cert-manager"),
        agent: "cert-manager-controller/v1.14.4 (linux/amd64) cert-manager/b4c2ab5fa4ff2d4d5c4d7d1c4b0f7b4e1e4b1f11",
        binding: "cert-manager-controller-certificates",
        resources: &[
            ("certificates", Some("cert-manager.io"), "v1", true),
            ("secrets", None, "v1", true),
            ("ingresses", Some("networking.k8s.io"), "v1", true),
        ],
        in_pod: true,
    },
    Watcher {
        user: "system:serviceaccount:ingress-nginx:ingress-nginx",
        sa_ns: Some("ingress-nginx"),
        agent: "nginx-ingress-controller/v1.10.0 (linux/amd64) ingress-nginx/71f78d49f0a496c31d4c19f095469f3f23900f8a",
        binding: "ingress-nginx",
        resources: &[
            ("ingresses", Some("networking.k8s.io"), "v1", true),
            ("configmaps", None, "v1", true),
            ("endpointslices", Some("discovery.k8s.io"), "v1", true),
        ],
        in_pod: true,
    },
    Watcher {
        user: "system:serviceaccount:argocd:argocd-application-controller",
        sa_ns: Some("argocd"),
        agent: "argocd-application-controller/v0.0.0 (linux/amd64) kubernetes/$Format",
        binding: "argocd-application-controller",
        resources: &[
            ("deployments", Some("apps"), "v1", true),
            ("replicasets", Some("apps"), "v1", true),
            ("configmaps", None, "v1", true),
            ("applications", Some("argoproj.io"), "v1alpha1", true),
        ],
        in_pod: true,
    },
    Watcher {
        user: "system:kube-controller-manager",
        sa_ns: None,
        agent: "kube-controller-manager/v1.29.3 (linux/amd64) kubernetes/6813625/shared-informers",
        binding: "system:kube-controller-manager",
        resources: &[
            ("pods", None, "v1", true),
            ("replicasets", Some("apps"), "v1", true),
            ("jobs", Some("batch"), "v1", true),
            ("leases", Some("coordination.k8s.io"), "v1", true),
            ("nodes", None, "v1", false),
        ],
        in_pod: false,
    },
];

fn rbac_reason(kind: &str, binding: &str, role_kind: &str, role: &str, subject_kind: &str, subject: &str) -> String {
    format!("RBAC: allowed by {kind} \"{binding}\" of {role_kind} \"{role}\" to {subject_kind} \"{subject}\"")
}

fn allow(reason: String) -> Vec<(&'static str, String)> {
    vec![("authorization.k8s.io/decision", "allow".to_owned()), ("authorization.k8s.io/reason", reason)]
}

fn forbid() -> Vec<(&'static str, String)> {
    vec![("authorization.k8s.io/decision", "forbid".to_owned()), ("authorization.k8s.io/reason", String::new())]
}

fn sa_groups(ns: &str) -> Vec<String> {
    vec!["system:serviceaccounts".to_owned(), format!("system:serviceaccounts:{ns}"), "system:authenticated".to_owned()]
}

/// The generator: an endless, deterministic stream of events.
pub struct EventGen {
    rng: Rng,
    now_ns: i64,
    resource_version: u64,
    nodes: Vec<Node>,
    apps: Vec<App>,
    /// Stable UIDs of the controller service accounts.
    sa_uids: Vec<(String, String)>,
}

impl EventGen {
    pub fn new(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut nodes = Vec::new();
        while nodes.len() < 30 {
            let (a, b) = (rng.range(16, 95), rng.range(2, 254));
            let name = format!("ip-10-0-{a}-{b}.ec2.internal");
            if nodes.iter().all(|n: &Node| n.name != name) {
                nodes.push(Node { name, ip: format!("10.0.{a}.{b}") });
            }
        }
        let apps = APPS
            .iter()
            .map(|&(ns, name, sa)| {
                let rs_hash = rng.k8s_suffix(10);
                let pods = (0..4).map(|_| format!("{name}-{rs_hash}-{}", rng.k8s_suffix(5))).collect();
                let slices = (0..2).map(|_| format!("{name}-{}", rng.k8s_suffix(5))).collect();
                let image = format!("registry.example.com/{ns}/{name}:1.{}.{}", rng.range(0, 40), rng.range(0, 9));
                App { ns, name, sa, rs_hash, rs_uid: rng.uuid(), pods, image, slices }
            })
            .collect();
        // 2024-05-14T09:00:00Z
        let now_ns = (days_from_civil(2024, 5, 14) * 86_400 + 9 * 3600) * NS;
        EventGen { rng, now_ns, resource_version: 48_113_000, nodes, apps, sa_uids: Vec::new() }
    }

    fn sa_uid(&mut self, user: &str) -> String {
        if let Some((_, uid)) = self.sa_uids.iter().find(|(u, _)| u == user) {
            return uid.clone();
        }
        let uid = self.rng.uuid();
        self.sa_uids.push((user.to_owned(), uid.clone()));
        uid
    }

    fn rv(&mut self) -> u64 {
        self.resource_version += self.rng.range(1, 40);
        self.resource_version
    }

    fn node(&mut self) -> (String, String) {
        let n = self.rng.pick(&self.nodes);
        (n.name.clone(), n.ip.clone())
    }

    fn app(&mut self) -> usize {
        self.rng.below(self.apps.len() as u64) as usize
    }

    /// A service-account user, with the bound-token `extra` of a pod when it runs in one.
    fn sa_user(&mut self, user: &str, in_pod: bool) -> User {
        let ns = user.split(':').nth(2).unwrap_or("default").to_owned();
        let uid = self.sa_uid(user);
        let extra = if in_pod {
            let pod = format!("{}-{}", user.rsplit(':').next().unwrap_or("pod"), self.rng.k8s_suffix(5));
            let node = self.rng.pick(&self.nodes).name.clone();
            vec![
                ("authentication.kubernetes.io/credential-id", format!("JTI={}", self.rng.uuid())),
                ("authentication.kubernetes.io/node-name", node),
                ("authentication.kubernetes.io/node-uid", self.rng.uuid()),
                ("authentication.kubernetes.io/pod-name", pod),
                ("authentication.kubernetes.io/pod-uid", self.rng.uuid()),
            ]
        } else {
            Vec::new()
        };
        User { username: Some(user.to_owned()), uid: Some(uid), groups: sa_groups(&ns), extra }
    }

    fn system_user(user: &str) -> User {
        User { username: Some(user.to_owned()), groups: vec!["system:authenticated".to_owned()], ..User::default() }
    }

    fn node_user(node: &str) -> User {
        User {
            username: Some(format!("system:node:{node}")),
            groups: vec!["system:nodes".to_owned(), "system:authenticated".to_owned()],
            ..User::default()
        }
    }

    /// A base event; callers fill in the rest.
    fn base(&mut self, class: Class, verb: &'static str, uri: String, user: User, ip: String, ua: String) -> Event {
        // ~1,500 events/s on average, bursty.
        self.now_ns += self.rng.range(10_000, 1_300_000) as i64 / 1000 * 1000;
        let received_ns = self.now_ns;
        let latency_us = match verb {
            "get" | "update" | "patch" => self.rng.range(800, 9_000),
            "create" | "delete" => self.rng.range(2_000, 40_000),
            _ => self.rng.range(1_000, 120_000),
        } as i64;
        Event {
            class,
            level: "Metadata",
            audit_id: self.rng.uuid(),
            stage: "ResponseComplete",
            request_uri: uri,
            verb,
            user,
            source_ip: ip,
            user_agent: ua,
            object_ref: None,
            status: Status::ok(200),
            request_object: None,
            response_object: None,
            received_ns,
            stage_ns: received_ns + latency_us * 1000,
            annotations: Vec::new(),
        }
    }

    fn lease(&mut self) -> Event {
        if self.rng.chance(70) {
            // A kubelet renewing its node lease (authorized by the Node authorizer: empty reason).
            let (node, ip) = self.node();
            let verb = if self.rng.chance(92) { "update" } else { "get" };
            let uri = format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s");
            let ua = format!("kubelet/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}");
            let mut ev = self.base(Class::Lease, verb, uri, Self::node_user(&node), ip, ua);
            ev.object_ref = Some(ObjectRef {
                resource: "leases",
                namespace: Some("kube-node-lease".to_owned()),
                name: Some(node),
                api_group: Some("coordination.k8s.io"),
                api_version: "v1",
                subresource: None,
            });
            ev.annotations = allow(String::new());
            ev
        } else {
            // Leader election in kube-system.
            let who = *self.rng.pick(&["kube-controller-manager", "kube-scheduler", "cloud-controller-manager"]);
            let user = format!("system:{who}");
            let verb = if self.rng.chance(75) { "update" } else { "get" };
            let uri = format!("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/{who}?timeout=5s");
            let ua = format!("{who}/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}/leader-election");
            let ip = self.rng.pick(&CONTROL_PLANE_IPS).to_string();
            let mut ev = self.base(Class::Lease, verb, uri, Self::system_user(&user), ip, ua);
            ev.object_ref = Some(ObjectRef {
                resource: "leases",
                namespace: Some("kube-system".to_owned()),
                name: Some(who.to_owned()),
                api_group: Some("coordination.k8s.io"),
                api_version: "v1",
                subresource: None,
            });
            ev.annotations = allow(rbac_reason("ClusterRoleBinding", &user, "ClusterRole", &user, "User", &user));
            ev
        }
    }

    fn endpoints(&mut self) -> Event {
        let a = self.app();
        let ns = self.apps[a].ns;
        let slice_api = self.rng.chance(60);
        let (controller, resource, group) = if slice_api {
            ("endpointslice-controller", "endpointslices", Some("discovery.k8s.io"))
        } else {
            ("endpoint-controller", "endpoints", None)
        };
        let verb = match self.rng.below(20) {
            0 if slice_api => "create",
            1 if slice_api => "delete",
            _ => "update",
        };
        let name = if slice_api {
            let i = self.rng.below(2) as usize;
            self.apps[a].slices[i].clone()
        } else {
            self.apps[a].name.to_owned()
        };
        let prefix = match group {
            Some(g) => format!("/apis/{g}/v1"),
            None => "/api/v1".to_owned(),
        };
        let uri = if verb == "create" {
            format!("{prefix}/namespaces/{ns}/{resource}")
        } else {
            format!("{prefix}/namespaces/{ns}/{resource}/{name}")
        };
        let user = format!("system:serviceaccount:kube-system:{controller}");
        let ua = format!("kube-controller-manager/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}/{user}");
        let ip = self.rng.pick(&CONTROL_PLANE_IPS).to_string();
        let u = self.sa_user(&user, false);
        let mut ev = self.base(Class::Endpoints, verb, uri, u, ip, ua);
        ev.object_ref = Some(ObjectRef {
            resource,
            namespace: Some(ns.to_owned()),
            name: Some(name.clone()),
            api_group: group,
            api_version: "v1",
            subresource: None,
        });
        let binding = format!("system:controller:{controller}");
        ev.annotations = allow(rbac_reason(
            "ClusterRoleBinding",
            &binding,
            "ClusterRole",
            &binding,
            "ServiceAccount",
            &format!("{controller}/kube-system"),
        ));
        if verb == "create" {
            ev.status = Status::ok(201);
        } else if verb == "update" && self.rng.chance(4) {
            let gr = match group {
                Some(g) => format!("{resource}.{g}"),
                None => resource.to_owned(),
            };
            let details = json_obj(|d| {
                d.str("name", &name);
                if let Some(g) = group {
                    d.str("group", g);
                }
                d.str("kind", resource);
            });
            ev.status = Status::failure(
                409,
                "Conflict",
                format!("Operation cannot be fulfilled on {gr} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"),
                Some(details),
            );
        }
        ev
    }

    fn list_watch(&mut self) -> Event {
        let w = &WATCHERS[self.rng.below(WATCHERS.len() as u64) as usize];
        let &(resource, group, version, namespaced) = self.rng.pick(w.resources);
        let watch = self.rng.chance(60);
        // Most informers are cluster-wide; some workloads watch their own namespace.
        let ns = if namespaced && w.sa_ns.is_some() && self.rng.chance(30) { w.sa_ns } else { None };
        let prefix = match group {
            Some(g) => format!("/apis/{g}/{version}"),
            None => format!("/api/{version}"),
        };
        let path = match ns {
            Some(ns) => format!("{prefix}/namespaces/{ns}/{resource}"),
            None => format!("{prefix}/{resource}"),
        };
        let rv = self.rv();
        let uri = if watch {
            let timeout = self.rng.range(300, 600);
            format!(
                "{path}?allowWatchBookmarks=true&resourceVersion={rv}&timeout={}m{}s&timeoutSeconds={timeout}&watch=true",
                timeout / 60,
                timeout % 60
            )
        } else if self.rng.chance(50) {
            format!("{path}?limit=500&resourceVersion=0")
        } else {
            format!("{path}?resourceVersion={rv}")
        };
        let user = if w.sa_ns.is_some() { self.sa_user(w.user, w.in_pod) } else { Self::system_user(w.user) };
        let ip = if w.in_pod {
            format!("10.0.{}.{}", self.rng.range(16, 95), self.rng.range(2, 254))
        } else {
            self.rng.pick(&CONTROL_PLANE_IPS).to_string()
        };
        let mut ev =
            self.base(Class::ListWatch, if watch { "watch" } else { "list" }, uri, user, ip, w.agent.to_owned());
        if watch {
            if self.rng.chance(50) {
                ev.stage = "ResponseStarted";
                ev.stage_ns = ev.received_ns + self.rng.range(200_000, 3_000_000) as i64;
            } else {
                ev.stage_ns = ev.received_ns + self.rng.range(300, 600) as i64 * NS;
            }
        }
        ev.object_ref = Some(ObjectRef {
            resource,
            namespace: ns.map(str::to_owned),
            name: None,
            api_group: group,
            api_version: version,
            subresource: None,
        });
        let subject = match w.sa_ns {
            Some(sa_ns) => ("ServiceAccount", format!("{}/{sa_ns}", w.user.rsplit(':').next().unwrap_or_default())),
            None => ("User", w.user.to_owned()),
        };
        ev.annotations =
            allow(rbac_reason("ClusterRoleBinding", w.binding, "ClusterRole", w.binding, subject.0, &subject.1));
        ev
    }

    fn node_status(&mut self) -> Event {
        let (node, ip) = self.node();
        let uri = format!("/api/v1/nodes/{node}/status?timeout=10s");
        let ua = format!("kubelet/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}");
        let mut ev = self.base(Class::NodeStatus, "patch", uri, Self::node_user(&node), ip, ua);
        ev.level = "Request";
        ev.object_ref = Some(ObjectRef {
            resource: "nodes",
            namespace: None,
            name: Some(node),
            api_group: None,
            api_version: "v1",
            subresource: Some("status"),
        });
        let beat = rfc3339(ev.received_ns - self.rng.range(0, 2) as i64 * NS, 0);
        let conditions = ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"];
        let patch = json_obj(|o| {
            o.obj("status", |s| {
                s.arr("$setElementOrder/conditions", |a| {
                    for c in conditions {
                        a.obj(|x| {
                            x.str("type", c);
                        });
                    }
                });
                s.arr("conditions", |a| {
                    for c in conditions {
                        a.obj(|x| {
                            x.str("lastHeartbeatTime", &beat).str("type", c);
                        });
                    }
                });
            });
        });
        ev.request_object = Some(Body { gke_type: "k8s.io/Patch", json: patch });
        ev.annotations = allow(String::new());
        ev
    }

    fn pod_create(&mut self) -> Event {
        let a = self.app();
        let (ns, app, sa) = (self.apps[a].ns, self.apps[a].name, self.apps[a].sa);
        let rs = format!("{app}-{}", self.apps[a].rs_hash);
        let pod_name = format!("{rs}-{}", self.rng.k8s_suffix(5));
        let controller = "replicaset-controller";
        let user = format!("system:serviceaccount:kube-system:{controller}");
        let ua = format!("kube-controller-manager/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}/{user}");
        let ip = self.rng.pick(&CONTROL_PLANE_IPS).to_string();
        let u = self.sa_user(&user, false);
        let mut ev = self.base(Class::PodCreate, "create", format!("/api/v1/namespaces/{ns}/pods"), u, ip, ua);
        ev.level = "RequestResponse";
        ev.status = Status::ok(201);
        ev.object_ref = Some(ObjectRef {
            resource: "pods",
            namespace: Some(ns.to_owned()),
            name: Some(pod_name.clone()),
            api_group: None,
            api_version: "v1",
            subresource: None,
        });
        let spec = PodSpec::new(&mut self.rng, &self.apps[a], sa, rs, pod_name);
        let created = rfc3339(ev.received_ns, 0);
        let uid = self.rng.uuid();
        let rv = self.rv();
        ev.request_object = Some(Body { gke_type: "core.k8s.io/v1.Pod", json: spec.render(None) });
        ev.response_object =
            Some(Body { gke_type: "core.k8s.io/v1.Pod", json: spec.render(Some((&uid, rv, &created))) });
        let binding = format!("system:controller:{controller}");
        let mut ann = allow(rbac_reason(
            "ClusterRoleBinding",
            &binding,
            "ClusterRole",
            &binding,
            "ServiceAccount",
            &format!("{controller}/kube-system"),
        ));
        ann.push((
            "mutation.webhook.admission.k8s.io/round_0_index_0",
            "{\"configuration\":\"istio-sidecar-injector\",\"webhook\":\"namespace.sidecar-injector.istio.io\",\"mutated\":false}"
                .to_owned(),
        ));
        ann.push(("pod-security.kubernetes.io/enforce-policy", "baseline:latest".to_owned()));
        ev.annotations = ann;
        ev
    }

    fn human(&mut self) -> Event {
        const HUMANS: [(&str, &str, &str); 3] = [
            ("alice@example.com", "oidc:platform-admins", "kubectl/v1.29.3 (darwin/arm64) kubernetes/6813625"),
            ("bob@example.com", "oidc:developers", "kubectl/v1.28.8 (linux/amd64) kubernetes/fc11ff3"),
            ("kubernetes-admin", "system:masters", "kubectl/v1.29.3 (linux/amd64) kubernetes/6813625"),
        ];
        let (name, group, ua) = *self.rng.pick(&HUMANS);
        let ip = format!("{}.{}", self.rng.pick(&["203.0.113", "198.51.100"]), self.rng.range(2, 250));
        let user = User {
            username: Some(name.to_owned()),
            groups: vec![group.to_owned(), "system:authenticated".to_owned()],
            ..User::default()
        };
        let a = self.app();
        let (ns, app) = (self.apps[a].ns, self.apps[a].name);
        let pod = self.apps[a].pods[self.rng.below(4) as usize].clone();
        let allowed = match name {
            "alice@example.com" => allow(rbac_reason(
                "ClusterRoleBinding",
                "platform-admins",
                "ClusterRole",
                "cluster-admin",
                "Group",
                group,
            )),
            "bob@example.com" => {
                allow(rbac_reason("RoleBinding", &format!("developers/{ns}"), "ClusterRole", "edit", "Group", group))
            }
            _ => allow(String::new()),
        };
        let forbidden = name == "bob@example.com" && self.rng.chance(45);
        let kind = self.rng.weighted(&[35, 15, 15, 10, 5]);
        let mut ev = match kind {
            // exec
            2 => {
                let cmd = *self.rng.pick(&[
                    "command=%2Fbin%2Fsh",
                    "command=bash",
                    "command=sh&command=-c&command=cat+%2Fetc%2Fpasswd",
                    "command=env",
                    "command=ls&command=-la&command=%2Fvar%2Frun%2Fsecrets%2Fkubernetes.io%2Fserviceaccount",
                ]);
                let uri = format!(
                    "/api/v1/namespaces/{ns}/pods/{pod}/exec?{cmd}&container={app}&stdin=true&stdout=true&tty=true"
                );
                let mut ev = self.base(Class::Human, "create", uri, user, ip, ua.to_owned());
                ev.object_ref = Some(ObjectRef {
                    resource: "pods",
                    namespace: Some(ns.to_owned()),
                    name: Some(pod.clone()),
                    api_group: None,
                    api_version: "v1",
                    subresource: Some("exec"),
                });
                ev.status = Status::ok(101);
                ev.stage_ns = ev.received_ns + self.rng.range(5, 900) as i64 * NS;
                ev
            }
            // secrets get
            1 => {
                let secret = *self.rng.pick(&["db-credentials", "tls-cert", "api-token", "registry-pull"]);
                let sns = if forbidden { "kube-system" } else { ns };
                let uri = format!("/api/v1/namespaces/{sns}/secrets/{secret}");
                let mut ev = self.base(Class::Human, "get", uri, user, ip, ua.to_owned());
                ev.object_ref = Some(ObjectRef {
                    resource: "secrets",
                    namespace: Some(sns.to_owned()),
                    name: Some(secret.to_owned()),
                    api_group: None,
                    api_version: "v1",
                    subresource: None,
                });
                ev
            }
            // RBAC write
            3 => {
                let cluster = self.rng.chance(50);
                let (resource, kind, role_kind, role) = if cluster {
                    ("clusterrolebindings", "ClusterRoleBinding", "ClusterRole", "view")
                } else {
                    ("rolebindings", "RoleBinding", "ClusterRole", "edit")
                };
                let bname = format!(
                    "{}-{}",
                    self.rng.pick(&["ci-deployer", "oncall", "contractor", "debug"]),
                    self.rng.k8s_suffix(4)
                );
                let path = if cluster {
                    format!("/apis/rbac.authorization.k8s.io/v1/{resource}")
                } else {
                    format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/{resource}")
                };
                let uri = format!("{path}?fieldManager=kubectl-create&fieldValidation=Strict");
                let mut ev = self.base(Class::Human, "create", uri, user, ip, ua.to_owned());
                ev.level = "RequestResponse";
                ev.object_ref = Some(ObjectRef {
                    resource,
                    namespace: (!cluster).then(|| ns.to_owned()),
                    name: Some(bname.clone()),
                    api_group: Some("rbac.authorization.k8s.io"),
                    api_version: "v1",
                    subresource: None,
                });
                let created = rfc3339(ev.received_ns, 0);
                let binding = |meta: Option<(&str, u64)>| {
                    json_obj(|o| {
                        o.str("kind", kind).str("apiVersion", "rbac.authorization.k8s.io/v1");
                        o.obj("metadata", |m| {
                            m.str("name", &bname);
                            if !cluster {
                                m.str("namespace", ns);
                            }
                            match meta {
                                Some((uid, rv)) => {
                                    m.str("uid", uid)
                                        .str("resourceVersion", &rv.to_string())
                                        .str("creationTimestamp", &created);
                                    m.arr("managedFields", |a| {
                                        a.obj(|f| {
                                            f.str("manager", "kubectl-create")
                                                .str("operation", "Update")
                                                .str("apiVersion", "rbac.authorization.k8s.io/v1")
                                                .str("time", &created)
                                                .str("fieldsType", "FieldsV1")
                                                .raw("fieldsV1", "{\"f:roleRef\":{},\"f:subjects\":{}}");
                                        })
                                    });
                                }
                                None => {
                                    m.raw("creationTimestamp", "null");
                                }
                            }
                        });
                        o.arr("subjects", |a| {
                            a.obj(|s| {
                                s.str("kind", "ServiceAccount").str("name", "deployer").str("namespace", "ci");
                            })
                        });
                        o.obj("roleRef", |r| {
                            r.str("apiGroup", "rbac.authorization.k8s.io").str("kind", role_kind).str("name", role);
                        });
                    })
                };
                let uid = self.rng.uuid();
                let rv = self.rv();
                let gke_type = if cluster {
                    "rbac.authorization.k8s.io/v1.ClusterRoleBinding"
                } else {
                    "rbac.authorization.k8s.io/v1.RoleBinding"
                };
                ev.request_object = Some(Body { gke_type, json: binding(None) });
                if !forbidden {
                    ev.response_object = Some(Body { gke_type, json: binding(Some((&uid, rv))) });
                    ev.status = Status::ok(201);
                }
                ev
            }
            // delete a pod
            4 => {
                let uri = format!("/api/v1/namespaces/{ns}/pods/{pod}");
                let mut ev = self.base(Class::Human, "delete", uri, user, ip, ua.to_owned());
                ev.object_ref = Some(ObjectRef {
                    resource: "pods",
                    namespace: Some(ns.to_owned()),
                    name: Some(pod.clone()),
                    api_group: None,
                    api_version: "v1",
                    subresource: None,
                });
                ev
            }
            // get / list
            _ => {
                let (resource, group) = *self.rng.pick(&[
                    ("pods", None),
                    ("deployments", Some("apps")),
                    ("events", None),
                    ("configmaps", None),
                ]);
                let list = self.rng.chance(60);
                let prefix = match group {
                    Some(g) => format!("/apis/{g}/v1"),
                    None => "/api/v1".to_owned(),
                };
                let (verb, uri, oname) = if list {
                    ("list", format!("{prefix}/namespaces/{ns}/{resource}?limit=500"), None)
                } else {
                    let n = if resource == "pods" { pod.clone() } else { app.to_owned() };
                    ("get", format!("{prefix}/namespaces/{ns}/{resource}/{n}"), Some(n))
                };
                let mut ev = self.base(Class::Human, verb, uri, user, ip, ua.to_owned());
                ev.object_ref = Some(ObjectRef {
                    resource,
                    namespace: Some(ns.to_owned()),
                    name: oname,
                    api_group: group,
                    api_version: "v1",
                    subresource: None,
                });
                ev
            }
        };
        if forbidden && kind != 0 {
            // The apiserver's Forbidden error: the name only when the request
            // path has one (not for a create of the collection), the resource
            // qualified by its group, the subresource in the verb's resource.
            let r = ev.object_ref.as_ref().expect("every human request has an objectRef");
            let (resource, group, sub) = (r.resource, r.api_group.unwrap_or(""), r.subresource);
            let oname = r.name.clone().filter(|_| ev.verb != "create" || sub.is_some());
            let qualified = if group.is_empty() { resource.to_owned() } else { format!("{resource}.{group}") };
            let what = match sub {
                Some(s) => format!("{resource}/{s}"),
                None => resource.to_owned(),
            };
            let target = match &oname {
                Some(n) => format!("{qualified} \"{n}\""),
                None => qualified,
            };
            let scope = match &r.namespace {
                Some(ns) => format!("in the namespace \"{ns}\""),
                None => "at the cluster scope".to_owned(),
            };
            let message = format!(
                "{target} is forbidden: User \"{name}\" cannot {} resource \"{what}\" in API group \"{group}\" {scope}",
                ev.verb
            );
            let details = json_obj(|d| {
                if let Some(n) = &oname {
                    d.str("name", n);
                }
                if !group.is_empty() {
                    d.str("group", group);
                }
                d.str("kind", resource);
            });
            ev.status = Status::failure(403, "Forbidden", message, Some(details));
            ev.response_object = None;
            ev.stage_ns = ev.received_ns + self.rng.range(300, 2_000) as i64 * 1000;
            ev.annotations = forbid();
        } else {
            ev.annotations = allowed;
        }
        ev
    }

    fn anonymous(&mut self) -> Event {
        let ua = self.rng.pick(&[
            "curl/8.5.0",
            "Mozilla/5.0 zgrab/0.x",
            "python-requests/2.31.0",
            "Go-http-client/1.1",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        ]);
        let ip = format!("192.0.2.{}", self.rng.range(1, 254));
        let unauthenticated = self.rng.chance(40);
        let (path, resource): (&str, Option<(&'static str, &str)>) = *self.rng.pick(&[
            ("/", None),
            ("/.env", None),
            ("/version", None),
            ("/api/v1/namespaces/kube-system/secrets", Some(("secrets", "kube-system"))),
            ("/api/v1/pods", Some(("pods", ""))),
            ("/apis", None),
        ]);
        let verb = if resource.is_some() { "list" } else { "get" };
        let user = if unauthenticated {
            User::default()
        } else {
            User {
                username: Some("system:anonymous".to_owned()),
                groups: vec!["system:unauthenticated".to_owned()],
                ..User::default()
            }
        };
        let mut ev = self.base(Class::Anonymous, verb, path.to_owned(), user, ip, ua.to_string());
        ev.stage_ns = ev.received_ns + self.rng.range(100, 900) as i64 * 1000;
        if let Some((res, ns)) = resource {
            ev.object_ref = Some(ObjectRef {
                resource: res,
                namespace: (!ns.is_empty()).then(|| ns.to_owned()),
                name: None,
                api_group: None,
                api_version: "v1",
                subresource: None,
            });
        }
        if unauthenticated {
            ev.status = Status::failure(401, "Unauthorized", "Unauthorized".to_owned(), None);
        } else if path == "/version" {
            ev.annotations = allow(rbac_reason(
                "ClusterRoleBinding",
                "system:public-info-viewer",
                "ClusterRole",
                "system:public-info-viewer",
                "Group",
                "system:unauthenticated",
            ));
        } else {
            let message = match resource {
                Some((res, "")) => format!(
                    "{res} is forbidden: User \"system:anonymous\" cannot list resource \"{res}\" in API group \"\" at the cluster scope"
                ),
                Some((res, ns)) => format!(
                    "{res} is forbidden: User \"system:anonymous\" cannot list resource \"{res}\" in API group \"\" in the namespace \"{ns}\""
                ),
                None => format!("forbidden: User \"system:anonymous\" cannot get path \"{path}\""),
            };
            let details = resource.map(|(res, _)| format!("{{\"kind\":\"{res}\"}}")).unwrap_or_else(|| "{}".to_owned());
            ev.status = Status::failure(403, "Forbidden", message, Some(details));
            ev.annotations = forbid();
        }
        ev
    }

    fn review(&mut self) -> Event {
        const CALLERS: [(&str, &str, &str); 3] = [
            (
                "system:serviceaccount:kube-system:metrics-server",
                "metrics-server/v0.7.1 (linux/amd64) kubernetes/6bba2a8",
                "metrics-server:system:auth-delegator",
            ),
            (
                "system:serviceaccount:monitoring:kube-state-metrics",
                "kube-rbac-proxy/v0.16.0 (linux/amd64) kubernetes/$Format",
                "kube-state-metrics",
            ),
            (
                "system:serviceaccount:monitoring:node-exporter",
                "kube-rbac-proxy/v0.16.0 (linux/amd64) kubernetes/$Format",
                "node-exporter",
            ),
        ];
        let (user, ua, binding) = *self.rng.pick(&CALLERS);
        let (resource, group) = if self.rng.chance(50) {
            ("tokenreviews", "authentication.k8s.io")
        } else {
            ("subjectaccessreviews", "authorization.k8s.io")
        };
        let uri = format!("/apis/{group}/v1/{resource}");
        let ip = format!("10.0.{}.{}", self.rng.range(16, 95), self.rng.range(2, 254));
        let u = self.sa_user(user, true);
        let mut ev = self.base(Class::Review, "create", uri, u, ip, ua.to_owned());
        ev.status = Status::ok(201);
        ev.object_ref = Some(ObjectRef {
            resource,
            namespace: None,
            name: None,
            api_group: Some(group),
            api_version: "v1",
            subresource: None,
        });
        let sa = user.rsplit(':').next().unwrap_or_default();
        let sa_ns = user.split(':').nth(2).unwrap_or_default();
        ev.annotations = allow(rbac_reason(
            "ClusterRoleBinding",
            binding,
            "ClusterRole",
            "system:auth-delegator",
            "ServiceAccount",
            &format!("{sa}/{sa_ns}"),
        ));
        ev
    }

    /// The next event of the mix.
    pub fn next_event(&mut self) -> Event {
        let weights: Vec<u64> = Class::MIX.iter().map(|(_, w)| *w).collect();
        match Class::MIX[self.rng.weighted(&weights)].0 {
            Class::Lease => self.lease(),
            Class::Endpoints => self.endpoints(),
            Class::ListWatch => self.list_watch(),
            Class::NodeStatus => self.node_status(),
            Class::PodCreate => self.pod_create(),
            Class::Human => self.human(),
            Class::Anonymous => self.anonymous(),
            Class::Review => self.review(),
        }
    }
}

impl Iterator for EventGen {
    type Item = Event;
    fn next(&mut self) -> Option<Event> {
        Some(self.next_event())
    }
}

// ---------------------------------------------------------------------------
// Pods

struct Container {
    name: String,
    image: String,
    port: i64,
    env: Vec<(String, String)>,
    /// CPU request (no CPU limit, as is common).
    cpu: &'static str,
    /// Memory (request, limit).
    mem: (&'static str, &'static str),
    probes: bool,
}

struct PodSpec {
    ns: &'static str,
    app: &'static str,
    sa: &'static str,
    rs: String,
    rs_hash: String,
    rs_uid: String,
    name: String,
    volume: String,
    containers: Vec<Container>,
}

impl PodSpec {
    fn new(rng: &mut Rng, app: &App, sa: &'static str, rs: String, name: String) -> Self {
        const ENV: [(&str, &str); 10] = [
            ("LOG_LEVEL", "info"),
            ("LOG_FORMAT", "json"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.monitoring.svc:4317"),
            ("OTEL_SERVICE_NAME", ""),
            ("GOMAXPROCS", "2"),
            ("HTTP_ADDR", ":8080"),
            ("DATABASE_URL", "postgres://app@postgres-primary.data.svc:5432/app?sslmode=require&pool_max_conns=20"),
            ("FEATURE_FLAGS", "checkout-v2=true&search-v3=false"),
            ("JAVA_TOOL_OPTIONS", "-XX:MaxRAMPercentage=75 -XX:+UseG1GC -Dfile.encoding=UTF-8"),
            ("REDIS_ADDR", "redis-master.data.svc:6379"),
        ];
        // A quarter of the pods carry a sidecar, probes and a longer
        // environment (~7 KB events); the rest make ~4 KB events.
        let big = rng.chance(25);
        let n_env = if big { rng.range(6, 10) } else { rng.range(1, 3) } as usize;
        let env = ENV[..n_env]
            .iter()
            .map(|&(k, v)| (k.to_owned(), if v.is_empty() { app.name.to_owned() } else { v.to_owned() }))
            .collect();
        let mut containers = vec![Container {
            name: app.name.to_owned(),
            image: app.image.clone(),
            port: 8080,
            env,
            cpu: "100m",
            mem: ("128Mi", "512Mi"),
            probes: big,
        }];
        if big {
            containers.push(Container {
                name: "log-shipper".to_owned(),
                image: "docker.io/fluent/fluent-bit:3.0.2".to_owned(),
                port: 2020,
                env: vec![("FLUENT_ELASTICSEARCH_HOST".to_owned(), "elasticsearch.logging.svc".to_owned())],
                cpu: "50m",
                mem: ("64Mi", "128Mi"),
                probes: false,
            });
        }
        PodSpec {
            ns: app.ns,
            app: app.name,
            sa,
            rs,
            rs_hash: app.rs_hash.clone(),
            rs_uid: app.rs_uid.clone(),
            name,
            volume: format!("kube-api-access-{}", rng.k8s_suffix(5)),
            containers,
        }
    }

    /// The Pod as the controller sent it (`stored` = `None`) or as the
    /// apiserver stored it (`Some((uid, resourceVersion, creationTimestamp))`):
    /// admission and defaulting add the token volume and its mounts, the
    /// default tolerations, priority and status.
    fn render(&self, stored: Option<(&str, u64, &str)>) -> String {
        let full = stored.is_some();
        json_obj(|o| {
            o.str("kind", "Pod").str("apiVersion", "v1");
            o.obj("metadata", |m| {
                if full {
                    m.str("name", &self.name);
                }
                m.str("generateName", &format!("{}-", self.rs)).str("namespace", self.ns);
                match stored {
                    Some((uid, rv, ts)) => {
                        m.str("uid", uid).str("resourceVersion", &rv.to_string()).str("creationTimestamp", ts);
                    }
                    None => {
                        m.raw("creationTimestamp", "null");
                    }
                }
                m.obj("labels", |l| {
                    l.str("app", self.app).str("pod-template-hash", &self.rs_hash);
                });
                m.arr("ownerReferences", |a| {
                    a.obj(|r| {
                        r.str("apiVersion", "apps/v1")
                            .str("kind", "ReplicaSet")
                            .str("name", &self.rs)
                            .str("uid", &self.rs_uid)
                            .bool("controller", true)
                            .bool("blockOwnerDeletion", true);
                    })
                });
                if let Some((_, _, ts)) = stored {
                    m.arr("managedFields", |a| {
                        a.obj(|f| {
                            f.str("manager", "kube-controller-manager")
                                .str("operation", "Update")
                                .str("apiVersion", "v1")
                                .str("time", ts)
                                .str("fieldsType", "FieldsV1");
                            f.obj("fieldsV1", |v| self.fields_v1(v));
                        })
                    });
                }
            });
            o.obj("spec", |s| {
                if full {
                    s.arr("volumes", |a| {
                        a.obj(|v| {
                            v.str("name", &self.volume);
                            v.raw(
                                "projected",
                                "{\"sources\":[{\"serviceAccountToken\":{\"expirationSeconds\":3607,\"path\":\"token\"}},{\"configMap\":{\"name\":\"kube-root-ca.crt\",\"items\":[{\"key\":\"ca.crt\",\"path\":\"ca.crt\"}]}},{\"downwardAPI\":{\"items\":[{\"path\":\"namespace\",\"fieldRef\":{\"apiVersion\":\"v1\",\"fieldPath\":\"metadata.namespace\"}}]}}],\"defaultMode\":420}",
                            );
                        })
                    });
                }
                s.arr("containers", |a| {
                    for c in &self.containers {
                        a.obj(|x| self.container(x, c, full));
                    }
                });
                s.str("restartPolicy", "Always")
                    .num("terminationGracePeriodSeconds", 30)
                    .str("dnsPolicy", "ClusterFirst")
                    .str("serviceAccountName", self.sa)
                    .str("serviceAccount", self.sa);
                s.obj("securityContext", |x| {
                    x.num("runAsUser", 10001).bool("runAsNonRoot", true);
                });
                s.str("schedulerName", "default-scheduler");
                if full {
                    s.arr("tolerations", |a| {
                        for key in ["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"] {
                            a.obj(|t| {
                                t.str("key", key)
                                    .str("operator", "Exists")
                                    .str("effect", "NoExecute")
                                    .num("tolerationSeconds", 300);
                            });
                        }
                    });
                    s.num("priority", 0).bool("enableServiceLinks", true).str("preemptionPolicy", "PreemptLowerPriority");
                }
            });
            o.obj("status", |s| {
                if full {
                    s.str("phase", "Pending").str("qosClass", "Burstable");
                }
            });
        })
    }

    fn container(&self, x: &mut Obj<'_>, c: &Container, full: bool) {
        x.str("name", &c.name).str("image", &c.image);
        x.arr("ports", |a| {
            a.obj(|p| {
                p.str("name", "http").num("containerPort", c.port).str("protocol", "TCP");
            })
        });
        x.arr("env", |a| {
            for (k, v) in &c.env {
                a.obj(|e| {
                    e.str("name", k).str("value", v);
                });
            }
        });
        x.obj("resources", |r| {
            r.obj("limits", |l| {
                l.str("memory", c.mem.1);
            });
            r.obj("requests", |l| {
                l.str("cpu", c.cpu).str("memory", c.mem.0);
            });
        });
        if full {
            x.arr("volumeMounts", |a| {
                a.obj(|m| {
                    m.str("name", &self.volume)
                        .bool("readOnly", true)
                        .str("mountPath", "/var/run/secrets/kubernetes.io/serviceaccount");
                })
            });
        }
        if c.probes {
            x.obj("readinessProbe", |p| {
                p.obj("httpGet", |h| {
                    h.str("path", "/readyz").num("port", c.port).str("scheme", "HTTP");
                });
                p.num("timeoutSeconds", 1)
                    .num("periodSeconds", 10)
                    .num("successThreshold", 1)
                    .num("failureThreshold", 3);
            });
        }
        x.str("terminationMessagePath", "/dev/termination-log")
            .str("terminationMessagePolicy", "File")
            .str("imagePullPolicy", "IfNotPresent");
    }

    /// `managedFields[].fieldsV1` of the controller's create.
    fn fields_v1(&self, v: &mut Obj<'_>) {
        v.obj("f:metadata", |m| {
            m.empty("f:generateName");
            m.obj("f:labels", |l| {
                l.empty(".").empty("f:app").empty("f:pod-template-hash");
            });
            m.obj("f:ownerReferences", |r| {
                r.empty(".").empty(&format!("k:{{\"uid\":\"{}\"}}", self.rs_uid));
            });
        });
        v.obj("f:spec", |s| {
            s.obj("f:containers", |cs| {
                for c in &self.containers {
                    cs.obj(&format!("k:{{\"name\":\"{}\"}}", c.name), |x| {
                        x.empty(".");
                        x.obj("f:env", |e| {
                            e.empty(".");
                            for (k, _) in &c.env {
                                e.obj(&format!("k:{{\"name\":\"{k}\"}}"), |f| {
                                    f.empty(".").empty("f:name").empty("f:value");
                                });
                            }
                        });
                        x.empty("f:image").empty("f:name").empty("f:resources");
                    });
                }
            });
            s.empty("f:securityContext").empty("f:serviceAccountName");
        });
    }
}

// ---------------------------------------------------------------------------
// Corpora

/// A JSON string holding `s` (serde_json's escaping, as the vendors' Go,
/// Java and Python encoders would produce for these strings).
fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a str always serializes")
}

/// Vanilla log-backend NDJSON: one Event per line, ending with `\n`.
pub fn vanilla_corpus(target_bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target_bytes + 16 * 1024);
    for ev in EventGen::new(SEED) {
        out.extend_from_slice(ev.to_json().as_bytes());
        out.push(b'\n');
        if out.len() >= target_bytes {
            break;
        }
    }
    out
}

/// The first `n` events of the corpus stream.
pub fn events(n: usize) -> Vec<Event> {
    EventGen::new(SEED).take(n).collect()
}

fn stream_name(rng: &mut Rng) -> String {
    format!("kube-apiserver-audit-{}", rng.hex(32))
}

/// EKS CloudWatch Logs rows as `FilterLogEvents`/`aws logs tail --format json`
/// give them: `{"logStreamName","timestamp","message","ingestionTime","eventId"}`.
pub fn eks_cloudwatch_rows(target_bytes: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED ^ 0xC10D_3A7C);
    let streams = [stream_name(&mut rng), stream_name(&mut rng)];
    let mut out = Vec::with_capacity(target_bytes + 16 * 1024);
    let mut line = String::with_capacity(8192);
    for ev in EventGen::new(SEED) {
        line.clear();
        let ts = ev.stage_ms();
        let _ = writeln!(
            line,
            "{{\"logStreamName\":\"{}\",\"timestamp\":{ts},\"message\":{},\"ingestionTime\":{},\"eventId\":\"{}\"}}",
            rng.pick(&streams),
            json_string(&ev.to_json()),
            ts + rng.range(150, 2500) as i64,
            rng.digits(56)
        );
        out.extend_from_slice(line.as_bytes());
        if out.len() >= target_bytes {
            break;
        }
    }
    out
}

/// AKS diagnostic-settings records as written to a storage account, one per
/// line, `properties.log` holding the Event line (with its newline).
pub fn aks_diagnostic_lines(target_bytes: usize) -> Vec<u8> {
    const RESOURCE_ID: &str = "/SUBSCRIPTIONS/00000000-0000-0000-0000-000000000000/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/bench";
    let mut rng = Rng::new(SEED ^ 0xA25E_D1A6);
    let pods = [
        format!("kube-apiserver-{}-{}", rng.k8s_suffix(10), rng.k8s_suffix(5)),
        format!("kube-apiserver-{}-{}", rng.k8s_suffix(10), rng.k8s_suffix(5)),
    ];
    let mut out = Vec::with_capacity(target_bytes + 16 * 1024);
    let mut line = String::with_capacity(8192);
    for ev in EventGen::new(SEED) {
        line.clear();
        let time = rfc3339(ev.stage_ns + rng.range(1_000_000, 900_000_000) as i64, 7);
        let mut log = ev.to_json();
        log.push('\n');
        let _ = writeln!(
            line,
            "{{\"time\":\"{time}\",\"resourceId\":\"{RESOURCE_ID}\",\"category\":\"kube-audit\",\"operationName\":\"Microsoft.ContainerService/managedClusters/diagnosticLogs/Read\",\"properties\":{{\"log\":{},\"stream\":\"stdout\",\"pod\":\"{}\"}}}}",
            json_string(&log),
            rng.pick(&pods)
        );
        out.extend_from_slice(line.as_bytes());
        if out.len() >= target_bytes {
            break;
        }
    }
    out
}

/// GKE Cloud Audit Logs `LogEntry`s, one per line.
pub fn gke_logentries(target_bytes: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED ^ 0x06CE_0006);
    let mut out = Vec::with_capacity(target_bytes + 16 * 1024);
    for ev in EventGen::new(SEED) {
        out.extend_from_slice(ev.to_gke_logentry(&mut rng).as_bytes());
        out.push(b'\n');
        if out.len() >= target_bytes {
            break;
        }
    }
    out
}

/// CloudWatch subscription-filter deliveries as a Lambda receives them:
/// `{"awslogs":{"data":"<base64(gzip(DATA_MESSAGE json))>"}}`, one per line,
/// each batching up to 50 consecutive events of one log stream.
pub fn eks_subscription_gzip_lines(target_bytes: usize) -> Vec<u8> {
    let mut rng = Rng::new(SEED ^ 0x5AB5_C41B);
    let streams = [stream_name(&mut rng), stream_name(&mut rng)];
    let mut gen = EventGen::new(SEED);
    let mut out = Vec::with_capacity(target_bytes + 64 * 1024);
    let mut doc = String::with_capacity(256 * 1024);
    let mut gz = Vec::with_capacity(64 * 1024);
    while out.len() < target_bytes {
        let n = rng.range(20, 50);
        doc.clear();
        let _ = write!(
            doc,
            "{{\"messageType\":\"DATA_MESSAGE\",\"owner\":\"123456789012\",\"logGroup\":\"/aws/eks/bench/cluster\",\"logStream\":\"{}\",\"subscriptionFilters\":[\"f\"],\"logEvents\":[",
            rng.pick(&streams)
        );
        for i in 0..n {
            let ev = gen.next_event();
            if i > 0 {
                doc.push(',');
            }
            let _ = write!(
                doc,
                "{{\"id\":\"{}\",\"timestamp\":{},\"message\":{}}}",
                rng.digits(56),
                ev.stage_ms(),
                json_string(&ev.to_json())
            );
        }
        doc.push_str("]}");
        gz.clear();
        let mut enc = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
        enc.write_all(doc.as_bytes()).expect("writing to a Vec cannot fail");
        enc.finish().expect("writing to a Vec cannot fail");
        out.extend_from_slice(b"{\"awslogs\":{\"data\":\"");
        out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(&gz).as_bytes());
        out.extend_from_slice(b"\"}}\n");
    }
    out
}

/// A corpus generator: target size in bytes → NDJSON.
pub type Generator = fn(usize) -> Vec<u8>;

/// Every benchmarked source: its kaudit source id and its generator.
pub const SOURCES: [(&str, Generator); 5] = [
    ("k8s", vanilla_corpus),
    ("eks.cloudwatch", eks_cloudwatch_rows),
    ("aks.diagnostic", aks_diagnostic_lines),
    ("gke.logentry", gke_logentries),
    ("eks.subscription", eks_subscription_gzip_lines),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use kaudit_core::{normalize_buffer, Decoder, Options};

    use super::*;

    /// The top-level keys of an object, in input order.
    struct TopKeys(Vec<String>);

    impl<'de> serde::Deserialize<'de> for TopKeys {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = TopKeys;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<TopKeys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some(k) = m.next_key::<String>()? {
                        m.next_value::<serde::de::IgnoredAny>()?;
                        keys.push(k);
                    }
                    Ok(TopKeys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }

    #[test]
    fn timestamps() {
        let t = (days_from_civil(2024, 5, 14) * 86_400 + 9 * 3600 + 62) * NS + 123_456_789;
        assert_eq!(rfc3339(t, 6), "2024-05-14T09:01:02.123456Z");
        assert_eq!(rfc3339(t, 7), "2024-05-14T09:01:02.1234567Z");
        assert_eq!(rfc3339(t, 9), "2024-05-14T09:01:02.123456789Z");
        assert_eq!(civil_from_days(days_from_civil(2000, 2, 29)), (2000, 2, 29));
    }

    #[test]
    fn go_escapes() {
        let mut s = String::new();
        go_quote(&mut s, "a&b<c>\"d\"\\\u{1}");
        assert_eq!(s, r#""a\u0026b\u003cc\u003e\"d\"\\\u0001""#);
    }

    #[test]
    fn deterministic() {
        assert_eq!(vanilla_corpus(200_000), vanilla_corpus(200_000));
        assert_eq!(gke_logentries(100_000), gke_logentries(100_000));
    }

    #[test]
    fn vanilla_lines_are_events_in_apiserver_order() {
        let corpus = vanilla_corpus(2 << 20);
        assert!(corpus.len() >= 2 << 20);
        assert_eq!(corpus.last(), Some(&b'\n'));
        let text = std::str::from_utf8(&corpus).unwrap();
        assert!(text.contains("\\u0026"), "Go-style escapes in query strings");
        let order = [
            "kind",
            "apiVersion",
            "level",
            "auditID",
            "stage",
            "requestURI",
            "verb",
            "user",
            "sourceIPs",
            "userAgent",
            "objectRef",
            "responseStatus",
            "requestObject",
            "responseObject",
            "requestReceivedTimestamp",
            "stageTimestamp",
            "annotations",
        ];
        let mut codes = BTreeMap::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("every line is JSON");
            assert_eq!(v["kind"], "Event");
            assert_eq!(v["apiVersion"], "audit.k8s.io/v1");
            *codes.entry(v["responseStatus"]["code"].as_i64().unwrap()).or_insert(0) += 1;
            // Top-level keys appear in the apiserver's order.
            let keys: TopKeys = serde_json::from_str(line).unwrap();
            let ranks: Vec<usize> =
                keys.0.iter().map(|k| order.iter().position(|o| o == k).expect("known key")).collect();
            assert!(ranks.windows(2).all(|w| w[0] < w[1]), "keys out of order: {:?}", keys.0);
        }
        for code in [101, 200, 201, 401, 403, 409] {
            assert!(codes.contains_key(&code), "status {code} present: {codes:?}");
        }
    }

    #[test]
    fn mix_and_sizes() {
        let evs = events(20_000);
        let mut by: BTreeMap<Class, (usize, usize)> = BTreeMap::new();
        for e in &evs {
            let c = by.entry(e.class).or_default();
            c.0 += 1;
            c.1 += e.to_json().len();
        }
        for (class, w) in Class::MIX {
            let (n, bytes) = by[&class];
            let share = n as f64 / evs.len() as f64 * 100.0;
            assert!((share - w as f64).abs() < 1.0 + w as f64 * 0.1, "{class:?}: {share:.1}% vs {w}%");
            let mean = bytes / n;
            match class {
                Class::Lease => assert!((600..1000).contains(&mean), "lease mean {mean}"),
                Class::PodCreate => assert!((4000..7000).contains(&mean), "pod create mean {mean}"),
                _ => {}
            }
        }
    }

    #[test]
    fn every_corpus_normalizes_without_errors() {
        let dec = Decoder::default();
        for (id, gen) in SOURCES {
            let corpus = gen(1 << 20);
            let (out, stats) = normalize_buffer(&dec, &corpus, Options::default());
            let t = stats.total();
            assert_eq!(t.errors, 0, "{id}: {}", String::from_utf8_lossy(&out[..out.len().min(2000)]));
            assert_eq!(t.skipped, 0, "{id}");
            assert!(t.events > 100, "{id}");
            assert_eq!(stats.by_source.keys().copied().collect::<Vec<_>>(), [id], "{id}");
            assert!(stats.balanced(), "{id}");
            if id != "eks.subscription" {
                assert_eq!(t.events, stats.inputs, "{id}: one event per line");
            }
        }
    }
}
