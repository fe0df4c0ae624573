//! Stateful rules: sliding windows, ordered two-step sequences, suppression.
//!
//! State is keyed per rule by the values of 1–4 `by` fields and bounded: each
//! rule keeps at most `max_keys` keys, evicting the least recently used, and
//! each key holds at most `threshold` entries. Time is the event's own
//! (`stageTimestamp`, else `requestReceivedTimestamp`), never the wall clock,
//! so a replayed log gives the same answers as the live stream.

use std::hash::{BuildHasher, Hash, Hasher};

use hashlink::LinkedHashMap;

use super::eval::{Got, View};
use super::fields::FieldRef;
use crate::event::{AuditEvent, Field};

/// Microseconds since the Unix epoch.
pub type Micros = i64;

/// Parse an RFC 3339 time (`2018-10-26T13:38:34.867116Z`, `+02:00` offsets),
/// also with a space for `T` and no zone (read as UTC), as Panther writes it.
pub fn parse_time(s: &str) -> Option<Micros> {
    let b = s.trim().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let d = b.get(r)?;
        let mut n: i64 = 0;
        for &c in d {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i64::from(c - b'0');
        }
        Some(n)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac: i64 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let mut digits = 0;
        while let Some(c) = b.get(i).filter(|c| c.is_ascii_digit()) {
            if digits < 6 {
                frac = frac * 10 + i64::from(c - b'0');
                digits += 1;
            }
            i += 1;
        }
        while digits < 6 {
            frac *= 10;
            digits += 1;
        }
    }
    let offset_min: i64 = match b.get(i) {
        None | Some(b'Z' | b'z') => 0,
        Some(sign @ (b'+' | b'-')) => {
            let oh = num(i + 1..i + 3)?;
            let om = num(i + 4..i + 6)?;
            let o = oh * 60 + om;
            if *sign == b'-' {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1_000_000 + frac)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day count since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`); the inverse of [`days_from_civil`].
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Microseconds since the epoch as UTC date and time of day:
/// `(year, month, day, hour, minute, second, microsecond)`.
pub fn utc_parts(t: Micros) -> (i64, i64, i64, i64, i64, i64, i64) {
    let secs = t.div_euclid(1_000_000);
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    (y, m, d, sod / 3600, sod % 3600 / 60, sod % 60, t.rem_euclid(1_000_000))
}

/// Parse a duration: `90s`, `5m`, `1h`, `7d` (an integer and a unit).
pub fn parse_duration(s: &str) -> Option<Micros> {
    let s = s.trim();
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: i64 = n.parse().ok()?;
    let mult: i64 = match unit {
        "ms" => 1_000,
        "s" => 1_000_000,
        "m" => 60_000_000,
        "h" => 3_600_000_000,
        "d" => 86_400_000_000,
        _ => return None,
    };
    n.checked_mul(mult).filter(|d| *d > 0)
}

/// The event's time, for stateful rules.
pub fn event_time(ev: &AuditEvent<'_>) -> Option<Micros> {
    ev.stage_timestamp
        .as_deref()
        .and_then(parse_time)
        .or_else(|| ev.request_received_timestamp.as_deref().and_then(parse_time))
}

/// What a stateful rule counts.
#[derive(Debug)]
pub enum Kind {
    /// Fire when `threshold` matching events (or distinct values of
    /// `distinct`) fall within `within` for one key.
    Window { threshold: usize, distinct: Option<FieldRef> },
    /// Fire when an event matching the rule's condition follows, within
    /// `within`, an event matching `first` for the same key.
    Sequence { first: super::eval::Expr },
}

/// The stateful part of a rule.
#[derive(Debug)]
pub struct Spec {
    pub by: Vec<FieldRef>,
    pub within: Micros,
    /// After firing for a key, stay quiet for that key this long.
    pub suppress: Micros,
    pub kind: Kind,
}

/// Bounds on stateful memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateLimits {
    /// Keys kept per stateful rule; the least recently used is evicted.
    pub max_keys: usize,
}

impl Default for StateLimits {
    fn default() -> Self {
        StateLimits { max_keys: 100_000 }
    }
}

#[derive(Debug, Default)]
struct Entry {
    /// Window: times (and value hashes for `distinct`) of recent matches,
    /// oldest first, at most `threshold` of them. Sequence: the last step-1 time.
    times: Vec<(Micros, u64)>,
    quiet_until: Micros,
}

/// The state of one stateful rule.
#[derive(Debug, Default)]
pub struct RuleState {
    keys: LinkedHashMap<u64, Entry>,
    /// Keys evicted to stay under the cap.
    pub evicted: u64,
}

/// Bytes a key costs in the map besides its entries: the key, the entry
/// header, and the linked hash map's node links and table slot.
const PER_KEY: usize = std::mem::size_of::<(u64, Entry)>() + 4 * std::mem::size_of::<usize>();

impl RuleState {
    /// Approximate heap bytes held.
    pub fn bytes(&self) -> usize {
        self.keys.len() * PER_KEY + self.keys.values().map(|e| e.times.capacity() * 16).sum::<usize>()
    }

    /// The most bytes this rule's state can hold under `limits`.
    pub fn cap_bytes(spec: &Spec, limits: StateLimits) -> usize {
        // A window keeps at most `threshold` entries per key (plus one
        // transient push, and Vec growth may double capacity); a sequence one.
        let per_entry = match &spec.kind {
            Kind::Window { threshold, .. } => (threshold + 1).next_power_of_two().max(4),
            Kind::Sequence { .. } => 4,
        };
        limits.max_keys.max(1) * (PER_KEY + per_entry * 16)
    }

    /// Keys held.
    pub fn keys(&self) -> usize {
        self.keys.len()
    }

    fn entry(&mut self, key: u64, limits: StateLimits) -> &mut Entry {
        use hashlink::linked_hash_map::Entry as Slot;
        // Only a full map has to make room (one hash lookup fewer on most
        // events).
        if self.keys.len() >= limits.max_keys.max(1) && !self.keys.contains_key(&key) {
            while self.keys.len() >= limits.max_keys.max(1) {
                self.keys.pop_front();
                self.evicted += 1;
            }
        }
        match self.keys.entry(key) {
            Slot::Occupied(mut o) => {
                o.to_back();
                o.into_mut()
            }
            Slot::Vacant(v) => v.insert(Entry::default()),
        }
    }
}

/// A fixed-seed hasher so keys hash identically across runs and hosts.
fn hasher() -> std::hash::DefaultHasher {
    std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default().build_hasher()
}

/// The result of a stateful step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Fire,
    Quiet,
    Blind(Field),
}

/// What one event asks of a stateful rule's state, once its condition has
/// been evaluated: reading it needs the event only ([`prepare`]), answering
/// it the state only ([`apply`]). Hosts that decode in parallel prepare
/// steps on many threads and apply them in input order on one
/// ([`super::replay`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prepared {
    /// A sequence's first step matched: remember `(key, time)`.
    pub record: Option<(u64, Micros)>,
    pub ask: Ask,
}

/// The question a [`Prepared`] step asks of the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ask {
    /// The outcome is known without the state (quiet, or blind).
    Known(Step),
    /// A window: one more match under `key` at `now` (`value`: the hash of
    /// the `distinct` field, 0 without one).
    Window { key: u64, now: Micros, value: u64 },
    /// A sequence's second step under `key` at `now`.
    Sequence { key: u64, now: Micros },
}

impl Prepared {
    const QUIET: Prepared = Prepared { record: None, ask: Ask::Known(Step::Quiet) };

    /// Whether applying it reads or changes the state.
    pub fn touches_state(&self) -> bool {
        self.record.is_some() || !matches!(self.ask, Ask::Known(_))
    }
}

fn hash_val(v: &super::eval::Val<'_>, h: &mut impl Hasher) {
    match v {
        super::eval::Val::Str(s) => s.as_ref().hash(h),
        super::eval::Val::Num(n) => n.to_bits().hash(h),
        super::eval::Val::Bool(b) => b.hash(h),
        super::eval::Val::Json(v) => v.to_string().hash(h),
        super::eval::Val::Raw(r) => r.canonical().hash(h),
    }
}

fn key_of(spec: &Spec, view: &View<'_, '_>) -> Result<u64, Field> {
    let mut h = hasher();
    for f in &spec.by {
        match view.get(f) {
            Got::Blind(m) => return Err(m),
            Got::Absent => 0u8.hash(&mut h),
            Got::One(v) => {
                1u8.hash(&mut h);
                hash_val(&v, &mut h);
            }
            Got::Many(vs) => {
                2u8.hash(&mut h);
                vs.iter().for_each(|v| hash_val(v, &mut h));
            }
            Got::Strs(vs) => {
                2u8.hash(&mut h);
                vs.iter().for_each(|v| v.as_str().hash(&mut h));
            }
            Got::Owned(vs) => {
                2u8.hash(&mut h);
                vs.iter().for_each(|v| v.hash(&mut h));
            }
        }
    }
    Ok(h.finish())
}

/// Feed one event that matched the rule's condition (`matched`) or not.
/// `first_possible` is false when the index knows a sequence's first step
/// is false on this event (it is then not evaluated).
pub fn step(
    spec: &Spec,
    st: &mut RuleState,
    limits: StateLimits,
    view: &View<'_, '_>,
    matched: super::eval::Tri,
    first_possible: bool,
) -> Step {
    apply(spec, st, limits, &prepare(spec, view, matched, first_possible))
}

/// Read what the event asks of the rule's state (no state involved).
pub fn prepare(spec: &Spec, view: &View<'_, '_>, matched: super::eval::Tri, first_possible: bool) -> Prepared {
    use super::eval::Tri;
    // Most events match neither step: decide that before reading the time.
    let first = match &spec.kind {
        Kind::Sequence { first } if first_possible => first.eval(view),
        Kind::Sequence { .. } | Kind::Window { .. } => Tri::False,
    };
    let first_matches = first == Tri::True;
    if matched == Tri::False && !first_matches {
        // A first step that ran out of match budget might have matched:
        // say so rather than lose it quietly.
        if first == Tri::Blind(Field::MatchBudget) {
            return Prepared { record: None, ask: Ask::Known(Step::Blind(Field::MatchBudget)) };
        }
        return Prepared::QUIET;
    }
    let Some(now) = view.time() else {
        let ask = match matched {
            Tri::False => Ask::Known(Step::Quiet),
            _ => Ask::Known(Step::Blind(Field::StageTimestamp)),
        };
        return Prepared { record: None, ask };
    };
    let ask = |a| Prepared { record: None, ask: a };
    match &spec.kind {
        Kind::Sequence { .. } => {
            // Step 1 records the key's time; step 2 fires if step 1 is recent.
            let record = if first_matches { key_of(spec, view).ok().map(|k| (k, now)) } else { None };
            let ask = match matched {
                Tri::False => Ask::Known(Step::Quiet),
                Tri::Blind(f) => Ask::Known(Step::Blind(f)),
                Tri::True => match key_of(spec, view) {
                    Ok(key) => Ask::Sequence { key, now },
                    Err(f) => Ask::Known(Step::Blind(f)),
                },
            };
            Prepared { record, ask }
        }
        Kind::Window { distinct, .. } => {
            match matched {
                Tri::False => return Prepared::QUIET,
                Tri::Blind(f) => return ask(Ask::Known(Step::Blind(f))),
                Tri::True => {}
            }
            let key = match key_of(spec, view) {
                Ok(k) => k,
                Err(f) => return ask(Ask::Known(Step::Blind(f))),
            };
            let value = match distinct {
                None => 0,
                Some(f) => match view.get(f) {
                    Got::Blind(m) => return ask(Ask::Known(Step::Blind(m))),
                    Got::Absent => return Prepared::QUIET,
                    Got::One(v) => {
                        let mut h = hasher();
                        hash_val(&v, &mut h);
                        h.finish()
                    }
                    v => {
                        let mut h = hasher();
                        format!("{v:?}").hash(&mut h);
                        h.finish()
                    }
                },
            };
            ask(Ask::Window { key, now, value })
        }
    }
}

/// Answer a prepared step from the rule's state, updating it.
pub fn apply(spec: &Spec, st: &mut RuleState, limits: StateLimits, p: &Prepared) -> Step {
    if let Some((key, now)) = p.record {
        let e = st.entry(key, limits);
        e.times.clear();
        e.times.push((now, 0));
    }
    match p.ask {
        Ask::Known(s) => s,
        Ask::Sequence { key, now } => {
            let Some(e) = st.keys.get_mut(&key) else { return Step::Quiet };
            let hit = e.times.first().is_some_and(|(t, _)| now >= *t && now - *t <= spec.within);
            if hit && now >= e.quiet_until {
                e.quiet_until = now.saturating_add(spec.suppress);
                e.times.clear();
                Step::Fire
            } else {
                Step::Quiet
            }
        }
        Ask::Window { key, now, value } => {
            let (threshold, distinct) = match &spec.kind {
                Kind::Window { threshold, distinct } => ((*threshold).max(1), distinct.is_some()),
                // A window question comes from a window rule.
                Kind::Sequence { .. } => return Step::Quiet,
            };
            let e = st.entry(key, limits);
            // Slide: drop what fell out of the window.
            e.times.retain(|(t, _)| now - *t <= spec.within && *t <= now + spec.within);
            if distinct {
                if let Some(slot) = e.times.iter_mut().find(|(_, v)| *v == value) {
                    slot.0 = slot.0.max(now);
                } else {
                    e.times.push((now, value));
                }
            } else {
                e.times.push((now, value));
            }
            if e.times.len() > threshold {
                e.times.sort_by_key(|(t, _)| *t);
                let excess = e.times.len() - threshold;
                e.times.drain(..excess);
            }
            if e.times.len() >= threshold && now >= e.quiet_until {
                e.quiet_until = now.saturating_add(spec.suppress);
                e.times.clear();
                Step::Fire
            } else {
                Step::Quiet
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trip() {
        for days in [-719_468, -1, 0, 59, 11_016, 19_782, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        let t = parse_time("2024-12-31T23:59:58.5Z").unwrap();
        assert_eq!(utc_parts(t), (2024, 12, 31, 23, 59, 58, 500_000));
        assert_eq!(utc_parts(-1), (1969, 12, 31, 23, 59, 59, 999_999));
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Some(1_500_000));
        assert_eq!(parse_time("2018-10-26T13:38:34.867116Z"), Some(1_540_561_114_867_116));
        assert_eq!(parse_time("2018-10-26T15:38:34.867116+02:00"), parse_time("2018-10-26T13:38:34.867116Z"));
        assert_eq!(parse_time("2024-11-13 18:34:10.595141000"), parse_time("2024-11-13T18:34:10.595141Z"));
        assert_eq!(parse_time("2024-02-30X00:00:00Z"), None);
        assert_eq!(parse_time("garbage"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30m"), Some(1_800_000_000));
        assert_eq!(parse_duration("5s"), Some(5_000_000));
        assert_eq!(parse_duration("7d"), Some(604_800_000_000));
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("0s"), None);
        assert_eq!(parse_duration("99999999999999999d"), None);
    }
}
