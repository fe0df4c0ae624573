//! The forensic summary of a scan: detections by severity and by rule, top
//! actors, time range, sources and clusters seen, blind rules and why,
//! detections per hour, and the (bounded) list of hits for the report.
//!
//! It is fed one reported event at a time (after the filters) and keeps
//! bounded memory: at most [`MAX_ACTORS`] actors, [`MAX_CLUSTERS`] clusters,
//! and the earliest `max_hits` hits; everything beyond is counted.

use std::collections::{BTreeMap, BinaryHeap, HashMap};

use kaudit_core::rules::state::{event_time, utc_parts, Micros};
use kaudit_core::rules::{Detections, RuleSet, Severity};
use kaudit_core::{AuditEvent, Stats};

use crate::filter::Filter;
use crate::table;

/// Distinct actors tracked; events of further actors are counted apart.
pub const MAX_ACTORS: usize = 100_000;
/// Distinct clusters tracked.
pub const MAX_CLUSTERS: usize = 10_000;

/// Severities from the most to the least severe (display order).
pub const SEVERITIES: [Severity; 5] =
    [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Info];

/// Index of a severity in per-severity arrays (`Info` = 0 … `Critical` = 4).
pub fn sev_index(s: Severity) -> usize {
    s as usize
}

/// Microseconds in an hour.
pub const HOUR: Micros = 3_600_000_000;

/// Format microseconds since the epoch as RFC 3339 UTC
/// (`2018-10-26T13:38:34.867116Z`; fraction only when non-zero).
pub fn rfc3339(t: Micros) -> String {
    let (y, m, d, h, mi, s, frac) = utc_parts(t);
    if frac == 0 {
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    } else {
        let f = format!("{frac:06}");
        format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{}Z", f.trim_end_matches('0'))
    }
}

/// First and last time seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub first: Option<Micros>,
    pub last: Option<Micros>,
}

impl Span {
    pub fn add(&mut self, t: Micros) {
        self.first = Some(self.first.map_or(t, |f| f.min(t)));
        self.last = Some(self.last.map_or(t, |l| l.max(t)));
    }

    fn cells(&self) -> [String; 2] {
        [self.first.map(rfc3339).unwrap_or_default(), self.last.map(rfc3339).unwrap_or_default()]
    }
}

/// Per rule.
#[derive(Clone, Debug, Default)]
pub struct RuleRow {
    pub hits: u64,
    pub span: Span,
    pub example_actor: Option<String>,
}

/// Per actor (`user.username`).
#[derive(Clone, Debug, Default)]
pub struct ActorRow {
    pub events: u64,
    pub hits: u64,
    pub worst: Option<Severity>,
    /// Distinct rules that fired on this actor's events.
    pub rules: Vec<u32>,
}

/// Per source id.
#[derive(Clone, Debug, Default)]
pub struct SourceRow {
    pub events: u64,
    pub hits: u64,
    pub span: Span,
}

/// One hit (an event on which a rule fired), for the report's list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub time: Option<Micros>,
    /// Input order, to keep the list stable.
    pub seq: u64,
    pub rule: u32,
    pub actor: String,
    pub verb: String,
    /// `namespace/resource/name` (with subresource), else the request URI.
    pub target: String,
    pub code: Option<i64>,
    pub source: &'static str,
    pub source_ip: String,
    pub user_agent: String,
}

impl Hit {
    fn key(&self) -> (Micros, u64) {
        (self.time.unwrap_or(Micros::MAX), self.seq)
    }
}

impl Ord for Hit {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.key().cmp(&o.key()).then(self.rule.cmp(&o.rule))
    }
}

impl PartialOrd for Hit {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}

/// What an event did to what: `ns/resource/name[/sub]`, else the URI.
pub fn target(ev: &AuditEvent<'_>) -> String {
    match &ev.object_ref {
        Some(o) if o.resource.is_some() => {
            let mut t = String::new();
            if let Some(ns) = o.namespace.as_deref() {
                t.push_str(ns);
                t.push('/');
            }
            t.push_str(o.resource.as_deref().unwrap_or(""));
            if let Some(n) = o.name.as_deref() {
                t.push('/');
                t.push_str(n);
            }
            if let Some(s) = o.subresource.as_deref() {
                t.push('/');
                t.push_str(s);
            }
            t
        }
        _ => ev.request_uri.as_deref().unwrap_or("").to_owned(),
    }
}

/// The accumulated summary.
pub struct Summary<'r> {
    rules: &'r RuleSet,
    /// Reported events (those that passed the filters).
    pub events: u64,
    /// Reported events without a readable time.
    pub untimed: u64,
    pub span: Span,
    /// Hits per severity, indexed by [`sev_index`].
    pub by_severity: [u64; 5],
    /// Indexed like `RuleSet::rules()`.
    pub by_rule: Vec<RuleRow>,
    pub actors: HashMap<String, ActorRow>,
    /// Events of actors beyond [`MAX_ACTORS`].
    pub actors_untracked: u64,
    pub sources: BTreeMap<&'static str, SourceRow>,
    /// Events per cluster (`provider/name`), where the record names one.
    pub clusters: BTreeMap<String, u64>,
    /// Blind evaluations per (rule, source, missing field).
    pub blind: BTreeMap<(u32, &'static str, &'static str), u64>,
    /// Hits per hour (start of the hour, µs) and severity.
    pub per_hour: BTreeMap<Micros, [u64; 5]>,
    /// Hits on events without a readable time (not in `per_hour`).
    pub untimed_hits: u64,
    /// All hits reported (the list keeps the earliest `max_hits`).
    pub hits_total: u64,
    max_hits: usize,
    hits: BinaryHeap<Hit>,
    seq: u64,
}

impl<'r> Summary<'r> {
    /// `max_hits`: how many hits to keep for the hit list (0: none).
    pub fn new(rules: &'r RuleSet, max_hits: usize) -> Self {
        Summary {
            rules,
            events: 0,
            untimed: 0,
            span: Span::default(),
            by_severity: [0; 5],
            by_rule: vec![RuleRow::default(); rules.rules().len()],
            actors: HashMap::new(),
            actors_untracked: 0,
            sources: BTreeMap::new(),
            clusters: BTreeMap::new(),
            blind: BTreeMap::new(),
            per_hour: BTreeMap::new(),
            untimed_hits: 0,
            hits_total: 0,
            max_hits,
            hits: BinaryHeap::new(),
            seq: 0,
        }
    }

    pub fn rules(&self) -> &'r RuleSet {
        self.rules
    }

    /// Account one reported event; only the hits and blind results of rules
    /// the filter selects count.
    pub fn add(&mut self, ev: &AuditEvent<'_>, det: &Detections, filter: &Filter) {
        self.seq += 1;
        self.events += 1;
        let t = event_time(ev);
        match t {
            Some(t) => self.span.add(t),
            None => self.untimed += 1,
        }
        let src = ev.source_id();
        let srow = self.sources.entry(src).or_default();
        srow.events += 1;
        if let Some(t) = t {
            srow.span.add(t);
        }
        if let Some(name) = ev.cluster.name.as_deref() {
            let key = format!("{}/{}", ev.cluster.provider.id(), name);
            if let Some(n) = self.clusters.get_mut(&key) {
                *n += 1;
            } else if self.clusters.len() < MAX_CLUSTERS {
                self.clusters.insert(key, 1);
            }
        }
        for &(i, f) in &det.blind {
            if filter.rule_selected(i) {
                *self.blind.entry((i, src, f.path())).or_default() += 1;
            }
        }
        let actor = ev.username().unwrap_or("(no user)");
        let tracked = if let Some(a) = self.actors.get_mut(actor) {
            a.events += 1;
            true
        } else if self.actors.len() < MAX_ACTORS {
            self.actors.insert(actor.to_owned(), ActorRow { events: 1, ..ActorRow::default() });
            true
        } else {
            self.actors_untracked += 1;
            false
        };
        self.add_hits(ev, det, filter, t, tracked.then_some(actor));
    }

    fn add_hits(
        &mut self,
        ev: &AuditEvent<'_>,
        det: &Detections,
        filter: &Filter,
        t: Option<Micros>,
        actor: Option<&str>,
    ) {
        for &i in det.hits.iter().filter(|&&i| filter.rule_selected(i)) {
            let sev = self.rules.rules()[i as usize].severity;
            self.hits_total += 1;
            self.by_severity[sev_index(sev)] += 1;
            self.sources.entry(ev.source_id()).or_default().hits += 1;
            let r = &mut self.by_rule[i as usize];
            r.hits += 1;
            if let Some(t) = t {
                r.span.add(t);
                self.per_hour.entry(t.div_euclid(HOUR) * HOUR).or_default()[sev_index(sev)] += 1;
            } else {
                self.untimed_hits += 1;
            }
            if r.example_actor.is_none() {
                r.example_actor = ev.username().map(str::to_owned);
            }
            if let Some(a) = actor.and_then(|a| self.actors.get_mut(a)) {
                a.hits += 1;
                a.worst = Some(a.worst.map_or(sev, |w| w.max(sev)));
                if !a.rules.contains(&i) {
                    a.rules.push(i);
                }
            }
            if self.max_hits > 0 {
                self.keep_hit(ev, t, i);
            }
        }
    }

    fn keep_hit(&mut self, ev: &AuditEvent<'_>, time: Option<Micros>, rule: u32) {
        let key = (time.unwrap_or(Micros::MAX), self.seq);
        if self.hits.len() >= self.max_hits && self.hits.peek().is_some_and(|h| h.key() <= key) {
            return;
        }
        self.hits.push(Hit {
            time,
            seq: self.seq,
            rule,
            actor: ev.username().unwrap_or("").to_owned(),
            verb: ev.verb.as_deref().unwrap_or("").to_owned(),
            target: target(ev),
            code: ev.code(),
            source: ev.source_id(),
            source_ip: ev.source_ips.as_ref().and_then(|v| v.first()).map(|s| s.to_string()).unwrap_or_default(),
            user_agent: ev.user_agent.as_deref().unwrap_or("").to_owned(),
        });
        if self.hits.len() > self.max_hits {
            self.hits.pop();
        }
    }

    /// The kept hits, earliest first (untimed last).
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.clone().into_sorted_vec()
    }

    /// Rules with hits, most severe first, then by count.
    pub fn rules_hit(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.by_rule.len()).filter(|&i| self.by_rule[i].hits > 0).collect();
        let rs = self.rules.rules();
        order.sort_by_key(|&i| (std::cmp::Reverse(rs[i].severity), std::cmp::Reverse(self.by_rule[i].hits), i));
        order
    }

    /// The `n` actors with the most hits (then the most events).
    pub fn top_actors(&self, n: usize) -> Vec<(&str, &ActorRow)> {
        let mut v: Vec<(&str, &ActorRow)> = self.actors.iter().map(|(k, a)| (k.as_str(), a)).collect();
        v.sort_by(|a, b| b.1.hits.cmp(&a.1.hits).then(b.1.events.cmp(&a.1.events)).then(a.0.cmp(b.0)));
        v.truncate(n);
        v
    }

    /// The plain-text summary for `kaudit scan`.
    pub fn render_text(&self, stats: &Stats, filters: &str, top: usize) -> String {
        let mut out = String::new();
        let t = stats.total();
        out.push_str(&format!(
            "scanned {} records ({} bytes): {} events, {} skipped, {} errors\n",
            stats.inputs, stats.bytes, t.events, t.skipped, t.errors
        ));
        if !filters.is_empty() {
            out.push_str(&format!("filters: {filters}: {} of {} events reported\n", self.events, t.events));
        }
        match (self.span.first, self.span.last) {
            (Some(f), Some(l)) => out.push_str(&format!("time range: {} .. {}", rfc3339(f), rfc3339(l))),
            _ => out.push_str("time range: none (no event has a readable time)"),
        }
        if self.untimed > 0 {
            out.push_str(&format!(" ({} events without a readable time)", self.untimed));
        }
        out.push('\n');

        out.push_str(&format!("\ndetections by severity ({} in all):\n", self.hits_total));
        let sev_rows: Vec<Vec<String>> =
            SEVERITIES.iter().map(|s| vec![s.as_str().into(), self.by_severity[sev_index(*s)].to_string()]).collect();
        out.push_str(&table::render(&["severity", "detections"], &sev_rows));

        let rs = self.rules.rules();
        let rows: Vec<Vec<String>> = self
            .rules_hit()
            .into_iter()
            .map(|i| {
                let (r, s) = (&rs[i], &self.by_rule[i]);
                let [first, last] = s.span.cells();
                vec![
                    r.id.clone(),
                    r.severity.as_str().into(),
                    s.hits.to_string(),
                    first,
                    last,
                    s.example_actor.clone().unwrap_or_default(),
                ]
            })
            .collect();
        out.push_str("\ndetections by rule:\n");
        if rows.is_empty() {
            out.push_str("no detections\n");
        } else {
            out.push_str(&table::render(&["rule", "severity", "count", "first", "last", "example actor"], &rows));
        }

        let actors: Vec<Vec<String>> = self
            .top_actors(top)
            .into_iter()
            .map(|(name, a)| {
                vec![
                    name.to_owned(),
                    a.hits.to_string(),
                    a.worst.map(|s| s.as_str()).unwrap_or("-").into(),
                    a.rules.len().to_string(),
                    a.events.to_string(),
                ]
            })
            .collect();
        if !actors.is_empty() {
            out.push_str(&format!("\ntop actors (of {}):\n", self.actors.len()));
            out.push_str(&table::render(&["actor", "detections", "worst", "rules", "events"], &actors));
            if self.actors_untracked > 0 {
                out.push_str(&format!(
                    "({} events by actors beyond the first {MAX_ACTORS} are not broken down)\n",
                    self.actors_untracked
                ));
            }
        }

        let sources: Vec<Vec<String>> = self
            .sources
            .iter()
            .map(|(id, s)| {
                let [first, last] = s.span.cells();
                vec![id.to_string(), s.events.to_string(), s.hits.to_string(), first, last]
            })
            .collect();
        if !sources.is_empty() {
            out.push_str("\nsources seen:\n");
            out.push_str(&table::render(&["source", "events", "detections", "first", "last"], &sources));
        }
        if !self.clusters.is_empty() {
            let rows: Vec<Vec<String>> = self.clusters.iter().map(|(c, n)| vec![c.clone(), n.to_string()]).collect();
            out.push_str("\nclusters seen:\n");
            out.push_str(&table::render(&["cluster", "events"], &rows));
        }

        let blind: Vec<Vec<String>> = self
            .blind
            .iter()
            .map(|((i, src, field), n)| {
                vec![rs[*i as usize].id.clone(), src.to_string(), field.to_string(), n.to_string()]
            })
            .collect();
        if !blind.is_empty() {
            out.push_str("\nblind (the source cannot provide a field the rule needs):\n");
            out.push_str(&table::render(&["rule", "source", "missing field", "events"], &blind));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaudit_core::rules::state::parse_time;

    #[test]
    fn rfc3339_round_trips_through_the_core_parser() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2018-10-26T13:38:34.867116Z",
            "2024-02-29T23:59:59.5Z",
            "2000-03-01T00:00:00Z",
            "1969-12-31T23:59:59.999999Z",
            "2100-12-31T12:00:00Z",
        ] {
            let t = parse_time(s).unwrap();
            assert_eq!(rfc3339(t), s);
        }
        assert_eq!(rfc3339(parse_time("2024-01-01T01:00:00+01:00").unwrap()), "2024-01-01T00:00:00Z");
    }

    #[test]
    fn span_keeps_min_and_max() {
        let mut s = Span::default();
        for t in [5, 3, 9, 4] {
            s.add(t);
        }
        assert_eq!((s.first, s.last), (Some(3), Some(9)));
    }
}
