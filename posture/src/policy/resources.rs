//! Which API group serves which built-in resource, and whether it is
//! namespaced (Kubernetes 1.29–1.34 built-in APIs; from the API reference,
//! kubernetes.io/docs/reference/kubernetes-api/). Resources of groups not
//! listed here (custom resources) are unknown: no check claims anything
//! about them.

/// (group, resource, namespaced).
pub const TABLE: &[(&str, &str, bool)] = &[
    ("", "bindings", true),
    ("", "componentstatuses", false),
    ("", "configmaps", true),
    ("", "endpoints", true),
    ("", "events", true),
    ("", "limitranges", true),
    ("", "namespaces", false),
    ("", "nodes", false),
    ("", "persistentvolumeclaims", true),
    ("", "persistentvolumes", false),
    ("", "pods", true),
    ("", "podtemplates", true),
    ("", "replicationcontrollers", true),
    ("", "resourcequotas", true),
    ("", "secrets", true),
    ("", "serviceaccounts", true),
    ("", "services", true),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", false),
    ("admissionregistration.k8s.io", "validatingadmissionpolicies", false),
    ("admissionregistration.k8s.io", "validatingadmissionpolicybindings", false),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", false),
    ("apiextensions.k8s.io", "customresourcedefinitions", false),
    ("apiregistration.k8s.io", "apiservices", false),
    ("apps", "controllerrevisions", true),
    ("apps", "daemonsets", true),
    ("apps", "deployments", true),
    ("apps", "replicasets", true),
    ("apps", "statefulsets", true),
    ("authentication.k8s.io", "selfsubjectreviews", false),
    ("authentication.k8s.io", "tokenreviews", false),
    ("authorization.k8s.io", "localsubjectaccessreviews", true),
    ("authorization.k8s.io", "selfsubjectaccessreviews", false),
    ("authorization.k8s.io", "selfsubjectrulesreviews", false),
    ("authorization.k8s.io", "subjectaccessreviews", false),
    ("autoscaling", "horizontalpodautoscalers", true),
    ("batch", "cronjobs", true),
    ("batch", "jobs", true),
    ("certificates.k8s.io", "certificatesigningrequests", false),
    ("coordination.k8s.io", "leases", true),
    ("discovery.k8s.io", "endpointslices", true),
    ("events.k8s.io", "events", true),
    ("flowcontrol.apiserver.k8s.io", "flowschemas", false),
    ("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations", false),
    ("networking.k8s.io", "ingressclasses", false),
    ("networking.k8s.io", "ingresses", true),
    ("networking.k8s.io", "networkpolicies", true),
    ("node.k8s.io", "runtimeclasses", false),
    ("policy", "poddisruptionbudgets", true),
    ("rbac.authorization.k8s.io", "clusterrolebindings", false),
    ("rbac.authorization.k8s.io", "clusterroles", false),
    ("rbac.authorization.k8s.io", "rolebindings", true),
    ("rbac.authorization.k8s.io", "roles", true),
    ("scheduling.k8s.io", "priorityclasses", false),
    ("storage.k8s.io", "csidrivers", false),
    ("storage.k8s.io", "csinodes", false),
    ("storage.k8s.io", "csistoragecapacities", true),
    ("storage.k8s.io", "storageclasses", false),
    ("storage.k8s.io", "volumeattachments", false),
];

/// Groups that served other resources in releases now gone (`extensions`
/// served deployments, ingresses … until 1.16/1.22): not judged.
pub const LEGACY_GROUPS: &[&str] = &["extensions"];

/// Whether `group` is one of the built-in groups of [`TABLE`].
pub fn is_builtin_group(group: &str) -> bool {
    TABLE.iter().any(|(g, _, _)| *g == group)
}

/// The groups that serve `resource` (several for `events`); empty if unknown.
pub fn groups_of(resource: &str) -> Vec<&'static str> {
    TABLE.iter().filter(|(_, r, _)| *r == resource).map(|(g, _, _)| *g).collect()
}

/// Whether `group`/`resource` is a known built-in resource.
pub fn known(group: &str, resource: &str) -> bool {
    TABLE.iter().any(|(g, r, _)| *g == group && *r == resource)
}

/// Whether the resource is namespaced (`None` when unknown).
pub fn namespaced(group: &str, resource: &str) -> Option<bool> {
    TABLE.iter().find(|(g, r, _)| *g == group && *r == resource).map(|(_, _, n)| *n)
}

/// Subresources of built-in resources (API reference), for rules that do not
/// constrain the subresource.
pub const SUBRESOURCES: &[(&str, &str, &[&str])] = &[
    (
        "",
        "pods",
        &["attach", "binding", "ephemeralcontainers", "eviction", "exec", "log", "portforward", "proxy", "status"],
    ),
    ("", "nodes", &["proxy", "status"]),
    ("", "services", &["proxy", "status"]),
    ("", "serviceaccounts", &["token"]),
    ("", "namespaces", &["finalize", "status"]),
    ("", "persistentvolumeclaims", &["status"]),
    ("", "replicationcontrollers", &["scale", "status"]),
    ("apps", "deployments", &["scale", "status"]),
    ("apps", "statefulsets", &["scale", "status"]),
    ("apps", "replicasets", &["scale", "status"]),
    ("apps", "daemonsets", &["status"]),
    ("batch", "jobs", &["status"]),
    ("batch", "cronjobs", &["status"]),
    ("certificates.k8s.io", "certificatesigningrequests", &["approval", "status"]),
];

/// The subresources of `group`/`resource` (empty if none are known).
pub fn subresources_of(group: &str, resource: &str) -> &'static [&'static str] {
    SUBRESOURCES.iter().find(|(g, r, _)| *g == group && *r == resource).map_or(&[], |(_, _, s)| s)
}
