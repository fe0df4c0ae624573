//! Requests to simulate: the `authorizer.Attributes` tuple the audit policy
//! checker sees.
//!
//! The file format is that of `shared/fixtures/policies/probes.json`: an
//! object `{"probes": [...]}` (or a bare array) of
//! `{"id", "desc", "user", "groups", "verb", "is_resource", "api_group",
//! "resource", "subresource", "namespace", "name", "path"}`; absent strings
//! are `""`, absent `groups` is `[]`, absent `is_resource` is `true` unless a
//! `path` is given. An optional `weight` (default 1) gives the probe's share
//! of a request mix for volume estimates.
//!
//! The built-in set ([`builtin`]) is a copy of that file: 30 synthetic probes
//! P01–P30 authored for this project (policy-and-iac.md §5.1), embedded from
//! `posture/src/policy/probes.json`.

use serde_json::Value;

/// One request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Probe {
    pub id: String,
    pub desc: String,
    pub user: String,
    pub groups: Vec<String>,
    pub verb: String,
    pub is_resource: bool,
    pub api_group: String,
    pub resource: String,
    pub subresource: String,
    /// `""` = cluster-scoped.
    pub namespace: String,
    pub name: String,
    /// The URL path of a non-resource request.
    pub path: String,
    /// Relative frequency in a request mix (volume estimates); default 1.
    pub weight: f64,
}

impl Probe {
    /// Whether kube-apiserver treats the request as long-running, so it
    /// writes a `ResponseStarted` event (kube-apiserver's
    /// `BasicLongRunningRequestCheck(verbs {watch, proxy}, subresources
    /// {attach, exec, proxy, log, portforward})`).
    pub fn long_running(&self) -> bool {
        matches!(self.verb.as_str(), "watch" | "proxy")
            || (self.is_resource
                && matches!(self.subresource.as_str(), "attach" | "exec" | "proxy" | "log" | "portforward"))
    }

    /// `group/resource[/sub]` or the path, for tables.
    pub fn target(&self) -> String {
        if !self.is_resource {
            return self.path.clone();
        }
        let mut s = if self.api_group.is_empty() {
            self.resource.clone()
        } else {
            format!("{}/{}", self.api_group, self.resource)
        };
        if !self.subresource.is_empty() {
            s.push('/');
            s.push_str(&self.subresource);
        }
        s
    }
}

const BUILTIN: &str = include_str!("probes.json");

/// The built-in probe set P01–P30.
pub fn builtin() -> Vec<Probe> {
    // Embedded and tested: a parse failure is a build bug.
    parse(BUILTIN).unwrap_or_default()
}

/// Parse a probes file. Errors name the probe index and field.
pub fn parse(text: &str) -> Result<Vec<Probe>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("JSON: {e}"))?;
    let list = match &v {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("probes") {
            Some(Value::Array(a)) => a,
            Some(_) => return Err("`probes` must be an array".into()),
            None => return Err("expected an array of probes or an object with `probes`".into()),
        },
        _ => return Err("expected an array of probes or an object with `probes`".into()),
    };
    list.iter().enumerate().map(|(i, p)| probe(i, p)).collect()
}

fn probe(i: usize, v: &Value) -> Result<Probe, String> {
    let Value::Object(o) = v else { return Err(format!("probes[{i}]: must be an object")) };
    const KEYS: &[&str] = &[
        "id",
        "desc",
        "user",
        "groups",
        "verb",
        "is_resource",
        "api_group",
        "resource",
        "subresource",
        "namespace",
        "name",
        "path",
        "weight",
    ];
    if let Some(k) = o.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(format!("probes[{i}].{k}: unknown field (expected one of {})", KEYS.join(", ")));
    }
    let s = |k: &str| -> Result<String, String> {
        match o.get(k) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(format!("probes[{i}].{k}: must be a string")),
        }
    };
    let groups = match o.get("groups") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(j, g)| {
                g.as_str().map(str::to_string).ok_or_else(|| format!("probes[{i}].groups[{j}]: must be a string"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("probes[{i}].groups: must be a list of strings")),
    };
    let path = s("path")?;
    let is_resource = match o.get("is_resource") {
        None | Some(Value::Null) => path.is_empty(),
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(format!("probes[{i}].is_resource: must be true or false")),
    };
    let weight = match o.get("weight") {
        None | Some(Value::Null) => 1.0,
        Some(Value::Number(n)) => match n.as_f64() {
            Some(w) if w >= 0.0 && w.is_finite() => w,
            _ => return Err(format!("probes[{i}].weight: must be a number >= 0")),
        },
        Some(_) => return Err(format!("probes[{i}].weight: must be a number >= 0")),
    };
    let p = Probe {
        weight,
        id: match s("id")? {
            id if id.is_empty() => format!("#{}", i + 1),
            id => id,
        },
        desc: s("desc")?,
        user: s("user")?,
        groups,
        verb: s("verb")?,
        is_resource,
        api_group: s("api_group")?,
        resource: s("resource")?,
        subresource: s("subresource")?,
        namespace: s("namespace")?,
        name: s("name")?,
        path,
    };
    if p.verb.is_empty() {
        return Err(format!("probes[{i}].verb: required"));
    }
    if p.is_resource && p.resource.is_empty() {
        return Err(format!("probes[{i}].resource: required for a resource request"));
    }
    if !p.is_resource && p.path.is_empty() {
        return Err(format!("probes[{i}].path: required for a non-resource request"));
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_thirty() {
        let b = builtin();
        assert_eq!(b.len(), 30);
        assert_eq!(b[0].id, "P01");
        assert!(!b[22].is_resource && b[22].path == "/healthz");
        assert!(b[10].long_running() && !b[0].long_running());
    }

    #[test]
    fn errors_name_the_probe() {
        assert_eq!(parse(r#"[{"id":"x"}]"#).unwrap_err(), "probes[0].verb: required");
        assert!(parse(r#"{"probes":[{"verb":"get","resource":"pods","groups":"a"}]}"#).unwrap_err().contains("groups"));
        assert!(!parse(r#"[{"verb":"get","path":"/x"}]"#).unwrap()[0].is_resource);
    }
}
