//! Input documents as `serde_json::Value`: JSON as is, YAML converted
//! (every document of a stream), plus small path helpers shared by the checks.

use saphyr::{LoadableYamlNode, Scalar, Yaml};
use serde_json::{Map, Value};

/// Deepest nesting accepted from YAML input (guards the recursive conversion).
const MAX_DEPTH: usize = 128;

/// Parse every YAML document of `src` into JSON values.
pub fn yaml_docs(src: &str) -> Result<Vec<Value>, String> {
    let docs = Yaml::load_from_str(src)
        .map_err(|e| format!("line {}, column {}: {}", e.marker().line(), e.marker().col() + 1, e.info()))?;
    docs.iter().map(|d| to_json(d, 0)).collect()
}

fn to_json(y: &Yaml<'_>, depth: usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("YAML nested deeper than {MAX_DEPTH} levels"));
    }
    Ok(match y {
        Yaml::Value(s) => scalar(s),
        Yaml::Representation(s, _, _) => Value::String(s.to_string()),
        Yaml::Sequence(seq) => Value::Array(seq.iter().map(|x| to_json(x, depth + 1)).collect::<Result<_, _>>()?),
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match to_json(k, depth + 1)? {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                out.insert(key, to_json(v, depth + 1)?);
            }
            Value::Object(out)
        }
        // CloudFormation short forms (`!Ref X`, `!GetAtt a.b`, `!Sub …`) become
        // their long forms so that checks can tell an intrinsic from a literal.
        Yaml::Tagged(tag, inner) => {
            let v = to_json(inner, depth + 1)?;
            let name = tag.suffix.as_str();
            if name.is_empty() || tag.is_yaml_core_schema() {
                v
            } else {
                let key = if name == "Ref" || name == "Condition" { name.to_string() } else { format!("Fn::{name}") };
                let mut m = Map::new();
                m.insert(key, v);
                Value::Object(m)
            }
        }
        Yaml::Alias(_) => return Err("YAML aliases are not supported".into()),
        Yaml::BadValue => return Err("invalid YAML value".into()),
    })
}

fn scalar(s: &Scalar<'_>) -> Value {
    match s {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::from(*i),
        Scalar::FloatingPoint(f) => {
            serde_json::Number::from_f64(f.into_inner()).map(Value::Number).unwrap_or(Value::Null)
        }
        Scalar::String(s) => Value::String(s.to_string()),
    }
}

/// `v[k0][k1]…`, treating JSON null as absent.
pub fn get<'v>(v: &'v Value, path: &[&str]) -> Option<&'v Value> {
    let mut cur = v;
    for k in path {
        cur = cur.get(k)?;
    }
    if cur.is_null() {
        None
    } else {
        Some(cur)
    }
}

/// A string at `path`.
pub fn get_str<'v>(v: &'v Value, path: &[&str]) -> Option<&'v str> {
    get(v, path).and_then(Value::as_str)
}

/// The strings of an array (non-strings skipped).
pub fn str_list(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
}

/// The first element of a Terraform nested block list (`logging_config[0]`).
pub fn block<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    match v.get(key)? {
        Value::Array(a) => a.first(),
        Value::Object(_) => v.get(key),
        _ => None,
    }
}

/// Quote a list for messages: `["api", "audit"]`.
pub fn show_list(items: &[&str]) -> String {
    let q: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", q.join(", "))
}
