//! Filters for `kaudit scan` and `kaudit timeline`: which events and hits are
//! *reported*.
//!
//! Filters never change what the engine sees: every event is still evaluated
//! by every rule, so a stateful rule (a burst, a sequence) fires exactly as it
//! would without filters, and a hit on a reported event may have been built
//! from events that are not reported. Filters only choose which events (and
//! which of their hits) reach the summary, the report, the timeline and the
//! JSON output.

use kaudit_core::rules::state::{event_time, parse_time, Micros};
use kaudit_core::rules::{Detections, RuleSet};
use kaudit_core::AuditEvent;

/// The filter flags shared by `scan` (and, for time, `timeline`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct TimeArgs {
    /// Report only events at or after this time (RFC 3339, e.g. 2024-05-01T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Report only events before this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct FilterArgs {
    #[command(flatten)]
    pub time: TimeArgs,
    /// Report only events by this actor (user.username or impersonatedUser.username;
    /// a trailing `*` matches a prefix). Repeat for several.
    #[arg(long, value_name = "NAME")]
    pub actor: Vec<String>,
    /// Report only events on objects in this namespace. Repeat for several.
    #[arg(long, value_name = "NS")]
    pub namespace: Vec<String>,
    /// Report only hits of this rule id (and only events on which it fired). Repeat for several.
    #[arg(long = "rule", value_name = "ID")]
    pub rule: Vec<String>,
}

/// A compiled filter.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub since: Option<Micros>,
    pub until: Option<Micros>,
    actors: Vec<String>,
    namespaces: Vec<String>,
    /// Selected rule indices (sorted); `None` selects every rule.
    rules: Option<Vec<u32>>,
}

/// Parse an RFC 3339 time flag.
fn time_flag(flag: &str, v: &Option<String>) -> Result<Option<Micros>, String> {
    match v {
        None => Ok(None),
        Some(s) => parse_time(s)
            .map(Some)
            .ok_or_else(|| format!("{flag} {s:?}: not an RFC 3339 time (e.g. 2024-05-01T00:00:00Z)")),
    }
}

/// Does `name` (a `--actor` value, `*` suffix for a prefix) match `user`?
pub fn name_matches(pattern: &str, user: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => user.starts_with(prefix),
        None => user == pattern,
    }
}

/// How an event matched an actor pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorMatch {
    /// `user.username` matched.
    User,
    /// `impersonatedUser.username` matched (someone acted as this actor).
    Impersonated,
}

/// Does the event's actor match `pattern`? `user.username` first, then
/// `impersonatedUser.username`.
pub fn actor_matches(pattern: &str, ev: &AuditEvent<'_>) -> Option<ActorMatch> {
    if ev.username().is_some_and(|u| name_matches(pattern, u)) {
        return Some(ActorMatch::User);
    }
    let imp = ev.impersonated_user.as_ref().and_then(|u| u.username.as_deref());
    imp.filter(|u| name_matches(pattern, u)).map(|_| ActorMatch::Impersonated)
}

impl TimeArgs {
    pub fn compile(&self) -> Result<(Option<Micros>, Option<Micros>), String> {
        let since = time_flag("--since", &self.since)?;
        let until = time_flag("--until", &self.until)?;
        if let (Some(s), Some(u)) = (since, until) {
            if s >= u {
                return Err(format!("--since {:?} is not before --until {:?}", self.since, self.until));
            }
        }
        Ok((since, until))
    }
}

impl Filter {
    /// Compile the flags; rule ids are checked against `set`.
    pub fn new(a: &FilterArgs, set: &RuleSet) -> Result<Filter, String> {
        let (since, until) = a.time.compile()?;
        let rules = if a.rule.is_empty() {
            None
        } else {
            let mut ids = Vec::new();
            for id in &a.rule {
                let i = set.find(id).ok_or_else(|| format!("--rule {id:?}: no such rule (see `kaudit rules list`)"))?;
                ids.push(i as u32);
            }
            ids.sort_unstable();
            ids.dedup();
            Some(ids)
        };
        Ok(Filter { since, until, actors: a.actor.clone(), namespaces: a.namespace.clone(), rules })
    }

    /// A filter on time only.
    pub fn time(since: Option<Micros>, until: Option<Micros>) -> Filter {
        Filter { since, until, ..Filter::default() }
    }

    /// Is rule `i` reported?
    pub fn rule_selected(&self, i: u32) -> bool {
        self.rules.as_ref().is_none_or(|r| r.binary_search(&i).is_ok())
    }

    /// Does the event pass the time, actor and namespace filters? An event
    /// without a readable time fails any time filter (it cannot be placed).
    pub fn event_matches(&self, ev: &AuditEvent<'_>) -> bool {
        if self.since.is_some() || self.until.is_some() {
            let Some(t) = event_time(ev) else { return false };
            if self.since.is_some_and(|s| t < s) || self.until.is_some_and(|u| t >= u) {
                return false;
            }
        }
        if !self.actors.is_empty() && !self.actors.iter().any(|a| actor_matches(a, ev).is_some()) {
            return false;
        }
        if !self.namespaces.is_empty() && !ev.namespace().is_some_and(|ns| self.namespaces.iter().any(|n| n == ns)) {
            return false;
        }
        true
    }

    /// Is the event reported? It must match, and with `--rule` one of the
    /// selected rules must have fired on it.
    pub fn keep(&self, ev: &AuditEvent<'_>, det: &Detections) -> bool {
        self.event_matches(ev) && (self.rules.is_none() || det.hits.iter().any(|&i| self.rule_selected(i)))
    }

    /// A one-line description of the active filters.
    pub fn describe(&self, a: &FilterArgs) -> String {
        let mut parts = Vec::new();
        if let Some(s) = &a.time.since {
            parts.push(format!("--since {s}"));
        }
        if let Some(u) = &a.time.until {
            parts.push(format!("--until {u}"));
        }
        parts.extend(a.actor.iter().map(|x| format!("--actor {x}")));
        parts.extend(a.namespace.iter().map(|x| format!("--namespace {x}")));
        parts.extend(a.rule.iter().map(|x| format!("--rule {x}")));
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use kaudit_core::event::{ObjectRef, UserInfo};
    use kaudit_core::json::Str;

    use super::*;

    fn s(x: &str) -> Option<Str<'_>> {
        Some(Str(Cow::Borrowed(x)))
    }

    fn ev<'a>(user: &'a str, imp: Option<&'a str>, ns: Option<&'a str>, t: Option<&'a str>) -> AuditEvent<'a> {
        AuditEvent {
            user: Some(UserInfo { username: s(user), ..UserInfo::default() }),
            impersonated_user: imp.map(|i| UserInfo { username: s(i), ..UserInfo::default() }),
            object_ref: Some(ObjectRef { namespace: ns.and_then(s), ..ObjectRef::default() }),
            stage_timestamp: t.and_then(s),
            ..AuditEvent::default()
        }
    }

    fn filter(args: FilterArgs) -> Filter {
        Filter::new(&args, &RuleSet::builtin()).unwrap()
    }

    #[test]
    fn actor_matches_user_then_impersonated_and_prefixes() {
        let e = ev("alice", Some("system:serviceaccount:kube-system:admin"), None, None);
        assert_eq!(actor_matches("alice", &e), Some(ActorMatch::User));
        assert_eq!(actor_matches("system:serviceaccount:kube-system:admin", &e), Some(ActorMatch::Impersonated));
        assert_eq!(actor_matches("system:serviceaccount:*", &e), Some(ActorMatch::Impersonated));
        assert_eq!(actor_matches("ali*", &e), Some(ActorMatch::User));
        assert_eq!(actor_matches("alic", &e), None);
        assert_eq!(actor_matches("bob", &ev("bob2", None, None, None)), None);
    }

    #[test]
    fn time_window_is_half_open_and_untimed_events_fail_it() {
        let f = filter(FilterArgs {
            time: TimeArgs {
                since: Some("2024-01-01T00:00:00Z".into()),
                until: Some("2024-01-02T00:00:00+00:00".into()),
            },
            ..FilterArgs::default()
        });
        assert!(f.event_matches(&ev("a", None, None, Some("2024-01-01T00:00:00Z"))));
        assert!(f.event_matches(&ev("a", None, None, Some("2024-01-01T23:59:59.999999Z"))));
        assert!(!f.event_matches(&ev("a", None, None, Some("2024-01-02T00:00:00Z"))));
        assert!(!f.event_matches(&ev("a", None, None, Some("2023-12-31T23:59:59Z"))));
        assert!(!f.event_matches(&ev("a", None, None, None)));
        // Offsets are honoured: 01:30+02:00 is 23:30Z the day before.
        assert!(!f.event_matches(&ev("a", None, None, Some("2024-01-01T01:30:00+02:00"))));
    }

    #[test]
    fn namespace_and_rule_filters() {
        let set = RuleSet::builtin();
        let f = filter(FilterArgs {
            namespace: vec!["prod".into()],
            rule: vec!["impersonation".into()],
            ..FilterArgs::default()
        });
        let imp = set.find("impersonation").unwrap() as u32;
        let mut det = Detections::default();
        assert!(!f.keep(&ev("a", None, Some("prod"), None), &det), "no selected hit");
        det.hits.push(imp);
        assert!(f.keep(&ev("a", None, Some("prod"), None), &det));
        assert!(!f.keep(&ev("a", None, Some("dev"), None), &det));
        assert!(!f.keep(&ev("a", None, None, None), &det), "cluster-scoped object has no namespace");
        assert!(f.rule_selected(imp));
        assert!(!f.rule_selected(imp + 1));
    }

    #[test]
    fn bad_flags_are_errors_naming_the_flag() {
        let set = RuleSet::builtin();
        let e = Filter::new(
            &FilterArgs { time: TimeArgs { since: Some("yesterday".into()), until: None }, ..FilterArgs::default() },
            &set,
        )
        .unwrap_err();
        assert!(e.contains("--since \"yesterday\""), "{e}");
        let e = Filter::new(&FilterArgs { rule: vec!["no-such".into()], ..FilterArgs::default() }, &set).unwrap_err();
        assert!(e.contains("--rule \"no-such\""), "{e}");
        let e = Filter::new(
            &FilterArgs {
                time: TimeArgs {
                    since: Some("2024-01-02T00:00:00Z".into()),
                    until: Some("2024-01-01T00:00:00Z".into()),
                },
                ..FilterArgs::default()
            },
            &set,
        )
        .unwrap_err();
        assert!(e.contains("not before"), "{e}");
        assert!(filter(FilterArgs::default()).describe(&FilterArgs::default()).is_empty());
    }
}
