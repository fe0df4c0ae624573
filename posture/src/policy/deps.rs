//! Detection ↔ policy dependency (AP-D01): which detection rules go blind
//! under a policy because the requests they match are not recorded, or not
//! at the level or stage they need (policy-and-iac.md §5.3).
//!
//! For each rule:
//! 1. **Which requests it can match** — from the condition's top-level
//!    `verb`, `objectRef.resource`, `objectRef.subresource`,
//!    `objectRef.apiGroup`, `objectRef.namespace`, `objectRef.name`,
//!    `user.username`, `actor.kind` and `exec` constraints
//!    ([`kaudit_core::rules::Rule::required_values`]). A rule with no resource
//!    constraint (and no `exec`) is reported `unknown`: its requests are not
//!    derivable and kaudit does not guess. Unconstrained dimensions are
//!    enumerated: every verb of [`VERBS`]; the resource and each of its
//!    subresources ([`super::resources::SUBRESOURCES`]); the group(s) serving
//!    the resource ([`super::resources`]); namespaces `default` and
//!    `kube-system` (plus all namespaces for list/watch/deletecollection; `""`
//!    for cluster-scoped resources). Users are representatives: the names the
//!    condition requires, one per required `actor.kind`, else an ordinary
//!    authenticated user (`kaudit-probe-user`, group `system:authenticated`);
//!    the outcome is tried as success, failure and unknown.
//! 2. **At which stages it can fire** — the rule itself is evaluated by the
//!    detection engine on a synthetic event per request and stage, with every
//!    field a request tuple does not determine (bodies, response status,
//!    annotations, user agent, source IPs, requestURI …) marked *unknown*
//!    (`kaudit.missing`); three-valued logic gives *quiet* only when the rule
//!    cannot match whatever those fields hold. Requests and stages where the
//!    rule is quiet are dropped (this removes verbs excluded by `not verb in`,
//!    stages excluded by `stage` filters, …).
//! 3. **Which level it needs** — `requestObject` read ⇒ `Request`,
//!    `responseObject` ⇒ `RequestResponse`; `pod_spec.*`/`rbac.*` read the
//!    request body, or for `patch` the response body (as the engine does).
//! 4. **What the policy records** — [`Checker::decide`]: level `None`, or every
//!    stage the rule can fire at omitted ⇒ *not recorded*; a lower level than
//!    needed ⇒ *degraded* (the rule is blind on those events).

use kaudit_core::rules::{Rule, RuleSet, Verdict as RuleVerdict};
use kaudit_core::Field;
use serde_json::{json, Value};

use super::probes::Probe;
use super::resources;
use super::simulate::{Checker, Decision};
use super::{Level, Stage};

/// The verbs an unconstrained rule is evaluated for.
pub const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];

/// At most this many requests are derived per rule.
const MAX_REQUESTS: usize = 1024;

/// What the policy does to one request a rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    Ok,
    /// Recorded, but below the level the rule needs.
    Degraded,
    /// Not recorded at any stage the rule can fire at.
    NotRecorded,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Ok => "ok",
            Coverage::Degraded => "degraded",
            Coverage::NotRecorded => "not-recorded",
        }
    }
}

/// One request a rule can match, judged under the policy.
#[derive(Debug, Clone)]
pub struct RequestReport {
    pub request: Probe,
    /// Stages the rule can fire at for this request.
    pub stages: Vec<Stage>,
    pub need: Level,
    pub decision: Decision,
    pub coverage: Coverage,
    pub reason: String,
}

/// A rule's overall status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Every request it matches is recorded as it needs.
    Ok,
    /// Blind for some of the requests it matches.
    PartlyBlind,
    /// Blind for every request it matches.
    Blind,
    /// Its requests are not derivable (the reason).
    Unknown(String),
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::PartlyBlind => "partly-blind",
            Status::Blind => "blind",
            Status::Unknown(_) => "unknown",
        }
    }
}

/// The report for one detection rule.
#[derive(Debug, Clone)]
pub struct RuleReport {
    pub id: String,
    pub title: String,
    pub file: String,
    pub status: Status,
    pub requests: Vec<RequestReport>,
}

/// Judge one request: `need` level, rule fires at `stages`.
pub fn coverage(d: &Decision, long_running: bool, need: Level, stages: &[Stage]) -> (Coverage, String) {
    let by = d.rule_index.map_or_else(|| "no rule matches".to_string(), |i| format!("rules[{i}]"));
    if d.level == Level::None {
        return (Coverage::NotRecorded, format!("level None ({by})"));
    }
    if !stages.iter().any(|s| d.records(*s, long_running)) {
        let names: Vec<&str> = stages.iter().map(|s| s.as_str()).collect();
        return (Coverage::NotRecorded, format!("stage {} omitted ({by})", names.join("/")));
    }
    if d.level < need {
        return (Coverage::Degraded, format!("needs {}, recorded at {} ({by})", need.as_str(), d.level.as_str()));
    }
    (Coverage::Ok, format!("{} ({by})", d.level.as_str()))
}

/// The level `rule` needs on a request with `verb`.
pub fn needed_level(rule: &Rule, verb: &str) -> Level {
    let mut need = Level::Metadata;
    if rule.requires.contains(Field::RequestObject) {
        need = need.max(Level::Request);
    }
    if rule.requires.contains(Field::ResponseObject) {
        need = need.max(Level::RequestResponse);
    }
    // pod_spec.* / rbac.* read the object body (see the engine's View::object_body).
    if rule.reads.iter().any(|n| n.contains("PodSpec(") || n.contains("Rbac(")) {
        need = need.max(if verb == "patch" { Level::RequestResponse } else { Level::Request });
    }
    need
}

fn user_for(name: &str) -> (String, Vec<String>) {
    let groups: Vec<&str> = if name == "system:anonymous" {
        vec!["system:unauthenticated"]
    } else if let Some(rest) = name.strip_prefix("system:serviceaccount:") {
        let ns = rest.split(':').next().unwrap_or("default");
        return (
            name.to_string(),
            vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{ns}"),
                "system:authenticated".into(),
            ],
        );
    } else if name.starts_with("system:node:") {
        vec!["system:nodes", "system:authenticated"]
    } else {
        vec!["system:authenticated"]
    };
    (name.to_string(), groups.into_iter().map(str::to_string).collect())
}

/// Representative user names per `actor.kind`.
fn actor_user(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "anonymous" => "system:anonymous",
        "node" => "system:node:node-1",
        "serviceaccount" => "system:serviceaccount:default:app",
        "control-plane" => "system:kube-controller-manager",
        "cloud-managed" => "eks:kaudit-probe",
        "human" => "kaudit-probe-user",
        _ => return None,
    })
}

/// The requests `rule` can match (before the engine prunes them).
pub fn candidates(rule: &Rule) -> Result<Vec<Probe>, String> {
    let req = |f: &str| rule.required_values(f);
    let exec = req("exec").is_some_and(|v| v.iter().any(|x| x == "true"));
    let resources = match req("objectRef.resource") {
        Some(v) => v,
        None if exec => vec!["pods".to_string()],
        None => return Err("no resource constraint in the condition: the requests it matches are not derivable".into()),
    };
    let sub_req = req("objectRef.subresource").or_else(|| exec.then(|| vec!["exec".into(), "attach".into()]));
    let verbs = req("verb").unwrap_or_else(|| {
        if exec {
            vec!["create".into(), "get".into()]
        } else {
            VERBS.iter().map(|s| s.to_string()).collect()
        }
    });
    let group_req = req("objectRef.apiGroup");
    let ns_req = req("objectRef.namespace");
    let name = req("objectRef.name").and_then(|v| v.into_iter().next()).unwrap_or_else(|| "kaudit-probe".into());
    let users: Vec<String> = match (req("user.username"), req("actor.kind")) {
        (Some(u), _) => u,
        (None, Some(kinds)) => kinds.iter().filter_map(|k| actor_user(k)).map(str::to_string).collect(),
        (None, None) => vec!["kaudit-probe-user".into()],
    };
    let mut out = Vec::new();
    let mut unknown_groups = Vec::new();
    for res in &resources {
        let groups: Vec<String> = match &group_req {
            Some(g) => g.clone(),
            None => resources::groups_of(res).into_iter().map(str::to_string).collect(),
        };
        if groups.is_empty() {
            unknown_groups.push(res.clone());
        }
        for g in &groups {
            let subs: Vec<String> = match &sub_req {
                Some(s) => s.clone(),
                None => std::iter::once(String::new())
                    .chain(resources::subresources_of(g, res).iter().map(|s| s.to_string()))
                    .collect(),
            };
            for sub in &subs {
                for verb in &verbs {
                    let namespaces = match &ns_req {
                        Some(n) => n.clone(),
                        None if resources::namespaced(g, res) == Some(false) => vec![String::new()],
                        // Namespaced: an ordinary and a system namespace, and for
                        // collection verbs all namespaces (no namespace).
                        None if matches!(verb.as_str(), "list" | "watch" | "deletecollection") => {
                            vec!["default".into(), "kube-system".into(), String::new()]
                        }
                        None => vec!["default".into(), "kube-system".into()],
                    };
                    for ns in &namespaces {
                        for u in &users {
                            let (user, groups) = user_for(u);
                            out.push(Probe {
                                id: String::new(),
                                desc: String::new(),
                                user,
                                groups,
                                verb: verb.clone(),
                                is_resource: true,
                                api_group: g.to_string(),
                                resource: res.clone(),
                                subresource: sub.clone(),
                                namespace: ns.clone(),
                                name: name.clone(),
                                path: String::new(),
                                weight: 1.0,
                            });
                            if out.len() >= MAX_REQUESTS {
                                return Ok(out);
                            }
                        }
                    }
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!("the API group of {} is not derivable", unknown_groups.join(", ")));
    }
    Ok(out)
}

/// Fields a request tuple does not determine, unknown at every stage.
const UNKNOWN_ALWAYS: &[Field] = &[
    Field::RequestUri,
    Field::RequestUriQuery,
    Field::UserUid,
    Field::UserExtra,
    Field::ImpersonatedUser,
    Field::ImpersonatedUserGroups,
    Field::SourceIps,
    Field::UserAgent,
    Field::ObjectRefUid,
    Field::ObjectRefResourceVersion,
    Field::RequestReceivedTimestamp,
    Field::StageTimestamp,
];
/// Unknown once the response has started (absent at RequestReceived).
const UNKNOWN_AFTER_RESPONSE: &[Field] =
    &[Field::ResponseStatusCode, Field::Annotations, Field::RequestObject, Field::ResponseObject];

/// A synthetic event for `p` at `stage` with the undetermined fields unknown
/// and the given kaudit `outcome` (`success`, `failure` or `unknown`).
pub fn synthetic_event(p: &Probe, stage: Stage, outcome: &str) -> Value {
    let mut missing: Vec<&str> = UNKNOWN_ALWAYS.iter().map(|f| f.path()).collect();
    if stage != Stage::RequestReceived {
        missing.extend(UNKNOWN_AFTER_RESPONSE.iter().map(|f| f.path()));
    }
    let mut ev = json!({
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "RequestResponse",
        "auditID": "kaudit-policy-deps",
        "stage": stage.as_str(),
        "verb": p.verb,
        "user": {"username": p.user, "groups": p.groups},
        "kaudit": {"missing": missing, "outcome": outcome},
    });
    if p.is_resource {
        let mut o = json!({"resource": p.resource, "name": p.name, "apiGroup": p.api_group, "apiVersion": "v1"});
        if !p.subresource.is_empty() {
            o["subresource"] = json!(p.subresource);
        }
        if !p.namespace.is_empty() {
            o["namespace"] = json!(p.namespace);
        }
        ev["objectRef"] = o;
    }
    ev
}

/// The stages of `p` at which `rule` (index `i` in `set`) can fire.
pub fn firing_stages(set: &RuleSet, i: usize, p: &Probe) -> Vec<Stage> {
    let mut stages = vec![Stage::RequestReceived];
    if p.long_running() {
        stages.push(Stage::ResponseStarted);
    }
    stages.push(Stage::ResponseComplete);
    stages
        .into_iter()
        .filter(|s| {
            // The outcome comes from the response; before it, it is unknown.
            let outcomes: &[&str] =
                if *s == Stage::RequestReceived { &["unknown"] } else { &["success", "failure", "unknown"] };
            outcomes.iter().any(|o| {
                let ev = synthetic_event(p, *s, o).to_string();
                !matches!(set.verdict_on_unit(i, ev.as_bytes(), 1), Ok(RuleVerdict::Quiet))
            })
        })
        .collect()
}

/// The dependency report of every rule of `set` under the policy.
pub fn report(set: &RuleSet, checker: &Checker<'_>) -> Vec<RuleReport> {
    set.rules().iter().enumerate().map(|(i, r)| report_one(set, i, r, checker)).collect()
}

fn report_one(set: &RuleSet, i: usize, r: &Rule, checker: &Checker<'_>) -> RuleReport {
    let mut rep = RuleReport {
        id: r.id.clone(),
        title: r.title.clone(),
        file: r.file.clone(),
        status: Status::Ok,
        requests: Vec::new(),
    };
    let cands = match candidates(r) {
        Ok(c) => c,
        Err(why) => {
            rep.status = Status::Unknown(why);
            return rep;
        }
    };
    for p in cands {
        let stages = firing_stages(set, i, &p);
        if stages.is_empty() {
            continue;
        }
        let need = needed_level(r, &p.verb);
        let d = checker.decide(&p);
        let (cov, reason) = coverage(&d, p.long_running(), need, &stages);
        rep.requests.push(RequestReport { request: p, stages, need, decision: d, coverage: cov, reason });
    }
    let bad = rep.requests.iter().filter(|q| q.coverage != Coverage::Ok).count();
    rep.status = if rep.requests.is_empty() {
        Status::Unknown("no request of the derived scope can match the condition".into())
    } else if bad == 0 {
        Status::Ok
    } else if bad == rep.requests.len() {
        Status::Blind
    } else {
        Status::PartlyBlind
    };
    rep
}

/// `verb group/resource[/sub] [in NS] [as USER]` for messages.
pub fn describe(p: &Probe) -> String {
    let mut s = format!("{} {}", p.verb, p.target());
    if p.is_resource && !p.namespace.is_empty() {
        s.push_str(&format!(" in {}", p.namespace));
    }
    if p.user != "kaudit-probe-user" {
        s.push_str(&format!(" as {}", p.user));
    }
    s
}

/// The AP-D01 findings of a report: one per blind or partly blind rule,
/// naming the policy rule that decides its first uncovered request.
pub fn findings(file: &str, reports: &[RuleReport]) -> Vec<crate::finding::Finding> {
    let mut out = Vec::new();
    for r in reports {
        if !matches!(r.status, Status::Blind | Status::PartlyBlind) {
            continue;
        }
        let bad: Vec<&RequestReport> = r.requests.iter().filter(|q| q.coverage != Coverage::Ok).collect();
        let Some(first) = bad.first() else { continue };
        let resource = first.decision.rule_index.map_or_else(|| file.to_string(), |i| format!("rules[{i}]"));
        let path = first.decision.rule_index.map_or_else(String::new, |i| format!("rules[{i}].level"));
        let examples: Vec<String> =
            bad.iter().take(3).map(|q| format!("{}: {}", describe(&q.request), q.reason)).collect();
        out.push(super::lint::finding(
            "AP-D01",
            file,
            resource,
            path,
            format!(
                "detection `{}` ({}) is {} on {} of {} requests it matches: {}{}",
                r.id,
                r.title,
                r.status.as_str(),
                bad.len(),
                r.requests.len(),
                examples.join("; "),
                if bad.len() > 3 { "; …" } else { "" }
            ),
        ));
    }
    out
}
