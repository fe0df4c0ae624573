//! Policy text → [`Policy`]. YAML through saphyr; JSON is accepted too (a
//! JSON document is YAML flow syntax). Errors name the place: line, column
//! and the field path (`rules[3].resources[0].group`).
//!
//! Type errors are what kube-apiserver's decoder refuses too (a number where
//! a string belongs, a mapping where a list belongs). Keys that are not
//! fields of `Policy`/`PolicyRule`/`GroupResources` are kept in
//! [`Policy::unknown_fields`]: the apiserver's decoder drops them silently,
//! so a typo such as `resource:` turns a rule into a broader one.

use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::{GroupResources, Policy, PolicyRule};

/// Why a policy could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based; 0 when unknown.
    pub line: usize,
    pub col: usize,
    /// Field path, empty for the document.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.line, self.col)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ParseError {}

const MAX_DEPTH: usize = 32;

struct Cx<'a> {
    unknown: &'a mut Vec<String>,
}

fn err(n: &MarkedYaml<'_>, path: &str, msg: impl Into<String>) -> ParseError {
    ParseError { line: n.span.start.line(), col: n.span.start.col() + 1, path: path.to_string(), message: msg.into() }
}

fn unwrap_tag<'n, 'a>(n: &'n MarkedYaml<'a>) -> &'n MarkedYaml<'a> {
    match &n.data {
        YamlData::Tagged(_, inner) => unwrap_tag(inner),
        _ => n,
    }
}

fn is_null(n: &MarkedYaml<'_>) -> bool {
    matches!(unwrap_tag(n).data, YamlData::Value(Scalar::Null))
}

fn string(n: &MarkedYaml<'_>, path: &str) -> Result<String, ParseError> {
    let n = unwrap_tag(n);
    match &n.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        YamlData::Representation(s, _, _) => Ok(s.to_string()),
        YamlData::Value(Scalar::Null) => Ok(String::new()),
        YamlData::Value(other) => Err(err(n, path, format!("must be a string, not {}", scalar_kind(other)))),
        YamlData::Alias(_) => Err(err(n, path, "YAML aliases are not supported")),
        _ => Err(err(n, path, "must be a string")),
    }
}

fn scalar_kind(s: &Scalar<'_>) -> &'static str {
    match s {
        Scalar::Null => "null",
        Scalar::Boolean(_) => "a boolean",
        Scalar::Integer(_) => "an integer",
        Scalar::FloatingPoint(_) => "a number",
        Scalar::String(_) => "a string",
    }
}

fn boolean(n: &MarkedYaml<'_>, path: &str) -> Result<Option<bool>, ParseError> {
    let n = unwrap_tag(n);
    match &n.data {
        YamlData::Value(Scalar::Boolean(b)) => Ok(Some(*b)),
        YamlData::Value(Scalar::Null) => Ok(None),
        _ => Err(err(n, path, "must be true or false")),
    }
}

fn items<'n, 'a>(n: &'n MarkedYaml<'a>, path: &str) -> Result<Vec<&'n MarkedYaml<'a>>, ParseError> {
    let n = unwrap_tag(n);
    match &n.data {
        YamlData::Sequence(s) => Ok(s.iter().collect()),
        YamlData::Value(Scalar::Null) => Ok(Vec::new()),
        _ => Err(err(n, path, "must be a list")),
    }
}

fn strings(n: &MarkedYaml<'_>, path: &str) -> Result<Vec<String>, ParseError> {
    items(n, path)?.into_iter().enumerate().map(|(i, x)| string(x, &format!("{path}[{i}]"))).collect()
}

fn entries<'n, 'a>(n: &'n MarkedYaml<'a>, path: &str) -> Result<Vec<(String, &'n MarkedYaml<'a>)>, ParseError> {
    let n = unwrap_tag(n);
    let YamlData::Mapping(m) = &n.data else {
        let what =
            if path.is_empty() { "a policy must be a mapping (apiVersion, kind, rules)" } else { "must be a mapping" };
        return Err(err(n, path, what));
    };
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m.iter() {
        let key = match &unwrap_tag(k).data {
            YamlData::Value(Scalar::String(s)) => s.to_string(),
            _ => return Err(err(k, path, "mapping keys must be strings")),
        };
        out.push((key, v));
    }
    Ok(out)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn depth_ok(n: &MarkedYaml<'_>, d: usize) -> Result<(), ParseError> {
    if d > MAX_DEPTH {
        return Err(err(n, "", "document nested too deeply"));
    }
    match &n.data {
        YamlData::Mapping(m) => m.iter().try_for_each(|(_, v)| depth_ok(v, d + 1)),
        YamlData::Sequence(s) => s.iter().try_for_each(|v| depth_ok(v, d + 1)),
        YamlData::Tagged(_, inner) => depth_ok(inner, d + 1),
        _ => Ok(()),
    }
}

/// Parse one policy document (YAML or JSON).
pub fn parse(src: &str) -> Result<Policy, ParseError> {
    let docs = MarkedYaml::load_from_str(src).map_err(|e| ParseError {
        line: e.marker().line(),
        col: e.marker().col() + 1,
        path: String::new(),
        message: format!("YAML: {}", e.info()),
    })?;
    let Some(doc) = docs.first() else {
        return Err(ParseError { line: 1, col: 1, path: String::new(), message: "empty document".into() });
    };
    if docs.len() > 1 {
        return Err(err(&docs[1], "", "more than one YAML document: a policy file holds one Policy"));
    }
    depth_ok(doc, 0)?;
    let mut p = Policy::default();
    let mut unknown = Vec::new();
    let mut cx = Cx { unknown: &mut unknown };
    for (k, v) in entries(doc, "")? {
        match k.as_str() {
            "apiVersion" => p.api_version = string(v, "apiVersion")?,
            "kind" => p.kind = string(v, "kind")?,
            "metadata" => {}
            "omitStages" => p.omit_stages = strings(v, "omitStages")?,
            "omitManagedFields" => p.omit_managed_fields = boolean(v, "omitManagedFields")?,
            "rules" => {
                for (i, r) in items(v, "rules")?.into_iter().enumerate() {
                    p.rules.push(rule(r, &format!("rules[{i}]"), &mut cx)?);
                }
            }
            other => cx.unknown.push(other.to_string()),
        }
    }
    p.unknown_fields = unknown;
    Ok(p)
}

fn rule(n: &MarkedYaml<'_>, path: &str, cx: &mut Cx<'_>) -> Result<PolicyRule, ParseError> {
    let mut r = PolicyRule { line: n.span.start.line(), ..PolicyRule::default() };
    if is_null(n) {
        return Ok(r);
    }
    for (k, v) in entries(n, path)? {
        let at = join(path, &k);
        match k.as_str() {
            "level" => r.level = string(v, &at)?,
            "users" => r.users = strings(v, &at)?,
            "userGroups" => r.user_groups = strings(v, &at)?,
            "verbs" => r.verbs = strings(v, &at)?,
            "namespaces" => r.namespaces = strings(v, &at)?,
            "nonResourceURLs" => r.non_resource_urls = strings(v, &at)?,
            "omitStages" => r.omit_stages = strings(v, &at)?,
            "omitManagedFields" => r.omit_managed_fields = boolean(v, &at)?,
            "resources" => {
                for (i, g) in items(v, &at)?.into_iter().enumerate() {
                    r.resources.push(group_resources(g, &format!("{at}[{i}]"), cx)?);
                }
            }
            _ => cx.unknown.push(at),
        }
    }
    Ok(r)
}

fn group_resources(n: &MarkedYaml<'_>, path: &str, cx: &mut Cx<'_>) -> Result<GroupResources, ParseError> {
    let mut g = GroupResources::default();
    if is_null(n) {
        return Ok(g);
    }
    for (k, v) in entries(n, path)? {
        let at = join(path, &k);
        match k.as_str() {
            "group" => g.group = string(v, &at)?,
            "resources" => g.resources = strings(v, &at)?,
            "resourceNames" => g.resource_names = strings(v, &at)?,
            _ => cx.unknown.push(at),
        }
    }
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_yaml_and_json_alike() {
        let y = parse("apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n  resources:\n  - group: \"\"\n    resources: [pods]\n").unwrap();
        let j = parse(r#"{"apiVersion":"audit.k8s.io/v1","kind":"Policy","omitStages":["RequestReceived"],"rules":[{"level":"Metadata","resources":[{"group":"","resources":["pods"]}]}]}"#).unwrap();
        assert_eq!(y.rules[0].resources, j.rules[0].resources);
        assert_eq!(y.omit_stages, vec!["RequestReceived"]);
        assert_eq!(y.rules[0].line, 5);
    }

    #[test]
    fn errors_name_the_place() {
        let e = parse("rules:\n- level: Metadata\n  verbs: get\n").unwrap_err();
        assert_eq!((e.line, e.path.as_str(), e.message.as_str()), (3, "rules[0].verbs", "must be a list"));
        let e = parse("rules:\n- level: 3\n").unwrap_err();
        assert_eq!(e.path, "rules[0].level");
        assert!(e.message.contains("integer"), "{e}");
        let e = parse("rules: [\n").unwrap_err();
        assert!(e.message.starts_with("YAML:"), "{e}");
        let e = parse("- a\n").unwrap_err();
        assert!(e.message.contains("mapping"), "{e}");
    }

    #[test]
    fn unknown_keys_are_kept() {
        let p = parse("rules:\n- level: None\n  resource: [secrets]\n").unwrap();
        assert_eq!(p.unknown_fields, vec!["rules[0].resource"]);
        assert!(p.rules[0].is_unconditional());
    }
}
