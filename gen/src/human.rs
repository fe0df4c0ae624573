//! People and outsiders: kubectl users, anonymous scanners, delegated reviews.

use crate::cluster::*;
use crate::event::{Body, Class, Event, ObjectRef, Status, User};
use crate::gojson::{json_obj, rfc3339, NS};

impl EventGen {
    pub(crate) fn human(&mut self) -> Event {
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
                ev.object_ref = Some(ObjectRef::new("pods", Some(ns.to_owned()), Some(pod.clone()), None).sub("exec"));
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
                ev.object_ref = Some(ObjectRef::new("secrets", Some(sns.to_owned()), Some(secret.to_owned()), None));
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
                ev.object_ref = Some(ObjectRef::new(
                    resource,
                    (!cluster).then(|| ns.to_owned()),
                    Some(bname.clone()),
                    Some("rbac.authorization.k8s.io"),
                ));
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
                ev.object_ref = Some(ObjectRef::new("pods", Some(ns.to_owned()), Some(pod.clone()), None));
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
                let prefix = api_prefix(group, "v1");
                let (verb, uri, oname) = if list {
                    ("list", format!("{prefix}/namespaces/{ns}/{resource}?limit=500"), None)
                } else {
                    let n = if resource == "pods" { pod.clone() } else { app.to_owned() };
                    ("get", format!("{prefix}/namespaces/{ns}/{resource}/{n}"), Some(n))
                };
                let mut ev = self.base(Class::Human, verb, uri, user, ip, ua.to_owned());
                ev.object_ref = Some(ObjectRef::new(resource, Some(ns.to_owned()), oname, group));
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

    pub(crate) fn anonymous(&mut self) -> Event {
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
            ev.object_ref = Some(ObjectRef::new(res, (!ns.is_empty()).then(|| ns.to_owned()), None, None));
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

    pub(crate) fn review(&mut self) -> Event {
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
        ev.object_ref = Some(ObjectRef::new(resource, None, None, Some(group)));
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
}
