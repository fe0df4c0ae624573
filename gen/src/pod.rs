//! Pods as the ReplicaSet controller sends them and the apiserver stores them.

use crate::cluster::App;
use crate::gojson::{json_obj, Obj};
use crate::rng::Rng;

pub(crate) struct Container {
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) port: i64,
    pub(crate) env: Vec<(String, String)>,
    /// CPU request (no CPU limit, as is common).
    pub(crate) cpu: &'static str,
    /// Memory (request, limit).
    pub(crate) mem: (&'static str, &'static str),
    pub(crate) probes: bool,
}

pub(crate) struct PodSpec {
    pub(crate) ns: &'static str,
    pub(crate) app: &'static str,
    pub(crate) sa: &'static str,
    pub(crate) rs: String,
    pub(crate) rs_hash: String,
    pub(crate) rs_uid: String,
    pub(crate) name: String,
    pub(crate) volume: String,
    pub(crate) containers: Vec<Container>,
}

impl PodSpec {
    pub(crate) fn new(rng: &mut Rng, app: &App, sa: &'static str, rs: String, name: String) -> Self {
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
    pub(crate) fn render(&self, stored: Option<(&str, u64, &str)>) -> String {
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

    pub(crate) fn container(&self, x: &mut Obj<'_>, c: &Container, full: bool) {
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
    pub(crate) fn fields_v1(&self, v: &mut Obj<'_>) {
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
