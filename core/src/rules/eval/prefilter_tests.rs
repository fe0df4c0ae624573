//! The whole-body prefilter (`pieces.rs`, `body::Shadow`) against the full
//! path (the canonical text made and scanned): the same answers, blind
//! (match budget) included, and the same budget left, on every fixture
//! event and on synthetic hostile bodies.

use super::*;
use crate::rules::lang::Lit;
use crate::rules::{add_builtin, Builder, RuleSet};
use crate::{Decoder, Sink, Unit};

/// The full path: every prefilter of a condition dropped.
fn strip(e: &mut Expr) {
    match e {
        Expr::And(xs) | Expr::Or(xs) => xs.iter_mut().for_each(strip),
        Expr::Not(x) | Expr::Memo(_, x) => strip(x),
        Expr::Test { m, .. } => match m {
            Matcher::Regex(r) => r.strip(),
            Matcher::Contains(_, n, _) => n.strip(),
            _ => {}
        },
        Expr::Exists(_) => {}
    }
}

fn stripped(mut set: RuleSet) -> RuleSet {
    for r in &mut set.rules {
        strip(&mut r.expr);
    }
    // What detection evaluates (`memo.rs`).
    for p in &mut set.plans {
        strip(&mut p.expr);
    }
    set
}

/// Synthetic rules on whole bodies and parts of them (besides the pack's).
const RULES: &str = r#"
rules:
  - {id: host-process, title: t, severity: low, condition: "requestObject regex '\"hostProcess\":true'"}
  - {id: isolation, title: t, severity: low, condition: "requestObject regex '\"(seccompProfile|appArmorProfile)\":[{][^{}]*\"type\":\"Unconfined\"|\"procMount\":\"Unmasked\"|(seccomp[.]security[.]alpha|apparmor[.]security[.]beta)[.]kubernetes[.]io/[^\"]*\":\"unconfined\"'"}
  - {id: tab, title: t, severity: low, condition: "requestObject regex 'tbcdef'"}
  - {id: amp, title: t, severity: low, condition: "requestObject contains ('require&pool', 'Unmasked')"}
  - {id: slash, title: t, severity: low, condition: "requestObject contains 'apparmor.security.beta.kubernetes.io/'"}
  - {id: key, title: t, severity: low, condition: "requestObject contains '\"hostPID\":true'"}
  - {id: glob, title: t, severity: low, condition: "requestObject glob '*Unconfined*'"}
  - {id: spec-regex, title: t, severity: low, condition: "requestObject.spec regex 'Unconfined|hostProcess'"}
  - {id: meta-contains, title: t, severity: low, condition: "requestObject.metadata contains ('unconfined', 'privileged')"}
  - {id: both, title: t, severity: low, condition: "requestObject regex 'Unconfined' or responseObject regex 'Unconfined' or requestObject contains 'hostProcess'"}
  - {id: no-pieces, title: t, severity: low, condition: "requestObject regex '[a-z]+:[0-9]'"}
  - {id: insensitive, title: t, severity: low, condition: "requestObject icontains 'UNCONFINED'"}
  - {id: split, title: t, severity: low, condition: "requestObject regex 'abc\",\"def'"}
"#;

/// Synthetic hostile bodies: escaped keys and values (`\u`, `\/`, `\t`),
/// whitespace, keys in another order than sorted, literals split across
/// tokens, duplicate keys (few and many), non-ASCII.
fn hostile_bodies() -> Vec<String> {
    let mut v: Vec<String> = [
        r#"{"spec":{"securityContext":{"seccompProfile":{"type":"Unconfined"}}}}"#,
        r#"{ "spec" : { "windowsOptions" : { "hostProcess" : true } } , "a" : [ 1 , 2 ] }"#,
        r#"{"spec":{"\u0068ostProcess":true}}"#,
        r#"{"z":{"type":"Unconfined","x":1},"a":"seccompProfile"}"#,
        r#"{"seccompProfile":{"x":"{","type":"Unconfined"}}"#,
        r#"{"seccompProfile":{"x":"{","type":"Unc\u006fnfined"}}"#,
        r#"{"seccompProfile":{"type":"\u0055nconfined"}}"#,
        r#"{"metadata":{"annotations":{"container.apparmor.security.beta.kubernetes.io\/c":"unconfined"}}}"#,
        r#"{"metadata":{"annotations":{"container.apparmor.security.beta.kubernetes.io/c":"unc\u006fnfined"}}}"#,
        r#"{"a":"\u0009bcdef"}"#,
        r#"{"a":"\tbcdef"}"#,
        r#"{"a":"\"tbcdef\""}"#,
        r#"{"env":[{"name":"DB","value":"postgres://h/app?sslmode=require\u0026pool_max_conns=20"}]}"#,
        r#"{"env":[{"name":"DB","value":"postgres://h/app?sslmode=require&pool_max_conns=20"}]}"#,
        r#"{"a":"Unmasked","a":1,"procMount":"x"}"#,
        r#"{"procMount":"Unmasked","procMount":"Default"}"#,
        r#"{"procMount":"Default","procMount":"Unmasked"}"#,
        r#"{"b":{"x":"\u00e9"},"b":{"y":"Unconfined"},"a":"\u0041"}"#,
        r#"{"\u0062":1,"b":"Unconfined","\u0041":4,"\\":5}"#,
        r#"{"Uncon":"fined","hostPID":"true","x":{"hostPID":true}}"#,
        r#"{"hostPID" : true}"#,
        r#"{"x":["zabc","defz"]}"#,
        r#"{"x":["zabc" , "defz"]}"#,
        r#"{"é":"ünconfined Unconfined 中","spec":{"privileged":"\u4e2d"}}"#,
        r#"{"metadata":{"labels":{"privileged":"unconfined"}},"spec":[]}"#,
        r#"{"metadata":{"l\u0061bels":{"privileged":"x"}},"spec":{}}"#,
        r#"{}"#,
        r#"[]"#,
        r#"{"spec":"Unconfined"}"#,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    // Objects of more members than are compared pairwise, with duplicates.
    let mut many = String::from("{");
    for i in 0..40 {
        many.push_str(&format!(r#""k{}":"v{i}-Unmasked-{i}","#, i % 23));
    }
    many.push_str(r#""procMount":"Default","spec":{"hostProcess":false}}"#);
    v.push(many);
    let mut escaped_many = String::from("{");
    for i in 0..30 {
        escaped_many.push_str(&format!(r#""\u006b{}":{i},"k{}":"x","#, i % 7, i % 5));
    }
    escaped_many.push_str(r#""e":"\/"}"#);
    v.push(escaped_many);
    v
}

/// A synthetic vanilla event around the bodies.
fn event(i: usize, req: &str, resp: &str) -> String {
    format!(
        r#"{{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"p-{i}","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/d/pods","verb":"create","user":{{"username":"alice"}},"sourceIPs":["10.0.0.1"],"objectRef":{{"resource":"pods","namespace":"d","name":"p","apiVersion":"v1"}},"responseStatus":{{"code":201}},"requestObject":{req},"responseObject":{resp},"requestReceivedTimestamp":"2024-05-14T09:00:00.000000Z","stageTimestamp":"2024-05-14T09:00:00.000001Z"}}"#
    )
}

/// Every fixture record (lines, whole documents, gzip blobs), then the
/// synthetic events.
fn records() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in crate::testdata::fixture_files() {
        let Ok(bytes) = std::fs::read(&p) else { continue };
        if !bytes.starts_with(&[0x1f, 0x8b]) {
            out.extend(bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec));
        }
        out.push(bytes);
    }
    let bodies = hostile_bodies();
    for (i, b) in bodies.iter().enumerate() {
        let other = bodies.get((i + 1) % bodies.len()).map_or("{}", String::as_str);
        out.push(event(i, b, other).into_bytes());
    }
    out
}

/// Canonical lengths of the containers in a body (to place budgets at and
/// around them), found through the DOM's keys.
fn lengths(raw: Raw<'_>, dom: &Value, out: &mut Vec<usize>) {
    match dom {
        Value::Object(m) => {
            out.push(raw.canonical().len());
            for (k, x) in m {
                if let Some(r) = raw.get(k) {
                    lengths(r, x, out);
                }
            }
        }
        Value::Array(a) => {
            out.push(raw.canonical().len());
            let mut items = Vec::new();
            raw.each(|r| items.push(r));
            for (r, x) in items.into_iter().zip(a) {
                lengths(r, x, out);
            }
        }
        _ => {}
    }
}

/// Budgets at, just under and just over one and two charges of `lens`.
fn budgets(ev: &AuditEvent<'_>) -> Vec<usize> {
    let mut lens = Vec::new();
    for b in [&ev.request_object, &ev.response_object].into_iter().flatten() {
        let (Some(t), Ok(dom)) = (body::check(b.get()), serde_json::from_str::<Value>(b.get())) else { continue };
        lengths(t.root(), &dom, &mut lens);
    }
    let mut out = vec![0, 1, usize::MAX];
    for l in lens {
        for x in [l, 2 * l, 3 * l, 4 * l] {
            out.extend([x.saturating_sub(1), x, x + 1]);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

struct Compare<'s> {
    with: &'s RuleSet,
    without: &'s RuleSet,
    events: usize,
    evaluations: usize,
    /// Evaluations at a budget that made one side blind (match budget).
    over_budget: usize,
    hits: usize,
}

impl Sink for Compare<'_> {
    fn event(&mut self, ev: &AuditEvent<'_>) {
        self.events += 1;
        let budgets = budgets(ev);
        for (i, (a, b)) in self.with.plans.iter().zip(&self.without.plans).enumerate() {
            let id = &self.with.rules[i].id;
            for &budget in &budgets {
                let (va, vb) = (View::new(ev), View::new(ev));
                va.start_rule(budget);
                vb.start_rule(budget);
                // What detection evaluates: the plans.
                let (ta, tb) = (a.eval(&va), b.eval(&vb));
                assert_eq!(ta, tb, "rule {id} ({i}) at budget {budget} on {:?}", ev.request_object);
                assert_eq!(
                    va.budget_left.get(),
                    vb.budget_left.get(),
                    "budget left, rule {id} at budget {budget} on {:?}",
                    ev.request_object
                );
                self.evaluations += 1;
                self.over_budget += usize::from(ta == Tri::Blind(Field::MatchBudget));
                self.hits += usize::from(ta == Tri::True && budget == usize::MAX);
            }
        }
    }
    fn skipped(&mut self, _: Unit<'_>, _: &'static str) {}
    fn error(&mut self, _: Unit<'_>, _: &crate::Error) {}
}

/// Prefiltered evaluation == full evaluation, rule by rule (every rule of
/// the built-in pack and the synthetic ones above, not only the index's
/// candidates), on every fixture event and the synthetic hostile ones, at
/// budgets at and around each charge: the same `Tri` and the same budget
/// left.
#[test]
fn prefiltered_evaluation_agrees_with_the_full_text_path() {
    let mut b = Builder::new();
    add_builtin(&mut b);
    b.add_file("synthetic.yaml", RULES);
    let with = b.build().expect("compiles");
    let mut b = Builder::new();
    add_builtin(&mut b);
    b.add_file("synthetic.yaml", RULES);
    let without = stripped(b.build().expect("compiles"));
    let mut c = Compare { with: &with, without: &without, events: 0, evaluations: 0, over_budget: 0, hits: 0 };
    let dec = Decoder::default();
    for r in records() {
        dec.decode(&r, &mut c);
    }
    assert!(c.events > 100, "{} events", c.events);
    assert!(c.over_budget > 1000, "budgets reached: {}", c.over_budget);
    assert!(c.hits > 20, "hits: {}", c.hits);
}

/// The same at the matcher: on each container of each body, prefiltered
/// and full answers and budgets agree, and the prefilter does rule out
/// (not only pass everything to the full path).
#[test]
fn prefiltered_matchers_agree_on_every_container() {
    let b = Builder::new();
    let specs: &[(Op, &[&str])] = &[
        (Op::Regex, &[r#""hostProcess":true"#]),
        (
            Op::Regex,
            &[r#""(seccompProfile|appArmorProfile)":[{][^{}]*"type":"Unconfined""#, r#""procMount":"Unmasked""#],
        ),
        (Op::Regex, &["tbcdef", r#"(?i)unconfined"#]),
        (Op::Regex, &[r#"abc","def"#]),
        (Op::Glob, &["*apparmor.security.beta.kubernetes.io/*"]),
        (Op::Contains, &["require&pool", "Unmasked", r#""hostPID":true"#]),
        (Op::Contains, &["Unconfined"]),
    ];
    let mut ruled_out = 0;
    let mut checked = 0;
    for (i, body_text) in hostile_bodies().iter().enumerate() {
        let text = event(i, body_text, "{}");
        let mut events = Vec::new();
        struct Keep<'a>(&'a mut Vec<String>);
        impl Sink for Keep<'_> {
            fn event(&mut self, ev: &AuditEvent<'_>) {
                self.0.push(ev.request_object.as_ref().map(|b| b.get().to_string()).unwrap_or_default());
            }
            fn skipped(&mut self, _: Unit<'_>, _: &'static str) {}
            fn error(&mut self, _: Unit<'_>, _: &crate::Error) {}
        }
        Decoder::default().decode(text.as_bytes(), &mut Keep(&mut events));
        assert_eq!(events.len(), 1, "{text}");
        let tape = body::check(body_text).expect("hostile bodies are admitted by the tape");
        let dom: Value = serde_json::from_str(body_text).expect("valid JSON");
        let mut containers = Vec::new();
        collect(tape.root(), &dom, &mut containers);
        for (op, vals) in specs {
            let lits: Vec<Lit> = vals.iter().map(|v| Lit::Str(v.to_string())).collect();
            let with = b.matcher(*op, &lits).expect("compiles");
            let mut without = b.matcher(*op, &lits).expect("compiles");
            assert!(with.pieces().is_some(), "{vals:?} has pieces");
            match &mut without {
                Matcher::Regex(r) => r.strip(),
                Matcher::Contains(_, n, _) => n.strip(),
                _ => {}
            }
            for &r in &containers {
                let len = r.canonical().len();
                // No shadow (escaped or duplicate keys): the full path.
                if let Some(sh) = r.shadow() {
                    assert_eq!(sh.len, len, "{body_text}");
                }
                let dummy_ev = AuditEvent::default();
                let view = View::new(&dummy_ev);
                if let Some(p) = with.pieces() {
                    ruled_out += usize::from(view.ruled_out(r, p).is_some());
                }
                for budget in [0, 1, len.saturating_sub(1), len, len + 1, 2 * len - 1, 2 * len, 2 * len + 1, usize::MAX]
                {
                    let (va, vb) = (View::new(&dummy_ev), View::new(&dummy_ev));
                    va.start_rule(budget);
                    vb.start_rule(budget);
                    let (a, b) = (with.one(&Val::Raw(r), &va), without.one(&Val::Raw(r), &vb));
                    assert_eq!(a, b, "{vals:?} at {budget} on {}", r.text());
                    assert_eq!(va.budget_left.get(), vb.budget_left.get(), "{vals:?} at {budget} on {}", r.text());
                    checked += 1;
                }
            }
        }
    }
    assert!(ruled_out > 100, "ruled out {ruled_out}");
    assert!(checked > 1000, "{checked}");
}

/// Every object and array in a body.
fn collect<'a>(raw: Raw<'a>, dom: &Value, out: &mut Vec<Raw<'a>>) {
    match dom {
        Value::Object(m) => {
            out.push(raw);
            for (k, x) in m {
                if let Some(r) = raw.get(k) {
                    collect(r, x, out);
                }
            }
        }
        Value::Array(a) => {
            out.push(raw);
            let mut items = Vec::new();
            raw.each(|r| items.push(r));
            for (r, x) in items.into_iter().zip(a) {
                collect(r, x, out);
            }
        }
        _ => {}
    }
}
