//! kube-apiserver static-pod manifests (`policy-and-iac.md` §6): CIS 1.2.16–1.2.19
//! (kube-bench cis-1.9…1.12 ids), CIS 3.2.1 and IAC-K8S-MOUNT.

use std::collections::HashMap;

use serde_json::Value;

use super::doc::get;
use super::Emit;
use crate::finding::Verdict;

/// The kube-apiserver container of a Pod: named `kube-apiserver`, or whose
/// command/args start with it. Returns (index, container).
pub fn apiserver_container(pod: &Value) -> Option<(usize, &Value)> {
    let cs = get(pod, &["spec", "containers"])?.as_array()?;
    cs.iter().enumerate().find(|(_, c)| {
        c.get("name").and_then(Value::as_str) == Some("kube-apiserver")
            || argv(c).first().is_some_and(|a| a.rsplit('/').next() == Some("kube-apiserver"))
    })
}

fn argv(c: &Value) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for k in ["command", "args"] {
        v.extend(c.get(k).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str));
    }
    v
}

/// `--flag=value` and `--flag value` forms; the last occurrence wins (as pflag).
pub fn flags(args: &[&str]) -> HashMap<String, String> {
    let mut m = HashMap::new();
    let mut i = 0;
    while i < args.len() {
        if let Some(f) = args[i].strip_prefix("--") {
            if let Some((k, v)) = f.split_once('=') {
                m.insert(k.to_string(), v.to_string());
            } else if i + 1 < args.len() && !args[i + 1].starts_with("--") {
                m.insert(f.to_string(), args[i + 1].to_string());
                i += 1;
            } else {
                m.insert(f.to_string(), "true".to_string());
            }
        }
        i += 1;
    }
    m
}

/// Summary of a manifest's audit set-up, shared with the inventory.
#[derive(Debug, Clone, Default)]
pub struct AuditSetup {
    pub name: String,
    pub policy_file: Option<String>,
    pub log_path: Option<String>,
    pub webhook_config: Option<String>,
}

pub fn setup(pod: &Value) -> Option<AuditSetup> {
    let (f, name) = if is_kubeadm(pod) {
        (kubeadm_flags(pod), get(pod, &["clusterName"]).and_then(Value::as_str).unwrap_or("kubeadm"))
    } else {
        let (_, c) = apiserver_container(pod)?;
        (flags(&argv(c)), get(pod, &["metadata", "name"]).and_then(Value::as_str).unwrap_or("kube-apiserver"))
    };
    Some(AuditSetup {
        name: name.to_string(),
        policy_file: f.get("audit-policy-file").filter(|s| !s.is_empty()).cloned(),
        log_path: f.get("audit-log-path").filter(|s| !s.is_empty()).cloned(),
        webhook_config: f.get("audit-webhook-config-file").filter(|s| !s.is_empty()).cloned(),
    })
}

/// Run the manifest checks; `res` names the resource (the file).
pub fn check(pod: &Value, res: &str, out: &mut Emit) {
    let Some((ci, c)) = apiserver_container(pod) else { return };
    let args = argv(c);
    let f = flags(&args);
    let host_volumes: Vec<&str> = get(pod, &["spec", "volumes"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some())
        .filter_map(|v| v.get("name").and_then(Value::as_str))
        .collect();
    let mounts: Vec<(String, String)> = c
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            let (mp, name) = (m.get("mountPath")?.as_str()?, m.get("name")?.as_str()?);
            host_volumes.contains(&name).then(|| (mp.to_string(), format!("hostPath volume {name}")))
        })
        .collect();
    let at = Paths {
        flag: format!("spec.containers[{ci}].command[--{{}}]"),
        mounts: format!("spec.containers[{ci}].volumeMounts"),
    };
    evaluate(&f, &mounts, &at, res, out);
}

/// Whether a document is a kubeadm `ClusterConfiguration`.
pub fn is_kubeadm(doc: &Value) -> bool {
    doc.get("kind").and_then(Value::as_str) == Some("ClusterConfiguration")
        && doc.get("apiVersion").and_then(Value::as_str).is_some_and(|a| a.starts_with("kubeadm.k8s.io/"))
}

/// The kube-apiserver flags of a kubeadm `ClusterConfiguration`: `apiServer.extraArgs`
/// (a map in v1beta3, a list of `{name, value}` in v1beta4).
pub fn kubeadm_flags(doc: &Value) -> HashMap<String, String> {
    let mut f = HashMap::new();
    match get(doc, &["apiServer", "extraArgs"]) {
        Some(Value::Object(m)) => {
            for (k, v) in m {
                let v = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
                f.insert(k.clone(), v);
            }
        }
        Some(Value::Array(a)) => {
            for x in a {
                if let (Some(k), Some(v)) =
                    (x.get("name").and_then(Value::as_str), x.get("value").and_then(Value::as_str))
                {
                    f.insert(k.to_string(), v.to_string());
                }
            }
        }
        _ => {}
    }
    f
}

/// kubeadm `ClusterConfiguration`: the same checks on `apiServer.extraArgs`; `extraVolumes`
/// are always hostPath mounts.
pub fn check_kubeadm(doc: &Value, res: &str, out: &mut Emit) {
    let f = kubeadm_flags(doc);
    let mounts: Vec<(String, String)> = get(doc, &["apiServer", "extraVolumes"])
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| {
            let mp = v.get("mountPath")?.as_str()?;
            let name = v.get("name").and_then(Value::as_str).unwrap_or("?");
            Some((mp.to_string(), format!("extraVolume {name}")))
        })
        .collect();
    let at = Paths { flag: "apiServer.extraArgs[{}]".to_string(), mounts: "apiServer.extraVolumes".to_string() };
    evaluate(&f, &mounts, &at, res, out);
}

/// Attribute paths for findings: `flag` has `{}` where the flag name goes.
struct Paths {
    flag: String,
    mounts: String,
}

/// The CIS and mount checks over parsed flags and host mounts (`mountPath`, description).
fn evaluate(f: &HashMap<String, String>, mounts: &[(String, String)], at: &Paths, res: &str, out: &mut Emit) {
    let flag_path = |name: &str| at.flag.replace("{}", name);
    let log_path = f.get("audit-log-path").filter(|s| !s.is_empty());
    let webhook = f.get("audit-webhook-config-file").filter(|s| !s.is_empty());

    // CIS 1.2.16
    let p16 = flag_path("audit-log-path");
    match (log_path.map(String::as_str), webhook) {
        (Some("-"), _) => out.push("CIS-1.2.16", Verdict::Warn, res, &p16, "--audit-log-path=- writes audit events to stdout: the flag is set (kube-bench passes), but persistence depends on the container-log pipeline", "write to a file on a hostPath volume, e.g. --audit-log-path=/var/log/kubernetes/audit/audit.log"),
        (Some(p), _) => out.push("CIS-1.2.16", Verdict::Pass, res, &p16, format!("--audit-log-path={p}"), ""),
        (None, Some(w)) => out.push("CIS-1.2.16", Verdict::Warn, res, &p16, format!("no --audit-log-path (kube-bench 1.2.16 fails), but the webhook backend is configured ({w}): a valid backend"), "add --audit-log-path as well if a local copy is required"),
        (None, None) => out.push("CIS-1.2.16", Verdict::Fail, res, &p16, "no --audit-log-path and no --audit-webhook-config-file: no audit backend", "set --audit-log-path=/var/log/kubernetes/audit/audit.log"),
    }
    // CIS 1.2.17–1.2.19
    for (id, name, min) in [
        ("CIS-1.2.17", "audit-log-maxage", 30u64),
        ("CIS-1.2.18", "audit-log-maxbackup", 10),
        ("CIS-1.2.19", "audit-log-maxsize", 100),
    ] {
        let p = flag_path(name);
        let fix = format!("set --{name}={min} (or more)");
        if log_path.is_none() && webhook.is_some() {
            out.push(id, Verdict::NotApplicable, res, &p, "no log backend (webhook only)", "");
            continue;
        }
        match f.get(name) {
            None => out.push(id, Verdict::Fail, res, &p, format!("--{name} is not set"), &fix),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n >= min => out.push(id, Verdict::Pass, res, &p, format!("--{name}={n} (>= {min})"), ""),
                Ok(n) => out.push(id, Verdict::Fail, res, &p, format!("--{name}={n} (< {min})"), &fix),
                Err(_) => out.push(id, Verdict::Fail, res, &p, format!("--{name}={v:?} is not a number"), &fix),
            },
        }
    }
    // CIS 3.2.1
    let policy = f.get("audit-policy-file").filter(|s| !s.is_empty());
    let p321 = flag_path("audit-policy-file");
    match policy {
        Some(p) => out.push("CIS-3.2.1", Verdict::Pass, res, &p321, format!("--audit-policy-file={p}"), ""),
        None => out.push(
            "CIS-3.2.1",
            Verdict::Fail,
            res,
            &p321,
            "--audit-policy-file is not set: the API server logs no events",
            "set --audit-policy-file to a minimal policy (see kaudit policy lint)",
        ),
    }
    // IAC-K8S-MOUNT
    let mut need: Vec<(&str, String)> = Vec::new();
    if let Some(p) = policy {
        need.push(("audit policy file", p.clone()));
    }
    if let Some(p) = log_path.filter(|p| p.as_str() != "-") {
        let dir = p.rsplit_once('/').map(|(d, _)| if d.is_empty() { "/" } else { d }).unwrap_or(".");
        need.push(("audit log directory", dir.to_string()));
    }
    if let Some(w) = webhook {
        need.push(("audit webhook config", w.clone()));
    }
    let mpath = at.mounts.as_str();
    if need.is_empty() {
        out.push("IAC-K8S-MOUNT", Verdict::NotApplicable, res, mpath, "no audit file paths to mount", "");
        return;
    }
    let covered = |path: &str| -> Option<String> {
        mounts.iter().find_map(|(mp, what)| {
            let mp_t = mp.trim_end_matches('/');
            let path_t = path.trim_end_matches('/');
            let inside = path_t == mp_t || path_t.starts_with(&format!("{mp_t}/")) || mp_t.is_empty();
            inside.then(|| format!("{mp} ({what})"))
        })
    };
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    for (what, p) in &need {
        match covered(p) {
            Some(m) => ok.push(format!("{what} {p} via {m}")),
            None => bad.push(format!("{what} {p}")),
        }
    }
    if bad.is_empty() {
        out.push("IAC-K8S-MOUNT", Verdict::Pass, res, mpath, format!("mounted from the host: {}", ok.join("; ")), "");
    } else {
        out.push("IAC-K8S-MOUNT", Verdict::Fail, res, mpath, format!("not mounted from a hostPath volume: {} (a policy file or webhook config the container cannot see stops the API server; logs outside a host mount die with the container)", bad.join("; ")), "add hostPath volumes and volumeMounts covering these paths");
    }
}

#[cfg(test)]
mod tests {
    use super::flags;

    #[test]
    fn flag_forms() {
        let f = flags(&[
            "kube-apiserver",
            "--audit-log-path",
            "/var/log/a.log",
            "--audit-log-maxage=30",
            "--v",
            "--audit-log-maxage=7",
        ]);
        assert_eq!(f["audit-log-path"], "/var/log/a.log");
        assert_eq!(f["audit-log-maxage"], "7");
        assert_eq!(f["v"], "true");
    }
}
