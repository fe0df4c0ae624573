//! GKE (formats.md §7): a Cloud Audit Logs `LogEntry` built from a vanilla
//! Event that has already been through GKE's audit policy.
//!
//! What the LogEntry cannot carry is simply not written (`format_losses`):
//! user uid/groups/extra, impersonated groups, `stage`, `level`,
//! `stageTimestamp`, the URI query, every source IP but the first, objectRef
//! uid/resourceVersion, and the HTTP code of non-error responses (`status`
//! is a gRPC code; an HTTP code survives only in a Kubernetes `Status` in
//! `response`, which GKE writes for errors).

use serde_json::{Map, Value};

use crate::str_at;

/// Well-known API groups by resource, used only when the test event names
/// neither `objectRef.apiGroup` nor a `/apis/<group>/…` URI (hand-written
/// test events often leave the group out). Unknown resources are core.
fn group_of_resource(r: &str) -> &'static str {
    match r {
        "deployments" | "daemonsets" | "statefulsets" | "replicasets" | "controllerrevisions" => "apps",
        "jobs" | "cronjobs" => "batch",
        "roles" | "rolebindings" | "clusterroles" | "clusterrolebindings" => "rbac.authorization.k8s.io",
        "networkpolicies" | "ingresses" | "ingressclasses" => "networking.k8s.io",
        "mutatingwebhookconfigurations"
        | "validatingwebhookconfigurations"
        | "validatingadmissionpolicies"
        | "validatingadmissionpolicybindings" => "admissionregistration.k8s.io",
        "certificatesigningrequests" => "certificates.k8s.io",
        "tokenreviews" => "authentication.k8s.io",
        "subjectaccessreviews"
        | "selfsubjectaccessreviews"
        | "selfsubjectrulesreviews"
        | "localsubjectaccessreviews" => "authorization.k8s.io",
        "customresourcedefinitions" => "apiextensions.k8s.io",
        "apiservices" => "apiregistration.k8s.io",
        "poddisruptionbudgets" | "podsecuritypolicies" => "policy",
        "storageclasses" | "csidrivers" | "csinodes" | "volumeattachments" => "storage.k8s.io",
        "priorityclasses" => "scheduling.k8s.io",
        "runtimeclasses" => "node.k8s.io",
        "horizontalpodautoscalers" => "autoscaling",
        "leases" => "coordination.k8s.io",
        _ => "",
    }
}

/// `(group, version)` from a `/api/<v>/…` or `/apis/<g>/<v>/…` URI.
fn uri_group_version(ev: &Map<String, Value>) -> Option<(String, String)> {
    let uri = str_at(ev, &["requestURI"])?;
    let path = uri.split('?').next()?;
    let segs: Vec<&str> = path.split('/').collect();
    match segs.get(1) {
        Some(&"api") => Some((String::new(), segs.get(2)?.to_string())),
        Some(&"apis") => Some((segs.get(2)?.to_string(), segs.get(3)?.to_string())),
        _ => None,
    }
}

/// The request's API group: `objectRef.apiGroup`, else from the URI, else
/// the well-known group of the resource.
pub(crate) fn api_group(ev: &Map<String, Value>) -> String {
    if let Some(g) = str_at(ev, &["objectRef", "apiGroup"]) {
        return g.to_string();
    }
    if let Some((g, _)) = uri_group_version(ev) {
        return g;
    }
    group_of_resource(str_at(ev, &["objectRef", "resource"]).unwrap_or("")).to_string()
}

/// The request's API version: `objectRef.apiVersion`, else from the URI,
/// else `v1`.
fn api_version(ev: &Map<String, Value>) -> String {
    if let Some(v) = str_at(ev, &["objectRef", "apiVersion"]) {
        return v.to_string();
    }
    uri_group_version(ev).map(|(_, v)| v).unwrap_or_else(|| "v1".into())
}

/// `methodName`'s group part: `core` for the core group; `*.k8s.io` groups
/// lose `.k8s.io` and are reversed (`rbac.authorization.k8s.io` →
/// `authorization.rbac`); other groups as written (§7, S21, S13).
fn method_group(g: &str) -> String {
    if g.is_empty() {
        return "core".into();
    }
    match g.strip_suffix(".k8s.io") {
        Some(rest) => rest.split('.').rev().collect::<Vec<_>>().join("."),
        None => g.to_string(),
    }
}

/// The `@type` GKE injects into bodies: `<group>.k8s.io/<version>.<Kind>`
/// (`core.k8s.io/v1.Pod`, `apps.k8s.io/v1.Deployment`; groups that already
/// have dots are kept: `rbac.authorization.k8s.io/v1.ClusterRoleBinding`),
/// `k8s.io/Patch` for a patch body without `kind` (S20, S21).
fn body_type(body: &Map<String, Value>, verb: &str) -> Option<String> {
    let kind = body.get("kind").and_then(Value::as_str);
    let api_version = body.get("apiVersion").and_then(Value::as_str);
    match (kind, api_version) {
        (Some(k), Some(av)) => {
            let (g, v) = av.rsplit_once('/').unwrap_or(("", av));
            let g = if g.is_empty() {
                "core.k8s.io".to_string()
            } else if g.contains('.') {
                g.to_string()
            } else {
                format!("{g}.k8s.io")
            };
            Some(format!("{g}/{v}.{k}"))
        }
        _ if verb == "patch" => Some("k8s.io/Patch".into()),
        _ => None,
    }
}

fn with_type(body: &Value, verb: &str) -> Value {
    match body {
        Value::Object(m) => {
            let mut out = Map::new();
            if let Some(t) = body_type(m, verb) {
                out.insert("@type".into(), t.into());
            }
            for (k, v) in m {
                out.insert(k.clone(), v.clone());
            }
            Value::Object(out)
        }
        // A JSON-patch array has nowhere to put `@type`.
        other => other.clone(),
    }
}

/// HTTP → gRPC code for `protoPayload.status` (google.rpc.Code): 401
/// UNAUTHENTICATED, 403 PERMISSION_DENIED, 404 NOT_FOUND, 409 ALREADY_EXISTS
/// (reason AlreadyExists) or ABORTED, 429 RESOURCE_EXHAUSTED, 400/422
/// INVALID_ARGUMENT, 5xx INTERNAL; any other error UNKNOWN.
pub fn grpc_code(http: i64, reason: Option<&str>) -> i64 {
    match http {
        401 => 16,
        403 => 7,
        404 => 5,
        409 if reason == Some("AlreadyExists") => 6,
        409 => 10,
        429 => 8,
        400 | 422 => 3,
        500..=599 => 13,
        _ => 2,
    }
}

/// `core/v1/namespaces/<ns>/pods/<name>/<sub>`, or the URI path for a
/// non-resource request.
fn resource_name(ev: &Map<String, Value>) -> Option<String> {
    let Some(resource) = str_at(ev, &["objectRef", "resource"]) else {
        let uri = str_at(ev, &["requestURI"])?;
        return Some(uri.split('?').next().unwrap_or(uri).to_string());
    };
    let g = api_group(ev);
    let mut s = format!("{}/{}", if g.is_empty() { "core" } else { g.as_str() }, api_version(ev));
    if let Some(ns) = str_at(ev, &["objectRef", "namespace"]).filter(|n| !n.is_empty()) {
        // A namespace object is `…/namespaces/<name>`, not nested in itself.
        if resource != "namespaces" {
            s.push_str(&format!("/namespaces/{ns}"));
        }
    }
    s.push('/');
    s.push_str(resource);
    if let Some(name) = str_at(ev, &["objectRef", "name"]) {
        s.push('/');
        s.push_str(name);
        if let Some(sub) = str_at(ev, &["objectRef", "subresource"]) {
            s.push('/');
            s.push_str(sub);
            // A proxy request's path beyond the subresource
            // (`nodes/<n>/proxy/metrics`) stays in `resourceName`, as in
            // the built-in rules' GKE samples; the decoder keeps it as
            // `subresource: proxy/…` (unverified on a live cluster).
            let uri = str_at(ev, &["requestURI"]).unwrap_or("");
            let path = uri.split('?').next().unwrap_or("");
            let marker = format!("/{name}/{sub}/");
            if let Some(i) = path.find(&marker) {
                s.push_str(&path[i + marker.len() - 1..]);
            }
        }
    }
    Some(s)
}

/// Whether the request is long-running (the apiserver logs it at
/// ResponseStarted and again at ResponseComplete): watches, and the exec,
/// attach, portforward, proxy and log subresources.
pub(crate) fn long_running(ev: &Map<String, Value>) -> bool {
    let sub = str_at(ev, &["objectRef", "subresource"]).unwrap_or("");
    let uri = str_at(ev, &["requestURI"]).unwrap_or("");
    str_at(ev, &["verb"]) == Some("watch")
        || matches!(sub, "exec" | "attach" | "portforward" | "proxy" | "log")
        || sub.starts_with("proxy/")
        || uri.contains("watch=true")
        || uri.contains("watch=1")
}

fn method_name(ev: &Map<String, Value>) -> Option<String> {
    let verb = str_at(ev, &["verb"])?;
    let Some(resource) = str_at(ev, &["objectRef", "resource"]) else {
        // Non-resource URL: only the verb is known (unverified shape; the
        // decoder reads the verb from the last segment).
        return Some(format!("io.k8s.{verb}"));
    };
    let mut s = format!("io.k8s.{}.{}.{resource}", method_group(&api_group(ev)), api_version(ev));
    if let Some(sub) = str_at(ev, &["objectRef", "subresource"]) {
        s.push('.');
        s.push_str(sub);
    }
    s.push('.');
    s.push_str(verb);
    Some(s)
}

const PROJECT: &str = "kaudit-render";

/// What the input canonical event's `kaudit` object says that the Event
/// alone cannot: whether a code-less response succeeded (a GKE `status: {}`
/// seen again), and whether the source already had no response body.
#[derive(Default)]
pub(crate) struct Context {
    outcome: Option<String>,
    response_missing: bool,
}

impl Context {
    pub(crate) fn of(event: &Value) -> Context {
        let k = event.get("kaudit");
        Context {
            outcome: k.and_then(|k| k.get("outcome")).and_then(Value::as_str).map(String::from),
            response_missing: k
                .and_then(|k| k.get("missing"))
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|f| f == "responseObject")),
        }
    }
}

/// The LogEntry for a policy-filtered Event.
pub(crate) fn log_entry(ev: &Map<String, Value>, ctx: &Context) -> String {
    let verb = str_at(ev, &["verb"]).unwrap_or("");
    let audit_id = str_at(ev, &["auditID"]);
    let mut e = Map::new();
    // insertId and operation.id are the auditID (§7: equal in every sample).
    if let Some(id) = audit_id {
        e.insert("insertId".into(), id.into());
    }
    // Reads go to the Data Access log, writes to Admin Activity (S40, S41).
    let log = if matches!(verb, "get" | "list" | "watch") { "data_access" } else { "activity" };
    e.insert("logName".into(), format!("projects/{PROJECT}/logs/cloudaudit.googleapis.com%2F{log}").into());
    e.insert(
        "resource".into(),
        serde_json::json!({"type": "k8s_cluster", "labels": {
            "project_id": PROJECT, "location": "us-central1", "cluster_name": "kaudit-render"}}),
    );
    let received = str_at(ev, &["requestReceivedTimestamp"]).or_else(|| str_at(ev, &["stageTimestamp"]));
    if let Some(t) = received {
        e.insert("timestamp".into(), t.into());
        let ingested = str_at(ev, &["stageTimestamp"]).unwrap_or(t);
        e.insert("receiveTimestamp".into(), ingested.into());
    }
    if let Some(a) = ev.get("annotations").filter(|a| a.is_object()) {
        e.insert("labels".into(), a.clone());
    }
    if let Some(id) = audit_id {
        e.insert("operation".into(), serde_json::json!({"id": id, "producer": "k8s.io", "first": true, "last": true}));
    }

    let mut p = Map::new();
    p.insert("@type".into(), "type.googleapis.com/google.cloud.audit.AuditLog".into());
    p.insert("serviceName".into(), "k8s.io".into());
    let method = method_name(ev);
    let rname = resource_name(ev);
    if let Some(m) = &method {
        p.insert("methodName".into(), m.clone().into());
    }
    if let Some(r) = &rname {
        p.insert("resourceName".into(), r.clone().into());
    }
    let mut authn = Map::new();
    if let Some(u) = str_at(ev, &["user", "username"]) {
        authn.insert("principalEmail".into(), u.into());
    }
    // Impersonation: `authoritySelector` (S42); no impersonated groups.
    if let Some(u) = str_at(ev, &["impersonatedUser", "username"]) {
        authn.insert("authoritySelector".into(), u.into());
    }
    p.insert("authenticationInfo".into(), Value::Object(authn));
    // authorizationInfo only where the Event states the decision; proto3
    // omits `granted: false`.
    // A GKE entry seen again whose only statement of failure was a denied
    // check (no status, no decision label) gets that check back.
    let denied_check = ev.get("responseStatus").is_none() && ctx.outcome.as_deref() == Some("failure");
    let decision = ev
        .get("annotations")
        .and_then(|a| a.get("authorization.k8s.io/decision"))
        .and_then(Value::as_str)
        .or(if denied_check { Some("forbid") } else { None });
    if let (Some(d), Some(m), Some(r)) = (decision, &method, &rname) {
        let mut check = Map::new();
        check.insert("permission".into(), m.clone().into());
        check.insert("resource".into(), r.clone().into());
        if d == "allow" {
            check.insert("granted".into(), true.into());
        }
        p.insert("authorizationInfo".into(), Value::Array(vec![Value::Object(check)]));
    }
    let mut meta = Map::new();
    if let Some(ip) = ev.get("sourceIPs").and_then(|s| s.get(0)).and_then(Value::as_str) {
        meta.insert("callerIp".into(), ip.into());
    }
    if let Some(ua) = str_at(ev, &["userAgent"]) {
        meta.insert("callerSuppliedUserAgent".into(), ua.into());
    }
    if !meta.is_empty() {
        p.insert("requestMetadata".into(), Value::Object(meta));
    }
    if let Some(b) = ev.get("requestObject").filter(|b| !b.is_null()) {
        p.insert("request".into(), with_type(b, verb));
    }
    let status = ev.get("responseStatus").and_then(Value::as_object);
    let code = status.and_then(|s| s.get("code")).and_then(Value::as_i64);
    let reason = status.and_then(|s| s.get("reason")).and_then(Value::as_str);
    let message = status.and_then(|s| s.get("message")).and_then(Value::as_str);
    match code {
        Some(c) if c >= 400 => {
            let mut st = Map::new();
            st.insert("code".into(), grpc_code(c, reason).into());
            if let Some(m) = message {
                st.insert("message".into(), m.into());
            }
            p.insert("status".into(), Value::Object(st));
            // The error's Kubernetes Status: the Event's own if it has one;
            // none when the input (a GKE entry seen again) had no response.
            let own = ev.get("responseObject").filter(|r| r.get("kind").and_then(Value::as_str) == Some("Status"));
            let resp = match own {
                Some(r) => Some(with_type(r, verb)),
                None if ctx.response_missing => None,
                None => {
                    let mut s = Map::new();
                    s.insert("@type".into(), "core.k8s.io/v1.Status".into());
                    s.insert("kind".into(), "Status".into());
                    s.insert("apiVersion".into(), "v1".into());
                    s.insert("status".into(), "Failure".into());
                    s.insert("code".into(), c.into());
                    if let Some(r) = reason {
                        s.insert("reason".into(), r.into());
                    }
                    if let Some(m) = message {
                        s.insert("message".into(), m.into());
                    }
                    Some(Value::Object(s))
                }
            };
            if let Some(r) = resp {
                p.insert("response".into(), r);
            }
        }
        other => {
            if let Some(b) = ev.get("responseObject").filter(|b| !b.is_null()) {
                p.insert("response".into(), with_type(b, verb));
            }
            // Without a code (a GKE entry seen again), the input's outcome
            // says which status it had.
            let outcome = ctx.outcome.as_deref();
            match (other, outcome) {
                // An OK status is `{}` (proto3 omits code 0).
                (Some(_), _) | (None, Some("success")) => {
                    p.insert("status".into(), Value::Object(Map::new()));
                }
                // An error whose gRPC code maps to no HTTP code: UNKNOWN.
                (None, Some("failure")) if status.is_some() => {
                    let mut st = Map::new();
                    st.insert("code".into(), 2.into());
                    if let Some(m) = message {
                        st.insert("message".into(), m.into());
                    }
                    p.insert("status".into(), Value::Object(st));
                }
                _ => {}
            }
        }
    }
    e.insert("protoPayload".into(), Value::Object(p));
    Value::Object(e).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_object as m;

    #[test]
    fn method_and_resource_names() {
        let e = m(r#"{"verb":"create","objectRef":{"resource":"clusterrolebindings","name":"x",
            "apiGroup":"rbac.authorization.k8s.io","apiVersion":"v1"}}"#);
        assert_eq!(method_name(&e).unwrap(), "io.k8s.authorization.rbac.v1.clusterrolebindings.create");
        assert_eq!(resource_name(&e).unwrap(), "rbac.authorization.k8s.io/v1/clusterrolebindings/x");
        let e =
            m(r#"{"verb":"create","objectRef":{"resource":"pods","namespace":"d","name":"p","subresource":"exec"}}"#);
        assert_eq!(method_name(&e).unwrap(), "io.k8s.core.v1.pods.exec.create");
        assert_eq!(resource_name(&e).unwrap(), "core/v1/namespaces/d/pods/p/exec");
    }

    #[test]
    fn body_types() {
        let b = m(r#"{"kind":"Deployment","apiVersion":"apps/v1"}"#);
        assert_eq!(body_type(&b, "create").unwrap(), "apps.k8s.io/v1.Deployment");
        let b = m(r#"{"kind":"Pod","apiVersion":"v1"}"#);
        assert_eq!(body_type(&b, "create").unwrap(), "core.k8s.io/v1.Pod");
        assert_eq!(body_type(&m("{}"), "patch").unwrap(), "k8s.io/Patch");
    }
}
