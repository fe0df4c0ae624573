//! VRL export: one Vector Remap Language program that decodes the record
//! shapes Vector delivers one event at a time into the canonical event and
//! evaluates every stateless rule VRL can express.
//!
//! Nothing here is a second copy of the rules or of the mappings: the rule
//! part is generated from the compiled rule IR ([`Expr`], [`Matcher`],
//! [`FieldRef`]), and the decoding part (`vrl_decode.vrl`) is filled with the
//! decoders' own tables (GKE's missing fields and gRPC codes, the source ids,
//! the identity lists of `actor.kind` …). The differential tests in
//! `vector-config/` run the program with the `vrl` crate on every fixture and
//! compare it with the core's output. Pure string generation: no I/O.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::derive;
use super::eval::{Expr, Matcher};
use super::fields::{Body, Derived, FieldRef, PodField, RbacField, Step};
use super::lang::Op;
use super::state;
use super::RuleSet;
use crate::decode::{aks, eks, event as dev, gke, openshift};
use crate::event::{Field, FieldSet, Source, EVENT_KEYS};

/// A rule the program does not evaluate, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeftOut {
    pub id: String,
    pub reason: String,
}

/// The generated program.
#[derive(Clone, Debug)]
pub struct Program {
    /// The VRL source.
    pub text: String,
    /// Ids of the rules it evaluates, in load order.
    pub included: Vec<String>,
    /// Rules left out, in load order.
    pub left_out: Vec<LeftOut>,
}

const DECODE: &str = include_str!("vrl_decode.vrl");
const TYPED: &str = include_str!("vrl_typed.vrl");

/// The `objectRef` keys, all strings (`event::ObjectRef`).
const OBJECT_REF_KEYS: &[&str] =
    &["resource", "namespace", "name", "uid", "apiGroup", "apiVersion", "resourceVersion", "subresource"];

/// Why a rule cannot run in VRL, or `None` when it can.
pub fn left_out_reason(rule: &super::Rule) -> Option<String> {
    rule.state.as_ref().map(|st| match &st.kind {
        state::Kind::Window { .. } => {
            "stateful (window): counts events across records; VRL sees one event at a time".to_string()
        }
        state::Kind::Sequence { .. } => {
            "stateful (sequence): needs an earlier event; VRL sees one event at a time".to_string()
        }
    })
}

/// A VRL string literal.
fn lit(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            '{' => o.push_str("\\{"),
            '}' => o.push_str("\\}"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A VRL array of string literals.
fn lits<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let v: Vec<String> = items.into_iter().map(lit).collect();
    format!("[{}]", v.join(", "))
}

fn paths(set: FieldSet) -> String {
    lits(set.iter().map(Field::path))
}

/// A VRL float literal.
fn float(n: f64) -> String {
    let s = format!("{n:?}");
    if s.contains('.') || s.contains('e') {
        s
    } else {
        format!("{s}.0")
    }
}

/// A VRL regex literal.
fn regex_lit(p: &str) -> String {
    format!("r'{}'", p.replace('\'', "\\'"))
}

fn fill(template: &str) -> String {
    let string_keys: Vec<&str> = EVENT_KEYS
        .iter()
        .copied()
        .filter(|k| {
            !matches!(
                *k,
                "user"
                    | "impersonatedUser"
                    | "sourceIPs"
                    | "objectRef"
                    | "responseStatus"
                    | "requestObject"
                    | "responseObject"
                    | "annotations"
            )
        })
        .collect();
    let grpc: Vec<String> = gke::GRPC_TO_HTTP.iter().map(|(g, h)| format!("{}: {h}", lit(&g.to_string()))).collect();
    let marker = std::str::from_utf8(crate::frame::TRUNCATED_MARKER).unwrap_or_default();
    let pairs = |p: &[(&str, &str)]| {
        let v: Vec<String> = p.iter().map(|(a, b)| format!("[{}, {}]", lit(a), lit(b))).collect();
        format!("[{}]", v.join(", "))
    };
    let typed_top = TYPED.replace("@OBJ@", "k_r");
    let typed_ev = TYPED.replace("@OBJ@", "k_ev");
    template
        .replace("@TYPED_CHECK_TOP@", &typed_top)
        .replace("@TYPED_CHECK_EV@", &typed_ev)
        .replace("@EVENT_STRING_KEYS@", &lits(string_keys))
        .replace("@OBJECT_REF_STRING_KEYS@", &lits(OBJECT_REF_KEYS.iter().copied()))
        .replace("@TRUNCATED_MARKER_LEN@", &marker.len().to_string())
        .replace("@TRUNCATED_MARKER@", marker)
        .replace("@SRC_GKE_LOGENTRY@", Source::GkeLogEntry.id())
        .replace("@SRC_AKS_DIAGNOSTIC@", Source::AksDiagnostic.id())
        .replace("@SRC_AKS_LOGANALYTICS@", Source::AksLogAnalytics.id())
        .replace("@SRC_OPENSHIFT_VIAQ@", Source::OpenshiftViaq.id())
        .replace("@SRC_EKS_CLOUDWATCH@", Source::EksCloudwatch.id())
        .replace("@SRC_K8S@", Source::K8s.id())
        .replace("@GKE_MISSING@", &paths(gke::GKE_MISSING))
        .replace("@GRPC_TO_HTTP@", &format!("{{{}}}", grpc.join(", ")))
        .replace("@AKS_AUDIT_CATEGORIES@", &lits(aks::AUDIT_CATEGORIES.iter().copied()))
        .replace("@AKS_SKIPPED_BODY@", dev::AKS_SKIPPED_BODY)
        .replace("@LA_STRING_COLUMNS@", &pairs(aks::LA_STRING_COLUMNS))
        .replace("@LA_DYNAMIC_COLUMNS@", &pairs(aks::LA_DYNAMIC_COLUMNS))
        .replace("@VIAQ_NON_AUDIT_SOURCES@", &lits(openshift::NON_AUDIT_SOURCES.iter().copied()))
        .replace("@EKS_GROUP_PREFIX_LEN@", &eks::LOG_GROUP_PREFIX.len().to_string())
        .replace("@EKS_GROUP_SUFFIX_LEN@", &eks::LOG_GROUP_SUFFIX.len().to_string())
        .replace("@EKS_GROUP_PREFIX@", eks::LOG_GROUP_PREFIX)
        .replace("@EKS_GROUP_SUFFIX@", eks::LOG_GROUP_SUFFIX)
        .replace("@EKS_AUDIT_STREAM_PREFIX@", eks::AUDIT_STREAM_PREFIX)
        .replace("@AFTER_BODIES@", &paths(dev::AFTER_BODIES))
        .replace("@FIELD_PATHS@", &lits(Field::ALL.iter().map(|f| f.path())))
}

/// The variables the decoding hands to the detections and the output.
const DECODE_OUTPUTS: &[&str] = &["k_in", "k_raw", "k_src", "k_err", "k_unsup", "k_skip", "k_event"];

/// The decoding inside a closure that runs once: its ~180 working variables
/// end with it. VRL's compiler clones the whole variable state at every
/// expression it type-checks, so every variable still alive slows the
/// compilation of everything after it (the detections part compiled about 2x
/// slower with the decoding's variables alive).
fn scoped_decode(decode: &str) -> String {
    let mut o = String::with_capacity(decode.len() + decode.len() / 8);
    o.push_str("k_in = .\n");
    for v in &DECODE_OUTPUTS[1..] {
        let _ = writeln!(o, "{v} = null");
    }
    o.push_str("# The decoding runs once, in a closure, so that its working variables end with it.\n");
    o.push_str("for_each([true]) -> |_i, _once| {\n");
    for l in decode.lines() {
        if !l.is_empty() {
            o.push_str("  ");
            o.push_str(l);
        }
        o.push('\n');
    }
    o.push_str("}\n");
    o
}

/// Generates the rule part: one variable per field read (memoized) and per
/// sub-condition; three-valued results are `true`, `false` and `null` (blind).
struct Gen {
    out: String,
    n: usize,
    fields: HashMap<String, String>,
    /// Field reads, before all rules.
    reads: String,
    nf: usize,
}

impl Gen {
    fn var(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}{}", self.n)
    }

    fn line(&mut self, s: &str) {
        self.out.push_str("  ");
        self.out.push_str(s);
        self.out.push('\n');
    }

    /// Statements reading `f` into a new variable: an array of the values'
    /// texts (empty when absent), and `<var>_b`, true when blind.
    fn read(&mut self, f: &FieldRef) -> String {
        let key = format!("{f:?}");
        if let Some(v) = self.fields.get(&key) {
            return v.clone();
        }
        self.nf += 1;
        let v = format!("f{}", self.nf);
        // Field values live in one object, `k_F`, and are read back with
        // `get`, whose result VRL types as `any`: the generated tests then
        // compile the same way whatever VRL infers for each field.
        self.fline(&format!("# {key}"));
        self.fline(&format!("k_t = {}", raw_values(f)));
        self.fline(&format!("k_F = set!(k_F, [\"{v}\"], k_t)"));
        let needs = f.needs();
        let always = matches!(f, FieldRef::RequestUri | FieldRef::Derived(Derived::ExecCommand));
        if !needs.is_empty() {
            let any: Vec<String> = needs.iter().map(|n| format!("includes(k_u, {})", lit(n.path()))).collect();
            let cond = if always {
                format!("({})", any.join(" || "))
            } else {
                format!("length(array(get(k_F, [\"{v}\"]) ?? null) ?? []) == 0 && ({})", any.join(" || "))
            };
            self.fline(&format!("if {cond} {{ k_B = set!(k_B, [\"{v}\"], true) }}"));
        }
        // Pod-spec and RBAC fields are blind when the body they read is.
        match f {
            FieldRef::Derived(Derived::PodSpec(_)) => {
                self.fline(&format!("if k_pod_blind {{ k_B = set!(k_B, [\"{v}\"], true) }}"))
            }
            FieldRef::Derived(Derived::Rbac(_)) => {
                self.fline(&format!("if k_rbac_blind {{ k_B = set!(k_B, [\"{v}\"], true) }}"))
            }
            _ => {}
        }
        self.fields.insert(key, v.clone());
        v
    }

    fn fline(&mut self, s: &str) {
        self.reads.push_str("  ");
        self.reads.push_str(s);
        self.reads.push('\n');
    }

    /// Statements computing `e` into a new variable (`true`/`false`/`null`).
    fn expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::And(xs) | Expr::Or(xs) => {
                let vs: Vec<String> = xs.iter().map(|x| self.expr(x)).collect();
                let c = self.var("k_c");
                let all = format!("[{}]", vs.join(", "));
                if matches!(e, Expr::And(_)) {
                    self.line(&format!(
                        "{c} = if includes({all}, false) {{ false }} else if includes({all}, null) {{ null }} else {{ true }}"
                    ));
                } else {
                    self.line(&format!(
                        "{c} = if includes({all}, true) {{ true }} else if includes({all}, null) {{ null }} else {{ false }}"
                    ));
                }
                c
            }
            // Plans are not exported (the export reads the condition).
            Expr::Memo(_, x) => self.expr(x),
            Expr::Not(x) => {
                let v = self.expr(x);
                let c = self.var("k_c");
                self.line(&format!("{c} = if {v} == null {{ null }} else {{ {v} != true }}"));
                c
            }
            Expr::Exists(f) => {
                let v = self.read(f);
                let c = self.var("k_c");
                self.line(&format!("k_v = get(k_F, [\"{v}\"]) ?? null"));
                self.line(&format!(
                    "{c} = if (get(k_B, [\"{v}\"]) ?? false) == true {{ null }} else {{ length(array(k_v) ?? []) > 0 }}"
                ));
                c
            }
            Expr::Test { field, m, all, negate } => {
                let v = self.read(field);
                let c = self.var("k_c");
                let test = matcher(m);
                let neg = if *negate { " != true" } else { "" };
                self.line(&format!("k_v = array(get(k_F, [\"{v}\"]) ?? null) ?? []"));
                let many = field.is_list() || matches!(field, FieldRef::Body(..));
                let r = if many {
                    let hits = format!("length(filter(k_v) -> |_i, t| {{ s = string(t) ?? \"\"; {test} }})");
                    if *all {
                        format!("{hits} == length(k_v)")
                    } else {
                        format!("{hits} > 0")
                    }
                } else {
                    self.line("s = string(k_v[0]) ?? \"\"");
                    format!("{{ {test} }}")
                };
                self.line(&format!(
                    "{c} = if (get(k_B, [\"{v}\"]) ?? false) == true {{ null }} else if length(k_v) == 0 {{ false }} else {{ ({r}){neg} }}"
                ));
                c
            }
        }
    }
}

/// A VRL boolean over the text `s`, as `Matcher::one`.
fn matcher(m: &Matcher) -> String {
    match m {
        Matcher::Eq(s, None) => format!("s == {}", lit(s)),
        Matcher::Eq(s, Some(n)) => format!("s == {} || (to_float(s) ?? null) == {}", lit(s), float(*n)),
        Matcher::Small(items) => format!("includes({}, s)", lits(items.iter().map(String::as_str))),
        Matcher::Set(set) => {
            let mut v: Vec<&str> = set.iter().map(String::as_str).collect();
            v.sort_unstable();
            format!("includes({}, s)", lits(v))
        }
        Matcher::Cmp(op, n) => {
            let o = match op {
                Op::Lt => "<",
                Op::Le => "<=",
                Op::Gt => ">",
                _ => ">=",
            };
            format!(
                "k_x = to_float(s) ?? null; if k_x == null {{ false }} else {{ (float(k_x) ?? 0.0) {o} {} }}",
                float(*n)
            )
        }
        Matcher::Contains(needles, _, ci) => {
            let h = if *ci { "downcase(s)" } else { "s" };
            format!("h = {h}; {}", any_of("contains", "h", needles))
        }
        Matcher::StartsWith(ns) => any_of("starts_with", "s", ns),
        Matcher::EndsWith(ns) => any_of("ends_with", "s", ns),
        Matcher::Regex(r) => format!("match(s, {})", regex_lit(r.as_str())),
        // Fails on a text that is not an address: in no block.
        Matcher::Cidr(c) => format!("ip_cidr_contains({}, s) ?? false", lits(c.blocks().iter().map(String::as_str))),
    }
}

/// Longest `f(x, "a") || f(x, "b") || …` chain written out; longer lists
/// become one `filter` over a literal array. VRL type-checks an `||` chain
/// once per level while compiling it (quadratic in its length): a 162-needle
/// chain alone took 4 s to compile in a debug build.
const MAX_OR_CHAIN: usize = 4;

/// A VRL boolean: `f(x, n)` holds for one of `needles`.
fn any_of(f: &str, x: &str, needles: &[String]) -> String {
    if needles.is_empty() {
        return "false".to_string();
    }
    if needles.len() <= MAX_OR_CHAIN {
        let v: Vec<String> = needles.iter().map(|n| format!("{f}({x}, {})", lit(n))).collect();
        return v.join(" || ");
    }
    format!("length(filter({}) -> |_j, n| {{ {f}({x}, n) }}) > 0", lits(needles.iter().map(String::as_str)))
}

/// `if is_string(x) { [x] } else { [] }`
fn one_str(x: &str) -> String {
    format!("if is_string({x}) {{ [{x}] }} else {{ [] }}")
}

/// A VRL expression with the field's raw values (an array; `[]` when absent).
fn raw_values(f: &FieldRef) -> String {
    use FieldRef as F;
    match f {
        F::Kind => "[k_e.kind]".into(),
        F::ApiVersion => one_str("k_e.apiVersion"),
        F::Level => one_str("k_e.level"),
        F::AuditId => one_str("k_e.auditID"),
        F::Stage => one_str("k_e.stage"),
        F::RequestUri => one_str("k_e.requestURI"),
        F::RequestUriPath => {
            "if is_string(k_e.requestURI) { [split(string!(k_e.requestURI), \"?\")[0]] } else { [] }".into()
        }
        F::Verb => one_str("k_e.verb"),
        F::UserName => one_str("k_e.user.username"),
        F::UserUid => one_str("k_e.user.uid"),
        F::UserGroups => "if is_array(k_e.user.groups) { k_e.user.groups } else { [] }".into(),
        F::UserExtra(k) => format!("get(k_extra, [{}]) ?? []", lit(k)),
        F::ImpUserName => one_str("k_e.impersonatedUser.username"),
        F::ImpUserGroups => {
            "if is_array(k_e.impersonatedUser.groups) { k_e.impersonatedUser.groups } else { [] }".into()
        }
        F::SourceIps => "if is_array(k_e.sourceIPs) { k_e.sourceIPs } else { [] }".into(),
        F::SourceIp => {
            "if is_array(k_e.sourceIPs) && length(array!(k_e.sourceIPs)) > 0 { [k_e.sourceIPs[0]] } else { [] }".into()
        }
        F::UserAgent => one_str("k_e.userAgent"),
        F::ObjResource => one_str("k_e.objectRef.resource"),
        F::ObjSubresource => one_str("k_e.objectRef.subresource"),
        F::ObjNamespace => one_str("k_e.objectRef.namespace"),
        F::ObjName => one_str("k_e.objectRef.name"),
        F::ObjUid => one_str("k_e.objectRef.uid"),
        F::ObjApiGroup => one_str("k_e.objectRef.apiGroup"),
        F::ObjApiVersion => one_str("k_e.objectRef.apiVersion"),
        F::Code => {
            "if is_integer(k_e.responseStatus.code) { [encode_json(k_e.responseStatus.code)] } else { [] }".into()
        }
        F::StatusReason => one_str("k_e.responseStatus.reason"),
        F::StatusMessage => one_str("k_e.responseStatus.message"),
        F::RequestReceivedTimestamp => one_str("k_e.requestReceivedTimestamp"),
        F::StageTimestamp => one_str("k_e.stageTimestamp"),
        F::Annotation(k) => {
            format!("if is_object(k_e.annotations) {{ k_a = get(k_e.annotations, [{}]) ?? null; if is_string(k_a) {{ [k_a] }} else {{ [] }} }} else {{ [] }}", lit(k))
        }
        F::Body(b, steps) => walk(*b, steps),
        F::Source => "[k_e.kaudit.source]".into(),
        F::Provider => "[k_e.kaudit.cluster.provider]".into(),
        F::ClusterName => one_str("k_e.kaudit.cluster.name"),
        F::ClusterAccount => one_str("k_e.kaudit.cluster.account"),
        F::Outcome => "[k_e.kaudit.outcome]".into(),
        F::Derived(d) => {
            match d {
                Derived::ActorKind => "if k_actor == null { [] } else { [k_actor] }".into(),
                Derived::ActorSaNamespace => "if k_sa == null { [] } else { [k_sa[0]] }".into(),
                Derived::ActorSaName => "if k_sa == null { [] } else { [k_sa[1]] }".into(),
                Derived::Exec => "if k_exec { [\"true\"] } else { [\"false\"] }".into(),
                Derived::ExecCommand => "if k_exec && k_exec_cmd != null { [k_exec_cmd] } else { [] }".into(),
                Derived::ExecContainer => "if k_exec && k_exec_ctr != null { [k_exec_ctr] } else { [] }".into(),
                Derived::PodSpec(p) => {
                    let (key, list) = match p {
                    PodField::Present => return "if k_pod != null { [\"true\"] } else { [\"false\"] }".into(),
                    PodField::Privileged => ("privileged", false),
                    PodField::AllowPrivilegeEscalation => ("allow_privilege_escalation", false),
                    PodField::HostPid => ("host_pid", false),
                    PodField::HostIpc => ("host_ipc", false),
                    PodField::HostNetwork => ("host_network", false),
                    PodField::RunsAsRoot => ("runs_as_root", false),
                    PodField::HostPaths => ("host_paths", true),
                    PodField::HostPorts => ("host_ports", true),
                    PodField::CapsAdded => ("caps_added", true),
                    PodField::Images => ("images", true),
                    PodField::ContainerNames => ("container_names", true),
                    PodField::ServiceAccount => {
                        return "if k_pod == null || k_pod.service_account == null { [] } else { [k_pod.service_account] }"
                            .into()
                    }
                };
                    if list {
                        format!("if k_pod == null {{ [] }} else {{ k_pod.{key} }}")
                    } else {
                        format!("if k_pod == null {{ [] }} else if k_pod.{key} == true {{ [\"true\"] }} else {{ [\"false\"] }}")
                    }
                }
                Derived::Rbac(r) => {
                    let (key, list) = match r {
                        RbacField::Verbs => ("verbs", true),
                        RbacField::Resources => ("resources", true),
                        RbacField::ApiGroups => ("api_groups", true),
                        RbacField::SubjectKinds => ("subject_kinds", true),
                        RbacField::SubjectNames => ("subject_names", true),
                        RbacField::RoleRefName => ("role_ref_name", false),
                        RbacField::RoleRefKind => ("role_ref_kind", false),
                    };
                    if list {
                        format!("if k_rbac == null {{ [] }} else {{ k_rbac.{key} }}")
                    } else {
                        format!("if k_rbac == null || k_rbac.{key} == null {{ [] }} else {{ [k_rbac.{key}] }}")
                    }
                }
            }
        }
    }
}

/// A body path (`eval::walk`): keys, `[]` fan-out, a final array read as
/// its elements, nulls dropped.
fn walk(b: Body, steps: &[Step]) -> String {
    let body = match b {
        Body::Request => "k_e.requestObject",
        Body::Response => "k_e.responseObject",
    };
    let mut s = format!("k_w = if {body} == null {{ [] }} else {{ [{body}] }}; ");
    for st in steps {
        match st {
            Step::Key(k) => {
                let _ = write!(
                    s,
                    "k_n = []; for_each(k_w) -> |_i, c| {{ if is_object(c) {{ x = get(c, [{}]) ?? null; if x != null {{ k_n = push(k_n, x) }} }} }}; k_w = k_n; ",
                    lit(k)
                );
            }
            Step::Each => {
                s.push_str("k_n = []; for_each(k_w) -> |_i, c| { if is_array(c) { k_n = append(k_n, array!(c)) } }; k_w = k_n; ");
            }
        }
    }
    // The values' texts (`Val::text`): strings as they are, anything else as
    // compact JSON; a final array is read as its elements; nulls are dropped.
    s.push_str("k_n = []; for_each(k_w) -> |_i, c| { if is_array(c) { for_each(array!(c)) -> |_j, y| { if y != null { ty = if is_string(y) { y } else { encode_json(y) }; k_n = push(k_n, ty) } } } else if c != null { tc = if is_string(c) { c } else { encode_json(c) }; k_n = push(k_n, tc) } }; k_n");
    format!("{{ {s} }}")
}

/// Per-event values the derived fields read, computed once.
fn derived_prelude() -> String {
    let cp = lits(derive::CONTROL_PLANE.iter().copied());
    let cpp: Vec<String> =
        derive::CONTROL_PLANE_PREFIXES.iter().map(|p| format!("starts_with(k_un, {})", lit(p))).collect();
    let mut cloud: Vec<String> =
        derive::CLOUD_MANAGED_PREFIXES.iter().map(|p| format!("starts_with(k_un, {})", lit(p))).collect();
    cloud.extend(
        derive::CLOUD_MANAGED_PREFIX_CONTAINS
            .iter()
            .map(|(p, c)| format!("(starts_with(k_un, {}) && contains(k_un, {}))", lit(p), lit(c))),
    );
    cloud.push(format!("includes({}, k_un)", lits(derive::CLOUD_MANAGED_NAMES.iter().copied())));
    cloud.extend(derive::CLOUD_MANAGED_SUFFIXES.iter().map(|s| format!("ends_with(k_un, {})", lit(s))));
    let sa_len = derive::SERVICE_ACCOUNT_PREFIX.len();
    format!(
        r#"  # Fields not available on this event: the missing ones, and bodies the audit level excluded.
  k_u = array(k_e.kaudit.missing) ?? []
  if k_e.level == "Metadata" || k_e.level == "None" {{
    k_u = push(push(k_u, "requestObject"), "responseObject")
  }} else if k_e.level == "Request" {{
    k_u = push(k_u, "responseObject")
  }} else if k_e.level == null {{
    if k_e.requestObject == null {{ k_u = push(k_u, "requestObject") }}
    if k_e.responseObject == null {{ k_u = push(k_u, "responseObject") }}
  }}
  # actor.kind, actor.serviceaccount.*
  k_actor = null
  k_sa = null
  if is_string(k_e.user.username) {{
    k_un = string!(k_e.user.username)
    k_groups = array(k_e.user.groups) ?? []
    if k_un == {anon} || includes(k_groups, {unauth}) {{
      k_actor = "anonymous"
    }} else if starts_with(k_un, {node}) {{
      k_actor = "node"
    }} else if starts_with(k_un, {sa_lit}) {{
      k_actor = "serviceaccount"
    }} else if includes({cp}, k_un) || {cpp} {{
      k_actor = "control-plane"
    }} else if {cloud} {{
      k_actor = "cloud-managed"
    }} else {{
      k_actor = "human"
    }}
    if starts_with(k_un, {sa_lit}) {{
      k_sap = split(slice!(k_un, {sa_len}), ":", limit: 2)
      if length(k_sap) == 2 {{ k_sa = k_sap }}
    }}
  }}
  # user.extra, when it is a map of string lists
  k_extra = {{}}
  if is_object(k_e.user.extra) {{
    k_extra = object!(k_e.user.extra)
    for_each(k_extra) -> |_k, v| {{
      if !is_array(v) {{ k_extra = {{}} }} else {{
        for_each(array!(v)) -> |_i, x| {{ if !is_string(x) {{ k_extra = {{}} }} }}
      }}
    }}
  }}
  # exec, exec.command, exec.container
  k_exec = k_e.objectRef.resource == "pods" && includes(["exec", "attach"], k_e.objectRef.subresource) && includes(["create", "get"], k_e.verb)
  k_exec_cmd = null
  k_exec_ctr = null
  if k_exec && is_string(k_e.requestURI) {{
    k_qs = split(string!(k_e.requestURI), "?", limit: 2)
    if length(k_qs) == 2 {{
      k_q = parse_query_string(string!(k_qs[1]))
      k_qc = get(k_q, ["command"]) ?? null
      if is_string(k_qc) {{ k_exec_cmd = k_qc }} else if is_array(k_qc) {{ k_exec_cmd = join(array!(k_qc), " ") ?? null }}
      k_qn = get(k_q, ["container"]) ?? null
      if is_string(k_qn) {{ k_exec_ctr = k_qn }} else if is_array(k_qn) {{ k_exec_ctr = join(array!(k_qn), " ") ?? null }}
    }}
  }}
  # The object a pod-spec or RBAC summary reads (for patch: the response).
  k_objb = if k_e.verb == "patch" {{ k_e.responseObject }} else {{ k_e.requestObject }}
  k_objf = if k_e.verb == "patch" {{ "responseObject" }} else {{ "requestObject" }}
  k_body_blind = k_objb == null && includes(k_u, k_objf)
  k_res = if is_string(k_e.objectRef.resource) {{ string!(k_e.objectRef.resource) }} else {{ "" }}
  # pod_spec.*
  k_pod_blind = k_body_blind
  k_pod = null
  k_spec = null
  if !k_body_blind && is_object(k_objb) {{
    k_o = object!(k_objb)
    if k_res == "pods" {{
      k_spec = k_o.spec
    }} else if includes({workloads}, k_res) {{
      k_spec = k_o.spec.template.spec
    }} else if k_res == "cronjobs" {{
      k_spec = k_o.spec.jobTemplate.spec.template.spec
    }} else if k_res == "podtemplates" {{
      k_spec = k_o.template.spec
    }}
  }}
  if is_object(k_spec) {{
    sp = object!(k_spec)
    p = {{"privileged": false, "allow_privilege_escalation": false, "runs_as_root": false, "host_paths": [], "host_ports": [], "caps_added": [], "images": [], "container_names": [], "service_account": null}}
    p.host_pid = sp.hostPID == true || sp.hostPID == "true"
    p.host_ipc = sp.hostIPC == true || sp.hostIPC == "true"
    p.host_network = sp.hostNetwork == true || sp.hostNetwork == "true"
    if includes(keys(sp), "serviceAccountName") {{
      if is_string(sp.serviceAccountName) {{ p.service_account = sp.serviceAccountName }}
    }} else if is_string(sp.serviceAccount) {{
      p.service_account = sp.serviceAccount
    }}
    k_pu = sp.securityContext.runAsUser
    k_pod_user = if is_integer(k_pu) {{ k_pu }} else if is_string(k_pu) {{ to_int(k_pu) ?? null }} else {{ null }}
    k_pod_nonroot = if is_boolean(sp.securityContext.runAsNonRoot) {{ sp.securityContext.runAsNonRoot }} else {{ null }}
    for_each(array(sp.volumes) ?? []) -> |_i, v| {{
      if is_string(v.hostPath.path) {{ p.host_paths = push(array!(p.host_paths), v.hostPath.path) }}
    }}
    for_each(["containers", "initContainers", "ephemeralContainers"]) -> |_i, lname| {{
      for_each(array(get(sp, [lname]) ?? null) ?? []) -> |_j, c| {{
        if is_string(c.name) {{ p.container_names = push(array!(p.container_names), c.name) }}
        if is_string(c.image) {{ p.images = push(array!(p.images), c.image) }}
        for_each(array(c.ports) ?? []) -> |_k, port| {{
          hp = port.hostPort
          hpi = if is_integer(hp) {{ hp }} else if is_string(hp) {{ to_int(hp) ?? null }} else {{ null }}
          if hpi != null {{ p.host_ports = push(array!(p.host_ports), to_string(hpi) ?? "") }}
        }}
        sc = c.securityContext
        if sc.privileged == true || sc.privileged == "true" {{ p.privileged = true }}
        if sc.allowPrivilegeEscalation == true || sc.allowPrivilegeEscalation == "true" {{ p.allow_privilege_escalation = true }}
        for_each(array(sc.capabilities.add) ?? []) -> |_k, cap| {{
          if is_string(cap) {{
            cu = replace(upcase(string!(cap)), r'^(CAP_)+', "")
            if !includes(array!(p.caps_added), cu) {{ p.caps_added = push(array!(p.caps_added), cu) }}
          }}
        }}
        cu = sc.runAsUser
        user = if is_integer(cu) {{ cu }} else if is_string(cu) {{ to_int(cu) ?? null }} else {{ null }}
        if user == null {{ user = k_pod_user }}
        nonroot = if is_boolean(sc.runAsNonRoot) {{ sc.runAsNonRoot }} else {{ k_pod_nonroot }}
        if user == 0 || (user == null && nonroot == false) {{ p.runs_as_root = true }}
      }}
    }}
    k_pod = p
  }}
  # rbac.*
  k_is_rbac = includes({rbac_res}, k_res)
  k_rbac_blind = k_is_rbac && k_body_blind
  k_rbac = null
  if k_is_rbac && !k_body_blind && k_objb != null {{
    rb = {{"verbs": [], "resources": [], "api_groups": [], "role_ref_name": null, "role_ref_kind": null, "subject_kinds": [], "subject_names": []}}
    for_each(array(k_objb.rules) ?? []) -> |_i, rule| {{
      for_each([["verbs", "verbs"], ["resources", "resources"], ["apiGroups", "api_groups"]]) -> |_j, kv| {{
        for_each(array(get(rule, [kv[0]]) ?? null) ?? []) -> |_k, x| {{
          cur = array(get(rb, [kv[1]]) ?? []) ?? []
          if is_string(x) && !includes(cur, x) {{ rb = set!(rb, [kv[1]], push(cur, x)) }}
        }}
      }}
    }}
    if k_objb.roleRef != null {{
      if is_string(k_objb.roleRef.name) {{ rb.role_ref_name = k_objb.roleRef.name }}
      if is_string(k_objb.roleRef.kind) {{ rb.role_ref_kind = k_objb.roleRef.kind }}
    }}
    for_each(array(k_objb.subjects) ?? []) -> |_i, sj| {{
      if is_string(sj.kind) {{ rb.subject_kinds = push(array!(rb.subject_kinds), sj.kind) }}
      if is_string(sj.name) {{
        if sj.kind == "ServiceAccount" && is_string(sj.namespace) {{
          rb.subject_names = push(array!(rb.subject_names), "{sa}" + string!(sj.namespace) + ":" + string!(sj.name))
        }} else {{
          rb.subject_names = push(array!(rb.subject_names), sj.name)
        }}
      }}
    }}
    k_rbac = rb
  }}
"#,
        anon = lit(derive::ANONYMOUS_USER),
        unauth = lit(derive::UNAUTHENTICATED_GROUP),
        node = lit(derive::NODE_PREFIX),
        sa = derive::SERVICE_ACCOUNT_PREFIX,
        sa_lit = lit(derive::SERVICE_ACCOUNT_PREFIX),
        cp = cp,
        cpp = cpp.join(" || "),
        cloud = cloud.join(" || "),
        workloads = lits(derive::WORKLOAD_RESOURCES.iter().copied()),
        rbac_res = lits(derive::RBAC_RESOURCES.iter().copied()),
        sa_len = sa_len,
    )
}

/// Generate the program for `rules` (the built-in pack plus any user rules).
pub fn generate(rules: &RuleSet) -> Program {
    let mut included = Vec::new();
    let mut left_out = Vec::new();
    let mut dets: Vec<String> = Vec::new();
    let mut g = Gen { out: String::new(), n: 0, fields: HashMap::new(), reads: String::new(), nf: 0 };
    for r in rules.rules() {
        if let Some(reason) = left_out_reason(r) {
            left_out.push(LeftOut { id: r.id.clone(), reason });
            continue;
        }
        g.n = 0;
        g.line("");
        g.line(&format!("# rule {} ({})", r.id, r.file));
        let c = g.expr(&r.expr);
        let declared: Vec<String> = r.declared.iter().map(|f| format!("!includes(k_u, {})", lit(f.path()))).collect();
        let guard = if declared.is_empty() { String::new() } else { format!("{} && ", declared.join(" && ")) };
        // The hit is the rule's index into `k_rules`: pushing the detection
        // object itself grows `k_det`'s inferred type with every rule, and
        // VRL clones that type at every expression it checks (about 5x the
        // compile time of the whole program).
        g.line(&format!("if {guard}{c} == true {{ k_hits = push(k_hits, {}) }}", dets.len()));
        dets.push(format!(
            "{{\"rule\": {}, \"title\": {}, \"severity\": {}, \"tags\": {}}}",
            lit(&r.id),
            lit(&r.title),
            lit(r.severity.as_str()),
            lits(r.tags.iter().map(String::as_str))
        ));
        included.push(r.id.clone());
    }

    let mut text = String::new();
    text.push_str("# kaudit.vrl: generated by `kaudit vrl`; do not edit (regenerate instead).\n");
    text.push_str("#\n");
    text.push_str("# A Vector `remap` program that decodes one Kubernetes audit record per event\n");
    text.push_str("# into kaudit's canonical event (audit.k8s.io/v1 Event + `kaudit` object) and\n");
    text.push_str("# appends the stateless detections to `kaudit.detections`, in rule order.\n");
    text.push_str("# Input: the raw record line in `.message` (bytes codec), or the parsed record.\n");
    text.push_str("# Shapes: vanilla Event, EKS CloudWatch row or message (cut ones too), AKS\n");
    text.push_str("# diagnostic record (properties.log), AKS Log Analytics row, GKE LogEntry,\n");
    text.push_str("# OpenShift ViaQ. Envelopes holding many events (EventList, records[],\n");
    text.push_str("# CloudWatch subscription, Pub/Sub, OTLP) get `kaudit.error` with category\n");
    text.push_str("# `unsupported`: split them upstream or use the kaudit sidecar.\n");
    text.push_str("# Built for VRL 0.33 (Vector 0.57).\n");
    text.push_str("#\n");
    let _ = writeln!(text, "# Rules evaluated: {}.", included.len());
    if left_out.is_empty() {
        text.push_str("# Rules left out: none.\n");
    } else {
        let _ = writeln!(text, "# Rules left out ({}), run them with the kaudit sidecar:", left_out.len());
        for l in &left_out {
            let _ = writeln!(text, "#   {}: {}", l.id, l.reason);
        }
    }
    text.push('\n');
    text.push_str(&scoped_decode(&fill(DECODE)));
    text.push_str("\n# ---------------------------------------------------------------------------\n");
    text.push_str("# 5. Detections (generated from the compiled rules).\n");
    text.push_str("# ---------------------------------------------------------------------------\n");
    text.push_str("k_det = []\n");
    text.push_str("if k_event != null {\n");
    text.push_str("  k_e = object(k_event) ?? {}\n");
    text.push_str(&derived_prelude());
    text.push_str("  k_F = {}\n  k_B = {}\n");
    text.push_str(&g.reads);
    text.push_str("  k_hits = []\n");
    text.push_str(&g.out);
    // Built only for events with a hit: the literal is evaluated at run time.
    text.push_str("\n  # The detections of the rules that hit, in rule order.\n");
    text.push_str("  if length(k_hits) > 0 {\n");
    text.push_str("    k_rules = [\n");
    let rows: Vec<String> = dets.iter().map(|d| format!("      {d}")).collect();
    text.push_str(&rows.join(",\n"));
    text.push_str("\n    ]\n");
    text.push_str("    for_each(k_hits) -> |_i, n| { k_det = push(k_det, get(k_rules, [n]) ?? null) }\n");
    text.push_str("  }\n");
    text.push_str("  k_e.kaudit.detections = k_det\n");
    text.push_str("  k_event = k_e\n");
    text.push_str("}\n\n");
    text.push_str(OUTPUT);
    Program { text, included, left_out }
}

const OUTPUT: &str = r#"# ---------------------------------------------------------------------------
# 6. Output: the event, or an error / skip envelope carrying the record.
# ---------------------------------------------------------------------------
k_unit = if k_raw != null { k_raw } else { encode_json(k_in) }
k_usrc = if k_src != null { k_src } else { "unknown" }
if k_err != null {
  . = {"kaudit": {"error": {"category": k_err.category, "at": k_err.at, "message": k_err.message, "source": k_usrc}}, "raw": k_unit}
} else if k_unsup != null {
  . = {"kaudit": {"error": {"category": "unsupported", "at": "$", "message": "this record holds a shape the VRL program does not decode (" + string!(k_unsup) + "): split it upstream into one event per record, or run the kaudit sidecar (kaudit stream / kaudit serve)", "source": "unknown"}}, "raw": k_unit}
} else if k_skip != null {
  . = {"kaudit": {"skipped": {"reason": k_skip, "source": k_usrc}}, "raw": k_unit}
} else {
  . = k_event
}
"#;
