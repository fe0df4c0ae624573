//! `kaudit scan --report FILE`: one self-contained HTML file.
//!
//! Inline CSS and an inline SVG chart; no script, no external asset, no URL
//! (a Content-Security-Policy of `default-src 'none'` says so to the browser
//! too). Every string that comes from a log or a rule file is escaped by
//! [`esc`], which also makes control and bidirectional-override characters
//! visible. The markup is well-formed XML as well as HTML, so it can be
//! checked by any XML parser. The same input gives the same bytes (no clock).

use std::fmt::Write as _;

use kaudit_core::Stats;

use crate::chart;
use crate::summary::{rfc3339, sev_index, Summary, SEVERITIES};

/// Escape text for HTML element content and quoted attribute values.
/// Control characters (C0 but tab, DEL, C1), bidirectional controls and
/// non-characters are shown as `\u{…}` instead of being passed through.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\t' => o.push(' '),
            c if (c as u32) < 0x20
                || (0x7f..=0x9f).contains(&(c as u32))
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
                || (c as u32) & 0xfffe == 0xfffe
                || ('\u{fdd0}'..='\u{fdef}').contains(&c) =>
            {
                let _ = write!(o, "\\u{{{:x}}}", c as u32);
            }
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:0 16px 32px;color:#222}
h1{font-size:1.5em;margin:16px 0 4px}
h2{font-size:1.15em;margin:24px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:4px 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}
td{white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.wrap{white-space:normal;overflow-wrap:anywhere;min-width:120px;max-width:360px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px;font-size:14px}
dt{font-weight:600}
dd{margin:0}
.sev{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
.sev-critical{background:#b71c1c}
.sev-high{background:#e65100}
.sev-medium{background:#f9a825;color:#222}
.sev-low{background:#1976d2}
.sev-info{background:#78909c}
.legend span{margin-right:12px;font-size:13px}
.swatch{display:inline-block;width:10px;height:10px;margin-right:4px}
.note{color:#555;font-size:13px}
svg.chart{max-width:100%;height:auto;border:1px solid #eee}
";

fn sev_badge(sev: &str) -> String {
    format!(r#"<span class="sev sev-{sev}">{sev}</span>"#)
}

/// One table; cells are already-escaped HTML. `kinds` has one letter per
/// column: `n` numeric, `w` long text that may wrap, anything else stays on
/// one line.
fn table(out: &mut String, id: &str, header: &[&str], kinds: &str, rows: &[Vec<String>]) {
    let _ = write!(out, r#"<table id="{id}"><thead><tr>"#);
    for h in header {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    let kinds = kinds.as_bytes();
    for r in rows {
        out.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let class = match kinds.get(i) {
                Some(b'n') => r#" class="num""#,
                Some(b'w') => r#" class="wrap""#,
                _ => "",
            };
            let _ = write!(out, "<td{class}>{c}</td>");
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>\n");
}

fn t(x: Option<i64>) -> String {
    x.map(rfc3339).unwrap_or_default()
}

/// What the report says about the run besides the summary.
pub struct Context<'a> {
    pub inputs: &'a [String],
    pub stats: &'a Stats,
    /// The filter flags, or empty.
    pub filters: &'a str,
    pub top: usize,
    /// How many hits the list may hold.
    pub max_hits: usize,
}

/// Render the whole report.
pub fn render(s: &Summary<'_>, cx: &Context<'_>) -> String {
    let rs = s.rules().rules();
    let mut o = String::with_capacity(64 * 1024);
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n");
    o.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n",
    );
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n");
    o.push_str("<title>kaudit scan report</title>\n<style>");
    o.push_str(CSS);
    o.push_str("</style>\n</head>\n<body>\n");
    let _ = writeln!(o, "<h1>kaudit scan report</h1>\n<p class=\"note\">kaudit {}</p>", env!("CARGO_PKG_VERSION"));

    // Overview.
    let total = cx.stats.total();
    o.push_str("<section id=\"overview\"><h2>Overview</h2><dl>");
    let mut dd = |k: &str, v: String| {
        let _ = write!(o, "<dt>{}</dt><dd>{v}</dd>", esc(k));
    };
    let inputs = if cx.inputs.len() <= 20 {
        cx.inputs.iter().map(|p| esc(p)).collect::<Vec<_>>().join("<br/>")
    } else {
        format!("{} inputs", cx.inputs.len())
    };
    dd("inputs", inputs);
    dd("records", format!("{} ({} bytes)", cx.stats.inputs, cx.stats.bytes));
    dd("events", total.events.to_string());
    dd("skipped (not audit)", total.skipped.to_string());
    dd("errors (passed through)", total.errors.to_string());
    if !cx.filters.is_empty() {
        dd("filters", esc(cx.filters));
        dd("events reported", s.events.to_string());
    }
    let range = match (s.span.first, s.span.last) {
        (Some(f), Some(l)) => format!("{} .. {}", rfc3339(f), rfc3339(l)),
        _ => "none".into(),
    };
    dd("time range", range);
    if s.untimed > 0 {
        dd("events without a readable time", s.untimed.to_string());
    }
    dd("detections", s.hits_total.to_string());
    o.push_str("</dl></section>\n");

    // Severity.
    o.push_str("<section id=\"severity\"><h2>Detections by severity</h2>");
    let rows: Vec<Vec<String>> =
        SEVERITIES.iter().map(|v| vec![sev_badge(v.as_str()), s.by_severity[sev_index(*v)].to_string()]).collect();
    table(&mut o, "by-severity", &["severity", "detections"], "tn", &rows);
    o.push_str("</section>\n");

    // Chart.
    o.push_str("<section id=\"timeline\"><h2>Detections over time</h2>");
    let bars = chart::bars(&s.per_hour);
    if bars.buckets.is_empty() {
        o.push_str("<p class=\"note\">No detection on an event with a readable time.</p>");
    } else {
        o.push_str(&chart::svg(&bars));
        o.push_str("<p class=\"legend\">");
        for v in SEVERITIES {
            let _ = write!(
                o,
                r#"<span><span class="swatch" style="background:{}"></span>{}</span>"#,
                chart::COLORS[sev_index(v)],
                v.as_str()
            );
        }
        let _ = write!(o, "</p><p class=\"note\">{}", esc(&chart::caption(&bars)));
        if s.untimed_hits > 0 {
            let _ = write!(o, " {} detections on events without a readable time are not drawn.", s.untimed_hits);
        }
        o.push_str("</p>");
    }
    o.push_str("</section>\n");

    // Rules.
    o.push_str("<section id=\"rules\"><h2>Detections by rule</h2>");
    let rows: Vec<Vec<String>> = s
        .rules_hit()
        .into_iter()
        .map(|i| {
            let (r, x) = (&rs[i], &s.by_rule[i]);
            vec![
                esc(&r.id),
                esc(&r.title),
                sev_badge(r.severity.as_str()),
                x.hits.to_string(),
                t(x.span.first),
                t(x.span.last),
                esc(x.example_actor.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    if rows.is_empty() {
        o.push_str("<p>No detections.</p>");
    } else {
        table(
            &mut o,
            "by-rule",
            &["rule", "title", "severity", "count", "first", "last", "example actor"],
            "twtnttw",
            &rows,
        );
    }
    o.push_str("</section>\n");

    // Actors.
    o.push_str("<section id=\"actors\"><h2>Top actors</h2>");
    let rows: Vec<Vec<String>> = s
        .top_actors(cx.top)
        .into_iter()
        .map(|(name, a)| {
            vec![
                esc(name),
                a.hits.to_string(),
                a.worst.map(|v| sev_badge(v.as_str())).unwrap_or_default(),
                a.rules.iter().map(|&i| esc(&rs[i as usize].id)).collect::<Vec<_>>().join(", "),
                a.events.to_string(),
            ]
        })
        .collect();
    table(&mut o, "top-actors", &["actor", "detections", "worst", "rules", "events"], "wntwn", &rows);
    let _ = writeln!(o, "<p class=\"note\">{} distinct actors.</p></section>", s.actors.len());

    // Sources and clusters.
    o.push_str("<section id=\"sources\"><h2>Sources seen</h2>");
    let rows: Vec<Vec<String>> = s
        .sources
        .iter()
        .map(|(id, x)| vec![esc(id), x.events.to_string(), x.hits.to_string(), t(x.span.first), t(x.span.last)])
        .collect();
    table(&mut o, "by-source", &["source", "events", "detections", "first", "last"], "tnntt", &rows);
    if !s.clusters.is_empty() {
        let rows: Vec<Vec<String>> = s.clusters.iter().map(|(c, n)| vec![esc(c), n.to_string()]).collect();
        table(&mut o, "by-cluster", &["cluster", "events"], "wn", &rows);
    }
    o.push_str("</section>\n");

    // Blind.
    o.push_str("<section id=\"blind\"><h2>Blind rules</h2>");
    if s.blind.is_empty() {
        o.push_str("<p>No rule was blind: every source provided every field the rules needed.</p>");
    } else {
        o.push_str("<p class=\"note\">These rules could not be evaluated on some events because the source cannot provide a field they need; they were neither fired nor cleared there.</p>");
        let rows: Vec<Vec<String>> = s
            .blind
            .iter()
            .map(|((i, src, f), n)| vec![esc(&rs[*i as usize].id), esc(src), esc(f), n.to_string()])
            .collect();
        table(&mut o, "blind-rules", &["rule", "source", "missing field", "events"], "tttn", &rows);
    }
    o.push_str("</section>\n");

    // Hits.
    o.push_str("<section id=\"hits\"><h2>Hits</h2>");
    let hits = s.hits();
    if (hits.len() as u64) < s.hits_total {
        let _ = write!(
            o,
            "<p class=\"note\">The earliest {} of {} hits (raise <code>--report-hits</code>, now {}, for more).</p>",
            hits.len(),
            s.hits_total,
            cx.max_hits
        );
    }
    let rows: Vec<Vec<String>> = hits
        .iter()
        .map(|h| {
            let r = &rs[h.rule as usize];
            vec![
                t(h.time),
                sev_badge(r.severity.as_str()),
                esc(&r.id),
                esc(&h.actor),
                esc(&h.verb),
                esc(&h.target),
                h.code.map(|c| c.to_string()).unwrap_or_default(),
                esc(h.source),
                esc(&h.source_ip),
                esc(&h.user_agent),
            ]
        })
        .collect();
    table(
        &mut o,
        "hit-list",
        &["time", "severity", "rule", "actor", "verb", "target", "code", "source", "source IP", "user agent"],
        "tttwtwntww",
        &rows,
    );
    o.push_str("</section>\n</body>\n</html>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escapes_markup_and_shows_invisible_characters() {
        assert_eq!(esc(r#"<script>alert("x")</script>"#), "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
        assert_eq!(esc("a'b&c"), "a&#39;b&amp;c");
        assert_eq!(esc("a\u{0}b\u{1b}[31m\u{7f}"), "a\\u{0}b\\u{1b}[31m\\u{7f}");
        assert_eq!(esc("admin\u{202e}nimda"), "admin\\u{202e}nimda");
        assert_eq!(esc("x\u{fffe}\u{ffff}\u{fdd0}"), "x\\u{fffe}\\u{ffff}\\u{fdd0}");
        assert_eq!(esc("line\nbreak\tand tab"), "line\\u{a}break and tab");
        assert_eq!(esc("ünïcödé ✓"), "ünïcödé ✓");
    }
}
