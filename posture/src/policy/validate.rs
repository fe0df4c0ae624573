//! The checks kube-apiserver runs when it loads `--audit-policy-file`; a
//! policy failing any of them stops the apiserver from starting.
//!
//! Reproduces, message for message:
//! * kubernetes/kubernetes `staging/src/k8s.io/apiserver/pkg/apis/audit/validation/validation.go`
//!   (`ValidatePolicy`: per rule `validateLevel`, `validateNonResourceURLs`,
//!   `validateResources`, `validateOmitStages`, and the resources ×
//!   non-resource-URL exclusion), with the `field.Error` text format of
//!   apimachinery (`PATH: Invalid value: VALUE: DETAIL`);
//! * `staging/src/k8s.io/apiserver/pkg/audit/policy/reader.go`
//!   (`LoadPolicyFromBytes`: known group/version, then validation, then
//!   "loaded illegal policy with 0 rules").
//!
//! Like `validation.go`, the policy-wide `omitStages` is not validated here
//! (the linter warns about unknown values, AP-V03).

use super::{Level, Policy, Stage};

/// One validation error: the field path and the apimachinery error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// `rules[3].resources.group` (apimachinery's path: note `validation.go`
    /// does not index the `resources` list).
    pub path: String,
    /// The rule index the error is in, if any.
    pub rule: Option<usize>,
    /// The full message as kube-apiserver prints it.
    pub message: String,
}

/// The group/versions `reader.go` decodes; only `v1` is current.
pub const API_VERSIONS: &[&str] = &["audit.k8s.io/v1", "audit.k8s.io/v1beta1", "audit.k8s.io/v1alpha1"];

/// Validate as kube-apiserver does. Empty = the apiserver accepts the policy.
pub fn validate(p: &Policy) -> Vec<ValidationError> {
    let mut errs = Vec::new();
    if !API_VERSIONS.contains(&p.api_version.as_str()) || p.kind != "Policy" {
        let (path, msg) = if p.api_version.is_empty() || p.kind.is_empty() {
            let which = if p.api_version.is_empty() { "apiVersion" } else { "kind" };
            (which, format!("failed decoding: Object '{}' is missing", if which == "kind" { "Kind" } else { which }))
        } else {
            ("apiVersion", format!("unknown group version field {}, Kind={} in policy", p.api_version, p.kind))
        };
        errs.push(ValidationError { path: path.into(), rule: None, message: msg });
        return errs;
    }
    for (i, r) in p.rules.iter().enumerate() {
        let at = format!("rules[{i}]");
        let mut push = |path: String, message: String| errs.push(ValidationError { path, rule: Some(i), message });
        // validateLevel
        let lp = format!("{at}.level");
        if r.level.is_empty() {
            push(lp.clone(), format!("{lp}: Required value"));
        } else if Level::parse(&r.level).is_none() {
            let supported: Vec<String> = Level::ALL.iter().map(|l| go_quote(l.as_str())).collect();
            push(
                lp.clone(),
                format!("{lp}: Unsupported value: {}: supported values: {}", go_quote(&r.level), supported.join(", ")),
            );
        }
        // validateNonResourceURLs
        for (j, url) in r.non_resource_urls.iter().enumerate() {
            if url == "*" {
                continue;
            }
            let up = format!("{at}.nonResourceURLs[{j}]");
            if !url.starts_with('/') {
                push(
                    up.clone(),
                    format!(
                        "{up}: Invalid value: {}: non-resource URL rules must begin with a '/' character",
                        go_quote(url)
                    ),
                );
            }
            if !url.is_empty() && url[..url.len() - 1].contains('*') {
                push(
                    up.clone(),
                    format!(
                        "{up}: Invalid value: {}: non-resource URL wildcards '*' must be the final character of the rule",
                        go_quote(url)
                    ),
                );
            }
        }
        // validateResources
        for g in &r.resources {
            if !g.group.is_empty() {
                let msgs = dns1123_subdomain(&g.group);
                if !msgs.is_empty() {
                    let gp = format!("{at}.resources.group");
                    push(gp.clone(), format!("{gp}: Invalid value: {}: {}", go_quote(&g.group), msgs.join(",")));
                }
            }
            if !g.resource_names.is_empty() && g.resources.is_empty() {
                let np = format!("{at}.resources.resourceNames");
                push(
                    np.clone(),
                    format!(
                        "{np}: Invalid value: {}: using resourceNames requires at least one resource",
                        go_string_slice(&g.resource_names)
                    ),
                );
            }
        }
        // validateOmitStages
        for (j, s) in r.omit_stages.iter().enumerate() {
            if Stage::parse(s).is_none() {
                let sp = format!("{at}.omitStages[{j}]");
                let allowed: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
                push(
                    sp.clone(),
                    format!("{sp}: Invalid value: {}: allowed stages are {}", go_quote(s), allowed.join(",")),
                );
            }
        }
        if !r.non_resource_urls.is_empty() && (!r.resources.is_empty() || !r.namespaces.is_empty()) {
            let np = format!("{at}.nonResourceURLs");
            push(
                np.clone(),
                format!(
                    "{np}: Invalid value: {}: rules cannot apply to both regular resources and non-resource URLs",
                    go_string_slice(&r.non_resource_urls)
                ),
            );
        }
    }
    // field.ErrorList.ToAggregate drops duplicate messages.
    let mut seen = std::collections::HashSet::new();
    errs.retain(|e| seen.insert(e.message.clone()));
    if errs.is_empty() && p.rules.is_empty() {
        errs.push(ValidationError {
            path: "rules".into(),
            rule: None,
            message: "loaded illegal policy with 0 rules".into(),
        });
    }
    errs
}

/// The error text kube-apiserver prints for the whole list
/// (`utilerrors.Aggregate`: one message as is, several as `[a, b]`).
pub fn aggregate(errs: &[ValidationError]) -> String {
    match errs {
        [] => String::new(),
        [one] => one.message.clone(),
        many => format!("[{}]", many.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(", ")),
    }
}

/// apimachinery `IsDNS1123Subdomain` (`NameIsDNSSubdomain(name, false)`).
fn dns1123_subdomain(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    if v.len() > 253 {
        out.push("must be no more than 253 characters".to_string());
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    };
    if !v.split('.').all(label_ok) {
        out.push(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must \
             start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is \
             '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
                .to_string(),
        );
    }
    out
}

/// Go's `%q` for a string (printable text kept, the rest escaped).
pub(crate) fn go_quote(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => o.push_str(&format!("\\x{:02x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// Go's `%#v` for a `[]string`.
fn go_string_slice(v: &[String]) -> String {
    format!("[]string{{{}}}", v.iter().map(|s| go_quote(s)).collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_subdomain() {
        assert!(dns1123_subdomain("rbac.authorization.k8s.io").is_empty());
        assert!(dns1123_subdomain("metrics.k8s.io").is_empty());
        assert_eq!(dns1123_subdomain("apps/v1").len(), 1);
        assert_eq!(dns1123_subdomain("Apps").len(), 1);
        assert_eq!(dns1123_subdomain("a..b").len(), 1);
        assert_eq!(dns1123_subdomain("-a").len(), 1);
    }

    #[test]
    fn go_formats() {
        assert_eq!(go_quote("a\"b"), "\"a\\\"b\"");
        assert_eq!(go_string_slice(&["x".into(), "y".into()]), "[]string{\"x\", \"y\"}");
    }
}
