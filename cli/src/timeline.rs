//! `kaudit timeline --actor NAME [PATH]...`: one actor's actions in time
//! order — when, what verb on which object (or URI), the response code, the
//! source, and the rules that fired.
//!
//! The actor matches `user.username` or `impersonatedUser.username` (a
//! trailing `*` matches a prefix), so requests made *as* the actor through
//! impersonation are listed too, marked with who impersonated. Every event
//! is evaluated by every rule, so stateful detections are the same as in
//! `kaudit scan`.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use kaudit_core::rules::state::{event_time, Micros, StateLimits};
use kaudit_core::rules::DEFAULT_MATCH_BUDGET;
use kaudit_core::rules::{Detections, RuleSet};
use kaudit_core::scan::{Observer, ScanOptions, Scanner};
use kaudit_core::{AuditEvent, Decoder, Limits};
use serde_json::{json, Value};

use crate::filter::{actor_matches, ActorMatch, Filter, TimeArgs};
use crate::progress::{self, Progress};
use crate::summary::{rfc3339, target};
use crate::{input, ruleload, scan, table};

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// A table on stdout.
    Table,
    /// One JSON object per action, in time order.
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The actor: user.username or impersonatedUser.username; a trailing `*` matches a prefix.
    #[arg(long, value_name = "NAME")]
    actor: String,
    /// Files or directories (recursive; .gz is gunzipped); `-` or nothing reads stdin.
    paths: Vec<PathBuf>,
    #[command(flatten)]
    time: TimeArgs,
    /// List only actions on which a rule fired.
    #[arg(long)]
    only_hits: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Rule files or directories to add to the built-in pack.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Leave the built-in pack out.
    #[arg(long)]
    no_builtin: bool,
    /// Never draw the progress bar (it is drawn only when stderr is a terminal).
    #[arg(long)]
    no_progress: bool,
    /// Largest record accepted, in bytes; longer ones pass through as errors.
    #[arg(long, default_value_t = Limits::default().max_record_bytes)]
    max_record_bytes: usize,
    /// Keys kept per stateful rule (windows, sequences); the least recently used is evicted.
    #[arg(long, default_value_t = StateLimits::default().max_keys)]
    max_state_keys: usize,
    /// Bytes one rule's text matchers (contains, icontains, glob, regex, body text) may scan per event;
    /// a rule over it is blind on that event (reason `budget`).
    #[arg(long, default_value_t = DEFAULT_MATCH_BUDGET)]
    max_match_bytes: usize,
}

/// One action of the actor.
#[derive(Clone, Debug)]
pub struct Action {
    pub time: Option<Micros>,
    /// The event's own time text, as the record wrote it.
    pub time_raw: Option<String>,
    pub seq: u64,
    pub matched: ActorMatch,
    pub user: Option<String>,
    pub impersonated: Option<String>,
    pub verb: Option<String>,
    pub target: String,
    pub resource: Option<String>,
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
    pub request_uri: Option<String>,
    pub code: Option<i64>,
    pub outcome: &'static str,
    pub source: &'static str,
    pub cluster: Option<String>,
    pub source_ips: Vec<String>,
    pub user_agent: Option<String>,
    pub audit_id: Option<String>,
    pub hits: Vec<u32>,
}

/// Collects the actor's actions.
pub struct Collect {
    pattern: String,
    filter: Filter,
    only_hits: bool,
    seq: u64,
    pub actions: Vec<Action>,
}

impl Collect {
    pub fn new(pattern: String, filter: Filter, only_hits: bool) -> Self {
        Collect { pattern, filter, only_hits, seq: 0, actions: Vec::new() }
    }
}

fn owned(s: Option<&str>) -> Option<String> {
    s.map(str::to_owned)
}

impl Observer for Collect {
    fn event(&mut self, ev: &AuditEvent<'_>, det: &Detections) -> bool {
        self.seq += 1;
        let Some(matched) = actor_matches(&self.pattern, ev) else { return false };
        if !self.filter.event_matches(ev) || (self.only_hits && det.hits.is_empty()) {
            return false;
        }
        self.actions.push(Action {
            time: event_time(ev),
            time_raw: owned(ev.stage_timestamp.as_deref().or(ev.request_received_timestamp.as_deref())),
            seq: self.seq,
            matched,
            user: owned(ev.username()),
            impersonated: owned(ev.impersonated_user.as_ref().and_then(|u| u.username.as_deref())),
            verb: owned(ev.verb.as_deref()),
            target: target(ev),
            resource: owned(ev.resource()),
            namespace: owned(ev.namespace()),
            name: owned(ev.name()),
            subresource: owned(ev.subresource()),
            request_uri: owned(ev.request_uri.as_deref()),
            code: ev.code(),
            outcome: ev.outcome.id(),
            source: ev.source_id(),
            cluster: owned(ev.cluster.name.as_deref()),
            source_ips: ev.source_ips.iter().flatten().map(|s| s.to_string()).collect(),
            user_agent: owned(ev.user_agent.as_deref()),
            audit_id: owned(ev.audit_id.as_deref()),
            hits: det.hits.clone(),
        });
        true
    }
}

/// Sort actions by time (events without a readable time last), then input order.
pub fn sort(actions: &mut [Action]) {
    actions.sort_by_key(|a| (a.time.unwrap_or(Micros::MAX), a.seq));
}

/// Who acted: the user, with the impersonation spelled out.
fn via(a: &Action) -> String {
    match (a.matched, &a.user, &a.impersonated) {
        (ActorMatch::Impersonated, Some(u), _) => format!("impersonated by {u}"),
        (ActorMatch::User, _, Some(i)) => format!("as {i}"),
        _ => String::new(),
    }
}

fn time_cell(a: &Action) -> String {
    a.time.map(rfc3339).or_else(|| a.time_raw.clone()).unwrap_or_else(|| "(no time)".into())
}

/// The timeline as a table.
pub fn render_table(actions: &[Action], set: &RuleSet, actor: &str) -> String {
    let mut out = String::new();
    let hit = actions.iter().filter(|a| !a.hits.is_empty()).count();
    let timed: Vec<Micros> = actions.iter().filter_map(|a| a.time).collect();
    out.push_str(&format!("actor {actor}: {} actions, {hit} with detections", actions.len()));
    if let (Some(f), Some(l)) = (timed.iter().min(), timed.iter().max()) {
        out.push_str(&format!(", {} .. {}", rfc3339(*f), rfc3339(*l)));
    }
    out.push('\n');
    if actions.is_empty() {
        return out;
    }
    let rows: Vec<Vec<String>> = actions
        .iter()
        .map(|a| {
            vec![
                time_cell(a),
                a.verb.clone().unwrap_or_default(),
                a.target.clone(),
                a.code.map(|c| c.to_string()).unwrap_or_default(),
                a.source.to_owned(),
                via(a),
                a.hits.iter().map(|&i| set.rules()[i as usize].id.as_str()).collect::<Vec<_>>().join(","),
            ]
        })
        .collect();
    out.push_str(&table::render(&["time", "verb", "target", "code", "source", "via", "detections"], &rows));
    out
}

/// One action as JSON.
pub fn to_json(a: &Action, set: &RuleSet) -> Value {
    json!({
        "time": a.time.map(rfc3339),
        "timestamp": a.time_raw,
        "verb": a.verb,
        "user": a.user,
        "impersonatedUser": a.impersonated,
        "matched": match a.matched { ActorMatch::User => "user.username", ActorMatch::Impersonated => "impersonatedUser.username" },
        "objectRef": {
            "resource": a.resource,
            "namespace": a.namespace,
            "name": a.name,
            "subresource": a.subresource,
        },
        "requestURI": a.request_uri,
        "code": a.code,
        "outcome": a.outcome,
        "source": a.source,
        "cluster": a.cluster,
        "sourceIPs": a.source_ips,
        "userAgent": a.user_agent,
        "auditID": a.audit_id,
        "detections": a.hits.iter().map(|&i| {
            let r = &set.rules()[i as usize];
            json!({"rule": r.id, "severity": r.severity.as_str(), "title": r.title})
        }).collect::<Vec<_>>(),
    })
}

pub fn run(a: Args) -> ExitCode {
    let Some(set) = ruleload::load_for_detection(&a.rules, a.no_builtin) else { return ExitCode::from(2) };
    let set = set.with_match_budget(a.max_match_bytes);
    let filter = match a.time.compile() {
        Ok((since, until)) => Filter::time(since, until),
        Err(e) => {
            eprintln!("kaudit timeline: {e}");
            return ExitCode::from(2);
        }
    };
    if a.actor.is_empty() || a.actor == "*" {
        eprintln!("kaudit timeline: --actor needs a name (or a prefix followed by `*`)");
        return ExitCode::from(2);
    }
    let dec = Decoder::new(Limits { max_record_bytes: a.max_record_bytes, ..Limits::default() });
    let opts = ScanOptions {
        write_events: false,
        state: StateLimits { max_keys: a.max_state_keys },
        ..ScanOptions::default()
    };
    let mut sc = Scanner::with_observer(&set, opts, Collect::new(a.actor.clone(), filter, a.only_hits));
    let files = input::expand(&a.paths);
    let progress = Progress::new(progress::total_bytes(&files), scan::draw_progress(a.no_progress));
    let pumped = input::pump_all(&files, &dec, &mut sc, &mut io::sink(), &progress);
    progress.finish();
    let failed = match pumped {
        input::Pumped::Closed => return ExitCode::SUCCESS,
        input::Pumped::Done(failed) => failed,
    };
    let mut actions = std::mem::take(&mut sc.observer_mut().actions);
    sort(&mut actions);
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let res = match a.format {
        Format::Table => out.write_all(render_table(&actions, &set, &a.actor).as_bytes()),
        Format::Json => actions.iter().try_for_each(|x| writeln!(out, "{}", to_json(x, &set))),
    };
    if res.and_then(|()| out.flush()).is_err() {
        // A closed pipe: the reader has what it wanted.
        return ExitCode::SUCCESS;
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
