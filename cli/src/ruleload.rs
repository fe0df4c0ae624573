//! Loading rules: the built-in pack plus user files or directories.

use std::path::{Path, PathBuf};

use kaudit_core::rules::{add_builtin, add_builtin_without_tests, Builder, RuleSet};

/// The rule files under `p`: `p` itself when it is named (whatever its
/// extension; a missing one is then an error when it is read), and every
/// `.yaml`/`.yml` file below a directory.
fn yaml_files(p: &Path, named: bool, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if p.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)?.flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            yaml_files(&e, false, out)?;
        }
    } else if named || p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
        out.push(p.to_path_buf());
    }
    Ok(())
}

/// The built-in rules (unless `no_builtin`) plus every `.yaml`/`.yml` under
/// `paths`. On failure, prints every error (file:line:col: message) and
/// returns `None`.
pub fn load(paths: &[PathBuf], no_builtin: bool) -> Option<RuleSet> {
    load_inner(paths, no_builtin, true)
}

/// [`load`] for commands that only detect: the built-in rules come without
/// their embedded tests (most of the cost of loading them). User rule
/// files are read whole, so their errors are reported as by [`load`].
pub fn load_for_detection(paths: &[PathBuf], no_builtin: bool) -> Option<RuleSet> {
    load_inner(paths, no_builtin, false)
}

fn load_inner(paths: &[PathBuf], no_builtin: bool, builtin_tests: bool) -> Option<RuleSet> {
    let mut b = Builder::new();
    if !no_builtin {
        if builtin_tests {
            add_builtin(&mut b);
        } else {
            add_builtin_without_tests(&mut b);
        }
    }
    for p in paths {
        let mut files = Vec::new();
        if let Err(e) = yaml_files(p, true, &mut files) {
            eprintln!("kaudit: {}: {e}", p.display());
            return None;
        }
        for f in files {
            match std::fs::read_to_string(&f) {
                Ok(src) => {
                    b.add_file(&f.display().to_string(), &src);
                }
                Err(e) => {
                    eprintln!("kaudit: {}: {e}", f.display());
                    return None;
                }
            }
        }
    }
    match b.build() {
        Ok(set) => {
            for w in &set.warnings {
                eprintln!("warning: {w}");
            }
            Some(set)
        }
        Err(errs) => {
            for e in &errs {
                eprintln!("{e}");
            }
            eprintln!("kaudit: {} error(s) in rule files", errs.len());
            None
        }
    }
}
