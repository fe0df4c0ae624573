//! Terraform HCL sources (`.tf`) without a plan: each `resource` block becomes
//! a plan-shaped resource so that the plan checks run unchanged. Literal values
//! are known; anything computed (references, function calls, interpolations,
//! `dynamic` blocks) is *unknown*, exactly as `after_unknown` marks it in a
//! plan, and references are kept as the configuration's `references`. Modules
//! are not followed (their sources are not at hand); `count`/`for_each` are
//! ignored (one instance). Prefer `terraform show -json` plans: they carry
//! provider defaults and resolved values.

use hcl::expr::{TemplateExpr, Traversal, TraversalOperator};
use hcl::{Body, Expression, ObjectKey, Structure};
use serde_json::{json, Map, Value};

/// Whether `src` looks like HCL: its first significant token is a top-level Terraform block keyword.
pub fn looks_like_hcl(src: &str) -> bool {
    for line in src.lines() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with("//") {
            continue;
        }
        let kw = t.split(|c: char| c.is_whitespace() || c == '"' || c == '{').next().unwrap_or("");
        return matches!(
            kw,
            "resource" | "data" | "module" | "provider" | "terraform" | "variable" | "locals" | "output"
        );
    }
    false
}

/// Parse HCL and build a plan JSON document (format_version 1.2) from its resources.
pub fn to_plan(src: &str) -> Result<Value, String> {
    let body = hcl::parse(src).map_err(|e| format!("invalid HCL: {e}"))?;
    let mut planned = Vec::new();
    let mut changes = Vec::new();
    let mut config = Vec::new();
    for s in body.iter() {
        let Structure::Block(b) = s else { continue };
        if b.identifier.as_str() != "resource" || b.labels.len() != 2 {
            continue;
        }
        let rtype = b.labels[0].as_str();
        let name = b.labels[1].as_str();
        let address = format!("{rtype}.{name}");
        let mut values = Map::new();
        let mut unknown = Map::new();
        let mut exprs = Map::new();
        body_values(&b.body, &mut values, &mut unknown, Some(&mut exprs));
        planned.push(json!({"address": address, "mode": "managed", "type": rtype, "name": name, "values": values}));
        changes.push(json!({
            "address": address, "mode": "managed", "type": rtype, "name": name,
            "change": {"actions": ["create"], "before": null, "after": values, "after_unknown": unknown}
        }));
        config.push(json!({"address": address, "mode": "managed", "type": rtype, "name": name, "expressions": exprs}));
    }
    Ok(json!({
        "format_version": "1.2",
        "planned_values": {"root_module": {"resources": planned}},
        "resource_changes": changes,
        "configuration": {"root_module": {"resources": config}}
    }))
}

/// Attributes and nested blocks of a body into `values` / `unknown` (and top-level `references`).
fn body_values(
    body: &Body,
    values: &mut Map<String, Value>,
    unknown: &mut Map<String, Value>,
    mut exprs: Option<&mut Map<String, Value>>,
) {
    for s in body.iter() {
        match s {
            Structure::Attribute(a) => {
                let key = a.key.as_str().to_string();
                match literal(&a.expr) {
                    Some(v) => {
                        values.insert(key.clone(), v);
                    }
                    None => {
                        unknown.insert(key.clone(), Value::Bool(true));
                    }
                }
                if let Some(ex) = exprs.as_deref_mut() {
                    let mut refs = Vec::new();
                    references(&a.expr, &mut refs);
                    if !refs.is_empty() {
                        ex.insert(key, json!({"references": refs}));
                    }
                }
            }
            Structure::Block(b) => {
                let id = b.identifier.as_str();
                if id == "dynamic" {
                    if let Some(l) = b.labels.first() {
                        unknown.insert(l.as_str().to_string(), Value::Bool(true));
                    }
                    continue;
                }
                let mut v = Map::new();
                let mut u = Map::new();
                body_values(&b.body, &mut v, &mut u, None);
                let list = values.entry(id.to_string()).or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(a) = list {
                    a.push(Value::Object(v));
                }
                if !u.is_empty() {
                    unknown.insert(id.to_string(), Value::Bool(true));
                }
            }
        }
    }
}

/// The value of a literal expression; `None` when it is computed.
fn literal(e: &Expression) -> Option<Value> {
    Some(match e {
        Expression::Null => Value::Null,
        Expression::Bool(b) => Value::Bool(*b),
        Expression::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                serde_json::Number::from_f64(n.as_f64()?).map(Value::Number)?
            }
        }
        Expression::String(s) => Value::String(s.clone()),
        Expression::Array(a) => Value::Array(a.iter().map(literal).collect::<Option<_>>()?),
        Expression::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                let key = match k {
                    ObjectKey::Identifier(i) => i.as_str().to_string(),
                    ObjectKey::Expression(Expression::String(s)) => s.clone(),
                    _ => return None,
                };
                m.insert(key, literal(v)?);
            }
            Value::Object(m)
        }
        Expression::TemplateExpr(t) => {
            let raw = match t.as_ref() {
                TemplateExpr::QuotedString(s) => s.as_str(),
                TemplateExpr::Heredoc(h) => h.template.as_str(),
            };
            if raw.contains("${") || raw.contains("%{") {
                return None;
            }
            Value::String(raw.to_string())
        }
        Expression::Parenthesis(p) => literal(p)?,
        _ => return None,
    })
}

/// Terraform-style references of an expression: `a.b.c` and its resource prefix `a.b`.
fn references(e: &Expression, out: &mut Vec<String>) {
    match e {
        Expression::Traversal(t) => traversal(t, out),
        Expression::Variable(v) => push(out, v.as_str().to_string()),
        Expression::Array(a) => a.iter().for_each(|x| references(x, out)),
        Expression::Object(o) => o.values().for_each(|x| references(x, out)),
        Expression::Parenthesis(p) => references(p, out),
        Expression::FuncCall(f) => f.args.iter().for_each(|x| references(x, out)),
        Expression::Conditional(c) => {
            references(&c.cond_expr, out);
            references(&c.true_expr, out);
            references(&c.false_expr, out);
        }
        _ => {}
    }
}

fn traversal(t: &Traversal, out: &mut Vec<String>) {
    let Expression::Variable(root) = &t.expr else {
        references(&t.expr, out);
        return;
    };
    let mut parts = vec![root.as_str().to_string()];
    for op in &t.operators {
        match op {
            TraversalOperator::GetAttr(i) => parts.push(i.as_str().to_string()),
            _ => break,
        }
    }
    push(out, parts.join("."));
    // The resource (or data source / module) itself, as Terraform also lists it.
    let base = if parts[0] == "data" { 3 } else { 2 };
    if parts.len() > base
        && !matches!(parts[0].as_str(), "var" | "local" | "each" | "count" | "path" | "terraform" | "self")
    {
        push(out, parts[..base].join("."));
    }
}

fn push(out: &mut Vec<String>, s: String) {
    if !out.contains(&s) {
        out.push(s);
    }
}
