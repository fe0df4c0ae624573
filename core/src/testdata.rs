//! Test-only: the repository's shared fixture files (`tests/fixtures/`).

use std::path::PathBuf;

/// Every fixture file under `tests/fixtures/` (not the `.md` notes or `.py`
/// scripts beside them), sorted.
pub(crate) fn fixture_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(&PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures")), &mut out);
    out.sort();
    out
}

fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if !matches!(p.extension().and_then(|x| x.to_str()), Some("md" | "py")) {
            out.push(p);
        }
    }
}
