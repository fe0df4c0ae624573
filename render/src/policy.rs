//! Vendor audit policies, as `audit.k8s.io/v1` `Policy` rules evaluated the
//! way the apiserver does (first matching rule wins; `omitStages`).
//!
//! * `CONFIGURE_HELPER` — kubernetes/kubernetes@b574b11f
//!   `cluster/gce/gci/configure-helper.sh`, `create-master-audit-policy`
//!   (formats.md S11), which GKE (§7, S41) and EKS (§3, S27) run.
//! * `EKS` — the same, preceded by EKS's `RequestResponse` rule for writes
//!   to `kube-system/aws-auth` (§3, S27).
//! * `OPENSHIFT_DEFAULT` — OpenShift's `Default` profile (§9, S45): global
//!   `omitStages: [RequestReceived]`, no events for `/api*`, `/version`,
//!   `/healthz`, `/readyz`, `/livez` and for `system:apiserver` on
//!   `apirequestcounts`, full bodies for identity and OAuth-token writes,
//!   Metadata for everything else.
//!
//! The apiserver evaluates the policy for the *authenticated* user
//! (`WithAudit` runs before `WithImpersonation`), so `user` is matched, not
//! `impersonatedUser`.

use serde_json::{Map, Value};

use crate::str_at;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    None,
    Metadata,
    Request,
    RequestResponse,
}

impl Level {
    fn parse(s: &str) -> Option<Level> {
        Some(match s {
            "None" => Level::None,
            "Metadata" => Level::Metadata,
            "Request" => Level::Request,
            "RequestResponse" => Level::RequestResponse,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

/// `GroupResources`: a group, its resources (empty = all, subresources
/// included) and optional resource names.
pub(crate) struct Gr {
    group: &'static str,
    resources: &'static [&'static str],
    names: &'static [&'static str],
}

const fn gr(group: &'static str, resources: &'static [&'static str]) -> Gr {
    Gr { group, resources, names: &[] }
}

/// One `PolicyRule`. Empty lists match anything; `resources: None` and
/// `non_resource: None` together match every request.
pub(crate) struct PolicyRule {
    level: Level,
    users: &'static [&'static str],
    groups: &'static [&'static str],
    verbs: &'static [&'static str],
    namespaces: &'static [&'static str],
    resources: Option<&'static [Gr]>,
    non_resource: Option<&'static [&'static str]>,
}

const ANY: PolicyRule = PolicyRule {
    level: Level::Metadata,
    users: &[],
    groups: &[],
    verbs: &[],
    namespaces: &[],
    resources: None,
    non_resource: None,
};

pub(crate) struct Policy {
    /// Policy-wide (or every non-None rule's) `omitStages: [RequestReceived]`.
    omit_request_received: bool,
    rules: &'static [PolicyRule],
}

/// `${known_apis}` of configure-helper.sh.
const KNOWN_APIS: &[Gr] = &[
    gr("", &[]),
    gr("admissionregistration.k8s.io", &[]),
    gr("apiextensions.k8s.io", &[]),
    gr("apiregistration.k8s.io", &[]),
    gr("apps", &[]),
    gr("authentication.k8s.io", &[]),
    gr("authorization.k8s.io", &[]),
    gr("autoscaling", &[]),
    gr("batch", &[]),
    gr("certificates.k8s.io", &[]),
    gr("extensions", &[]),
    gr("metrics.k8s.io", &[]),
    gr("networking.k8s.io", &[]),
    gr("node.k8s.io", &[]),
    gr("policy", &[]),
    gr("rbac.authorization.k8s.io", &[]),
    gr("scheduling.k8s.io", &[]),
    gr("storage.k8s.io", &[]),
];

macro_rules! configure_helper_rules {
    () => {
        [
            // High-volume, low-risk requests: dropped.
            PolicyRule {
                level: Level::None,
                users: &["system:kube-proxy"],
                verbs: &["watch"],
                resources: Some(&[gr("", &["endpoints", "services", "services/status"])]),
                ..ANY
            },
            PolicyRule {
                level: Level::None,
                users: &["system:unsecured"],
                namespaces: &["kube-system"],
                verbs: &["get"],
                resources: Some(&[gr("", &["configmaps"])]),
                ..ANY
            },
            PolicyRule {
                level: Level::None,
                users: &["kubelet"],
                verbs: &["get"],
                resources: Some(&[gr("", &["nodes", "nodes/status"])]),
                ..ANY
            },
            PolicyRule {
                level: Level::None,
                groups: &["system:nodes"],
                verbs: &["get"],
                resources: Some(&[gr("", &["nodes", "nodes/status"])]),
                ..ANY
            },
            PolicyRule {
                level: Level::None,
                users: &[
                    "system:kube-controller-manager",
                    "system:cloud-controller-manager",
                    "system:kube-scheduler",
                    "system:serviceaccount:kube-system:endpoint-controller",
                ],
                verbs: &["get", "update"],
                namespaces: &["kube-system"],
                resources: Some(&[gr("", &["endpoints"])]),
                ..ANY
            },
            PolicyRule {
                level: Level::None,
                users: &["system:apiserver"],
                verbs: &["get"],
                resources: Some(&[gr("", &["namespaces", "namespaces/status", "namespaces/finalize"])]),
                ..ANY
            },
            PolicyRule {
                level: Level::None,
                users: &["cluster-autoscaler"],
                verbs: &["get", "update"],
                namespaces: &["kube-system"],
                resources: Some(&[gr("", &["configmaps", "endpoints"])]),
                ..ANY
            },
            // HPA fetching metrics.
            PolicyRule {
                level: Level::None,
                users: &["system:kube-controller-manager", "system:cloud-controller-manager"],
                verbs: &["get", "list"],
                resources: Some(&[gr("metrics.k8s.io", &[])]),
                ..ANY
            },
            // Read-only URLs.
            PolicyRule { level: Level::None, non_resource: Some(&["/healthz*", "/version", "/swagger*"]), ..ANY },
            // Core events: never logged.
            PolicyRule { level: Level::None, resources: Some(&[gr("", &["events"])]), ..ANY },
            // Node and pod status updates from nodes: no response.
            PolicyRule {
                level: Level::Request,
                users: &[
                    "kubelet",
                    "system:node-problem-detector",
                    "system:serviceaccount:kube-system:node-problem-detector",
                ],
                verbs: &["update", "patch"],
                resources: Some(&[gr("", &["nodes/status", "pods/status"])]),
                ..ANY
            },
            PolicyRule {
                level: Level::Request,
                groups: &["system:nodes"],
                verbs: &["update", "patch"],
                resources: Some(&[gr("", &["nodes/status", "pods/status"])]),
                ..ANY
            },
            PolicyRule {
                level: Level::Request,
                users: &["system:serviceaccount:kube-system:namespace-controller"],
                verbs: &["deletecollection"],
                ..ANY
            },
            // Secrets, ConfigMaps, TokenRequest and TokenReviews: Metadata.
            PolicyRule {
                level: Level::Metadata,
                resources: Some(&[
                    gr("", &["secrets", "configmaps", "serviceaccounts/token"]),
                    gr("authentication.k8s.io", &["tokenreviews"]),
                ]),
                ..ANY
            },
            // Reads of known APIs: no response.
            PolicyRule { level: Level::Request, verbs: &["get", "list", "watch"], resources: Some(KNOWN_APIS), ..ANY },
            PolicyRule { level: Level::RequestResponse, resources: Some(KNOWN_APIS), ..ANY },
            // Everything else.
            PolicyRule { level: Level::Metadata, ..ANY },
        ]
    };
}

pub(crate) const CONFIGURE_HELPER: Policy = Policy { omit_request_received: true, rules: &configure_helper_rules!() };

const EKS_RULES: &[PolicyRule] = &{
    let base = configure_helper_rules!();
    let mut out = [ANY; 18];
    out[0] = PolicyRule {
        level: Level::RequestResponse,
        namespaces: &["kube-system"],
        verbs: &["update", "patch", "delete"],
        resources: Some(&[Gr { group: "", resources: &["configmaps"], names: &["aws-auth"] }]),
        ..ANY
    };
    let mut i = 0;
    while i < base.len() {
        out[i + 1] = copy(&base[i]);
        i += 1;
    }
    out
};

const fn copy(r: &PolicyRule) -> PolicyRule {
    PolicyRule {
        level: r.level,
        users: r.users,
        groups: r.groups,
        verbs: r.verbs,
        namespaces: r.namespaces,
        resources: r.resources,
        non_resource: r.non_resource,
    }
}

pub(crate) const EKS: Policy = Policy { omit_request_received: true, rules: EKS_RULES };

pub(crate) const OPENSHIFT_DEFAULT: Policy = Policy {
    omit_request_received: true,
    rules: &[
        PolicyRule {
            level: Level::None,
            groups: &["system:authenticated", "system:unauthenticated"],
            non_resource: Some(&["/api*", "/version", "/healthz", "/readyz", "/livez"]),
            ..ANY
        },
        PolicyRule {
            level: Level::None,
            users: &["system:apiserver"],
            namespaces: &[""],
            resources: Some(&[gr("apiserver.openshift.io", &["apirequestcounts", "apirequestcounts/*"])]),
            ..ANY
        },
        PolicyRule {
            level: Level::RequestResponse,
            verbs: &["create", "update", "patch", "delete"],
            resources: Some(&[
                gr("user.openshift.io", &["identities"]),
                gr("oauth.openshift.io", &["oauthaccesstokens", "oauthauthorizetokens"]),
            ]),
            ..ANY
        },
        PolicyRule { level: Level::Metadata, ..ANY },
    ],
};

/// What the policy sees of a request.
struct Attrs<'e> {
    user: &'e str,
    groups: Vec<&'e str>,
    verb: &'e str,
    /// `(group, resource, subresource, namespace, name)` for resource requests.
    resource: Option<(String, &'e str, &'e str, &'e str, &'e str)>,
    path: &'e str,
}

fn attrs(ev: &Map<String, Value>) -> Attrs<'_> {
    let groups = ev
        .get("user")
        .and_then(|u| u.get("groups"))
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let uri = str_at(ev, &["requestURI"]).unwrap_or("");
    let resource = str_at(ev, &["objectRef", "resource"]).map(|r| {
        (
            crate::gke::api_group(ev),
            r,
            str_at(ev, &["objectRef", "subresource"]).unwrap_or(""),
            str_at(ev, &["objectRef", "namespace"]).unwrap_or(""),
            str_at(ev, &["objectRef", "name"]).unwrap_or(""),
        )
    });
    Attrs {
        user: str_at(ev, &["user", "username"]).unwrap_or(""),
        groups,
        verb: str_at(ev, &["verb"]).unwrap_or(""),
        resource,
        path: uri.split('?').next().unwrap_or(""),
    }
}

fn glob(pat: &str, s: &str) -> bool {
    match pat.strip_suffix('*') {
        Some(prefix) => s.starts_with(prefix),
        None => pat == s,
    }
}

impl PolicyRule {
    fn matches(&self, a: &Attrs<'_>) -> bool {
        if !self.users.is_empty() && !self.users.contains(&a.user) {
            return false;
        }
        if !self.groups.is_empty() && !a.groups.iter().any(|g| self.groups.contains(g)) {
            return false;
        }
        if !self.verbs.is_empty() && !self.verbs.contains(&a.verb) {
            return false;
        }
        match &a.resource {
            Some((group, res, sub, ns, name)) => {
                if self.non_resource.is_some() && self.resources.is_none() {
                    return false;
                }
                if !self.namespaces.is_empty() && !self.namespaces.contains(ns) {
                    return false;
                }
                let Some(grs) = self.resources else { return true };
                let combined = if sub.is_empty() { res.to_string() } else { format!("{res}/{sub}") };
                grs.iter().any(|g| {
                    g.group == group
                        && (g.names.is_empty() || g.names.contains(name))
                        && (g.resources.is_empty()
                            || g.resources.iter().any(|r| {
                                *r == combined
                                    || *r == "*"
                                    || (!sub.is_empty() && (*r == format!("{res}/*") || *r == format!("*/{sub}")))
                            }))
                })
            }
            None => {
                if self.resources.is_some() || !self.namespaces.is_empty() {
                    return false;
                }
                match self.non_resource {
                    None => true,
                    Some(urls) => urls.iter().any(|u| glob(u, a.path)),
                }
            }
        }
    }
}

/// Apply `policy` to `ev` in place. `None`: the event is not delivered
/// (level `None`, or an omitted stage).
///
/// The rendered level is the lower of the event's own level and the
/// policy's: a policy cannot add bodies the test event does not carry. An
/// event without `level` gets the policy's level when that level drops
/// bodies (the vendor would write it), and stays without one otherwise (the
/// bodies it lacks may have been dropped: kaudit reads them as blind).
pub(crate) fn apply(ev: &mut Map<String, Value>, policy: &Policy) -> Option<()> {
    if policy.omit_request_received && str_at(ev, &["stage"]) == Some("RequestReceived") {
        return None;
    }
    let a = attrs(ev);
    let level = policy.rules.iter().find(|r| r.matches(&a)).map_or(Level::None, |r| r.level);
    if level == Level::None {
        return None;
    }
    let own = str_at(ev, &["level"]).and_then(Level::parse);
    let eff = match own {
        Some(o) => Some(o.min(level)),
        None if level < Level::RequestResponse => Some(level),
        None => None,
    };
    if let Some(l) = eff {
        if l <= Level::Metadata {
            ev.remove("requestObject");
            ev.remove("responseObject");
        } else if l == Level::Request {
            ev.remove("responseObject");
        }
        if own.is_some() || l < Level::RequestResponse {
            ev.insert("level".into(), l.as_str().into());
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_object as m;

    #[test]
    fn configure_helper_levels() {
        let mut e = m(r#"{"level":"RequestResponse","verb":"get","objectRef":{"resource":"pods"},
            "requestObject":{},"responseObject":{}}"#);
        apply(&mut e, &CONFIGURE_HELPER).unwrap();
        assert_eq!(e["level"], "Request");
        assert!(e.contains_key("requestObject") && !e.contains_key("responseObject"));

        let mut e =
            m(r#"{"verb":"create","objectRef":{"resource":"widgets","apiGroup":"example.com"},"requestObject":{}}"#);
        apply(&mut e, &CONFIGURE_HELPER).unwrap();
        assert_eq!(e["level"], "Metadata");
        assert!(!e.contains_key("requestObject"));

        let mut e = m(r#"{"verb":"get","requestURI":"/healthz?verbose"}"#);
        assert!(apply(&mut e, &CONFIGURE_HELPER).is_none());
    }

    #[test]
    fn eks_keeps_aws_auth_bodies() {
        let mut e = m(r#"{"level":"RequestResponse","verb":"update","objectRef":{"resource":"configmaps",
            "namespace":"kube-system","name":"aws-auth"},"requestObject":{}}"#);
        apply(&mut e, &EKS).unwrap();
        assert_eq!(e["level"], "RequestResponse");
        let mut e = m(r#"{"level":"RequestResponse","verb":"update","objectRef":{"resource":"configmaps",
            "namespace":"kube-system","name":"other"},"requestObject":{}}"#);
        apply(&mut e, &EKS).unwrap();
        assert_eq!(e["level"], "Metadata");
    }

    #[test]
    fn openshift_subresources_and_tokens() {
        let mut e = m(r#"{"level":"RequestResponse","verb":"create","objectRef":{"resource":"oauthaccesstokens",
            "apiGroup":"oauth.openshift.io"},"requestObject":{}}"#);
        apply(&mut e, &OPENSHIFT_DEFAULT).unwrap();
        assert_eq!(e["level"], "RequestResponse");
        let mut e = m(r#"{"verb":"get","requestURI":"/apis","user":{"groups":["system:authenticated"]}}"#);
        assert!(apply(&mut e, &OPENSHIFT_DEFAULT).is_none());
    }
}
