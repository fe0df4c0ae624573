//! Derived fields: actor kind, exec command, pod spec and RBAC summaries.
//! Each is computed on first use for an event and cached (see `eval.rs`).

use std::borrow::Cow;

pub use super::body::Node;

/// Who made the request, by kind.
pub fn actor_kind(username: &str, groups: Option<&[crate::json::Str<'_>]>) -> &'static str {
    let in_group = |g: &str| groups.is_some_and(|gs| gs.iter().any(|x| x.as_str() == g));
    if username == ANONYMOUS_USER || in_group(UNAUTHENTICATED_GROUP) {
        return "anonymous";
    }
    if username.starts_with(NODE_PREFIX) {
        return "node";
    }
    if username.starts_with(SERVICE_ACCOUNT_PREFIX) {
        return "serviceaccount";
    }
    if CONTROL_PLANE.contains(&username) || CONTROL_PLANE_PREFIXES.iter().any(|p| username.starts_with(p)) {
        return "control-plane";
    }
    if is_cloud_managed(username) {
        return "cloud-managed";
    }
    "human"
}

pub const ANONYMOUS_USER: &str = "system:anonymous";
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
pub const NODE_PREFIX: &str = "system:node:";
pub const SERVICE_ACCOUNT_PREFIX: &str = "system:serviceaccount:";
/// Prefixes of control-plane identities.
pub const CONTROL_PLANE_PREFIXES: &[&str] = &["system:kube-", "system:openshift:"];

/// Kubernetes control-plane identities (upstream and OpenShift).
/// `system:cloud-controller-manager` is the cloud controller manager's own
/// user (upstream's GCE audit policy names it beside kube-controller-manager,
/// `shared/fixtures/policies/upstream/gce-configure-helper-audit-policy.yaml`);
/// the `system:kube-` prefix does not cover it.
pub const CONTROL_PLANE: &[&str] = &[
    "system:apiserver",
    "system:kube-controller-manager",
    "system:cloud-controller-manager",
    "system:kube-scheduler",
    "system:kube-proxy",
    "system:volume-scheduler",
    "system:aggregator",
    "system:kube-aggregator",
    "system:addon-manager",
    "kube-apiserver-kubelet-client",
];

/// Identities of the cloud provider's own automation (detections.md, IDN):
/// EKS `eks:*` and the EKS service-linked role; AKS `aksService`,
/// `nodeclient`, `hcpService`, `readinessChecker`, `acsService`; GKE
/// `system:gke-*`, `gcp:kube-bootstrap`, `kubelet-nodepool-bootstrap`, and the
/// container-engine robot service accounts. AKS `masterclient` is the local
/// admin certificate that people download (`az aks get-credentials --admin`),
/// so it counts as `human`, not as cloud automation.
pub fn is_cloud_managed(u: &str) -> bool {
    CLOUD_MANAGED_PREFIXES.iter().any(|p| u.starts_with(p))
        || CLOUD_MANAGED_PREFIX_CONTAINS.iter().any(|(p, c)| u.starts_with(p) && u.contains(c))
        || CLOUD_MANAGED_NAMES.contains(&u)
        || CLOUD_MANAGED_SUFFIXES.iter().any(|s| u.ends_with(s))
}

/// Cloud-managed identities by prefix, by prefix plus an inner part, by
/// exact name and by suffix (the tables behind [`is_cloud_managed`]).
pub const CLOUD_MANAGED_PREFIXES: &[&str] = &["eks:", "eks-", "system:gke-"];
pub const CLOUD_MANAGED_PREFIX_CONTAINS: &[(&str, &str)] =
    &[("arn:aws:sts::", ":assumed-role/AWSServiceRoleForAmazonEKS")];
pub const CLOUD_MANAGED_NAMES: &[&str] = &[
    "aksService",
    "nodeclient",
    "hcpService",
    "readinessChecker",
    "acsService",
    "gcp:kube-bootstrap",
    "kubelet-nodepool-bootstrap",
];
pub const CLOUD_MANAGED_SUFFIXES: &[&str] = &["@container-engine-robot.iam.gserviceaccount.com"];

/// `system:serviceaccount:<ns>:<name>` → (ns, name).
pub fn service_account(username: &str) -> Option<(&str, &str)> {
    // A plain loop: the names are short, and `split_once`'s search costs
    // more than it finds here (read for every service account's request).
    let rest = username.strip_prefix(SERVICE_ACCOUNT_PREFIX)?;
    let at = rest.bytes().position(|b| b == b':')?;
    Some((rest.get(..at)?, rest.get(at + 1..)?))
}

/// Percent-decode a query component (`+` is a space).
pub fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The decoded values of query parameter `key`, in order.
pub fn query_values(uri: &str, key: &str) -> Vec<String> {
    let Some((_, q)) = uri.split_once('?') else { return Vec::new() };
    q.split('&')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            // Only a name with an escape needs decoding to be compared.
            let named = if k.contains(['%', '+']) { url_decode(k) == key } else { k == key };
            named.then(|| url_decode(v))
        })
        .collect()
}

/// A summary of the pod spec in a Pod or workload object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodSummary {
    pub privileged: bool,
    pub allow_privilege_escalation: bool,
    pub host_pid: bool,
    pub host_ipc: bool,
    pub host_network: bool,
    pub host_paths: Vec<String>,
    pub host_ports: Vec<String>,
    pub caps_added: Vec<String>,
    pub runs_as_root: bool,
    pub images: Vec<String>,
    pub service_account: Option<String>,
    pub container_names: Vec<String>,
}

/// Workloads whose pod spec is `spec.template.spec`.
pub const WORKLOAD_RESOURCES: &[&str] =
    &["deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "replicationcontrollers"];

/// The pod spec inside an object of `resource`: a Pod's `spec`, a workload's
/// `spec.template.spec`, a CronJob's `spec.jobTemplate.spec.template.spec`,
/// a PodTemplate's `template.spec`.
pub fn pod_spec<'a, N: Node<'a>>(resource: &str, obj: N) -> Option<N> {
    let s = match resource {
        "pods" => obj.get("spec")?,
        r if WORKLOAD_RESOURCES.contains(&r) => obj.get("spec")?.get("template")?.get("spec")?,
        "cronjobs" => obj.get("spec")?.get("jobTemplate")?.get("spec")?.get("template")?.get("spec")?,
        // A PodTemplate has no `spec` of its own: its pod spec is
        // `template.spec` (it used to require a top-level `spec` as well, so
        // it never found one).
        "podtemplates" => obj.get("template")?.get("spec")?,
        _ => return None,
    };
    s.is_object().then_some(s)
}

fn truthy<'a, N: Node<'a>>(v: Option<N>) -> bool {
    v.is_some_and(|v| v.as_bool() == Some(true) || v.as_str().is_some_and(|s| s == "true"))
}

/// A number that is an `i64`, or a string holding one.
fn as_i64<'a, N: Node<'a>>(v: Option<N>) -> Option<i64> {
    let v = v?;
    v.as_i64().or_else(|| v.as_str()?.parse().ok())
}

fn string<'a, N: Node<'a>>(v: Option<N>) -> Option<String> {
    v?.as_str().map(Cow::into_owned)
}

/// Summarize a pod spec: all containers, initContainers and ephemeralContainers.
pub fn summarize_pod<'a, N: Node<'a>>(spec: N) -> PodSummary {
    let [host_pid, host_ipc, host_network, sa_name, sa, pod_sc, volumes, containers, init, ephemeral] = spec.pick([
        "hostPID",
        "hostIPC",
        "hostNetwork",
        "serviceAccountName",
        "serviceAccount",
        "securityContext",
        "volumes",
        "containers",
        "initContainers",
        "ephemeralContainers",
    ]);
    let mut p = PodSummary {
        host_pid: truthy(host_pid),
        host_ipc: truthy(host_ipc),
        host_network: truthy(host_network),
        service_account: string(sa_name.or(sa)),
        ..PodSummary::default()
    };
    let [pod_user, pod_nonroot] = pod_sc.map_or([None, None], |s| s.pick(["runAsUser", "runAsNonRoot"]));
    let pod_user = as_i64(pod_user);
    let pod_nonroot = pod_nonroot.and_then(N::as_bool);
    if let Some(vols) = volumes {
        vols.each(|v| {
            if let Some(path) = string(v.get("hostPath").and_then(|h| h.get("path"))) {
                p.host_paths.push(path);
            }
        });
    }
    for list in [containers, init, ephemeral].into_iter().flatten() {
        list.each(|c| {
            let [name, image, ports, sc] = c.pick(["name", "image", "ports", "securityContext"]);
            if let Some(n) = string(name) {
                p.container_names.push(n);
            }
            if let Some(i) = string(image) {
                p.images.push(i);
            }
            if let Some(ports) = ports {
                ports.each(|port| {
                    if let Some(hp) = as_i64(port.get("hostPort")) {
                        p.host_ports.push(hp.to_string());
                    }
                });
            }
            let [privileged, escalation, caps, user, nonroot] = sc.map_or([None; 5], |s| {
                s.pick(["privileged", "allowPrivilegeEscalation", "capabilities", "runAsUser", "runAsNonRoot"])
            });
            p.privileged |= truthy(privileged);
            p.allow_privilege_escalation |= truthy(escalation);
            if let Some(add) = caps.and_then(|c| c.get("add")) {
                add.each(|cap| {
                    if let Some(cap) = cap.as_str() {
                        let upper = cap.to_ascii_uppercase();
                        let cap = upper.trim_start_matches("CAP_").to_string();
                        if !p.caps_added.contains(&cap) {
                            p.caps_added.push(cap);
                        }
                    }
                });
            }
            // Effective user: the container's runAsUser, else the pod's.
            let user = as_i64(user).or(pod_user);
            let nonroot = nonroot.and_then(N::as_bool).or(pod_nonroot);
            if user == Some(0) || (user.is_none() && nonroot == Some(false)) {
                p.runs_as_root = true;
            }
        });
    }
    p
}

/// Resources whose objects `rbac.*` reads.
pub const RBAC_RESOURCES: &[&str] = &["roles", "clusterroles", "rolebindings", "clusterrolebindings"];

/// A summary of RBAC content in a Role/ClusterRole or a (Cluster)RoleBinding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RbacSummary {
    pub verbs: Vec<String>,
    pub resources: Vec<String>,
    pub api_groups: Vec<String>,
    pub role_ref_name: Option<String>,
    pub role_ref_kind: Option<String>,
    pub subject_kinds: Vec<String>,
    pub subject_names: Vec<String>,
}

fn push_strs<'a, N: Node<'a>>(dst: &mut Vec<String>, v: Option<N>) {
    let Some(v) = v else { return };
    v.each(|s| {
        if let Some(s) = s.as_str() {
            if !dst.iter().any(|d| *d == s) {
                dst.push(s.into_owned());
            }
        }
    });
}

/// Summarize RBAC content of `obj` (rules, roleRef, subjects).
pub fn summarize_rbac<'a, N: Node<'a>>(obj: N) -> RbacSummary {
    let mut r = RbacSummary::default();
    let [rules, role_ref, subjects] = obj.pick(["rules", "roleRef", "subjects"]);
    if let Some(rules) = rules {
        rules.each(|rule| {
            let [verbs, resources, groups] = rule.pick(["verbs", "resources", "apiGroups"]);
            push_strs(&mut r.verbs, verbs);
            push_strs(&mut r.resources, resources);
            push_strs(&mut r.api_groups, groups);
        });
    }
    if let Some(rr) = role_ref {
        let [name, kind] = rr.pick(["name", "kind"]);
        r.role_ref_name = string(name);
        r.role_ref_kind = string(kind);
    }
    if let Some(subjects) = subjects {
        subjects.each(|s| {
            let [kind, name, ns] = s.pick(["kind", "name", "namespace"]);
            let kind = kind.and_then(N::as_str);
            if let Some(k) = &kind {
                r.subject_kinds.push(k.clone().into_owned());
            }
            if let Some(n) = name.and_then(N::as_str) {
                let ns = ns.and_then(N::as_str);
                r.subject_names.push(match (kind.as_deref(), ns) {
                    (Some("ServiceAccount"), Some(ns)) => format!("system:serviceaccount:{ns}:{n}"),
                    _ => n.into_owned(),
                });
            }
        });
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn actor_kinds() {
        assert_eq!(actor_kind("system:anonymous", None), "anonymous");
        assert_eq!(actor_kind("system:node:n1", None), "node");
        assert_eq!(actor_kind("system:serviceaccount:kube-system:x", None), "serviceaccount");
        assert_eq!(actor_kind("system:kube-controller-manager", None), "control-plane");
        assert_eq!(actor_kind("eks:addon-manager", None), "cloud-managed");
        assert_eq!(actor_kind("aksService", None), "cloud-managed");
        assert_eq!(actor_kind("masterclient", None), "human");
        // OpenShift's system:admin is the installer's admin kubeconfig, used by people.
        assert_eq!(actor_kind("system:admin", None), "human");
        assert_eq!(actor_kind("alice@example.com", None), "human");
    }

    #[test]
    fn regression_cloud_controller_manager_is_control_plane() {
        // It was `human`: `unlisted-human-user` fired on every request of
        // the cloud controller manager (657 of the vanilla bench corpus's
        // 1,115 hits), and `default-admin-credential-used` evaluated them all.
        assert_eq!(actor_kind("system:cloud-controller-manager", None), "control-plane");
        assert_eq!(actor_kind("system:cloud-controller-manager-x", None), "human");
    }

    #[test]
    fn service_account_splits_at_the_first_colon_after_the_prefix() {
        for u in [
            "system:serviceaccount:kube-system:kube-proxy",
            "system:serviceaccount:ns:",
            "system:serviceaccount::name",
            "system:serviceaccount:a:b:c",
            "system:serviceaccount:nocolon",
            "system:serviceaccount:",
            "system:serviceaccount:é:ü",
            "system:node:x",
            "",
        ] {
            let want = u.strip_prefix(SERVICE_ACCOUNT_PREFIX).and_then(|r| r.split_once(':'));
            assert_eq!(service_account(u), want, "{u}");
        }
    }

    #[test]
    fn exec_query_is_decoded_and_joined_in_order() {
        let uri = "/api/v1/namespaces/d/pods/p/exec?command=sh&command=-c&command=cat%20%2Fvar%2Frun%2Fsecrets&container=c&stdin=true";
        assert_eq!(query_values(uri, "command"), ["sh", "-c", "cat /var/run/secrets"]);
        assert_eq!(query_values(uri, "container"), ["c"]);
        assert_eq!(url_decode("a%zz%2"), "a%zz%2");
        // Escaped names are decoded before they are compared; plain ones as they are.
        assert_eq!(query_values("/x?comm%61nd=a&command=b+c&commandx=d&+command=e", "command"), ["a", "b c"]);
        assert_eq!(query_values("/x?c%2Bd=1&c+d=2&c%20d=3", "c d"), ["2", "3"]);
    }

    #[test]
    fn pod_summary_covers_all_container_kinds_and_templates() {
        let dep: Value = serde_json::from_str(
            r#"{"spec":{"template":{"spec":{"hostPID":true,"securityContext":{"runAsUser":0},
            "volumes":[{"name":"d","hostPath":{"path":"/var/run/docker.sock"}}],
            "initContainers":[{"name":"i","image":"busybox","securityContext":{"privileged":true}}],
            "containers":[{"name":"c","image":"nginx","securityContext":{"capabilities":{"add":["SYS_ADMIN","cap_net_raw"]}}}]}}}}"#,
        )
        .unwrap();
        let s = summarize_pod(pod_spec("deployments", &dep).unwrap());
        assert!(s.privileged && s.host_pid && s.runs_as_root);
        assert_eq!(s.host_paths, ["/var/run/docker.sock"]);
        assert_eq!(s.caps_added, ["SYS_ADMIN", "NET_RAW"], "regression: lower-case cap_ prefix is stripped");
        assert_eq!(s.images, ["nginx", "busybox"]);
    }

    #[test]
    fn pod_template_spec_is_template_spec() {
        // Regression: a PodTemplate (synthetic object, the shape of the
        // v1 PodTemplate kind) has no top-level `spec`; its pod spec used to
        // be found only when it had one, i.e. never.
        let pt: Value = serde_json::from_str(
            r#"{"kind":"PodTemplate","apiVersion":"v1","metadata":{"name":"t"},
            "template":{"metadata":{},"spec":{"hostNetwork":true,"containers":[{"name":"c","image":"alpine","securityContext":{"privileged":true}}]}}}"#,
        )
        .unwrap();
        let s = summarize_pod(pod_spec("podtemplates", &pt).expect("template.spec is the pod spec"));
        assert!(s.privileged && s.host_network);
        assert_eq!(s.images, ["alpine"]);
        let no_template: Value = serde_json::from_str(r#"{"spec":{"containers":[]}}"#).unwrap();
        assert!(pod_spec("podtemplates", &no_template).is_none());
    }
}
