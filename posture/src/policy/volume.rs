//! Estimated audit-event volume per verb class for a request mix.
//!
//! Each audited request yields one event per stage it is recorded at:
//! `RequestReceived` and `ResponseComplete` unless omitted, plus
//! `ResponseStarted` for long-running requests (watch, exec, attach,
//! portforward, proxy, log) (kubernetes.io "Auditing": "ResponseStarted —
//! Once the response headers are sent, but before the response body is
//! sent. This stage is only generated for long-running requests"). Level
//! `None` yields nothing. Events at `Request`/`RequestResponse` carry bodies.
//!
//! The default mix ([`default_mix`]) is the request mix of kaudit's synthetic
//! performance corpus (shared/reference/performance.md §2.1: "lease updates
//! 40, endpoints churn 17, list/watch 22, node status 8, … pod creates 4,
//! human kubectl traffic 5, anonymous 1, token/subject-access reviews 3"),
//! itself modelled on real apiserver logs; it is synthetic, a starting point
//! for a cluster whose own request rates (apiserver_request_total by verb and
//! resource) are unknown. The split inside each group below is kaudit's.
//! Pass your own mix in the probes format with `weight` fields.

use super::probes::Probe;
use super::simulate::Checker;
use super::{Level, Stage};

/// Verb classes of the estimate.
pub const CLASSES: &[&str] = &["read", "watch", "write", "non-resource"];

/// The class of a request.
pub fn class(p: &Probe) -> &'static str {
    if !p.is_resource {
        return "non-resource";
    }
    match p.verb.as_str() {
        "get" | "list" => "read",
        "watch" => "watch",
        _ => "write",
    }
}

/// Estimated volume of one verb class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassVolume {
    pub class: &'static str,
    /// Sum of request weights.
    pub requests: f64,
    /// Weighted events written.
    pub events: f64,
    /// Of which carrying a request body (level >= Request).
    pub with_request_body: f64,
    /// Of which carrying a response body (RequestResponse).
    pub with_response_body: f64,
}

/// Events written for one request under the policy.
pub fn events_for(checker: &Checker<'_>, p: &Probe) -> (u32, Level) {
    let d = checker.decide(p);
    let lr = p.long_running();
    let n = [Stage::RequestReceived, Stage::ResponseStarted, Stage::ResponseComplete]
        .iter()
        .filter(|s| d.records(**s, lr))
        .count() as u32;
    (n, d.level)
}

/// The estimate, one row per class of [`CLASSES`], plus a total row.
pub fn estimate(checker: &Checker<'_>, mix: &[Probe]) -> Vec<ClassVolume> {
    let mut rows: Vec<ClassVolume> = CLASSES
        .iter()
        .map(|c| ClassVolume { class: c, requests: 0.0, events: 0.0, with_request_body: 0.0, with_response_body: 0.0 })
        .chain(std::iter::once(ClassVolume {
            class: "total",
            requests: 0.0,
            events: 0.0,
            with_request_body: 0.0,
            with_response_body: 0.0,
        }))
        .collect();
    for p in mix {
        let (n, level) = events_for(checker, p);
        let ev = p.weight * f64::from(n);
        let c = class(p);
        for row in rows.iter_mut().filter(|r| r.class == c || r.class == "total") {
            row.requests += p.weight;
            row.events += ev;
            if level >= Level::Request && p.is_resource {
                row.with_request_body += ev;
            }
            if level == Level::RequestResponse && p.is_resource {
                row.with_response_body += ev;
            }
        }
    }
    rows
}

/// `who` = (user, groups); `what` = (group, resource, subresource).
fn req(weight: f64, who: (&str, &[&str]), verb: &str, what: (&str, &str, &str), ns: &str) -> Probe {
    let ((user, groups), (group, resource, sub)) = (who, what);
    Probe {
        id: format!("mix-{verb}-{resource}{}", if sub.is_empty() { String::new() } else { format!("-{sub}") }),
        desc: String::new(),
        user: user.into(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        verb: verb.into(),
        is_resource: true,
        api_group: group.into(),
        resource: resource.into(),
        subresource: sub.into(),
        namespace: ns.into(),
        name: if verb == "list" || verb == "watch" { String::new() } else { "x".into() },
        path: String::new(),
        weight,
    }
}

/// The default mix: 100 requests (see the module docs for the source).
pub fn default_mix() -> Vec<Probe> {
    const AUTH: &[&str] = &["system:authenticated"];
    const NODE: &[&str] = &["system:nodes", "system:authenticated"];
    const KCM: &str = "system:kube-controller-manager";
    let sa_rs = "system:serviceaccount:kube-system:replicaset-controller";
    const SA: &[&str] = &["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"];
    let mut v = vec![
        // lease updates 40: node heartbeats and leader election
        req(30.0, ("system:node:node-1", NODE), "update", ("coordination.k8s.io", "leases", ""), "kube-node-lease"),
        req(10.0, (KCM, AUTH), "update", ("coordination.k8s.io", "leases", ""), "kube-system"),
        // endpoints churn 17
        req(9.0, (KCM, AUTH), "update", ("", "endpoints", ""), "default"),
        req(8.0, (KCM, AUTH), "update", ("discovery.k8s.io", "endpointslices", ""), "default"),
        // list/watch 22
        req(6.0, ("system:kube-proxy", AUTH), "watch", ("", "endpoints", ""), ""),
        req(5.0, ("system:node:node-1", NODE), "watch", ("", "pods", ""), ""),
        req(6.0, (KCM, AUTH), "list", ("", "pods", ""), ""),
        req(5.0, (KCM, AUTH), "list", ("apps", "replicasets", ""), ""),
        // node status 8
        req(4.0, ("system:node:node-1", NODE), "patch", ("", "nodes", "status"), ""),
        req(4.0, ("system:node:node-1", NODE), "patch", ("", "pods", "status"), "default"),
        // pod creates 4
        req(4.0, (sa_rs, SA), "create", ("", "pods", ""), "default"),
        // human kubectl 5
        req(1.0, ("alice", AUTH), "get", ("", "pods", "exec"), "default"),
        req(1.0, ("alice", AUTH), "get", ("", "secrets", ""), "default"),
        req(1.0, ("alice", AUTH), "create", ("rbac.authorization.k8s.io", "rolebindings", ""), "default"),
        req(1.0, ("alice", AUTH), "get", ("apps", "deployments", ""), "default"),
        req(1.0, ("alice", AUTH), "list", ("", "pods", ""), "default"),
        // token / subject-access reviews 3
        req(2.0, ("system:kube-apiserver", AUTH), "create", ("authentication.k8s.io", "tokenreviews", ""), ""),
        req(1.0, ("system:kube-apiserver", AUTH), "create", ("authorization.k8s.io", "subjectaccessreviews", ""), ""),
    ];
    // anonymous 1: a health probe
    v.push(Probe {
        id: "mix-get-healthz".into(),
        user: "system:anonymous".into(),
        groups: vec!["system:unauthenticated".into()],
        verb: "get".into(),
        is_resource: false,
        path: "/healthz".into(),
        weight: 1.0,
        ..Probe::default()
    });
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mix_is_one_hundred_requests() {
        let total: f64 = default_mix().iter().map(|p| p.weight).sum();
        assert!((total - 100.0).abs() < 1e-9);
    }
}
