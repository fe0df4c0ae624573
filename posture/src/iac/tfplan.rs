//! `terraform show -json` plan documents: the resources the plan will leave,
//! with what is unknown at plan time, what they were before, and the
//! configuration's references (a hand-written `serde_json::Value` walker, no
//! coupling to one Terraform version; unknown keys are ignored).

use std::collections::HashMap;

use serde_json::Value;

use super::doc::get;

/// One managed resource of the plan.
#[derive(Debug)]
pub struct Res<'a> {
    /// Full address incl. module path and index: `module.eks.aws_eks_cluster.this`.
    pub address: String,
    /// Module path (`module.eks`), empty at the root.
    pub module: String,
    pub rtype: String,
    /// Planned values (`after`); attributes unknown at plan time are absent.
    pub values: &'a Value,
    /// `change.after_unknown` (Null when the plan has no change entry).
    pub unknown: &'a Value,
    /// `change.before` for updates and replacements.
    pub before: Option<&'a Value>,
    pub actions: Vec<String>,
    /// Values in `prior_state` (existing resources: ids known).
    pub prior: Option<&'a Value>,
}

impl Res<'_> {
    /// Whether top-level attribute `attr` is (wholly or partly) unknown.
    pub fn is_unknown(&self, attr: &str) -> bool {
        fn any_true(v: &Value) -> bool {
            match v {
                Value::Bool(b) => *b,
                Value::Array(a) => a.iter().any(any_true),
                Value::Object(m) => m.values().any(any_true),
                _ => false,
            }
        }
        self.unknown.get(attr).is_some_and(any_true)
    }

    /// A known, non-null attribute.
    pub fn get(&self, attr: &str) -> Option<&Value> {
        get(self.values, &[attr])
    }

    /// A known attribute, falling back to prior state (e.g. `id`).
    pub fn get_or_prior(&self, attr: &str) -> Option<&Value> {
        self.get(attr).or_else(|| self.prior.and_then(|p| get(p, &[attr])))
    }

    pub fn is_update(&self) -> bool {
        self.actions.iter().any(|a| a == "update")
            || (self.actions.iter().any(|a| a == "delete") && self.actions.iter().any(|a| a == "create"))
    }
}

/// A parsed plan.
#[derive(Debug)]
pub struct Plan<'a> {
    pub resources: Vec<Res<'a>>,
    /// Configuration expressions by module-qualified address without indexes.
    config: HashMap<String, &'a Value>,
}

/// Whether a JSON document looks like a plan.
pub fn is_plan(doc: &Value) -> bool {
    doc.get("format_version").is_some()
        && (doc.get("planned_values").is_some() || doc.get("resource_changes").is_some())
}

impl<'a> Plan<'a> {
    pub fn parse(doc: &'a Value) -> Result<Self, String> {
        let fv =
            doc.get("format_version").and_then(Value::as_str).ok_or("plan: format_version missing or not a string")?;
        let major = fv.split('.').next().unwrap_or("");
        if major != "0" && major != "1" {
            return Err(format!("plan: unsupported format_version {fv:?} (majors 0 and 1 are understood)"));
        }
        let mut changes: HashMap<&str, &'a Value> = HashMap::new();
        for rc in doc.get("resource_changes").and_then(Value::as_array).into_iter().flatten() {
            if let Some(a) = rc.get("address").and_then(Value::as_str) {
                changes.insert(a, rc);
            }
        }
        let mut prior = HashMap::new();
        if let Some(root) = get(doc, &["prior_state", "values", "root_module"]) {
            walk_module(root, "", &mut |r, _| {
                if let (Some(a), Some(v)) = (r.get("address").and_then(Value::as_str), r.get("values")) {
                    prior.insert(a.to_string(), v);
                }
            });
        }
        let mut resources = Vec::new();
        let mut seen = std::collections::HashSet::new();
        if let Some(root) = get(doc, &["planned_values", "root_module"]) {
            walk_module(root, "", &mut |r, module| {
                if r.get("mode").and_then(Value::as_str).unwrap_or("managed") != "managed" {
                    return;
                }
                let (Some(address), Some(rtype)) =
                    (r.get("address").and_then(Value::as_str), r.get("type").and_then(Value::as_str))
                else {
                    return;
                };
                let change = changes.get(address).and_then(|c| c.get("change"));
                seen.insert(address.to_string());
                resources.push(Res {
                    address: address.to_string(),
                    module: module.to_string(),
                    rtype: rtype.to_string(),
                    values: r.get("values").unwrap_or(&Value::Null),
                    unknown: change.and_then(|c| c.get("after_unknown")).unwrap_or(&Value::Null),
                    before: change.and_then(|c| get(c, &["before"])),
                    actions: actions(change),
                    prior: prior.get(address).copied(),
                });
            });
        }
        // Resources only in resource_changes (no planned_values section).
        for rc in doc.get("resource_changes").and_then(Value::as_array).into_iter().flatten() {
            let (Some(address), Some(rtype)) =
                (rc.get("address").and_then(Value::as_str), rc.get("type").and_then(Value::as_str))
            else {
                continue;
            };
            let change = rc.get("change");
            let acts = actions(change);
            if seen.contains(address)
                || rc.get("mode").and_then(Value::as_str).unwrap_or("managed") != "managed"
                || acts.iter().all(|a| a == "delete" || a == "read")
            {
                continue;
            }
            resources.push(Res {
                address: address.to_string(),
                module: rc.get("module_address").and_then(Value::as_str).unwrap_or("").to_string(),
                rtype: rtype.to_string(),
                values: change.and_then(|c| c.get("after")).unwrap_or(&Value::Null),
                unknown: change.and_then(|c| c.get("after_unknown")).unwrap_or(&Value::Null),
                before: change.and_then(|c| get(c, &["before"])),
                actions: acts,
                prior: prior.get(address).copied(),
            });
        }
        let mut config = HashMap::new();
        if let Some(root) = get(doc, &["configuration", "root_module"]) {
            walk_config(root, "", &mut config);
        }
        Ok(Plan { resources, config })
    }

    pub fn of_type<'s>(&'s self, rtype: &'s str) -> impl Iterator<Item = &'s Res<'a>> + 's {
        self.resources.iter().filter(move |r| r.rtype == rtype)
    }

    /// The configuration's `references` of `attr` on `res`, made absolute
    /// (module path prefixed), in the order Terraform lists them.
    pub fn references(&self, res: &Res<'_>, attr: &str) -> Vec<String> {
        let key = strip_indexes(&res.address);
        let Some(exprs) = self.config.get(&key) else { return Vec::new() };
        let prefix = strip_indexes(&res.module);
        exprs
            .get(attr)
            .and_then(|e| e.get("references"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(|r| {
                        if prefix.is_empty() || r.starts_with("var.") {
                            r.to_string()
                        } else {
                            format!("{prefix}.{r}")
                        }
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}

fn actions(change: Option<&Value>) -> Vec<String> {
    change
        .and_then(|c| c.get("actions"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

fn walk_module<'a>(m: &'a Value, _parent: &str, f: &mut dyn FnMut(&'a Value, &str)) {
    let addr = m.get("address").and_then(Value::as_str).unwrap_or("");
    for r in m.get("resources").and_then(Value::as_array).into_iter().flatten() {
        f(r, addr);
    }
    for c in m.get("child_modules").and_then(Value::as_array).into_iter().flatten() {
        walk_module(c, addr, f);
    }
}

fn walk_config<'a>(m: &'a Value, prefix: &str, out: &mut HashMap<String, &'a Value>) {
    for r in m.get("resources").and_then(Value::as_array).into_iter().flatten() {
        if let (Some(a), Some(e)) = (r.get("address").and_then(Value::as_str), r.get("expressions")) {
            let key = if prefix.is_empty() { a.to_string() } else { format!("{prefix}.{a}") };
            out.insert(key, e);
        }
    }
    if let Some(calls) = m.get("module_calls").and_then(Value::as_object) {
        for (name, call) in calls {
            if let Some(module) = call.get("module") {
                let p = if prefix.is_empty() { format!("module.{name}") } else { format!("{prefix}.module.{name}") };
                walk_config(module, &p, out);
            }
        }
    }
}

/// `module.a["x"].aws_eks_cluster.b[0]` → `module.a.aws_eks_cluster.b`.
pub fn strip_indexes(addr: &str) -> String {
    let mut out = String::with_capacity(addr.len());
    let mut depth = 0usize;
    let mut in_str = false;
    let mut prev = '\0';
    for ch in addr.chars() {
        match ch {
            '"' if depth > 0 && prev != '\\' => in_str = !in_str,
            '[' if !in_str => depth += 1,
            ']' if !in_str => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(ch),
            _ => {}
        }
        prev = ch;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip_indexes;

    #[test]
    fn indexes_stripped() {
        assert_eq!(strip_indexes("module.a[\"x]y\"].aws_eks_cluster.b[0]"), "module.a.aws_eks_cluster.b");
        assert_eq!(strip_indexes("aws_eks_cluster.b"), "aws_eks_cluster.b");
    }
}
