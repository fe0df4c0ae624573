//! Control-plane traffic: leases, endpoints, list/watch, node status, pod creates.

use crate::cluster::*;
use crate::event::{Body, Class, Event, ObjectRef, Status};
use crate::gojson::{json_obj, rfc3339, NS};
use crate::pod::PodSpec;

impl EventGen {
    pub(crate) fn lease(&mut self) -> Event {
        if self.rng.chance(70) {
            // A kubelet renewing its node lease (authorized by the Node authorizer: empty reason).
            let (node, ip) = self.node();
            let verb = if self.rng.chance(92) { "update" } else { "get" };
            let uri = format!("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{node}?timeout=10s");
            let ua = format!("kubelet/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}");
            let mut ev = self.base(Class::Lease, verb, uri, Self::node_user(&node), ip, ua);
            ev.object_ref = Some(ObjectRef::new(
                "leases",
                Some("kube-node-lease".to_owned()),
                Some(node),
                Some("coordination.k8s.io"),
            ));
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
            ev.object_ref = Some(ObjectRef::new(
                "leases",
                Some("kube-system".to_owned()),
                Some(who.to_owned()),
                Some("coordination.k8s.io"),
            ));
            ev.annotations = allow(rbac_reason("ClusterRoleBinding", &user, "ClusterRole", &user, "User", &user));
            ev
        }
    }

    pub(crate) fn endpoints(&mut self) -> Event {
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
        let prefix = api_prefix(group, "v1");
        let uri = if verb == "create" {
            format!("{prefix}/namespaces/{ns}/{resource}")
        } else {
            format!("{prefix}/namespaces/{ns}/{resource}/{name}")
        };
        let (user, ua) = controller_identity(controller);
        let ip = self.rng.pick(&CONTROL_PLANE_IPS).to_string();
        let u = self.sa_user(&user, false);
        let mut ev = self.base(Class::Endpoints, verb, uri, u, ip, ua);
        ev.object_ref = Some(ObjectRef::new(resource, Some(ns.to_owned()), Some(name.clone()), group));
        ev.annotations = controller_allow(controller);
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

    pub(crate) fn list_watch(&mut self) -> Event {
        let w = &WATCHERS[self.rng.below(WATCHERS.len() as u64) as usize];
        let &(resource, group, version, namespaced) = self.rng.pick(w.resources);
        let watch = self.rng.chance(60);
        // Most informers are cluster-wide; some workloads watch their own namespace.
        let ns = if namespaced && w.sa_ns.is_some() && self.rng.chance(30) { w.sa_ns } else { None };
        let prefix = api_prefix(group, version);
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
        ev.object_ref = Some(ObjectRef::new(resource, ns.map(str::to_owned), None, group).version(version));
        let subject = match w.sa_ns {
            Some(sa_ns) => ("ServiceAccount", format!("{}/{sa_ns}", w.user.rsplit(':').next().unwrap_or_default())),
            None => ("User", w.user.to_owned()),
        };
        ev.annotations =
            allow(rbac_reason("ClusterRoleBinding", w.binding, "ClusterRole", w.binding, subject.0, &subject.1));
        ev
    }

    pub(crate) fn node_status(&mut self) -> Event {
        let (node, ip) = self.node();
        let uri = format!("/api/v1/nodes/{node}/status?timeout=10s");
        let ua = format!("kubelet/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}");
        let mut ev = self.base(Class::NodeStatus, "patch", uri, Self::node_user(&node), ip, ua);
        ev.level = "Request";
        ev.object_ref = Some(ObjectRef::new("nodes", None, Some(node), None).sub("status"));
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

    pub(crate) fn pod_create(&mut self) -> Event {
        let a = self.app();
        let (ns, app, sa) = (self.apps[a].ns, self.apps[a].name, self.apps[a].sa);
        let rs = format!("{app}-{}", self.apps[a].rs_hash);
        let pod_name = format!("{rs}-{}", self.rng.k8s_suffix(5));
        let controller = "replicaset-controller";
        let (user, ua) = controller_identity(controller);
        let ip = self.rng.pick(&CONTROL_PLANE_IPS).to_string();
        let u = self.sa_user(&user, false);
        let mut ev = self.base(Class::PodCreate, "create", format!("/api/v1/namespaces/{ns}/pods"), u, ip, ua);
        ev.level = "RequestResponse";
        ev.status = Status::ok(201);
        ev.object_ref = Some(ObjectRef::new("pods", Some(ns.to_owned()), Some(pod_name.clone()), None));
        let spec = PodSpec::new(&mut self.rng, &self.apps[a], sa, rs, pod_name);
        let created = rfc3339(ev.received_ns, 0);
        let uid = self.rng.uuid();
        let rv = self.rv();
        ev.request_object = Some(Body { gke_type: "core.k8s.io/v1.Pod", json: spec.render(None) });
        ev.response_object =
            Some(Body { gke_type: "core.k8s.io/v1.Pod", json: spec.render(Some((&uid, rv, &created))) });
        let mut ann = controller_allow(controller);
        ann.push((
            "mutation.webhook.admission.k8s.io/round_0_index_0",
            "{\"configuration\":\"istio-sidecar-injector\",\"webhook\":\"namespace.sidecar-injector.istio.io\",\"mutated\":false}"
                .to_owned(),
        ));
        ann.push(("pod-security.kubernetes.io/enforce-policy", "baseline:latest".to_owned()));
        ev.annotations = ann;
        ev
    }
}
