//! `kaudit rules coverage`: the rule × source fidelity matrix, as a table or
//! JSON. The matrix itself is computed by `kaudit-render` (test tooling).

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use kaudit_render::coverage::{Matrix, Status};
use kaudit_render::Target;

use crate::table;

/// A cell as the table shows it.
fn cell_text(c: &kaudit_render::coverage::Cell) -> String {
    let mut s = match &c.status {
        Status::Fires => "fires".to_string(),
        Status::Blind(f) => format!("blind:{f}"),
        Status::NotDelivered => "n/d".to_string(),
        Status::Misses => "MISSES".to_string(),
        Status::Untested => "UNTESTED".to_string(),
    };
    if !c.negative_fires().is_empty() {
        s = "NEG-FIRES".to_string();
    } else if !c.errors().is_empty() {
        s = "ERROR".to_string();
    } else if matches!(c.status, Status::Fires | Status::Blind(_)) && c.negatives() == 0 {
        // No negative case reached this source.
        s.push('*');
    }
    s
}

pub fn print(m: &Matrix, json: bool) -> ExitCode {
    let bad = m.rows.iter().flat_map(|r| &r.cells).filter(|c| !c.ok()).count();
    let mut out = String::new();
    if json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&m.to_json()).unwrap_or_default());
    } else {
        let mut header = vec!["rule"];
        header.extend(Target::ALL.iter().map(|t| t.id()));
        let rows: Vec<Vec<String>> = m
            .rows
            .iter()
            .map(|r| {
                let mut row = vec![r.rule.clone()];
                row.extend(r.cells.iter().map(cell_text));
                row
            })
            .collect();
        let _ = write!(out, "{}", table::render(&header, &rows));
        out.push('\n');
        let count_rows: Vec<Vec<String>> = m
            .counts()
            .into_iter()
            .map(|(t, c)| {
                vec![
                    t.id().to_string(),
                    c.fires.to_string(),
                    c.blind.to_string(),
                    c.not_delivered.to_string(),
                    c.untested.to_string(),
                    c.misses.to_string(),
                    c.negative_fires.to_string(),
                ]
            })
            .collect();
        let _ = write!(
            out,
            "{}",
            table::render(&["source", "fires", "blind", "n/d", "untested", "misses", "neg-fires"], &count_rows)
        );
        out.push('\n');
        let _ = writeln!(out, "legend:");
        let _ = writeln!(out, "  fires          a positive test case fired on this source");
        let _ = writeln!(
            out,
            "  blind:FIELD    the source cannot provide FIELD, so the rule reports blind (never silently false)"
        );
        let _ = writeln!(out, "  n/d            not delivered: this source never carries the positive cases' events");
        let _ = writeln!(out, "  UNTESTED       no test case reaches this source");
        let _ = writeln!(out, "  MISSES         a delivered positive case stayed quiet (a bug)");
        let _ = writeln!(out, "  NEG-FIRES      a negative test case fired on this source (a bug)");
        let _ = writeln!(out, "  ERROR          a rendered record did not decode (a renderer bug)");
        let _ = writeln!(out, "  *              no negative test case reached this source");
        let _ = writeln!(
            out,
            "sources (vanilla-shaped test events are rendered into each; vendor samples count for their own):"
        );
        for t in Target::ALL {
            let _ = writeln!(out, "  {:<10} {}", t.id(), t.assumes());
        }
    }
    if bad > 0 && !json {
        let _ = writeln!(out, "{bad} cell(s) with NEG-FIRES, MISSES or ERROR");
    }
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    if bad > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
