//! The level and stages kube-apiserver picks for a request.
//!
//! A line-for-line reproduction of kubernetes/kubernetes
//! `staging/src/k8s.io/apiserver/pkg/audit/policy/checker.go`:
//! * `NewChecker`: every rule's `omitStages` becomes the union of the
//!   policy-wide list and its own (`unionStages`);
//! * `LevelAndStages`: the first rule that matches wins; no match gives
//!   `DefaultAuditLevel` (`None`) with the policy-wide `omitStages`;
//! * `ruleMatches`: `users` (exact name), `userGroups` (any group), `verbs`;
//!   then, if `namespaces` or `resources` is set, `ruleMatchesResource`
//!   (resource requests only), else if `nonResourceURLs` is set,
//!   `ruleMatchesNonResource` (non-resource requests only), else true;
//! * `ruleMatchesResource`: namespace in `namespaces` (`""` = cluster-scoped),
//!   empty `resources` matches any; per `GroupResources`: equal group, empty
//!   list = whole group, `resourceNames` filter, then `res == resource[/sub]`,
//!   `*`, `*/sub` (only for subresource requests), `res/*` (compares the
//!   resource only, so it also matches `res` itself — as the code is written,
//!   although the API docs describe it as "all subresources");
//! * `pathMatches`: `*`, exact, or trailing-`*` prefix.

use super::validate::{validate, ValidationError};
use super::{Level, Policy, Probe, Stage};

/// What the apiserver does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub level: Level,
    /// Effective omitted stages, in [`Stage`] order.
    pub omit_stages: Vec<Stage>,
    /// Index of the matched rule; `None` when no rule matched.
    pub rule_index: Option<usize>,
}

impl Decision {
    /// Whether events are written at `stage` for this request (`long_running`:
    /// whether the apiserver emits `ResponseStarted` for it).
    pub fn records(&self, stage: Stage, long_running: bool) -> bool {
        self.level != Level::None
            && !self.omit_stages.contains(&stage)
            && (stage != Stage::ResponseStarted || long_running)
    }
}

struct Rule<'p> {
    rule: &'p super::PolicyRule,
    level: Level,
    omit: Vec<Stage>,
}

/// A validated policy, ready to answer.
pub struct Checker<'p> {
    rules: Vec<Rule<'p>>,
    omit: Vec<Stage>,
}

/// `unionStages`, in canonical order (Go's map order is random; order carries no meaning).
fn union(lists: &[&[String]]) -> Vec<Stage> {
    let mut out: Vec<Stage> = lists.iter().flat_map(|l| l.iter()).filter_map(|s| Stage::parse(s)).collect();
    out.sort();
    out.dedup();
    out
}

impl<'p> Checker<'p> {
    /// `NewChecker`, after the apiserver's validation (an invalid policy is
    /// never simulated: the apiserver would not start).
    pub fn new(p: &'p Policy) -> Result<Checker<'p>, Vec<ValidationError>> {
        let errs = validate(p);
        if !errs.is_empty() {
            return Err(errs);
        }
        let rules = p
            .rules
            .iter()
            .map(|r| Rule {
                rule: r,
                // Validated: the level is one of the four.
                level: r.level().unwrap_or(Level::None),
                omit: union(&[&p.omit_stages, &r.omit_stages]),
            })
            .collect();
        Ok(Checker { rules, omit: union(&[&p.omit_stages]) })
    }

    /// `LevelAndStages`.
    pub fn decide(&self, a: &Probe) -> Decision {
        for (i, r) in self.rules.iter().enumerate() {
            if rule_matches(r.rule, a) {
                return Decision { level: r.level, omit_stages: r.omit.clone(), rule_index: Some(i) };
            }
        }
        Decision { level: Level::None, omit_stages: self.omit.clone(), rule_index: None }
    }
}

/// `ruleMatches`.
pub fn rule_matches(r: &super::PolicyRule, a: &Probe) -> bool {
    if !r.users.is_empty() && !r.users.contains(&a.user) {
        return false;
    }
    if !r.user_groups.is_empty() && !a.groups.iter().any(|g| r.user_groups.contains(g)) {
        return false;
    }
    if !r.verbs.is_empty() && !r.verbs.contains(&a.verb) {
        return false;
    }
    if !r.namespaces.is_empty() || !r.resources.is_empty() {
        return rule_matches_resource(r, a);
    }
    if !r.non_resource_urls.is_empty() {
        return rule_matches_non_resource(r, a);
    }
    true
}

fn rule_matches_non_resource(r: &super::PolicyRule, a: &Probe) -> bool {
    if a.is_resource {
        return false;
    }
    r.non_resource_urls.iter().any(|spec| path_matches(&a.path, spec))
}

/// `pathMatches`. (`strings.TrimRight(spec, "*")` strips every trailing `*`.)
pub fn path_matches(path: &str, spec: &str) -> bool {
    spec == "*" || spec == path || (spec.ends_with('*') && path.starts_with(spec.trim_end_matches('*')))
}

fn rule_matches_resource(r: &super::PolicyRule, a: &Probe) -> bool {
    if !a.is_resource {
        return false;
    }
    if !r.namespaces.is_empty() && !r.namespaces.contains(&a.namespace) {
        return false;
    }
    if r.resources.is_empty() {
        return true;
    }
    let combined =
        if a.subresource.is_empty() { a.resource.clone() } else { format!("{}/{}", a.resource, a.subresource) };
    for gr in &r.resources {
        if gr.group != a.api_group {
            continue;
        }
        if gr.resources.is_empty() {
            return true;
        }
        for res in &gr.resources {
            if !gr.resource_names.is_empty() && !gr.resource_names.contains(&a.name) {
                continue;
            }
            if *res == combined || res == "*" {
                return true;
            }
            if !a.subresource.is_empty() && res.strip_prefix("*/") == Some(a.subresource.as_str()) {
                return true;
            }
            if res.strip_suffix("/*") == Some(a.resource.as_str()) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_matching() {
        assert!(path_matches("/healthz/etcd", "/healthz*"));
        assert!(path_matches("/healthz", "/healthz*"));
        assert!(path_matches("/anything", "*"));
        assert!(!path_matches("/version/", "/version"));
        assert!(path_matches("/apis", "/api*"));
        // TrimRight removes every trailing '*'.
        assert!(path_matches("/x", "/x**"));
    }
}
