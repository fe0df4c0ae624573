//! Every fixture normalizes to exactly its expected file.
//!
//! Run with `KAUDIT_BLESS=1` to rewrite the expected files after a change,
//! then review the diff by hand: the expected files are the specification.

use kaudit_tests::{expected_path, fixtures, lines, normalize_fixture};

#[test]
fn every_fixture_matches_its_expected_output() {
    let bless = std::env::var_os("KAUDIT_BLESS").is_some();
    let mut failures = Vec::new();
    let all = fixtures();
    assert!(all.len() >= 25, "fixtures went missing: {}", all.len());
    for rel in all {
        let (out, stats) = normalize_fixture(&rel);
        assert!(stats.balanced(), "{}: accounting does not balance:\n{}", rel.display(), stats.table());
        let t = stats.total();
        assert_eq!(
            lines(&out).len() as u64,
            t.events + t.skipped + t.errors,
            "{}: one output line per unit",
            rel.display()
        );
        let exp = expected_path(&rel);
        if bless {
            std::fs::create_dir_all(exp.parent().unwrap()).unwrap();
            std::fs::write(&exp, &out).unwrap();
            continue;
        }
        let want =
            std::fs::read(&exp).unwrap_or_else(|_| panic!("missing {} (run with KAUDIT_BLESS=1)", exp.display()));
        if want != out {
            let (w, g) = (String::from_utf8_lossy(&want), String::from_utf8_lossy(&out));
            let at =
                w.lines().zip(g.lines()).position(|(a, b)| a != b).unwrap_or(w.lines().count().min(g.lines().count()));
            failures.push(format!(
                "{}: line {} differs\n  want: {}\n  got:  {}",
                rel.display(),
                at + 1,
                w.lines().nth(at).unwrap_or("<none>"),
                g.lines().nth(at).unwrap_or("<none>")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
