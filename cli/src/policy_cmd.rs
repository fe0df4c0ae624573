//! `kaudit policy simulate|lint`: the audit-policy simulator and linter
//! (the logic is in `kaudit_posture::policy`; this module reads files and
//! prints).
//!
//! Exit codes: `simulate` 0, or 2 when the policy or the requests cannot be
//! read or the policy is invalid (the validation errors are printed);
//! `lint` 1 when a finding has result FAIL (the checks of severity ERROR in
//! policy-and-iac.md §5.2: AP-V01, AP-S01–S03, AP-C01, AP-C02, AP-C04),
//! 2 on a usage or read error, else 0 (WARN and INFO findings report only).

use std::path::PathBuf;
use std::process::ExitCode;

use kaudit_posture::finding::{Finding, Verdict};
use kaudit_posture::policy::simulate::Checker;
use kaudit_posture::policy::validate::aggregate;
use kaudit_posture::policy::{deps, lint, parse, probes, profiles, volume, Policy, Probe};
use serde_json::json;

use crate::iac_cmd::{now_ms, PRODUCER};
use crate::{ruleload, table};
use kaudit_posture::output;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct Source {
    /// The policy file (audit.k8s.io/v1 Policy, YAML or JSON).
    policy: Option<PathBuf>,
    /// Use a managed cluster's effective policy instead of a file:
    /// gke, gke-no-data-access, eks, aks-admin.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(profiles::NAMES))]
    profile: Option<String>,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Evaluate requests through the policy as kube-apiserver does: level,
    /// omitted stages and the matching rule per request.
    Simulate {
        #[command(flatten)]
        source: Source,
        /// Requests to simulate, in the probes.json format (default: the 30 built-in probes).
        #[arg(long)]
        requests: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Check the policy (AP-* checks), estimate its event volume and, with
    /// --rules, list the detection rules it leaves blind.
    Lint {
        #[command(flatten)]
        source: Source,
        /// Report which detection rules go blind under the policy (AP-D01):
        /// the built-in pack plus the rule files under DIR, if given.
        #[arg(long, num_args = 0..=1, value_name = "DIR")]
        rules: Option<Option<PathBuf>>,
        /// The request mix for the volume estimate (probes format with `weight`).
        #[arg(long)]
        mix: Option<PathBuf>,
        /// table and json include the volume estimate and the rule report (table);
        /// sarif (SARIF 2.1.0) and ocsf (OCSF Compliance Finding, class 2003) carry the findings.
        #[arg(long, value_enum, default_value_t = LintFormat::Table)]
        format: LintFormat,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LintFormat {
    Table,
    Json,
    Sarif,
    Ocsf,
}

/// The policy (file or profile) and the name findings carry.
fn load_policy(s: &Source) -> Result<(String, Result<Policy, kaudit_posture::policy::ParseError>), String> {
    match (&s.policy, &s.profile) {
        (Some(_), Some(_)) => Err("give a policy file or --profile, not both".into()),
        (None, None) => Err("give a policy file or --profile".into()),
        (None, Some(p)) => {
            let text = profiles::text(p).ok_or_else(|| format!("unknown profile {p}"))?;
            Ok((format!("profile:{p}"), parse(&text)))
        }
        (Some(f), None) => {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            Ok((f.display().to_string(), parse(&text)))
        }
    }
}

fn read_probes(p: &PathBuf) -> Result<Vec<Probe>, String> {
    let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
    probes::parse(&text).map_err(|e| format!("{}: {e}", p.display()))
}

pub fn run(a: Args) -> ExitCode {
    let r = match a.cmd {
        Cmd::Simulate { source, requests, format } => simulate(&source, requests.as_ref(), format),
        Cmd::Lint { source, rules, mix, format } => run_lint(&source, rules, mix.as_ref(), format),
    };
    match r {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kaudit: {e}");
            ExitCode::from(2)
        }
    }
}

fn simulate(s: &Source, requests: Option<&PathBuf>, format: Format) -> Result<ExitCode, String> {
    let (name, policy) = load_policy(s)?;
    let policy = policy.map_err(|e| format!("{name}:{e}"))?;
    let checker = Checker::new(&policy)
        .map_err(|errs| format!("{name}: kube-apiserver would refuse this policy: {}", aggregate(&errs)))?;
    let probes = match requests {
        Some(p) => read_probes(p)?,
        None => probes::builtin(),
    };
    let decisions: Vec<_> = probes.iter().map(|p| (p, checker.decide(p))).collect();
    match format {
        Format::Json => {
            let arr: Vec<serde_json::Value> = decisions
                .iter()
                .map(|(p, d)| {
                    json!({
                        "probe": p.id,
                        "level": d.level.as_str(),
                        "omit_stages": d.omit_stages.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                        "rule_index": d.rule_index,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(arr));
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = decisions
                .iter()
                .map(|(p, d)| {
                    vec![
                        p.id.clone(),
                        d.level.as_str().to_string(),
                        if d.omit_stages.is_empty() {
                            "-".into()
                        } else {
                            d.omit_stages.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")
                        },
                        d.rule_index.map_or("-".into(), |i| i.to_string()),
                        format!("{} {} {}", p.user, p.verb, p.target()),
                        p.desc.clone(),
                    ]
                })
                .collect();
            print!("{}", table::render(&["PROBE", "LEVEL", "OMIT_STAGES", "RULE", "REQUEST", "DESCRIPTION"], &rows));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `rules[N]` → N.
fn rule_index(f: &Finding) -> Option<usize> {
    f.resource.strip_prefix("rules[")?.strip_suffix(']')?.parse().ok()
}

fn run_lint(
    s: &Source,
    rules: Option<Option<PathBuf>>,
    mix: Option<&PathBuf>,
    format: LintFormat,
) -> Result<ExitCode, String> {
    let (name, parsed) = load_policy(s)?;
    let mix_label = if mix.is_some() { "given" } else { "default" };
    let mix = match mix {
        Some(p) => read_probes(p)?,
        None => volume::default_mix(),
    };
    let rule_set = match &rules {
        None => None,
        Some(dir) => {
            let paths: Vec<PathBuf> = dir.iter().cloned().collect();
            Some(ruleload::load(&paths, false).ok_or("the detection rules do not load")?)
        }
    };
    let mut findings = match &parsed {
        Ok(p) => lint::lint(&name, p),
        Err(e) => vec![parse_error(&name, e)],
    };
    let policy = parsed.as_ref().ok();
    let checker = policy.and_then(|p| Checker::new(p).ok());
    let reports = match (&rule_set, &checker) {
        (Some(set), Some(c)) => Some(deps::report(set, c)),
        _ => None,
    };
    if let Some(r) = &reports {
        findings.extend(deps::findings(&name, r));
    }
    let failed = findings.iter().any(|f| f.verdict == Verdict::Fail);
    match format {
        LintFormat::Sarif | LintFormat::Ocsf => {
            let f = if format == LintFormat::Sarif { output::Format::Sarif } else { output::Format::Ocsf };
            print!("{}", output::render(f, &findings, &PRODUCER, now_ms()));
        }
        LintFormat::Json => {
            let arr: Vec<serde_json::Value> = findings
                .iter()
                .map(|f| {
                    json!({
                        "check": f.check,
                        "result": f.verdict.as_str(),
                        "severity": f.severity.as_str(),
                        "file": f.file,
                        "resource": f.resource,
                        "rule_index": rule_index(f),
                        "path": f.path,
                        "message": f.message,
                        "fix": f.fix,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(arr));
        }
        LintFormat::Table => {
            let rows: Vec<Vec<String>> = findings
                .iter()
                .map(|f| {
                    vec![
                        f.verdict.as_str().into(),
                        f.severity.as_str().into(),
                        f.check.clone(),
                        f.resource.clone(),
                        format!("{}\n      fix: {}", f.message, f.fix),
                    ]
                })
                .collect();
            if rows.is_empty() {
                println!("{name}: no findings");
            } else {
                print!("{}", table::render(&["RESULT", "SEVERITY", "CHECK", "WHERE", "MESSAGE"], &rows));
            }
            if let Some(c) = &checker {
                println!();
                println!(
                    "Estimated events per verb class ({} requests of the {} mix):",
                    fmt_num(mix.iter().map(|p| p.weight).sum()),
                    mix_label
                );
                print_volume(c, &mix);
            }
            if let Some(r) = &reports {
                println!();
                print_deps(r);
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn parse_error(name: &str, e: &kaudit_posture::policy::ParseError) -> Finding {
    let resource = e
        .path
        .strip_prefix("rules[")
        .and_then(|r| r.split(']').next())
        .map_or_else(|| name.to_string(), |n| format!("rules[{n}]"));
    lint::finding("AP-V01", name, resource, e.path.clone(), format!("cannot be decoded: {e}"))
}

fn fmt_num(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 {
        format!("{}", x.round() as i64)
    } else {
        format!("{x:.1}")
    }
}

fn print_volume(c: &Checker<'_>, mix: &[Probe]) {
    let rows: Vec<Vec<String>> = volume::estimate(c, mix)
        .iter()
        .map(|v| {
            vec![
                v.class.to_string(),
                fmt_num(v.requests),
                fmt_num(v.events),
                if v.requests > 0.0 { format!("{:.2}", v.events / v.requests) } else { "-".into() },
                fmt_num(v.with_request_body),
                fmt_num(v.with_response_body),
            ]
        })
        .collect();
    print!(
        "{}",
        table::render(&["CLASS", "REQUESTS", "EVENTS", "EVENTS/REQ", "WITH_REQUEST_BODY", "WITH_RESPONSE_BODY"], &rows)
    );
}

fn print_deps(reports: &[deps::RuleReport]) {
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|r| {
            let bad: Vec<&deps::RequestReport> =
                r.requests.iter().filter(|q| q.coverage != deps::Coverage::Ok).collect();
            let detail = match &r.status {
                deps::Status::Unknown(why) => why.clone(),
                deps::Status::Ok => format!("{} request(s) recorded as needed", r.requests.len()),
                _ => {
                    let ex: Vec<String> =
                        bad.iter().take(2).map(|q| format!("{}: {}", deps::describe(&q.request), q.reason)).collect();
                    format!(
                        "{}/{} requests: {}{}",
                        bad.len(),
                        r.requests.len(),
                        ex.join("; "),
                        if bad.len() > 2 { "; …" } else { "" }
                    )
                }
            };
            vec![r.status.as_str().to_string(), r.id.clone(), detail]
        })
        .collect();
    println!("Detection rules under this policy:");
    print!("{}", table::render(&["STATUS", "RULE", "DETAIL"], &rows));
}
