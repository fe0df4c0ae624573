//! `kaudit rules list|test|coverage`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kaudit_core::rules::TestOutcome;

use crate::{coverage, input, ruleload, table};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// List the rules: id, severity, title, tags.
    List(Common),
    /// Run every rule's own test cases.
    Test {
        #[command(flatten)]
        common: Common,
        /// Directory that fixture test cases (`fixture: path:N`) are relative to.
        #[arg(long, default_value = "tests/fixtures")]
        fixtures: PathBuf,
    },
    /// The fidelity matrix: every rule × source (vanilla, EKS, AKS, AKS
    /// admin, GKE, OpenShift), from the rules' own tests rendered into each
    /// vendor's record shape with that vendor's losses.
    Coverage {
        #[command(flatten)]
        common: Common,
        /// Directory that fixture test cases (`fixture: path:N`) are relative to.
        #[arg(long, default_value = "tests/fixtures")]
        fixtures: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

/// A fixture loader rooted at `dir` (gzip files are gunzipped).
fn fixture_loader(dir: &Path) -> impl FnMut(&str) -> Option<Vec<u8>> + '_ {
    move |p: &str| -> Option<Vec<u8>> {
        let r = input::open(&dir.join(Path::new(p)).display().to_string()).ok()?;
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut { r }, &mut buf).ok()?;
        Some(buf)
    }
}

#[derive(clap::Args)]
struct Common {
    /// Rule files or directories to add to the built-in pack.
    #[arg(long = "rules")]
    rules: Vec<PathBuf>,
    /// Leave the built-in pack out.
    #[arg(long)]
    no_builtin: bool,
}

pub fn run(a: Args) -> ExitCode {
    match a.cmd {
        Cmd::List(c) => {
            let Some(set) = ruleload::load_for_detection(&c.rules, c.no_builtin) else { return ExitCode::from(2) };
            let rows: Vec<Vec<String>> = set
                .rules()
                .iter()
                .map(|r| vec![r.id.clone(), r.severity.as_str().to_string(), r.title.clone(), r.tags.join(",")])
                .collect();
            print!("{}", table::render(&["rule", "severity", "title", "tags"], &rows));
            println!("{} rules", rows.len());
            ExitCode::SUCCESS
        }
        Cmd::Test { common, fixtures } => {
            let Some(set) = ruleload::load(&common.rules, common.no_builtin) else { return ExitCode::from(2) };
            let mut load = fixture_loader(&fixtures);
            let (mut pass, mut fail, mut skip) = (0, 0, 0);
            for (i, r) in set.rules().iter().enumerate() {
                for t in &r.tests {
                    match set.run_test(i, t, &mut load) {
                        TestOutcome::Pass(_) => pass += 1,
                        TestOutcome::Fail(e) => {
                            fail += 1;
                            println!("FAIL {} ({}:{}) `{}`: {e}", r.id, r.file, t.line, t.name);
                        }
                        TestOutcome::Skipped(e) => {
                            skip += 1;
                            println!("skip {} `{}`: {e}", r.id, t.name);
                        }
                    }
                }
                if r.tests.is_empty() {
                    println!("warn {}: no tests", r.id);
                }
            }
            println!("rule tests: {pass} passed, {fail} failed, {skip} skipped");
            if fail > 0 {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
        Cmd::Coverage { common, fixtures, format } => {
            let Some(set) = ruleload::load(&common.rules, common.no_builtin) else { return ExitCode::from(2) };
            let mut load = fixture_loader(&fixtures);
            let m = kaudit_render::coverage::matrix(&set, &mut load);
            coverage::print(&m, matches!(format, Format::Json))
        }
    }
}
