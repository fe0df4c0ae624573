//! Detection rules: loading, compiling, indexing and evaluating.
//!
//! Rules are YAML data (see `core/DESIGN.md`). A [`RuleSet`] is compiled once:
//! macros are inlined, lists expanded, field names resolved, matchers built
//! (sets, Aho-Corasick for many needles, linear-time regexes), and every rule
//! is indexed by the verbs and resources its condition requires, so an event
//! only visits candidate rules. Evaluation is three-valued (`eval.rs`): a
//! rule that needs a field the source cannot provide is *blind*, never
//! silently false.

pub mod body;
mod cidr;
pub mod derive;
mod eval;
pub mod fields;
mod index;
pub mod lang;
mod memo;
mod pieces;
pub mod replay;
pub mod state;
pub mod vrl;
pub mod yaml;

use std::collections::{HashMap, HashSet};
use std::fmt;

use aho_corasick::AhoCorasick;

use eval::{Expr, Matcher};
pub use eval::{Got, Tri, Val, View};
use fields::FieldRef;
use lang::{Ast, Lit, Op};
pub use yaml::Node;

use crate::event::{AuditEvent, Field, FieldSet};

/// Rule severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    fn parse(s: &str) -> Option<Severity> {
        Some(match s {
            "info" => Severity::Info,
            "low" => Severity::Low,
            "medium" => Severity::Medium,
            "high" => Severity::High,
            "critical" => Severity::Critical,
            _ => return None,
        })
    }
}

/// What a rule test expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    Fire,
    Quiet,
    Blind,
}

/// A test case carried by a rule.
#[derive(Clone, Debug)]
pub struct RuleTest {
    pub name: String,
    pub expect: Expect,
    /// A record of any supported shape (JSON text), decoded like any input.
    pub record: Option<String>,
    /// For stateful rules: a sequence of records; the verdict is the rule's
    /// on the last one (`quiet`: it never fired).
    pub records: Vec<String>,
    /// Or a fixture line: `path:line` relative to the fixture directory.
    pub fixture: Option<String>,
    pub line: usize,
}

/// One compiled rule.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    pub references: Vec<String>,
    /// The condition as written.
    pub condition: String,
    /// Canonical fields this rule reads (derived from the condition, plus any
    /// declared in `requires`).
    pub requires: FieldSet,
    /// Declared `requires`: if one is unavailable the rule is blind outright.
    pub declared: FieldSet,
    /// Field names the condition reads, for docs and coverage.
    pub reads: Vec<String>,
    pub tests: Vec<RuleTest>,
    /// File the rule came from.
    pub file: String,
    expr: Expr,
    /// The stateful part (`window` or `sequence`), if any.
    pub state: Option<state::Spec>,
}

/// A rule-file error: file, line, column, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.message)
    }
}

impl std::error::Error for RuleError {}

/// Results of evaluating a rule set on one event.
#[derive(Clone, Debug, Default)]
pub struct Detections {
    /// Indices of rules that fired, ascending.
    pub hits: Vec<u32>,
    /// Rules that could not be evaluated, with the first missing field.
    pub blind: Vec<(u32, Field)>,
    /// Scratch space for the index's candidates (kept to avoid allocating).
    candidates: Vec<u32>,
}

impl PartialEq for Detections {
    fn eq(&self, o: &Self) -> bool {
        self.hits == o.hits && self.blind == o.blind
    }
}

impl Eq for Detections {}

impl Detections {
    pub fn clear(&mut self) {
        self.hits.clear();
        self.blind.clear();
    }
}

/// Parsed but not compiled rule text.
struct RawRule {
    node: Node,
    file: String,
}

/// Default per-rule match budget: bytes one rule's text matchers may scan
/// on one event (8 MiB: above the apiserver's 3 MiB request-body cap, with
/// room for a rule that reads both bodies more than once).
pub const DEFAULT_MATCH_BUDGET: usize = 8 << 20;

/// A compiled, indexed set of rules.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Suspicious but valid things found while compiling (`file:line:col`).
    pub warnings: Vec<RuleError>,
    /// Which rules an event can match (`index.rs`), in one pass: a
    /// stateless rule `i` is entry `i`; for the `k`-th stateful rule, entry
    /// `stateful_base + 2k` is its condition and `stateful_base + 2k + 1`
    /// its sequence's first step. An event that is a candidate for neither
    /// leaves the stateful rule's state untouched, so the rule is skipped.
    index: index::Index,
    /// Stateful rules (evaluated by a [`Detector`]).
    stateful: Vec<u32>,
    /// The first stateful entry of `index` (the number of rules).
    stateful_base: u32,
    /// The stateful entries alone, numbered from 0, for hosts that
    /// evaluate only the stateful rules ([`replay::Recorder`]).
    stateful_index: index::Index,
    /// The stateful rules (numbered `k` as in `stateful`) with declared
    /// requirements, ascending: their condition is evaluated on every
    /// event, as the requirements can make it blind by themselves.
    stateful_declared: Vec<u32>,
    /// Bytes one rule's text matchers may scan on one event.
    match_budget: usize,
    /// Per rule, its detection object as JSON
    /// (`{"rule":…,"title":…,"severity":…,"tags":[…]}`), written once here
    /// rather than escaped again for every hit ([`RuleSet::detection_json`]).
    detection_json: Vec<Box<[u8]>>,
    /// Per rule, what detection evaluates ([`Plan`]), one after another.
    plans: Vec<Plan>,
}

/// What detection evaluates of a rule: its declared requirements and its
/// condition with the sub-conditions it shares with other rules of the set
/// memoised (`memo.rs`; the condition itself where it shares nothing).
/// Kept apart from the [`Rule`] (which is mostly text) and made one after
/// another when the set is indexed, so that the candidates of an event read
/// few, nearby cache lines.
#[derive(Debug)]
struct Plan {
    declared: FieldSet,
    expr: Expr,
}

impl Plan {
    fn eval(&self, view: &View<'_, '_>) -> Tri {
        let e = &self.expr;
        // A shared sub-condition among the top-level conjuncts (often the
        // exceptions: `… and not (platform identities)`) is checked first:
        // if it is false, so is the rule, whatever the order. Shared ones
        // are pure (`memo.rs`) and their result is kept, so checking them
        // first changes neither the answer nor any budget another part of
        // the rule sees (nothing of the rule is evaluated after a false
        // top-level conjunct), and evaluating the rule in order afterwards
        // reads the kept result.
        if let Expr::And(xs) = e {
            for x in xs {
                if matches!(x, Expr::Memo(..)) && x.eval(view) == Tri::False {
                    return Tri::False;
                }
            }
        }
        e.eval(view)
    }
}

impl Default for RuleSet {
    fn default() -> Self {
        RuleSet {
            rules: Vec::new(),
            warnings: Vec::new(),
            index: index::Index::default(),
            stateful: Vec::new(),
            stateful_base: 0,
            stateful_index: index::Index::default(),
            stateful_declared: Vec::new(),
            match_budget: DEFAULT_MATCH_BUDGET,
            detection_json: Vec::new(),
            plans: Vec::new(),
        }
    }
}

/// A rule's detection object as JSON (see `RuleSet::detection_json`).
fn detection_json(r: &Rule) -> Box<[u8]> {
    use crate::json::write_str;
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"rule\":");
    write_str(&mut out, &r.id);
    out.extend_from_slice(b",\"title\":");
    write_str(&mut out, &r.title);
    out.extend_from_slice(b",\"severity\":");
    write_str(&mut out, r.severity.as_str());
    out.extend_from_slice(b",\"tags\":[");
    for (k, t) in r.tags.iter().enumerate() {
        if k > 0 {
            out.push(b',');
        }
        write_str(&mut out, t);
    }
    out.extend_from_slice(b"]}");
    out.into_boxed_slice()
}

/// A set of rule files being assembled before compilation.
#[derive(Default)]
pub struct Builder {
    lists: HashMap<String, Vec<Lit>>,
    macros: HashMap<String, (Ast, String, usize, usize)>,
    rules: Vec<RawRule>,
    errors: Vec<RuleError>,
    warnings: std::cell::RefCell<Vec<RuleError>>,
}

fn err(file: &str, n: &Node, msg: impl Into<String>) -> RuleError {
    RuleError { file: file.to_string(), line: n.line, col: n.col, message: msg.into() }
}

/// Position of a byte offset of a condition in its file: exact for
/// single-line conditions, the condition's start line otherwise.
fn cond_pos(n: &Node, text: &str, off: usize) -> (usize, usize) {
    // Clamp to the text and back to a character boundary: the slices below
    // cannot panic whatever offset a parse error carries.
    let mut off = off.min(text.len());
    while !text.is_char_boundary(off) {
        off -= 1;
    }
    if text.contains('\n') || n.col == 0 {
        let before = &text[..off];
        let lines = before.matches('\n').count();
        let col = before.rsplit('\n').next().map(|l| l.chars().count() + 1).unwrap_or(1);
        (n.line + lines + usize::from(!text.is_empty() && lines > 0), col)
    } else {
        (n.line, n.col + text[..off].chars().count())
    }
}

fn str_list(file: &str, n: Option<&Node>, what: &str) -> Result<Vec<String>, RuleError> {
    match n {
        None => Ok(Vec::new()),
        Some(n) => match &n.kind {
            yaml::Kind::Seq(items) => items
                .iter()
                .map(|i| i.scalar_text().ok_or_else(|| err(file, i, format!("{what} must be a list of strings"))))
                .collect(),
            yaml::Kind::Null => Ok(Vec::new()),
            _ => Err(err(file, n, format!("{what} must be a list"))),
        },
    }
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add one rule file. Errors are collected; [`Builder::build`] reports them.
    pub fn add_file(&mut self, file: &str, src: &str) -> &mut Self {
        if let Err(e) = self.add_file_inner(file, src) {
            self.errors.push(e);
        }
        self
    }

    fn add_file_inner(&mut self, file: &str, src: &str) -> Result<(), RuleError> {
        let doc = yaml::parse(src).map_err(|e| RuleError {
            file: file.to_string(),
            line: e.line,
            col: e.col,
            message: format!("YAML: {}", e.message),
        })?;
        let yaml::Kind::Map(top) = &doc.kind else {
            return Err(err(file, &doc, "a rule file is a mapping with `lists`, `macros` and `rules`"));
        };
        for (k, v) in top {
            match k.as_str() {
                "lists" => {
                    let yaml::Kind::Map(m) = &v.kind else { return Err(err(file, v, "`lists` must be a mapping")) };
                    for (name, items) in m {
                        let yaml::Kind::Seq(xs) = &items.kind else {
                            return Err(err(file, items, format!("list `{name}` must be a sequence")));
                        };
                        let mut lits = Vec::new();
                        for x in xs {
                            match &x.kind {
                                yaml::Kind::Int(i) => lits.push(Lit::Num(*i as f64)),
                                yaml::Kind::Float(f) => lits.push(Lit::Num(*f)),
                                _ => lits
                                    .push(Lit::Str(x.scalar_text().ok_or_else(|| {
                                        err(file, x, format!("list `{name}` items must be scalars"))
                                    })?)),
                            }
                        }
                        self.lists.entry(name.clone()).or_default().extend(lits);
                    }
                }
                "macros" => {
                    let yaml::Kind::Map(m) = &v.kind else { return Err(err(file, v, "`macros` must be a mapping")) };
                    for (name, cond) in m {
                        let text =
                            cond.scalar_text().ok_or_else(|| err(file, cond, "a macro is a condition string"))?;
                        let ast = lang::parse(&text).map_err(|e| {
                            let (l, c) = cond_pos(cond, &text, e.pos);
                            RuleError { file: file.into(), line: l, col: c, message: e.message }
                        })?;
                        if self.macros.contains_key(name) {
                            return Err(err(file, cond, format!("macro `{name}` is defined twice")));
                        }
                        self.macros.insert(name.clone(), (ast, file.to_string(), cond.line, cond.col));
                    }
                }
                "rules" => {
                    let yaml::Kind::Seq(rs) = &v.kind else { return Err(err(file, v, "`rules` must be a sequence")) };
                    for r in rs {
                        self.rules.push(RawRule { node: r.clone(), file: file.to_string() });
                    }
                }
                other => {
                    return Err(err(file, v, format!("unknown key `{other}` (expected lists, macros, rules)")));
                }
            }
        }
        Ok(())
    }

    /// Compile everything added. All errors found are returned.
    pub fn build(self) -> Result<RuleSet, Vec<RuleError>> {
        let mut errors = self.errors.clone();
        let mut rules = Vec::new();
        let mut ids = HashSet::new();
        for raw in &self.rules {
            match self.compile_rule(raw) {
                Ok(r) => {
                    if !ids.insert(r.id.clone()) {
                        errors.push(err(&raw.file, &raw.node, format!("rule id `{}` is used twice", r.id)));
                    } else {
                        rules.push(r);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut set = RuleSet::index(rules);
        set.warnings = self.warnings.take();
        Ok(set)
    }

    fn compile_rule(&self, raw: &RawRule) -> Result<Rule, RuleError> {
        let n = &raw.node;
        let file = raw.file.as_str();
        let yaml::Kind::Map(m) = &n.kind else { return Err(err(file, n, "a rule must be a mapping")) };
        const KEYS: &[&str] = &[
            "id",
            "title",
            "description",
            "severity",
            "tags",
            "references",
            "condition",
            "exceptions",
            "requires",
            "tests",
            "author",
            "license",
            "falsepositives",
            "window",
            "sequence",
            "suppress",
        ];
        for (k, v) in m {
            if !KEYS.contains(&k.as_str()) {
                return Err(err(file, v, format!("unknown rule key `{k}`")));
            }
        }
        let text = |key: &str| -> Result<String, RuleError> {
            n.get(key)
                .and_then(Node::scalar_text)
                .ok_or_else(|| err(file, n, format!("rule is missing `{key}` (a string)")))
        };
        let id = text("id")?;
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
            return Err(err(file, n.get("id").unwrap_or(n), format!("rule id `{id}` must be [A-Za-z0-9._-]+")));
        }
        let title = text("title")?;
        let description = n.get("description").and_then(Node::scalar_text).unwrap_or_default();
        let sev_node = n.get("severity").ok_or_else(|| err(file, n, format!("rule `{id}` is missing `severity`")))?;
        let severity = sev_node
            .scalar_text()
            .as_deref()
            .and_then(Severity::parse)
            .ok_or_else(|| err(file, sev_node, "severity must be one of info, low, medium, high, critical"))?;
        let tags = str_list(file, n.get("tags"), "tags")?;
        let references = str_list(file, n.get("references"), "references")?;
        let cond_node =
            n.get("condition").ok_or_else(|| err(file, n, format!("rule `{id}` is missing `condition`")))?;
        let condition = cond_node.scalar_text().ok_or_else(|| err(file, cond_node, "condition must be a string"))?;
        let mut expr = self.compile_text(file, cond_node, &condition)?;
        if let Some(exc) = n.get("exceptions") {
            let yaml::Kind::Seq(items) = &exc.kind else {
                return Err(err(file, exc, "exceptions must be a list of {name, condition}"));
            };
            let mut excs = Vec::new();
            for it in items {
                let c = it.get("condition").unwrap_or(it);
                let t = c.scalar_text().ok_or_else(|| err(file, it, "an exception needs a `condition` string"))?;
                excs.push(self.compile_text(file, c, &t)?);
            }
            if !excs.is_empty() {
                expr = Expr::And(vec![expr, Expr::Not(Box::new(Expr::Or(excs)))]);
            }
        }
        let mut declared = FieldSet::EMPTY;
        for r in str_list(file, n.get("requires"), "requires")? {
            let f = Field::from_path(&r)
                .ok_or_else(|| err(file, n.get("requires").unwrap_or(n), format!("unknown field `{r}` in requires")))?;
            declared.insert(f);
        }
        let mut reads = Vec::new();
        expr.fields(&mut reads);
        let mut requires = declared;
        let mut names: Vec<String> = Vec::new();
        for f in &reads {
            requires = requires.union(f.needs());
            let d = f.display().into_owned();
            if !names.contains(&d) {
                names.push(d);
            }
        }
        let state = self.stateful(file, n)?;
        if let Some(st) = &state {
            for f in &st.by {
                requires = requires.union(f.needs());
            }
        }
        let tests = self.tests(file, n.get("tests"))?;
        Ok(Rule {
            id,
            title,
            description,
            severity,
            tags,
            references,
            condition,
            requires,
            declared,
            reads: names,
            tests,
            file: file.to_string(),
            expr,
            state,
        })
    }

    /// `window: {by, within, count, distinct}` or `sequence: {by, within, first}`,
    /// with an optional `suppress: DURATION` (default: the window).
    fn stateful(&self, file: &str, n: &Node) -> Result<Option<state::Spec>, RuleError> {
        let (node, is_seq) = match (n.get("window"), n.get("sequence")) {
            (Some(_), Some(s)) => return Err(err(file, s, "a rule has either `window` or `sequence`, not both")),
            (Some(w), None) => (w, false),
            (None, Some(s)) => (s, true),
            (None, None) => {
                if let Some(s) = n.get("suppress") {
                    return Err(err(file, s, "`suppress` needs a `window` or `sequence`"));
                }
                return Ok(None);
            }
        };
        let dur = |key: &str, req: bool| -> Result<Option<state::Micros>, RuleError> {
            match node.get(key).or(if key == "suppress" { n.get("suppress") } else { None }) {
                None if req => Err(err(file, node, format!("missing `{key}` (a duration such as 5m)"))),
                None => Ok(None),
                Some(d) => d
                    .scalar_text()
                    .as_deref()
                    .and_then(state::parse_duration)
                    .map(Some)
                    .ok_or_else(|| err(file, d, "a duration is an integer and a unit: 30s, 5m, 1h, 7d")),
            }
        };
        let within = dur("within", true)?.unwrap_or(1);
        let suppress = dur("suppress", false)?.unwrap_or(within);
        let by_node = node.get("by").ok_or_else(|| err(file, node, "missing `by` (1 to 4 fields)"))?;
        let names = str_list(file, Some(by_node), "by")?;
        if names.is_empty() || names.len() > 4 {
            return Err(err(file, by_node, "`by` takes 1 to 4 fields"));
        }
        let by = names
            .iter()
            .map(|f| fields::resolve(f).ok_or_else(|| err(file, by_node, format!("unknown field `{f}` in by"))))
            .collect::<Result<Vec<_>, _>>()?;
        let kind = if is_seq {
            let first = node.get("first").ok_or_else(|| err(file, node, "a sequence needs `first` (a condition)"))?;
            let text = first.scalar_text().ok_or_else(|| err(file, first, "`first` must be a condition string"))?;
            state::Kind::Sequence { first: self.compile_text(file, first, &text)? }
        } else {
            let c = node.get("count").ok_or_else(|| err(file, node, "a window needs `count` (the threshold)"))?;
            let threshold = match c.kind {
                yaml::Kind::Int(i) if (1..=10_000).contains(&i) => i as usize,
                _ => return Err(err(file, c, "count must be an integer from 1 to 10000")),
            };
            let distinct = match node.get("distinct") {
                None => None,
                Some(d) => {
                    let name = d.scalar_text().ok_or_else(|| err(file, d, "distinct must be a field name"))?;
                    Some(fields::resolve(&name).ok_or_else(|| err(file, d, format!("unknown field `{name}`")))?)
                }
            };
            state::Kind::Window { threshold, distinct }
        };
        for (k, v) in match &node.kind {
            yaml::Kind::Map(m) => m.as_slice(),
            _ => return Err(err(file, node, "must be a mapping")),
        } {
            let ok: &[&str] = if is_seq {
                &["by", "within", "first", "suppress"]
            } else {
                &["by", "within", "count", "distinct", "suppress"]
            };
            if !ok.contains(&k.as_str()) {
                return Err(err(file, v, format!("unknown key `{k}`")));
            }
        }
        Ok(Some(state::Spec { by, within, suppress, kind }))
    }

    fn tests(&self, file: &str, n: Option<&Node>) -> Result<Vec<RuleTest>, RuleError> {
        let Some(n) = n else { return Ok(Vec::new()) };
        let yaml::Kind::Seq(items) = &n.kind else { return Err(err(file, n, "tests must be a list")) };
        items
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let expect = match t.get("expect").and_then(Node::scalar_text).as_deref() {
                    Some("fire") => Expect::Fire,
                    Some("quiet") => Expect::Quiet,
                    Some("blind") => Expect::Blind,
                    _ => return Err(err(file, t, "a test needs `expect: fire | quiet | blind`")),
                };
                let record = t.get("event").map(|e| e.to_json().to_string());
                let records = match t.get("events").map(|e| &e.kind) {
                    Some(yaml::Kind::Seq(items)) => items.iter().map(|e| e.to_json().to_string()).collect(),
                    Some(_) => return Err(err(file, t, "`events` must be a list of records")),
                    None => Vec::new(),
                };
                let fixture = t.get("fixture").and_then(Node::scalar_text);
                if record.is_none() && fixture.is_none() && records.is_empty() {
                    return Err(err(file, t, "a test needs `event` (a record of any shape) or `fixture: path:line`"));
                }
                Ok(RuleTest {
                    name: t.get("name").and_then(Node::scalar_text).unwrap_or_else(|| format!("test {}", i + 1)),
                    expect,
                    record,
                    records,
                    fixture,
                    line: t.line,
                })
            })
            .collect()
    }

    fn compile_text(&self, file: &str, node: &Node, text: &str) -> Result<Expr, RuleError> {
        let ast = lang::parse(text).map_err(|e| {
            let (l, c) = cond_pos(node, text, e.pos);
            RuleError { file: file.into(), line: l, col: c, message: e.message }
        })?;
        self.lint(&ast, &mut |pos, msg| {
            let (l, c) = cond_pos(node, text, pos);
            self.warnings.borrow_mut().push(RuleError { file: file.into(), line: l, col: c, message: msg });
        });
        let mut stack = Vec::new();
        self.compile(&ast, &mut stack).map_err(|(pos, msg)| {
            let (l, c) = match pos {
                Some(p) => cond_pos(node, text, p),
                None => (node.line, node.col),
            };
            RuleError { file: file.into(), line: l, col: c, message: msg }
        })
    }

    /// Compile an AST; errors carry the offset in the rule's own condition
    /// (`None` when inside a macro, whose own position is named in the message).
    fn compile(&self, ast: &Ast, stack: &mut Vec<String>) -> Result<Expr, (Option<usize>, String)> {
        let inside = !stack.is_empty();
        let at = |p: usize| if inside { None } else { Some(p) };
        Ok(match ast {
            Ast::And(xs) => Expr::And(xs.iter().map(|x| self.compile(x, stack)).collect::<Result<_, _>>()?),
            Ast::Or(xs) => Expr::Or(xs.iter().map(|x| self.compile(x, stack)).collect::<Result<_, _>>()?),
            Ast::Not(x) => Expr::Not(Box::new(self.compile(x, stack)?)),
            Ast::Macro { name, pos } => {
                let Some((m, mfile, mline, mcol)) = self.macros.get(name) else {
                    let hint = if fields::resolve(name).is_some() {
                        format!("`{name}` is a field: compare it (`{name} = …`) or test `{name} exists`")
                    } else {
                        format!("unknown macro `{name}`")
                    };
                    return Err((at(*pos), hint));
                };
                if stack.contains(name) {
                    return Err((at(*pos), format!("macro cycle: {} -> {name}", stack.join(" -> "))));
                }
                stack.push(name.clone());
                let r = self
                    .compile(m, stack)
                    .map_err(|(_, msg)| (at(*pos), format!("in macro `{name}` ({mfile}:{mline}:{mcol}): {msg}")));
                stack.pop();
                r?
            }
            Ast::Exists { field, pos } => {
                Expr::Exists(fields::resolve(field).ok_or_else(|| (at(*pos), format!("unknown field `{field}`")))?)
            }
            Ast::Cmp { field, op, value, pos } => {
                let f = fields::resolve(field).ok_or_else(|| (at(*pos), format!("unknown field `{field}`")))?;
                let vals = self.values(value);
                let m = self.matcher(*op, &vals).map_err(|e| (at(*pos), e))?;
                let all = *op == Op::In && f.is_list();
                Expr::Test { field: f, m, all, negate: *op == Op::Ne }
            }
        })
    }

    /// Warn about bare words shaped like list names (`snake_case_words`)
    /// that name no list: a typo or an unloaded file would otherwise make
    /// the rule silently compare with the word itself.
    fn lint(&self, ast: &Ast, warn: &mut dyn FnMut(usize, String)) {
        fn looks_like_list(w: &str) -> bool {
            w.contains('_')
                && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && w.starts_with(|c: char| c.is_ascii_lowercase())
        }
        fn words<'l>(l: &'l Lit, out: &mut Vec<&'l str>) {
            match l {
                Lit::Word(w) => out.push(w),
                Lit::List(xs) => xs.iter().for_each(|x| words(x, out)),
                _ => {}
            }
        }
        match ast {
            Ast::And(xs) | Ast::Or(xs) => xs.iter().for_each(|x| self.lint(x, warn)),
            Ast::Not(x) => self.lint(x, warn),
            Ast::Cmp { value, pos, .. } => {
                let mut ws = Vec::new();
                words(value, &mut ws);
                for w in ws {
                    if looks_like_list(w) && !self.lists.contains_key(w) {
                        warn(*pos, format!("`{w}` names no list, so it is compared as the literal text `{w}`"));
                    }
                }
            }
            Ast::Exists { .. } | Ast::Macro { .. } => {}
        }
    }

    /// Flatten a literal into values, expanding list names.
    fn values(&self, l: &Lit) -> Vec<Lit> {
        match l {
            Lit::List(xs) => xs.iter().flat_map(|x| self.values(x)).collect(),
            Lit::Word(w) => match self.lists.get(w) {
                Some(items) => items.clone(),
                None => vec![Lit::Str(w.clone())],
            },
            other => vec![other.clone()],
        }
    }

    fn matcher(&self, op: Op, vals: &[Lit]) -> Result<Matcher, String> {
        let text = |l: &Lit| match l {
            Lit::Str(s) | Lit::Word(s) => s.clone(),
            Lit::Num(n) => {
                if n.fract() == 0.0 {
                    format!("{}", *n as i64)
                } else {
                    n.to_string()
                }
            }
            Lit::List(_) => String::new(),
        };
        let one = || -> Result<&Lit, String> {
            match vals {
                [v] => Ok(v),
                _ => Err(format!("`{}` takes one value, not a list", op.as_str())),
            }
        };
        Ok(match op {
            Op::Eq | Op::Ne => {
                if vals.len() > 1 {
                    set_matcher(vals.iter().map(text).collect())
                } else {
                    let v = one()?;
                    Matcher::Eq(text(v), if let Lit::Num(n) = v { Some(*n) } else { None })
                }
            }
            Op::In | Op::Intersects => set_matcher(vals.iter().map(text).collect()),
            Op::Lt | Op::Le | Op::Gt | Op::Ge => match one()? {
                Lit::Num(n) => Matcher::Cmp(op, *n),
                other => text(other)
                    .parse::<f64>()
                    .map(|n| Matcher::Cmp(op, n))
                    .map_err(|_| format!("`{}` needs a number", op.as_str()))?,
            },
            Op::Contains | Op::IContains => {
                let ci = op == Op::IContains;
                let needles: Vec<String> =
                    vals.iter().map(|v| if ci { text(v).to_lowercase() } else { text(v) }).collect();
                let ac = if needles.len() > 2 { AhoCorasick::new(&needles).ok() } else { None };
                // `icontains` lowercases the text, which may change it
                // outside ASCII: it gets no prefilter (`Matcher::pieces`).
                Matcher::Contains(needles, Box::new(pieces::Needles::new(ac)), ci)
            }
            Op::StartsWith => Matcher::StartsWith(vals.iter().map(text).collect()),
            Op::EndsWith => Matcher::EndsWith(vals.iter().map(text).collect()),
            Op::Glob => {
                let alts: Vec<String> = vals.iter().map(|v| glob_to_regex(&text(v))).collect();
                Matcher::Regex(Box::new(pieces::TextRegex::new(regex_new(&format!("^(?:{})$", alts.join("|")))?)))
            }
            Op::Regex => {
                let alts: Vec<String> = vals.iter().map(|v| format!("(?:{})", text(v))).collect();
                Matcher::Regex(Box::new(pieces::TextRegex::new(regex_new(&alts.join("|"))?)))
            }
            Op::Cidr => Matcher::Cidr(Box::new(cidr::Cidrs::new(&vals.iter().map(text).collect::<Vec<_>>())?)),
        })
    }
}

fn set_matcher(mut items: Vec<String>) -> Matcher {
    items.sort();
    items.dedup();
    if items.len() <= 8 {
        Matcher::Small(items)
    } else {
        Matcher::Set(items.into_iter().collect())
    }
}

fn regex_new(p: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(p).size_limit(1 << 20).build().map_err(|e| format!("invalid regex: {e}"))
}

fn glob_to_regex(g: &str) -> String {
    let mut out = String::new();
    for c in g.chars() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
    }
    out
}

/// The verbs (or resources) a condition requires, when its top level is a
/// conjunction containing `FIELD = x` or `FIELD in (…)`.
fn required_values(e: &Expr, field: &FieldRef) -> Option<Vec<String>> {
    match e {
        Expr::And(xs) => xs.iter().find_map(|x| required_values(x, field)),
        Expr::Test { field: f, m, negate: false, .. } if f == field => match m {
            // A number also equals other spellings of it in a string field
            // (`01`, `1.0`): only a numeric field has one spelling per number.
            Matcher::Eq(s, Some(_)) if *field == FieldRef::Code => Some(vec![s.clone()]),
            Matcher::Eq(_, Some(_)) => None,
            Matcher::Eq(s, None) => Some(vec![s.clone()]),
            Matcher::Small(items) => Some(items.clone()),
            Matcher::Set(set) => {
                let mut v: Vec<String> = set.iter().cloned().collect();
                v.sort();
                Some(v)
            }
            _ => None,
        },
        Expr::Or(xs) => {
            // Every branch must constrain the field for the union to be an index.
            let mut all = Vec::new();
            for x in xs {
                all.extend(required_values(x, field)?);
            }
            all.sort();
            all.dedup();
            Some(all)
        }
        _ => None,
    }
}

impl Rule {
    /// The condition as compiled (macros inlined, exceptions folded in).
    #[cfg(test)]
    pub(crate) fn condition_expr(&self) -> &Expr {
        &self.expr
    }

    /// The values `field` (a condition field name) must take for the rule
    /// to match, when the condition's top level requires `FIELD = x` or
    /// `FIELD in (…)` (the analysis the index uses; every `or` branch must
    /// constrain it). `None` when the field is not constrained that way or
    /// the name is unknown. Used by the audit-policy dependency report.
    pub fn required_values(&self, field: &str) -> Option<Vec<String>> {
        required_values(&self.expr, &fields::resolve(field)?)
    }
}

impl RuleSet {
    fn index(rules: Vec<Rule>) -> RuleSet {
        let mut set = RuleSet::default();
        let base = rules.len() as u32;
        set.stateful_base = base;
        let mut entries: Vec<(u32, &Expr)> = Vec::new();
        let mut stateless: Vec<(u32, &Expr)> = Vec::new();
        let mut stateful: Vec<(u32, &Expr)> = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            if let Some(spec) = &r.state {
                let k = set.stateful.len() as u32;
                set.stateful.push(i as u32);
                entries.push((base + 2 * k, &r.expr));
                stateful.push((2 * k, &r.expr));
                if let state::Kind::Sequence { first } = &spec.kind {
                    entries.push((base + 2 * k + 1, first));
                    stateful.push((2 * k + 1, first));
                }
            } else {
                stateless.push((i as u32, &r.expr));
                entries.push((i as u32, &r.expr));
            }
        }
        set.index = index::Index::build(&entries, &required_values);
        // Declared requirements make a rule blind by themselves, whatever
        // its condition: such rules are visited on every event.
        for &(i, _) in &stateless {
            if !rules[i as usize].declared.is_empty() && !set.index.always.contains(&i) {
                set.index.always.push(i);
            }
        }
        set.index.always.sort_unstable();
        set.stateful_index = index::Index::build(&stateful, &required_values);
        set.stateful_declared = (0..set.stateful.len() as u32)
            .filter(|&k| set.stateful.get(k as usize).is_some_and(|&i| !rules[i as usize].declared.is_empty()))
            .collect();
        set.detection_json = rules.iter().map(detection_json).collect();
        let conds: Vec<&Expr> = rules.iter().map(|r| &r.expr).collect();
        let plans = memo::plans(&conds);
        // Copied, in rule order, now that the rest of the set is made: the
        // plans' nodes end up near one another.
        set.plans = rules
            .iter()
            .zip(&plans)
            .map(|(r, p)| Plan { declared: r.declared, expr: p.as_ref().unwrap_or(&r.expr).clone() })
            .collect();
        drop(plans);
        set.rules = rules;
        set
    }

    /// The built-in pack.
    pub fn builtin() -> RuleSet {
        let mut b = Builder::new();
        add_builtin(&mut b);
        b.build().unwrap_or_else(|errs| {
            // The pack is tested in CI; a broken pack is a build bug, reported loudly.
            let msg: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
            panic!("built-in rule pack does not compile:\n{}", msg.join("\n"))
        })
    }

    /// Ids of the stateless rules that no verb or resource constraint
    /// indexes: they are evaluated on every event.
    pub fn unindexed(&self) -> Vec<&str> {
        self.index
            .always
            .iter()
            .filter(|&&i| i < self.stateful_base)
            .map(|&i| self.rules[i as usize].id.as_str())
            .collect()
    }

    #[doc(hidden)]
    pub fn candidates_for_test(&self, ev: &AuditEvent<'_>) -> Vec<u32> {
        let view = View::new(ev);
        let mut v = Vec::new();
        self.index.candidates(&view, &mut v);
        v.retain(|&i| i < self.stateful_base);
        v
    }

    /// This set without the rules whose ids are listed (re-indexed), for
    /// hosts whose configuration switches rules off. Unknown ids are ignored.
    pub fn without(self, ids: &[&str]) -> RuleSet {
        let warnings = self.warnings;
        let budget = self.match_budget;
        let rules = self.rules.into_iter().filter(|r| !ids.contains(&r.id.as_str())).collect();
        let mut set = RuleSet::index(rules);
        set.warnings = warnings;
        set.match_budget = budget;
        set
    }

    /// The per-rule match budget: the bytes one rule's text matchers
    /// (`contains`, `icontains`, `glob`, `regex`, and the JSON text of any
    /// object or array a comparison reads) may scan on one event. A rule
    /// over its budget is blind on that event, with reason
    /// [`Field::MatchBudget`], never silently false. Default
    /// [`DEFAULT_MATCH_BUDGET`]; `usize::MAX` is unbounded.
    pub fn match_budget(&self) -> usize {
        self.match_budget
    }

    /// Set the per-rule match budget (see [`RuleSet::match_budget`]).
    pub fn set_match_budget(&mut self, bytes: usize) {
        self.match_budget = bytes;
    }

    /// This set with another per-rule match budget.
    pub fn with_match_budget(mut self, bytes: usize) -> RuleSet {
        self.match_budget = bytes;
        self
    }

    /// The rules, in load order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Rule `i`'s detection object as JSON:
    /// `{"rule":ID,"title":TITLE,"severity":SEVERITY,"tags":[TAG,…]}`
    /// (empty for an index out of range).
    pub fn detection_json(&self, i: usize) -> &[u8] {
        self.detection_json.get(i).map_or(&[], |b| b)
    }

    /// Evaluate every candidate rule on `ev`.
    pub fn detect(&self, ev: &AuditEvent<'_>) -> Detections {
        let mut d = Detections::default();
        self.detect_into(ev, &mut d);
        d
    }

    /// Evaluate every candidate *stateless* rule on `ev` into `out` (cleared
    /// first). Stateful rules need a [`Detector`], which holds their state.
    pub fn detect_into(&self, ev: &AuditEvent<'_>, out: &mut Detections) {
        out.clear();
        let view = View::new(ev);
        self.detect_view(&view, out);
        out.hits.sort_unstable();
        out.blind.sort_unstable_by_key(|(i, _)| *i);
    }

    fn detect_view(&self, view: &View<'_, '_>, out: &mut Detections) {
        let mut cands = std::mem::take(&mut out.candidates);
        self.index.candidates(view, &mut cands);
        // Stateless entries come first (the index sorts its candidates).
        let stateless = cands.partition_point(|&i| i < self.stateful_base);
        for &i in cands.get(..stateless).unwrap_or_default() {
            let Some(p) = self.plans.get(i as usize) else { continue };
            if let Some(f) = p.declared.first_common(view.unavailable()) {
                out.blind.push((i, f));
                continue;
            }
            view.start_rule(self.match_budget);
            match p.eval(view) {
                Tri::True => out.hits.push(i),
                Tri::False => {}
                Tri::Blind(f) => out.blind.push((i, f)),
            }
        }
        out.candidates = cands;
    }
}

/// The built-in rule files, embedded at build time.
pub const BUILTIN: &[(&str, &str)] = &[
    ("rules/seed.yaml", include_str!("../../rules/seed.yaml")),
    ("rules/access.yaml", include_str!("../../rules/access.yaml")),
    ("rules/exec.yaml", include_str!("../../rules/exec.yaml")),
    ("rules/workloads.yaml", include_str!("../../rules/workloads.yaml")),
    ("rules/rbac.yaml", include_str!("../../rules/rbac.yaml")),
    ("rules/credentials.yaml", include_str!("../../rules/credentials.yaml")),
    ("rules/persistence.yaml", include_str!("../../rules/persistence.yaml")),
    ("rules/stateful.yaml", include_str!("../../rules/stateful.yaml")),
];

/// Add the built-in files to a builder.
pub fn add_builtin(b: &mut Builder) {
    for (name, src) in BUILTIN {
        b.add_file(name, src);
    }
}

/// Add the built-in files without their embedded tests (every rule's
/// `tests` is empty): for hosts that only detect. The tests are most of the
/// pack's YAML, so this is most of the cost of loading it. `kaudit rules
/// test` and the coverage matrix use [`add_builtin`].
pub fn add_builtin_without_tests(b: &mut Builder) {
    for (name, src) in BUILTIN {
        b.add_file(name, &without_tests(src));
    }
}

/// `src` with each rule's block `tests:` and everything under it turned
/// into empty lines, so that every other line keeps its number. A block
/// ends at the first non-empty line indented no deeper than its key (a
/// `- ` item at the key's own indentation still belongs to it).
fn without_tests(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut key_indent: Option<usize> = None;
    for line in src.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let text = body.trim_start_matches(' ');
        let indent = body.len() - text.len();
        if let Some(k) = key_indent {
            if text.is_empty() || indent > k || (indent == k && text.starts_with("- ")) {
                out.push_str(&line[body.len()..]);
                continue;
            }
            key_indent = None;
        }
        if text == "tests:" {
            key_indent = Some(indent);
            out.push_str(&line[body.len()..]);
            continue;
        }
        out.push_str(line);
    }
    out
}

/// A rule's verdict on one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Fire,
    Quiet,
    Blind(Field),
}

impl Verdict {
    /// Whether this verdict is what a test expects.
    pub fn satisfies(self, e: Expect) -> bool {
        matches!(
            (self, e),
            (Verdict::Fire, Expect::Fire) | (Verdict::Quiet, Expect::Quiet) | (Verdict::Blind(_), Expect::Blind)
        )
    }
}

impl RuleSet {
    /// The index of the rule with this id.
    pub fn find(&self, id: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.id == id)
    }

    /// Evaluate one rule on one event (no index), as tests and coverage do.
    pub fn verdict(&self, rule: usize, ev: &AuditEvent<'_>) -> Verdict {
        self.verdict_by(rule, ev, |_, view| self.plans.get(rule).map_or(Tri::False, |p| p.eval(view)))
    }

    #[doc(hidden)]
    /// [`RuleSet::verdict`] from the rule's condition as compiled, not its
    /// plan (no shared sub-condition memoised): for the test that checks
    /// the plans change nothing.
    pub fn verdict_unplanned(&self, rule: usize, ev: &AuditEvent<'_>) -> Verdict {
        self.verdict_by(rule, ev, |r, view| r.expr.eval(view))
    }

    fn verdict_by(&self, rule: usize, ev: &AuditEvent<'_>, eval: impl Fn(&Rule, &View<'_, '_>) -> Tri) -> Verdict {
        let view = View::new(ev);
        let r = &self.rules[rule];
        if let Some(f) = r.declared.first_common(view.unavailable()) {
            return Verdict::Blind(f);
        }
        view.start_rule(self.match_budget);
        match eval(r, &view) {
            Tri::True => Verdict::Fire,
            Tri::False => Verdict::Quiet,
            Tri::Blind(f) => Verdict::Blind(f),
        }
    }

    /// Decode `input` (a whole file's bytes, already gunzipped) and give the
    /// rule's verdict on its `n`-th unit (1-based, counting events, skipped
    /// and errors as `kaudit normalize --keep-skipped` prints them). `Err`
    /// says why there is no event there.
    pub fn verdict_on_unit(&self, rule: usize, input: &[u8], n: usize) -> Result<Verdict, String> {
        struct Nth<'s> {
            set: &'s RuleSet,
            rule: usize,
            want: usize,
            seen: usize,
            out: Option<Result<Verdict, String>>,
        }
        impl crate::Sink for Nth<'_> {
            fn event(&mut self, ev: &AuditEvent<'_>) {
                self.seen += 1;
                if self.seen == self.want {
                    self.out = Some(Ok(self.set.verdict(self.rule, ev)));
                }
            }
            fn skipped(&mut self, _: crate::Unit<'_>, reason: &'static str) {
                self.seen += 1;
                if self.seen == self.want {
                    self.out = Some(Err(format!("unit {} is skipped: {reason}", self.want)));
                }
            }
            fn error(&mut self, _: crate::Unit<'_>, e: &crate::Error) {
                self.seen += 1;
                if self.seen == self.want {
                    self.out = Some(Err(format!("unit {} is an error: {e}", self.want)));
                }
            }
        }
        let dec = crate::Decoder::default();
        let mut sink = Nth { set: self, rule, want: n, seen: 0, out: None };
        for f in crate::frame::records(input, dec.limits().max_record_bytes) {
            dec.decode(&input[f.range], &mut sink);
            if sink.out.is_some() {
                break;
            }
        }
        let seen = sink.seen;
        sink.out.unwrap_or_else(|| Err(format!("only {seen} units, no unit {n}")))
    }
}

/// The outcome of one rule test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TestOutcome {
    Pass(Verdict),
    Fail(String),
    /// The fixture could not be loaded (not shipped with this binary).
    Skipped(String),
}

impl RuleSet {
    /// Run one of a rule's tests. `load` returns a fixture's bytes (already
    /// gunzipped) for a path relative to the fixture directory.
    pub fn run_test(&self, rule: usize, t: &RuleTest, load: &mut dyn FnMut(&str) -> Option<Vec<u8>>) -> TestOutcome {
        if !t.records.is_empty() {
            return self.run_sequence_test(rule, t);
        }
        let v = match (&t.record, &t.fixture) {
            (Some(rec), _) => self.verdict_on_unit(rule, rec.as_bytes(), 1),
            (None, Some(fx)) => {
                let Some((path, n)) = fx.rsplit_once(':') else {
                    return TestOutcome::Fail(format!("fixture `{fx}` must be path:N"));
                };
                let Ok(n) = n.parse::<usize>() else {
                    return TestOutcome::Fail(format!("fixture `{fx}`: N must be a number"));
                };
                let Some(bytes) = load(path) else {
                    return TestOutcome::Skipped(format!("fixture {path} not found"));
                };
                self.verdict_on_unit(rule, &bytes, n)
            }
            _ => Err("test has neither event nor fixture".into()),
        };
        match v {
            Ok(v) if v.satisfies(t.expect) => TestOutcome::Pass(v),
            Ok(v) => TestOutcome::Fail(format!("expected {:?}, got {v:?}", t.expect)),
            Err(e) => TestOutcome::Fail(e),
        }
    }
}

/// Evaluates a rule set with state: stateless rules through the index,
/// stateful rules (`window`, `sequence`) through their own index.
pub struct Detector<'r> {
    rules: &'r RuleSet,
    states: Vec<state::RuleState>,
    limits: state::StateLimits,
    /// Events seen (the ordinal of the next one).
    events: u64,
    /// Stateful outcomes decided elsewhere ([`replay`]); the own state is then unused.
    fires: Option<replay::Fires>,
    /// When set, the state-touching steps are logged (for a [`replay::Sequencer`]).
    log: Option<replay::StepLog>,
    /// Evaluate every stateful rule on every event (tests compare).
    unindexed: bool,
}

impl RuleSet {
    /// What `view` asks of each stateful rule's state, in rule order:
    /// `f(k, i, spec, step)` for the `k`-th stateful rule (rule `i`). Rules
    /// the stateful index rules out are left out: neither of their steps
    /// can match, so their step would be quiet and touch no state.
    ///
    /// `candidates` holds the combined index's candidates for `view` when
    /// `given`; otherwise it is scratch space for the stateful index's.
    fn prepare_stateful(
        &self,
        view: &View<'_, '_>,
        candidates: &mut Vec<u32>,
        given: bool,
        unindexed: bool,
        mut f: impl FnMut(usize, u32, &state::Spec, state::Prepared),
    ) {
        if !unindexed && !given {
            self.stateful_index.candidates(view, candidates);
        }
        let base = if given { self.stateful_base } else { 0 };
        // Visit, in rule order, the stateful rules the index left in (their
        // entries are the sorted candidates from `base` on) and those with
        // declared requirements; or every one when unindexed.
        let mut ci = candidates.partition_point(|&e| e < base);
        let mut di = 0;
        let mut next_all = 0u32;
        loop {
            let k = if unindexed {
                next_all
            } else {
                let kc = candidates.get(ci).map(|&e| (e - base) / 2);
                let kd = self.stateful_declared.get(di).copied();
                match (kc, kd) {
                    (Some(a), Some(b)) => a.min(b),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => break,
                }
            };
            let Some(&i) = self.stateful.get(k as usize) else { break };
            next_all = k + 1;
            let (mut cond, mut first) = (unindexed, unindexed);
            while let Some(&e) = candidates.get(ci).filter(|&&e| (e - base) / 2 == k) {
                if (e - base) % 2 == 0 {
                    cond = true;
                } else {
                    first = true;
                }
                ci += 1;
            }
            if self.stateful_declared.get(di) == Some(&k) {
                cond = true;
                di += 1;
            }
            let (Some(r), Some(p)) = (self.rules.get(i as usize), self.plans.get(i as usize)) else { continue };
            let Some(spec) = &r.state else { continue };
            let k = k as usize;
            // The condition and a sequence's first step share the budget.
            view.start_rule(self.match_budget);
            let matched = match p.declared.first_common(view.unavailable()) {
                Some(f) => Tri::Blind(f),
                None if cond => p.eval(view),
                None => Tri::False,
            };
            f(k, i, spec, state::prepare(spec, view, matched, first));
        }
    }
}

impl<'r> Detector<'r> {
    pub fn new(rules: &'r RuleSet, limits: state::StateLimits) -> Self {
        let states = rules.stateful.iter().map(|_| state::RuleState::default()).collect();
        Detector { rules, states, limits, events: 0, fires: None, log: None, unindexed: false }
    }

    /// Take the stateful rules' outcomes from `fires` (computed by a
    /// [`replay::Sequencer`] from this detector's input) instead of from
    /// its own state; the events must come in the same order as there.
    pub fn set_fires(&mut self, fires: replay::Fires) {
        self.fires = Some(fires);
    }

    /// Evaluate every rule on `ev` into `out` (cleared first).
    pub fn detect_into(&mut self, ev: &AuditEvent<'_>, out: &mut Detections) {
        out.clear();
        let view = View::new(ev);
        self.rules.detect_view(&view, out);
        let ordinal = self.events;
        self.events += 1;
        if let Some(log) = &mut self.log {
            log.events += 1;
        }
        let (states, log, fires, limits) = (&mut self.states, &mut self.log, &mut self.fires, self.limits);
        let mut cands = std::mem::take(&mut out.candidates);
        self.rules.prepare_stateful(&view, &mut cands, true, self.unindexed, |k, i, spec, p| {
            if let Some(log) = log {
                if p.touches_state() {
                    log.steps.push((ordinal, k as u32, p));
                }
            }
            let step = match fires {
                None => state::apply(spec, &mut states[k], limits, &p),
                Some(f) => f.outcome(ordinal, k as u32, &p),
            };
            match step {
                state::Step::Fire => out.hits.push(i),
                state::Step::Blind(f) => out.blind.push((i, f)),
                state::Step::Quiet => {}
            }
        });
        out.candidates = cands;
        out.hits.sort_unstable();
        out.blind.sort_unstable_by_key(|(i, _)| *i);
    }

    #[doc(hidden)]
    /// Evaluate every stateful rule on every event, without the index (for
    /// the test that checks the index changes nothing).
    pub fn without_index(mut self) -> Self {
        self.unindexed = true;
        self
    }

    /// Approximate bytes of state held, over all stateful rules.
    pub fn state_bytes(&self) -> usize {
        self.states.iter().map(state::RuleState::bytes).sum()
    }

    /// The most bytes the state may hold under the configured limits.
    pub fn state_cap_bytes(&self) -> usize {
        self.rules
            .stateful
            .iter()
            .filter_map(|&i| self.rules.rules[i as usize].state.as_ref())
            .map(|s| state::RuleState::cap_bytes(s, self.limits))
            .sum()
    }

    /// Keys held and evicted, over all stateful rules.
    pub fn state_keys(&self) -> (usize, u64) {
        (self.states.iter().map(state::RuleState::keys).sum(), self.states.iter().map(|s| s.evicted).sum())
    }

    /// The limits in force.
    pub fn limits(&self) -> state::StateLimits {
        self.limits
    }
}

impl RuleSet {
    /// A test with `events:`: feed them in order through a fresh detector;
    /// `fire` means the rule fired on the last one, `quiet` that it never
    /// fired, `blind` that the last one was blind.
    fn run_sequence_test(&self, rule: usize, t: &RuleTest) -> TestOutcome {
        let records: Vec<&[u8]> = t.records.iter().map(|r| r.as_bytes()).collect();
        let (fired, last) = match self.run_sequence(rule, &records) {
            Ok(x) => x,
            Err(b) => return TestOutcome::Fail(b),
        };
        let Some(last) = last else { return TestOutcome::Fail("no events".into()) };
        let ok = match t.expect {
            Expect::Fire => last == Verdict::Fire,
            Expect::Quiet => fired == 0,
            Expect::Blind => matches!(last, Verdict::Blind(_)),
        };
        if ok {
            TestOutcome::Pass(last)
        } else {
            TestOutcome::Fail(format!("expected {:?}, got {last:?} on the last event ({fired} fires in all)", t.expect))
        }
    }

    /// Decode `records` in order and run them through a fresh [`Detector`]:
    /// how often `rule` fired, and its verdict on the last event (`None` if
    /// no record held an event). `Err` if a record was skipped or undecodable.
    pub fn run_sequence(&self, rule: usize, records: &[&[u8]]) -> Result<(usize, Option<Verdict>), String> {
        struct Feed<'d, 'r> {
            det: &'d mut Detector<'r>,
            rule: u32,
            out: Detections,
            fired: usize,
            last: Option<Verdict>,
            bad: Option<String>,
        }
        impl crate::Sink for Feed<'_, '_> {
            fn event(&mut self, ev: &AuditEvent<'_>) {
                self.det.detect_into(ev, &mut self.out);
                let v = if self.out.hits.contains(&self.rule) {
                    self.fired += 1;
                    Verdict::Fire
                } else if let Some((_, f)) = self.out.blind.iter().find(|(i, _)| *i == self.rule) {
                    Verdict::Blind(*f)
                } else {
                    Verdict::Quiet
                };
                self.last = Some(v);
            }
            fn skipped(&mut self, _: crate::Unit<'_>, r: &'static str) {
                self.bad = Some(format!("an event was skipped: {r}"));
            }
            fn error(&mut self, _: crate::Unit<'_>, e: &crate::Error) {
                self.bad = Some(format!("an event is an error: {e}"));
            }
        }
        let mut det = Detector::new(self, state::StateLimits::default());
        let mut feed =
            Feed { det: &mut det, rule: rule as u32, out: Detections::default(), fired: 0, last: None, bad: None };
        let dec = crate::Decoder::default();
        for r in records {
            dec.decode(r, &mut feed);
        }
        match feed.bad {
            Some(b) => Err(b),
            None => Ok((feed.fired, feed.last)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_without_tests_compiles_to_the_same_rules() {
        let mut full = RuleSet::builtin();
        let mut b = Builder::new();
        add_builtin_without_tests(&mut b);
        let lean = b.build().expect("compiles");
        assert!(lean.rules.iter().all(|r| r.tests.is_empty()), "tests stripped");
        assert!(full.rules.iter().all(|r| !r.tests.is_empty()));
        for r in &mut full.rules {
            r.tests.clear();
        }
        assert_eq!(format!("{:?}", lean.rules), format!("{:?}", full.rules));
        assert_eq!(lean.warnings, full.warnings);
        for (_, src) in BUILTIN {
            assert_eq!(without_tests(src).lines().count(), src.lines().count(), "line numbers kept");
        }
    }

    #[test]
    fn without_tests_blanks_only_the_tests_block() {
        let src = "rules:\n  - id: a\n    tests:\n    - name: same indent item\n      expect: fire\n\n      event: {x: 1}\n    condition: verb = get\n  - id: b\n    tests:\n      - name: t\n";
        assert_eq!(without_tests(src), "rules:\n  - id: a\n\n\n\n\n\n    condition: verb = get\n  - id: b\n\n\n");
    }

    /// Regression (unwrap/indexing audit): an error offset inside a
    /// multi-byte character, or past the end, must not panic when the
    /// position is computed.
    #[test]
    fn cond_pos_never_slices_inside_a_character() {
        let n = Node { line: 3, col: 14, kind: yaml::Kind::Null };
        let text = "user.username = \"é\" and";
        let inside = text.find('é').map(|i| i + 1).unwrap_or(0);
        assert_eq!(cond_pos(&n, text, inside), (3, 14 + 17));
        assert_eq!(cond_pos(&n, text, 10_000), (3, 14 + text.chars().count()));
        let multi = "verb = get\nand é";
        let end = multi.len() - 1;
        assert_eq!(cond_pos(&n, multi, end), (5, 5));
    }
}
