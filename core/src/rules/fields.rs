//! The field catalog: every name a condition may use, what it reads, and
//! which canonical fields it needs (so a rule over a field the source cannot
//! provide is *blind*, not silently false).

use std::borrow::Cow;

use crate::event::{Field, FieldSet};

/// A path step into a JSON body.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Step {
    Key(String),
    /// `[]`: every element of an array.
    Each,
}

/// Which body a path reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Body {
    Request,
    Response,
}

/// A derived field, computed once per event on first use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Derived {
    ActorKind,
    ActorSaNamespace,
    ActorSaName,
    /// `true` for an exec/attach into a pod, whatever the transport
    /// (SPDY `create` or WebSocket `get`).
    Exec,
    ExecCommand,
    ExecContainer,
    PodSpec(PodField),
    Rbac(RbacField),
}

/// `pod_spec.*`: over Pods and workload templates, all container kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PodField {
    /// Whether the object carries a pod spec at all.
    Present,
    Privileged,
    AllowPrivilegeEscalation,
    HostPid,
    HostIpc,
    HostNetwork,
    HostPaths,
    HostPorts,
    CapsAdded,
    RunsAsRoot,
    Images,
    ServiceAccount,
    ContainerNames,
}

/// `rbac.*`: Role/ClusterRole rules and (Cluster)RoleBinding refs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RbacField {
    Verbs,
    Resources,
    ApiGroups,
    RoleRefName,
    RoleRefKind,
    SubjectKinds,
    SubjectNames,
}

/// A resolved field reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum FieldRef {
    Kind,
    ApiVersion,
    Level,
    AuditId,
    Stage,
    RequestUri,
    RequestUriPath,
    Verb,
    UserName,
    UserUid,
    UserGroups,
    UserExtra(String),
    ImpUserName,
    ImpUserGroups,
    SourceIps,
    SourceIp,
    UserAgent,
    ObjResource,
    ObjSubresource,
    ObjNamespace,
    ObjName,
    ObjUid,
    ObjApiGroup,
    ObjApiVersion,
    Code,
    StatusReason,
    StatusMessage,
    RequestReceivedTimestamp,
    StageTimestamp,
    Annotation(String),
    Body(Body, Vec<Step>),
    Source,
    Provider,
    ClusterName,
    ClusterAccount,
    Outcome,
    Derived(Derived),
}

/// Canonical names of fields for docs and `kaudit rules fields`.
pub const CATALOG: &[(&str, &str)] = &[
    ("kind, apiVersion, level, auditID, stage, verb, userAgent", "Event fields"),
    ("requestURI", "full request URI, with query (blind where the query is lost: GKE)"),
    ("requestURI.path", "request URI without the query"),
    ("user.username, user.uid, user.groups[], user.extra[KEY][]", "the authenticated user"),
    ("impersonatedUser.username, impersonatedUser.groups[]", "the impersonated user"),
    ("sourceIPs[], sourceIP", "all source IPs; the first one"),
    (
        "objectRef.{resource,subresource,namespace,name,uid,apiGroup,apiVersion}",
        "the object (`resource`, `namespace` … are accepted as short names)",
    ),
    ("responseStatus.{code,reason,message}", "the response (`code` is a number)"),
    ("requestReceivedTimestamp, stageTimestamp", "timestamps"),
    ("annotations[KEY]", "an audit annotation; `authz.decision`/`authz.reason` are aliases"),
    ("requestObject.PATH, responseObject.PATH", "a body path; `[]` fans out over arrays"),
    ("kaudit.source, kaudit.provider, kaudit.cluster, kaudit.account, outcome", "kaudit context"),
    ("actor.kind", "anonymous | node | serviceaccount | control-plane | cloud-managed | human"),
    ("actor.serviceaccount.namespace, actor.serviceaccount.name", "for service-account actors"),
    ("exec, exec.command, exec.container", "exec/attach into a pod (SPDY create or WebSocket get); decoded argv"),
    (
        "pod_spec.{present,privileged,allow_privilege_escalation,host_pid,host_ipc,host_network,host_paths[],host_ports[],caps_added[],runs_as_root,images[],service_account,container_names[]}",
        "pod spec of Pods and workload templates, containers ∪ initContainers ∪ ephemeralContainers (for patch: from responseObject)",
    ),
    (
        "rbac.{verbs[],resources[],api_groups[],role_ref.name,role_ref.kind,subject_kinds[],subject_names[]}",
        "Role/ClusterRole rules and binding roleRef/subjects",
    ),
];

/// `a.b[].c[some.key/with dots].d` → steps. `[]` fans out over an array;
/// `[KEY]` is a map key taken literally (label and annotation keys contain dots).
fn body_path(rest: &str) -> Option<Vec<Step>> {
    let mut steps = Vec::new();
    let b = rest.as_bytes();
    let mut i = 0;
    let mut key = String::new();
    let flush = |key: &mut String, steps: &mut Vec<Step>| {
        if !key.is_empty() {
            steps.push(Step::Key(std::mem::take(key)));
        }
    };
    while i < b.len() {
        match b[i] {
            b'.' => {
                if key.is_empty() && !matches!(steps.last(), Some(Step::Each | Step::Key(_))) && i > 0 {
                    return None;
                }
                flush(&mut key, &mut steps);
                i += 1;
            }
            b'[' => {
                flush(&mut key, &mut steps);
                let end = rest[i..].find(']')? + i;
                let inner = &rest[i + 1..end];
                if inner.is_empty() {
                    steps.push(Step::Each);
                } else {
                    steps.push(Step::Key(inner.to_string()));
                }
                i = end + 1;
            }
            _ => {
                let ch = rest[i..].chars().next()?;
                key.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    flush(&mut key, &mut steps);
    if rest.ends_with('.') {
        return None;
    }
    Some(steps)
}

fn bracket<'a>(name: &'a str, prefix: &str) -> Option<&'a str> {
    name.strip_prefix(prefix)?.strip_prefix('[')?.strip_suffix(']')
}

/// Resolve a field name. `None` for an unknown name.
pub fn resolve(name: &str) -> Option<FieldRef> {
    use FieldRef as F;
    let plain = name.strip_suffix("[]").unwrap_or(name);
    Some(match plain {
        "kind" => F::Kind,
        "apiVersion" => F::ApiVersion,
        "level" => F::Level,
        "auditID" => F::AuditId,
        "stage" => F::Stage,
        "requestURI" => F::RequestUri,
        "requestURI.path" => F::RequestUriPath,
        "verb" => F::Verb,
        "user.username" | "user.name" => F::UserName,
        "user.uid" => F::UserUid,
        "user.groups" => F::UserGroups,
        "impersonatedUser.username" | "impersonatedUser.name" => F::ImpUserName,
        "impersonatedUser.groups" => F::ImpUserGroups,
        "sourceIPs" => F::SourceIps,
        "sourceIP" => F::SourceIp,
        "userAgent" => F::UserAgent,
        "objectRef.resource" | "resource" => F::ObjResource,
        "objectRef.subresource" | "subresource" => F::ObjSubresource,
        "objectRef.namespace" | "namespace" => F::ObjNamespace,
        "objectRef.name" | "name" => F::ObjName,
        "objectRef.uid" => F::ObjUid,
        "objectRef.apiGroup" | "apiGroup" => F::ObjApiGroup,
        "objectRef.apiVersion" => F::ObjApiVersion,
        "responseStatus.code" | "code" => F::Code,
        "responseStatus.reason" => F::StatusReason,
        "responseStatus.message" => F::StatusMessage,
        "requestReceivedTimestamp" => F::RequestReceivedTimestamp,
        "stageTimestamp" => F::StageTimestamp,
        "authz.decision" => F::Annotation("authorization.k8s.io/decision".into()),
        "authz.reason" => F::Annotation("authorization.k8s.io/reason".into()),
        "kaudit.source" | "source" => F::Source,
        "kaudit.provider" | "kaudit.cluster.provider" | "provider" => F::Provider,
        "kaudit.cluster" | "kaudit.cluster.name" => F::ClusterName,
        "kaudit.account" | "kaudit.cluster.account" => F::ClusterAccount,
        "outcome" | "kaudit.outcome" => F::Outcome,
        "actor.kind" => F::Derived(Derived::ActorKind),
        "actor.serviceaccount.namespace" => F::Derived(Derived::ActorSaNamespace),
        "actor.serviceaccount.name" => F::Derived(Derived::ActorSaName),
        "exec" => F::Derived(Derived::Exec),
        "exec.command" => F::Derived(Derived::ExecCommand),
        "exec.container" => F::Derived(Derived::ExecContainer),
        "rbac.verbs" => F::Derived(Derived::Rbac(RbacField::Verbs)),
        "rbac.resources" => F::Derived(Derived::Rbac(RbacField::Resources)),
        "rbac.api_groups" => F::Derived(Derived::Rbac(RbacField::ApiGroups)),
        "rbac.role_ref.name" => F::Derived(Derived::Rbac(RbacField::RoleRefName)),
        "rbac.role_ref.kind" => F::Derived(Derived::Rbac(RbacField::RoleRefKind)),
        "rbac.subject_kinds" => F::Derived(Derived::Rbac(RbacField::SubjectKinds)),
        "rbac.subject_names" => F::Derived(Derived::Rbac(RbacField::SubjectNames)),
        _ => {
            if let Some(k) = bracket(plain, "annotations") {
                return Some(F::Annotation(k.to_string()));
            }
            if let Some(k) = bracket(plain, "user.extra") {
                return Some(F::UserExtra(k.to_string()));
            }
            if let Some(rest) = plain.strip_prefix("pod_spec.") {
                let p = match rest {
                    "present" => PodField::Present,
                    "privileged" => PodField::Privileged,
                    "allow_privilege_escalation" => PodField::AllowPrivilegeEscalation,
                    "host_pid" => PodField::HostPid,
                    "host_ipc" => PodField::HostIpc,
                    "host_network" => PodField::HostNetwork,
                    "host_paths" => PodField::HostPaths,
                    "host_ports" => PodField::HostPorts,
                    "caps_added" => PodField::CapsAdded,
                    "runs_as_root" => PodField::RunsAsRoot,
                    "images" => PodField::Images,
                    "service_account" => PodField::ServiceAccount,
                    "container_names" => PodField::ContainerNames,
                    _ => return None,
                };
                return Some(F::Derived(Derived::PodSpec(p)));
            }
            for (prefix, body) in [("requestObject", Body::Request), ("responseObject", Body::Response)] {
                if let Some(rest) = name.strip_prefix(prefix) {
                    if let Some(rest) = rest.strip_prefix('.') {
                        return Some(F::Body(body, body_path(rest)?));
                    }
                    if rest.starts_with('[') {
                        return Some(F::Body(body, body_path(rest)?));
                    }
                }
            }
            match name {
                "requestObject" => F::Body(Body::Request, vec![]),
                "responseObject" => F::Body(Body::Response, vec![]),
                _ => return None,
            }
        }
    })
}

impl FieldRef {
    /// The canonical fields this field reads: if any of them is missing for
    /// an event, the field is blind on that event.
    pub fn needs(&self) -> FieldSet {
        use FieldRef as F;
        match self {
            F::Level => FieldSet::of(&[Field::Level]),
            F::AuditId => FieldSet::of(&[Field::AuditId]),
            F::Stage => FieldSet::of(&[Field::Stage]),
            F::RequestUri => FieldSet::of(&[Field::RequestUri, Field::RequestUriQuery]),
            F::RequestUriPath => FieldSet::of(&[Field::RequestUri]),
            F::Verb => FieldSet::of(&[Field::Verb]),
            F::UserName => FieldSet::of(&[Field::UserUsername]),
            F::UserUid => FieldSet::of(&[Field::UserUid]),
            F::UserGroups => FieldSet::of(&[Field::UserGroups]),
            F::UserExtra(_) => FieldSet::of(&[Field::UserExtra]),
            F::ImpUserName => FieldSet::of(&[Field::ImpersonatedUser]),
            F::ImpUserGroups => FieldSet::of(&[Field::ImpersonatedUser, Field::ImpersonatedUserGroups]),
            F::SourceIps | F::SourceIp => FieldSet::of(&[Field::SourceIps]),
            F::UserAgent => FieldSet::of(&[Field::UserAgent]),
            F::ObjUid => FieldSet::of(&[Field::ObjectRefUid]),
            F::Code => FieldSet::of(&[Field::ResponseStatusCode]),
            F::RequestReceivedTimestamp => FieldSet::of(&[Field::RequestReceivedTimestamp]),
            F::StageTimestamp => FieldSet::of(&[Field::StageTimestamp]),
            F::Annotation(_) => FieldSet::of(&[Field::Annotations]),
            F::Body(Body::Request, _) => FieldSet::of(&[Field::RequestObject]),
            F::Body(Body::Response, _) => FieldSet::of(&[Field::ResponseObject]),
            F::Derived(d) => match d {
                Derived::ActorKind | Derived::ActorSaNamespace | Derived::ActorSaName => {
                    FieldSet::of(&[Field::UserUsername])
                }
                Derived::Exec => FieldSet::of(&[Field::Verb]),
                Derived::ExecCommand | Derived::ExecContainer => {
                    FieldSet::of(&[Field::RequestUri, Field::RequestUriQuery])
                }
                // Which body depends on the verb; the evaluator checks the one it reads.
                Derived::PodSpec(_) | Derived::Rbac(_) => FieldSet::EMPTY,
            },
            F::Kind
            | F::ApiVersion
            | F::ObjResource
            | F::ObjSubresource
            | F::ObjNamespace
            | F::ObjName
            | F::ObjApiGroup
            | F::ObjApiVersion
            | F::StatusReason
            | F::StatusMessage
            | F::Source
            | F::Provider
            | F::ClusterName
            | F::ClusterAccount
            | F::Outcome => FieldSet::EMPTY,
        }
    }

    /// Whether the field can hold several values.
    pub fn is_list(&self) -> bool {
        use FieldRef as F;
        match self {
            F::UserGroups | F::UserExtra(_) | F::ImpUserGroups | F::SourceIps => true,
            F::Body(_, steps) => steps.contains(&Step::Each),
            F::Derived(Derived::PodSpec(p)) => matches!(
                p,
                PodField::HostPaths
                    | PodField::HostPorts
                    | PodField::CapsAdded
                    | PodField::Images
                    | PodField::ContainerNames
            ),
            F::Derived(Derived::Rbac(r)) => !matches!(r, RbacField::RoleRefName | RbacField::RoleRefKind),
            _ => false,
        }
    }

    /// A display name.
    pub fn display(&self) -> Cow<'static, str> {
        format!("{self:?}").into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_names() {
        assert_eq!(resolve("verb"), Some(FieldRef::Verb));
        assert_eq!(resolve("annotations[authorization.k8s.io/decision]"), resolve("authz.decision"));
        assert_eq!(
            resolve("requestObject.subjects[].kind"),
            Some(FieldRef::Body(
                Body::Request,
                vec![Step::Key("subjects".into()), Step::Each, Step::Key("kind".into())]
            ))
        );
        assert_eq!(resolve("pod_spec.privileged"), Some(FieldRef::Derived(Derived::PodSpec(PodField::Privileged))));
        assert_eq!(resolve("no.such.field"), None);
        assert_eq!(
            resolve("requestObject.metadata.labels[pod-security.kubernetes.io/enforce]"),
            Some(FieldRef::Body(
                Body::Request,
                vec![
                    Step::Key("metadata".into()),
                    Step::Key("labels".into()),
                    Step::Key("pod-security.kubernetes.io/enforce".into())
                ]
            ))
        );
        assert_eq!(
            resolve("requestObject[].op"),
            Some(FieldRef::Body(Body::Request, vec![Step::Each, Step::Key("op".into())]))
        );
        assert!(resolve("user.groups").unwrap().needs().contains(Field::UserGroups));
    }
}
