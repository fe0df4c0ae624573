//! The optional configuration file and the rule set it yields.
//!
//! Fluent Bit's WASM runtime gives the module no environment and no
//! arguments, so configuration is a YAML file at the fixed absolute path
//! [`CONFIG_PATH`], which must lie inside the filter's `accessible_paths`.
//! Without the file the built-in pack runs with default settings. A file
//! that cannot be used (bad YAML, unknown key, a rule file that does not
//! compile or cannot be read, an unknown rule id) is ignored *as a whole*:
//! the built-in pack runs with default settings and the error is reported
//! (in every output record and once on stderr).

use kaudit_core::rules::state::StateLimits;
use kaudit_core::rules::yaml::{self, Kind, Node};
use kaudit_core::rules::{add_builtin_without_tests, Builder, RuleSet};

/// Where the module looks for its configuration.
pub const CONFIG_PATH: &str = "/etc/kaudit/kaudit.yaml";

/// The configuration file's content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Extra rule files (absolute paths inside `accessible_paths`).
    pub rules: Vec<String>,
    /// Rule ids switched off (built-in or extra).
    pub disabled_rules: Vec<String>,
    /// Written as `kaudit.cluster.name` on every event.
    pub cluster: Option<String>,
    /// Keys kept per stateful rule.
    pub max_state_keys: Option<usize>,
    /// Bytes one rule's text matchers may scan per event (the rule set's
    /// match budget).
    pub max_match_bytes: Option<usize>,
}

/// What the engine runs with.
#[derive(Debug)]
pub struct Setup {
    pub rules: RuleSet,
    pub cluster: Option<String>,
    pub state: StateLimits,
    /// Why the configuration was not used, when it was not.
    pub error: Option<String>,
}

impl Setup {
    /// The built-in pack with default settings.
    pub fn builtin() -> Setup {
        Setup { rules: builtin_rules(), cluster: None, state: StateLimits::default(), error: None }
    }
}

/// The built-in pack without its embedded tests: the module only detects,
/// and the tests are most of the pack's YAML, so most of an instance's
/// start-up. The same rules as [`RuleSet::builtin`] (a test checks it).
fn builtin_rules() -> RuleSet {
    let mut b = Builder::new();
    add_builtin_without_tests(&mut b);
    b.build().unwrap_or_else(|errs| {
        // The pack is tested in CI; a broken pack is a build bug, reported loudly.
        let msg: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        panic!("built-in rule pack does not compile:\n{}", msg.join("\n"))
    })
}

fn at(n: &Node, msg: impl std::fmt::Display) -> String {
    format!("{CONFIG_PATH}:{}:{}: {msg}", n.line, n.col)
}

fn strings(n: &Node, key: &str) -> Result<Vec<String>, String> {
    match &n.kind {
        Kind::Null => Ok(Vec::new()),
        Kind::Seq(items) => items
            .iter()
            .map(|i| match &i.kind {
                Kind::Str(s) => Ok(s.clone()),
                _ => Err(at(i, format!("`{key}` must be a list of strings"))),
            })
            .collect(),
        _ => Err(at(n, format!("`{key}` must be a list of strings"))),
    }
}

/// The keys of the configuration file.
const KEYS: &str = "rules, disabled_rules, cluster, max_state_keys, max_match_bytes";

/// Parse the configuration file's text.
pub fn parse(src: &str) -> Result<Config, String> {
    let doc = yaml::parse(src).map_err(|e| format!("{CONFIG_PATH}:{}:{}: YAML: {}", e.line, e.col, e.message))?;
    let mut c = Config::default();
    let items = match &doc.kind {
        Kind::Null => return Ok(c),
        Kind::Map(m) => m,
        _ => return Err(at(&doc, "the configuration is a mapping")),
    };
    for (k, v) in items {
        match k.as_str() {
            "rules" => c.rules = strings(v, k)?,
            "disabled_rules" => c.disabled_rules = strings(v, k)?,
            "cluster" => match &v.kind {
                Kind::Str(s) if !s.is_empty() => c.cluster = Some(s.clone()),
                Kind::Null => {}
                _ => return Err(at(v, "`cluster` must be a non-empty string")),
            },
            "max_state_keys" => match v.kind {
                Kind::Int(i) if i > 0 => c.max_state_keys = Some(i as usize),
                _ => return Err(at(v, "`max_state_keys` must be a positive integer")),
            },
            "max_match_bytes" => match v.kind {
                Kind::Int(i) if i > 0 => c.max_match_bytes = Some(i as usize),
                _ => return Err(at(v, "`max_match_bytes` must be a positive integer")),
            },
            other => return Err(at(v, format!("unknown key `{other}` (expected {KEYS})"))),
        }
    }
    for r in &c.rules {
        if !r.starts_with('/') {
            return Err(format!("{CONFIG_PATH}: rule file `{r}` must be an absolute path (the module's CWD is `/`)"));
        }
    }
    Ok(c)
}

/// Reads a file: `Ok(None)` when it does not exist.
pub type Read<'a> = dyn FnMut(&str) -> Result<Option<String>, String> + 'a;

/// Build the rule set and settings from a parsed configuration.
pub fn build(c: &Config, read: &mut Read<'_>) -> Result<Setup, String> {
    let mut b = Builder::new();
    add_builtin_without_tests(&mut b);
    for path in &c.rules {
        match read(path)? {
            Some(src) => {
                b.add_file(path, &src);
            }
            None => {
                return Err(format!(
                    "{CONFIG_PATH}: rule file `{path}` does not exist (is its directory in accessible_paths?)"
                ))
            }
        }
    }
    let set = b.build().map_err(|errs| {
        let msgs: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        format!("{CONFIG_PATH}: rule files do not compile: {}", msgs.join("; "))
    })?;
    let unknown: Vec<&str> =
        c.disabled_rules.iter().map(String::as_str).filter(|id| !set.rules().iter().any(|r| r.id == *id)).collect();
    if !unknown.is_empty() {
        return Err(format!("{CONFIG_PATH}: disabled_rules names unknown rule ids: {}", unknown.join(", ")));
    }
    let ids: Vec<&str> = c.disabled_rules.iter().map(String::as_str).collect();
    let mut rules = set.without(&ids);
    if let Some(n) = c.max_match_bytes {
        rules.set_match_budget(n);
    }
    Ok(Setup {
        rules,
        cluster: c.cluster.clone(),
        state: StateLimits { max_keys: c.max_state_keys.unwrap_or(StateLimits::default().max_keys) },
        error: None,
    })
}

/// The setup for this instance: read [`CONFIG_PATH`] through `read`; on any
/// problem, the built-in pack with default settings plus the error.
pub fn load(read: &mut Read<'_>) -> Setup {
    let attempt = match read(CONFIG_PATH) {
        Ok(None) => return Setup::builtin(),
        Ok(Some(src)) => parse(&src).and_then(|c| build(&c, read)),
        Err(e) => Err(e),
    };
    attempt.unwrap_or_else(|e| Setup { error: Some(e), ..Setup::builtin() })
}

/// Read a file from the (WASI or host) filesystem.
pub fn read_fs(path: &str) -> Result<Option<String>, String> {
    match std::fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| format!("{path}: not UTF-8")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key_and_rejects_the_rest() {
        let c = parse(
            "rules: [/etc/kaudit/r.yaml]\ndisabled_rules:\n  - a\ncluster: prod\nmax_state_keys: 10\nmax_match_bytes: 4096\n",
        )
        .expect("valid config");
        assert_eq!(
            c,
            Config {
                rules: vec!["/etc/kaudit/r.yaml".into()],
                disabled_rules: vec!["a".into()],
                cluster: Some("prod".into()),
                max_state_keys: Some(10),
                max_match_bytes: Some(4096),
            }
        );
        assert_eq!(parse("").expect("empty file"), Config::default());
        let e = parse("clusters: x\n").expect_err("unknown key");
        assert!(e.contains(":1:") && e.contains("unknown key `clusters`"), "{e}");
        let e = parse("rules: [relative.yaml]\n").expect_err("relative path");
        assert!(e.contains("absolute"), "{e}");
        let e = parse("max_state_keys: -1\n").expect_err("negative cap");
        assert!(e.contains("positive integer"), "{e}");
        let e = parse("max_match_bytes: 0\n").expect_err("zero budget");
        assert!(e.contains("positive integer"), "{e}");
        let e = parse("rules: [a\n").expect_err("bad yaml");
        assert!(e.contains("YAML"), "{e}");
    }

    #[test]
    fn the_module_loads_the_builtin_pack_without_its_tests() {
        let full = RuleSet::builtin();
        let mut absent = |_: &str| Ok(None);
        let s = load(&mut absent);
        let ids = |set: &RuleSet| set.rules().iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&s.rules), ids(&full));
        assert!(s.rules.rules().iter().all(|r| r.tests.is_empty()), "tests are not loaded");
        let mut with_file = |p: &str| Ok((p == CONFIG_PATH).then(|| "cluster: c1\n".to_string()));
        let s = load(&mut with_file);
        assert_eq!(ids(&s.rules), ids(&full));
        assert!(s.rules.rules().iter().all(|r| r.tests.is_empty()), "tests are not loaded");
    }

    #[test]
    fn a_bad_config_falls_back_to_the_builtin_pack() {
        let builtin = RuleSet::builtin().rules().len();
        let mut absent = |_: &str| Ok(None);
        let s = load(&mut absent);
        assert!(s.error.is_none());
        assert_eq!(s.rules.rules().len(), builtin);

        let mut unknown_id = |p: &str| Ok((p == CONFIG_PATH).then(|| "disabled_rules: [no.such.rule]\n".to_string()));
        let s = load(&mut unknown_id);
        assert!(s.error.as_deref().is_some_and(|e| e.contains("no.such.rule")), "{:?}", s.error);
        assert_eq!(s.rules.rules().len(), builtin);

        let mut missing_file = |p: &str| Ok((p == CONFIG_PATH).then(|| "rules: [/etc/kaudit/x.yaml]\n".to_string()));
        let s = load(&mut missing_file);
        assert!(s.error.as_deref().is_some_and(|e| e.contains("does not exist")), "{:?}", s.error);
    }

    #[test]
    fn disabling_removes_the_rule() {
        let first = RuleSet::builtin().rules()[0].id.clone();
        let text = format!("disabled_rules: [{first}]\ncluster: c1\nmax_state_keys: 7\nmax_match_bytes: 99\n");
        let mut read = |p: &str| Ok((p == CONFIG_PATH).then(|| text.clone()));
        let s = load(&mut read);
        assert!(s.error.is_none(), "{:?}", s.error);
        assert!(s.rules.rules().iter().all(|r| r.id != first));
        assert_eq!(s.rules.rules().len(), RuleSet::builtin().rules().len() - 1);
        assert_eq!((s.cluster.as_deref(), s.state.max_keys, s.rules.match_budget()), (Some("c1"), 7, 99));
    }
}
