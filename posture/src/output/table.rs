//! Plain text table.

use crate::finding::Finding;

/// One line per finding; the fix follows on an indented line when there is one.
pub fn table(findings: &[Finding]) -> String {
    let header = ["RESULT", "CHECK", "FILE", "RESOURCE", "PATH", "MESSAGE"];
    let rows: Vec<[String; 6]> = findings
        .iter()
        .map(|f| {
            [
                f.verdict.as_str().to_string(),
                f.check.clone(),
                f.file.clone(),
                f.resource.clone(),
                f.path.clone(),
                f.message.clone(),
            ]
        })
        .collect();
    let mut w = header.map(str::len);
    for r in &rows {
        for (i, c) in r.iter().enumerate().take(5) {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: [&str; 6], out: &mut String| {
        for (i, c) in cells.iter().enumerate().take(5) {
            out.push_str(&format!("{c:<width$}  ", width = w[i]));
        }
        out.push_str(cells[5]);
        let t = out.trim_end().len();
        out.truncate(t);
        out.push('\n');
    };
    line(header, &mut out);
    for (r, f) in rows.iter().zip(findings) {
        line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5]], &mut out);
        if !f.fix.is_empty() {
            out.push_str(&format!("{:indent$}fix: {}\n", "", f.fix, indent = w[0] + 2));
        }
    }
    let count = |v: crate::finding::Verdict| findings.iter().filter(|f| f.verdict == v).count();
    use crate::finding::Verdict::*;
    out.push_str(&format!(
        "\n{} results: {} FAIL, {} WARN, {} UNKNOWN, {} PASS, {} INFO, {} N/A\n",
        findings.len(),
        count(Fail),
        count(Warn),
        count(Unknown),
        count(Pass),
        count(Info),
        count(NotApplicable)
    ));
    out
}
