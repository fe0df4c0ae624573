//! Shared by the posture test suites: fixture paths and expected-file comparison.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use kaudit_posture::finding::Finding;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

pub fn fixtures() -> PathBuf {
    root().join("fixtures/iac")
}

/// Files of a fixture sub-directory, sorted.
pub fn files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(fixtures().join(dir)).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

/// `dir/name` relative to the fixture root (what the checks see as the file name).
pub fn rel(p: &Path) -> String {
    p.strip_prefix(fixtures()).unwrap().display().to_string()
}

/// One line per finding: RESULT, CHECK, RESOURCE, PATH (tab-separated; messages are prose and
/// not pinned here).
pub fn lines(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        s.push_str(&format!("{}\t{}\t{}\t{}\n", f.verdict.as_str(), f.check, f.resource, f.path));
    }
    s
}

/// Compare with `expected/<name>`. With KAUDIT_WRITE_EXPECTED=1 the file is (re)written: review the
/// diff against the fixture's stated intent before committing it.
pub fn compare(name: &str, actual: &str) -> Result<(), String> {
    let p = root().join("expected").join(name);
    if std::env::var_os("KAUDIT_WRITE_EXPECTED").is_some() {
        std::fs::write(&p, actual).unwrap();
        return Ok(());
    }
    let want = std::fs::read_to_string(&p).map_err(|e| format!("{}: {e}", p.display()))?;
    if want == actual {
        Ok(())
    } else {
        Err(format!("{name}: expected\n{want}\ngot\n{actual}"))
    }
}
