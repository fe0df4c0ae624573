//! Events per minute of event time, bounded, and the gaps in them.
//!
//! [`MinuteCounts`] keeps a count per calendar minute (UTC, of the event's own
//! time) for at most `cap` distinct minutes: when a new minute would exceed
//! the cap, the oldest minute is dropped (its events are counted in
//! [`MinuteCounts::dropped`]), and an event older than every kept minute of a
//! full map is counted there too. Memory is at most `cap` map entries.
//!
//! ## Gaps
//!
//! The *span* is the kept minutes from the first to the last non-empty one.
//! A **gap** is a maximal run of `L ≥ 1` consecutive empty minutes inside the
//! span. It is **significant** when both
//!
//! * `L > max_gap_minutes`, and
//! * the stream's mean rate over its span would have put at least
//!   `min_expected` events into it: `N × L / S ≥ min_expected`, with `N` the
//!   events kept and `S` the span in minutes (the run included, so the
//!   expectation never exceeds `N`: a stream of fewer than `min_expected`
//!   events has no gaps).
//!
//! The second condition is what "minutes with no events where the rest of the
//! stream has them" means: a busy apiserver emits events every second, so a
//! silent quarter of an hour is a hole in delivery; a sparse sample file with
//! a handful of events over a day has empty minutes everywhere and no gap.

use std::collections::BTreeMap;

/// A run of empty minutes.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Gap {
    /// The first empty minute (minutes since the Unix epoch).
    pub start_minute: i64,
    /// Empty minutes in the run.
    pub minutes: i64,
    /// Events the stream's mean rate over its span would have put into it.
    pub expected_events: f64,
}

/// See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinuteCounts {
    map: BTreeMap<i64, u64>,
    cap: usize,
    kept: u64,
    dropped: u64,
}

impl MinuteCounts {
    /// At most `cap` distinct minutes (at least 1).
    pub fn new(cap: usize) -> Self {
        MinuteCounts { map: BTreeMap::new(), cap: cap.max(1), kept: 0, dropped: 0 }
    }

    /// Count one event in `minute`.
    pub fn add(&mut self, minute: i64) {
        self.add_n(minute, 1);
    }

    fn add_n(&mut self, minute: i64, n: u64) {
        if self.map.len() >= self.cap && !self.map.contains_key(&minute) {
            if self.map.first_key_value().is_some_and(|(&first, _)| minute < first) {
                self.dropped += n;
                return;
            }
            if let Some((_, c)) = self.map.pop_first() {
                self.kept -= c;
                self.dropped += c;
            }
        }
        *self.map.entry(minute).or_insert(0) += n;
        self.kept += n;
    }

    /// Take back one event counted in `minute` (a time found to be an outlier).
    pub fn remove(&mut self, minute: i64) {
        if let Some(c) = self.map.get_mut(&minute) {
            *c -= 1;
            self.kept -= 1;
            if *c == 0 {
                self.map.remove(&minute);
            }
        }
    }

    /// Events counted in kept minutes.
    pub fn kept(&self) -> u64 {
        self.kept
    }

    /// Events outside the kept minutes (dropped for the cap, or too old).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Non-empty minutes kept.
    pub fn active_minutes(&self) -> usize {
        self.map.len()
    }

    /// First and last non-empty minute kept.
    pub fn span(&self) -> Option<(i64, i64)> {
        Some((*self.map.first_key_value()?.0, *self.map.last_key_value()?.0))
    }

    /// The largest count in one minute.
    pub fn max_per_minute(&self) -> u64 {
        self.map.values().copied().max().unwrap_or(0)
    }

    /// The (minute, count) pairs, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        self.map.iter().map(|(&m, &c)| (m, c))
    }

    /// Every run of empty minutes inside the span, oldest first, each with
    /// the events expected in it at the stream's mean rate.
    pub fn empty_runs(&self) -> Vec<Gap> {
        let Some((first, last)) = self.span() else { return Vec::new() };
        let span = last - first + 1;
        let n = self.kept as f64;
        let mut out = Vec::new();
        let mut prev: Option<i64> = None;
        for &m in self.map.keys() {
            if let Some(p) = prev {
                let len = m - p - 1;
                if len > 0 {
                    out.push(Gap { start_minute: p + 1, minutes: len, expected_events: n * len as f64 / span as f64 });
                }
            }
            prev = Some(m);
        }
        out
    }

    /// The significant gaps (module documentation), longest first.
    pub fn gaps(&self, max_gap_minutes: i64, min_expected: f64) -> Vec<Gap> {
        let mut g: Vec<Gap> = self
            .empty_runs()
            .into_iter()
            .filter(|g| g.minutes > max_gap_minutes && g.expected_events >= min_expected)
            .collect();
        g.sort_by(|a, b| b.minutes.cmp(&a.minutes).then(a.start_minute.cmp(&b.start_minute)));
        g
    }

    /// Fold another count in (then trim to the cap, oldest first).
    pub fn merge(&mut self, o: &MinuteCounts) {
        self.dropped += o.dropped;
        for (m, c) in o.iter() {
            self.add_n(m, c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(per_minute: &[(i64, u64)]) -> MinuteCounts {
        let mut m = MinuteCounts::new(10_000);
        for &(minute, n) in per_minute {
            for _ in 0..n {
                m.add(minute);
            }
        }
        m
    }

    #[test]
    fn a_silent_stretch_in_a_busy_stream_is_a_gap() {
        // 60 events/min for minutes 0..30 and 41..60; minutes 30..=40 empty.
        let mut pm: Vec<(i64, u64)> = (0..30).map(|m| (m, 60)).collect();
        pm.extend((41..60).map(|m| (m, 60)));
        let m = counts(&pm);
        let g = m.gaps(5, 10.0);
        assert_eq!(g.len(), 1);
        assert_eq!((g[0].start_minute, g[0].minutes), (30, 11));
        // 2940 events over a 60-minute span.
        assert!((g[0].expected_events - 2940.0 * 11.0 / 60.0).abs() < 1e-9);
        // The same run is not a gap under a 15-minute tolerance.
        assert!(m.gaps(15, 10.0).is_empty());
        // Exactly max_gap_minutes empty minutes are allowed.
        assert!(m.gaps(11, 10.0).is_empty());
        assert_eq!(m.gaps(10, 10.0).len(), 1);
    }

    #[test]
    fn empty_minutes_of_a_sparse_stream_are_not_gaps() {
        // One event every 20 minutes over ten hours: 30 events.
        let m = counts(&(0..30).map(|i| (i * 20, 1)).collect::<Vec<_>>());
        assert_eq!(m.empty_runs().len(), 29);
        assert!(m.gaps(5, 10.0).is_empty(), "{:?}", m.gaps(5, 10.0));
    }

    #[test]
    fn a_few_events_far_apart_are_not_a_gap() {
        // Two sample events two days apart: the whole span is one empty run,
        // but 5 events cannot be expected in it.
        let m = counts(&[(0, 3), (2880, 2)]);
        assert_eq!(m.empty_runs().len(), 1);
        assert!(m.gaps(5, 10.0).is_empty());
        // With enough events on both sides, the same run is a gap.
        let m = counts(&[(0, 500), (1, 500), (2880, 500)]);
        assert_eq!(m.gaps(5, 10.0)[0].minutes, 2878);
    }

    #[test]
    fn edges_of_the_span_are_not_gaps() {
        let m = counts(&[(100, 50), (101, 50)]);
        assert!(m.empty_runs().is_empty());
        assert!(counts(&[]).gaps(0, 0.0).is_empty());
        assert!(counts(&[(7, 3)]).empty_runs().is_empty());
    }

    #[test]
    fn bounded_by_cap_oldest_dropped() {
        let mut m = MinuteCounts::new(3);
        for minute in [10, 11, 12, 13, 9, 13] {
            m.add(minute);
        }
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![(11, 1), (12, 1), (13, 2)]);
        assert_eq!((m.kept(), m.dropped()), (4, 2));
        m.remove(13);
        m.remove(11);
        m.remove(99);
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![(12, 1), (13, 1)]);
        assert_eq!(m.kept(), 2);
    }

    #[test]
    fn merge_adds_and_trims() {
        let mut a = counts(&[(1, 2), (3, 1)]);
        let b = counts(&[(2, 1), (3, 4)]);
        a.merge(&b);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![(1, 2), (2, 1), (3, 5)]);
        assert_eq!(a.kept(), 8);
    }
}
