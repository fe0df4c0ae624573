//! The cluster the events come from, and the generator's state.

use kaudit_core::rules::state::days_from_civil;

use crate::event::{Class, Event, Status, User};
use crate::gojson::NS;
use crate::rng::Rng;

pub(crate) const K8S_VERSION: &str = "v1.29.3";
pub(crate) const K8S_COMMIT: &str = "6813625";
pub(crate) const CONTROL_PLANE_IPS: [&str; 3] = ["10.0.0.10", "10.0.0.11", "10.0.0.12"];

/// (namespace, app, service account).
pub(crate) const APPS: [(&str, &str, &str); 15] = [
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

pub(crate) struct App {
    pub(crate) ns: &'static str,
    pub(crate) name: &'static str,
    pub(crate) sa: &'static str,
    pub(crate) rs_hash: String,
    pub(crate) rs_uid: String,
    pub(crate) pods: Vec<String>,
    pub(crate) image: String,
    pub(crate) slices: Vec<String>,
}

pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) ip: String,
}

/// A controller or workload that lists and watches.
pub(crate) struct Watcher {
    pub(crate) user: &'static str,
    /// Namespace of the service account, when it is one.
    pub(crate) sa_ns: Option<&'static str>,
    pub(crate) agent: &'static str,
    pub(crate) binding: &'static str,
    /// (resource, apiGroup, version, namespaced)
    pub(crate) resources: &'static [(&'static str, Option<&'static str>, &'static str, bool)],
    pub(crate) in_pod: bool,
}

pub(crate) const WATCHERS: [Watcher; 8] = [
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

/// `/api/<version>` for the core group, else `/apis/<group>/<version>`.
pub(crate) fn api_prefix(group: Option<&str>, version: &str) -> String {
    match group {
        Some(g) => format!("/apis/{g}/{version}"),
        None => format!("/api/{version}"),
    }
}

/// A kube-controller-manager controller's service account: (username, user agent).
pub(crate) fn controller_identity(controller: &str) -> (String, String) {
    let user = format!("system:serviceaccount:kube-system:{controller}");
    let ua = format!("kube-controller-manager/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}/{user}");
    (user, ua)
}

/// The RBAC decision for a controller acting through its bootstrap binding.
pub(crate) fn controller_allow(controller: &str) -> Vec<(&'static str, String)> {
    let binding = format!("system:controller:{controller}");
    allow(rbac_reason(
        "ClusterRoleBinding",
        &binding,
        "ClusterRole",
        &binding,
        "ServiceAccount",
        &format!("{controller}/kube-system"),
    ))
}

pub(crate) fn rbac_reason(
    kind: &str,
    binding: &str,
    role_kind: &str,
    role: &str,
    subject_kind: &str,
    subject: &str,
) -> String {
    format!("RBAC: allowed by {kind} \"{binding}\" of {role_kind} \"{role}\" to {subject_kind} \"{subject}\"")
}

pub(crate) fn allow(reason: String) -> Vec<(&'static str, String)> {
    vec![("authorization.k8s.io/decision", "allow".to_owned()), ("authorization.k8s.io/reason", reason)]
}

pub(crate) fn forbid() -> Vec<(&'static str, String)> {
    vec![("authorization.k8s.io/decision", "forbid".to_owned()), ("authorization.k8s.io/reason", String::new())]
}

pub(crate) fn sa_groups(ns: &str) -> Vec<String> {
    vec!["system:serviceaccounts".to_owned(), format!("system:serviceaccounts:{ns}"), "system:authenticated".to_owned()]
}

/// The generator: an endless, deterministic stream of events.
pub struct EventGen {
    pub(crate) rng: Rng,
    pub(crate) now_ns: i64,
    pub(crate) resource_version: u64,
    pub(crate) nodes: Vec<Node>,
    pub(crate) apps: Vec<App>,
    /// Stable UIDs of the controller service accounts.
    pub(crate) sa_uids: Vec<(String, String)>,
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

    pub(crate) fn sa_uid(&mut self, user: &str) -> String {
        if let Some((_, uid)) = self.sa_uids.iter().find(|(u, _)| u == user) {
            return uid.clone();
        }
        let uid = self.rng.uuid();
        self.sa_uids.push((user.to_owned(), uid.clone()));
        uid
    }

    pub(crate) fn rv(&mut self) -> u64 {
        self.resource_version += self.rng.range(1, 40);
        self.resource_version
    }

    pub(crate) fn node(&mut self) -> (String, String) {
        let n = self.rng.pick(&self.nodes);
        (n.name.clone(), n.ip.clone())
    }

    pub(crate) fn app(&mut self) -> usize {
        self.rng.below(self.apps.len() as u64) as usize
    }

    /// A service-account user, with the bound-token `extra` of a pod when it runs in one.
    pub(crate) fn sa_user(&mut self, user: &str, in_pod: bool) -> User {
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

    pub(crate) fn system_user(user: &str) -> User {
        User { username: Some(user.to_owned()), groups: vec!["system:authenticated".to_owned()], ..User::default() }
    }

    pub(crate) fn node_user(node: &str) -> User {
        User {
            username: Some(format!("system:node:{node}")),
            groups: vec!["system:nodes".to_owned(), "system:authenticated".to_owned()],
            ..User::default()
        }
    }

    /// A base event; callers fill in the rest.
    pub(crate) fn base(
        &mut self,
        class: Class,
        verb: &'static str,
        uri: String,
        user: User,
        ip: String,
        ua: String,
    ) -> Event {
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
}

impl EventGen {
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
