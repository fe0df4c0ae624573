//! An inline SVG bar chart of detections over time, stacked by severity,
//! for the HTML report. Pure string building: no assets, no script.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use kaudit_core::rules::state::Micros;

use crate::summary::{rfc3339, sev_index, HOUR, SEVERITIES};

/// Most bars drawn; beyond it buckets widen (hour → day → week → 30 days).
pub const MAX_BARS: usize = 800;

/// Colour per severity, indexed by [`sev_index`].
pub const COLORS: [&str; 5] = ["#78909c", "#1976d2", "#f9a825", "#e65100", "#b71c1c"];

/// One bar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    pub start: Micros,
    pub counts: [u64; 5],
}

/// The bars to draw and how the time axis reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bars {
    pub buckets: Vec<Bucket>,
    /// Bucket width.
    pub width: Micros,
    /// Every bucket from the first to the last is drawn (a true time axis);
    /// otherwise only buckets with detections are, side by side.
    pub continuous: bool,
}

fn width_name(w: Micros) -> &'static str {
    match w / HOUR {
        1 => "hour",
        24 => "day",
        168 => "week",
        _ => "30 days",
    }
}

/// Choose the bars for per-hour counts: hourly on a true time axis when the
/// span allows, else only the non-empty buckets of the narrowest width that
/// fits [`MAX_BARS`].
pub fn bars(per_hour: &BTreeMap<Micros, [u64; 5]>) -> Bars {
    let (Some((&first, _)), Some((&last, _))) = (per_hour.first_key_value(), per_hour.last_key_value()) else {
        return Bars { buckets: Vec::new(), width: HOUR, continuous: true };
    };
    let span_hours = (last - first) / HOUR + 1;
    if span_hours <= MAX_BARS as i64 {
        let buckets = (0..span_hours)
            .map(|k| {
                let start = first + k * HOUR;
                Bucket { start, counts: per_hour.get(&start).copied().unwrap_or_default() }
            })
            .collect();
        return Bars { buckets, width: HOUR, continuous: true };
    }
    let mut out = Vec::new();
    for width in [HOUR, 24 * HOUR, 168 * HOUR, 720 * HOUR] {
        let mut grouped: BTreeMap<Micros, [u64; 5]> = BTreeMap::new();
        for (t, c) in per_hour {
            let g = grouped.entry(t.div_euclid(width) * width).or_default();
            for (a, b) in g.iter_mut().zip(c) {
                *a += b;
            }
        }
        out = grouped.into_iter().map(|(start, counts)| Bucket { start, counts }).collect();
        if out.len() <= MAX_BARS || width == 720 * HOUR {
            return Bars { buckets: out, width, continuous: false };
        }
    }
    Bars { buckets: out, width: 720 * HOUR, continuous: false }
}

/// A one-line description of the axis, for the caption.
pub fn caption(b: &Bars) -> String {
    if b.continuous {
        format!("Detections per {}, stacked by severity.", width_name(b.width))
    } else {
        format!(
            "Detections per {}, stacked by severity. The detections span too long a time for one bar per hour: \
             only the {} {}s with detections are drawn, side by side (the gaps between them are not to scale).",
            width_name(b.width),
            b.buckets.len(),
            width_name(b.width)
        )
    }
}

/// The SVG element (no `xmlns`: it is inline in HTML, and the report names
/// no URL at all).
pub fn svg(b: &Bars) -> String {
    const W: f64 = 960.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 48.0;
    const BOTTOM: f64 = 36.0;
    const TOP: f64 = 12.0;
    let plot_w = W - LEFT - 8.0;
    let plot_h = H - BOTTOM - TOP;
    let max = b.buckets.iter().map(|k| k.counts.iter().sum::<u64>()).max().unwrap_or(0).max(1);
    let n = b.buckets.len().max(1) as f64;
    let slot = plot_w / n;
    let bar_w = (slot * 0.8).max(1.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="detections over time">"#
    );
    // Axes and gridlines at 0, half and max.
    let mut grid = vec![0, max / 2, max];
    grid.dedup();
    for v in grid {
        let y = TOP + plot_h * (1.0 - v as f64 / max as f64);
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ccc" stroke-width="1"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{v}</text>"##,
            W - 8.0,
            LEFT - 4.0,
            y + 4.0
        );
    }
    for (k, bucket) in b.buckets.iter().enumerate() {
        let x = LEFT + slot * k as f64 + (slot - bar_w) / 2.0;
        let mut y = TOP + plot_h;
        let mut title = rfc3339(bucket.start);
        for sev in SEVERITIES.iter().rev() {
            let c = bucket.counts[sev_index(*sev)];
            if c == 0 {
                continue;
            }
            let h = plot_h * c as f64 / max as f64;
            y -= h;
            let _ = write!(
                s,
                r#"<rect class="sev-{}" x="{x:.2}" y="{y:.2}" width="{bar_w:.2}" height="{h:.2}" fill="{}"/>"#,
                sev.as_str(),
                COLORS[sev_index(*sev)]
            );
        }
        for sev in SEVERITIES {
            let c = bucket.counts[sev_index(sev)];
            if c > 0 {
                let _ = write!(title, ", {c} {}", sev.as_str());
            }
        }
        if bucket.counts.iter().any(|&c| c > 0) {
            // A transparent hit area carrying the tooltip.
            let _ = write!(
                s,
                r#"<rect x="{:.2}" y="{TOP}" width="{slot:.2}" height="{plot_h:.2}" fill="transparent"><title>{title}</title></rect>"#,
                LEFT + slot * k as f64
            );
        }
    }
    // Up to five time labels along the bottom.
    let labels = b.buckets.len().min(5);
    for j in 0..labels {
        let k = if labels == 1 { 0 } else { j * (b.buckets.len() - 1) / (labels - 1) };
        let x = LEFT + slot * k as f64 + slot / 2.0;
        let anchor = if j == 0 && labels > 1 {
            "start"
        } else if j + 1 == labels && labels > 1 {
            "end"
        } else {
            "middle"
        };
        let t = rfc3339(b.buckets[k].start);
        let label = if b.width >= 24 * HOUR { &t[..10] } else { &t[..16.min(t.len())] };
        let _ = write!(
            s,
            r#"<text x="{x:.1}" y="{:.1}" font-size="11" text-anchor="{anchor}">{label}</text>"#,
            H - BOTTOM + 16.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(v: &[(i64, usize, u64)]) -> BTreeMap<Micros, [u64; 5]> {
        let mut m: BTreeMap<Micros, [u64; 5]> = BTreeMap::new();
        for &(h, sev, n) in v {
            m.entry(h * HOUR).or_default()[sev] += n;
        }
        m
    }

    #[test]
    fn short_spans_get_one_bar_per_hour_including_empty_ones() {
        let b = bars(&hours(&[(10, 4, 2), (13, 1, 1)]));
        assert!(b.continuous);
        assert_eq!(b.width, HOUR);
        assert_eq!(b.buckets.len(), 4);
        assert_eq!(b.buckets[0].counts[4], 2);
        assert_eq!(b.buckets[1].counts, [0; 5]);
        assert_eq!(b.buckets[3].counts[1], 1);
        let svg = svg(&b);
        assert_eq!(svg.matches("<rect class=\"sev-").count(), 2);
        assert!(svg.contains("<title>1970-01-01T10:00:00Z, 2 critical</title>"), "{svg}");
    }

    #[test]
    fn long_spans_draw_only_non_empty_buckets_of_a_width_that_fits() {
        // Two clusters of activity five years apart.
        let five_years = 5 * 365 * 24;
        let b = bars(&hours(&[(0, 3, 1), (1, 3, 1), (five_years, 2, 4)]));
        assert!(!b.continuous);
        assert_eq!(b.width, HOUR);
        assert_eq!(b.buckets.len(), 3);
        // More non-empty hours than MAX_BARS: grouped by day.
        let many: Vec<(i64, usize, u64)> = (0..(MAX_BARS as i64 + 10)).map(|k| (k * 12, 0, 1)).collect();
        let b = bars(&hours(&many));
        assert_eq!(b.width, 24 * HOUR);
        assert!(b.buckets.len() <= MAX_BARS);
        assert_eq!(b.buckets.iter().map(|k| k.counts[0]).sum::<u64>(), many.len() as u64);
        assert!(caption(&b).contains("per day"));
    }

    #[test]
    fn no_detections_no_bars() {
        let b = bars(&BTreeMap::new());
        assert!(b.buckets.is_empty());
        assert!(svg(&b).ends_with("</svg>"));
    }
}
