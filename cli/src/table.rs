//! A plain text table for terminal output.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Make a string safe to print on a terminal: control characters (an escape
/// sequence in a user agent, a newline in an object name) and bidirectional
/// overrides are shown as `\u{…}` instead of being sent to the terminal.
pub fn printable(s: &str) -> Cow<'_, str> {
    fn bad(c: char) -> bool {
        (c as u32) < 0x20
            || (0x7f..=0x9f).contains(&(c as u32))
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    if !s.chars().any(bad) {
        return Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if bad(c) {
            let _ = write!(o, "\\u{{{:x}}}", c as u32);
        } else {
            o.push(c);
        }
    }
    Cow::Owned(o)
}

/// Render rows under a header, columns padded to their widest cell. Cells
/// pass through [`printable`].
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let safe: Vec<Vec<Cow<'_, str>>> = rows.iter().map(|r| r.iter().map(|c| printable(c)).collect()).collect();
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &safe {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<width$}  ", width = w[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(header.to_vec());
    out.push_str(&line(w.iter().map(|n| "-".repeat(*n)).collect::<Vec<_>>().iter().map(|s| s.as_str()).collect()));
    for r in &safe {
        out.push_str(&line(r.iter().map(|s| s.as_ref()).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(printable("plain"), Cow::Borrowed("plain"));
        assert_eq!(printable("a\u{1b}[2Jb\nc\u{202e}"), "a\\u{1b}[2Jb\\u{a}c\\u{202e}");
        let t = render(&["h"], &[vec!["x\u{1b}]0;title\u{7}".into()]]);
        assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'), "{t:?}");
    }
}
