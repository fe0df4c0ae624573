//! YAML to a small positioned tree (the only place that knows the YAML crate).

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

/// A YAML node with its 1-based line and column.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub line: usize,
    pub col: usize,
    pub kind: Kind,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
}

impl Node {
    /// A mapping's value for `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// A scalar as text (numbers and booleans as written in canonical form).
    pub fn scalar_text(&self) -> Option<String> {
        Some(match &self.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(i) => i.to_string(),
            Kind::Float(f) => f.to_string(),
            Kind::Bool(b) => b.to_string(),
            _ => return None,
        })
    }

    /// Convert to JSON.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as V;
        match &self.kind {
            Kind::Map(m) => V::Object(m.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Kind::Seq(s) => V::Array(s.iter().map(Node::to_json).collect()),
            Kind::Str(s) => V::String(s.clone()),
            Kind::Int(i) => V::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f).map(V::Number).unwrap_or(V::Null),
            Kind::Bool(b) => V::Bool(*b),
            Kind::Null => V::Null,
        }
    }
}

/// A YAML syntax error with a position.
#[derive(Clone, Debug)]
pub struct YamlError {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

const MAX_DEPTH: usize = 64;

fn convert(n: &MarkedYaml<'_>, depth: usize) -> Result<Node, YamlError> {
    let line = n.span.start.line();
    let col = n.span.start.col() + 1;
    let err = |m: &str| YamlError { line, col, message: m.to_string() };
    if depth > MAX_DEPTH {
        return Err(err("YAML nested too deeply"));
    }
    let kind = match &n.data {
        YamlData::Mapping(m) => {
            let mut out = Vec::with_capacity(m.len());
            for (k, v) in m.iter() {
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(s) => format!("{s:?}"),
                    _ => return Err(err("mapping keys must be scalars")),
                };
                out.push((key, convert(v, depth + 1)?));
            }
            Kind::Map(out)
        }
        YamlData::Sequence(s) => Kind::Seq(s.iter().map(|x| convert(x, depth + 1)).collect::<Result<_, _>>()?),
        YamlData::Value(s) => match s {
            Scalar::Null => Kind::Null,
            Scalar::Boolean(b) => Kind::Bool(*b),
            Scalar::Integer(i) => Kind::Int(*i),
            Scalar::FloatingPoint(f) => Kind::Float(f.into_inner()),
            Scalar::String(s) => Kind::Str(s.to_string()),
        },
        YamlData::Representation(s, _, _) => Kind::Str(s.to_string()),
        YamlData::Tagged(_, inner) => return convert(inner, depth + 1),
        YamlData::Alias(_) => return Err(err("YAML aliases are not supported in rule files")),
        YamlData::BadValue => return Err(err("invalid YAML value")),
    };
    Ok(Node { line, col, kind })
}

/// Parse one YAML document.
pub fn parse(src: &str) -> Result<Node, YamlError> {
    let docs = MarkedYaml::load_from_str(src).map_err(|e| YamlError {
        line: e.marker().line(),
        col: e.marker().col() + 1,
        message: e.info().to_string(),
    })?;
    match docs.first() {
        Some(d) => convert(d, 0),
        None => Ok(Node { line: 1, col: 1, kind: Kind::Null }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_and_kinds() {
        let n = parse("a: 1\nb:\n  - x\n  - true\nc: {d: null}\n").unwrap();
        assert_eq!(n.get("a").unwrap().kind, Kind::Int(1));
        let b = n.get("b").unwrap();
        let Kind::Seq(items) = &b.kind else { panic!() };
        assert_eq!((items[0].line, items[0].col), (3, 5));
        assert_eq!(items[1].kind, Kind::Bool(true));
        assert_eq!(n.get("c").unwrap().to_json(), serde_json::json!({"d": null}));
        let e = parse("a: [1, 2\nb: 3").unwrap_err();
        assert!(e.line >= 1, "{e:?}");
    }
}
