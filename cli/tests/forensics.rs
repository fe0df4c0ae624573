//! `kaudit scan` for forensics and `kaudit timeline`, end to end: summaries
//! and timelines against expected files, filters, the HTML report (valid,
//! self-contained, escaped; rendered by headless Chromium where installed),
//! a directory of mixed gzip'd vendor files, and the progress bar (drawn on a
//! terminal only).
//!
//! Run with `KAUDIT_BLESS=1` to rewrite the expected files after a change.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn kaudit() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kaudit"))
}

fn here(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join(rel)
}

fn fixtures(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures").join(rel)
}

/// The synthetic forensics fixture and its rules.
fn hostile() -> PathBuf {
    here("fixtures/forensics/hostile.jsonl")
}

fn with_test_rules(c: &mut Command) -> &mut Command {
    c.arg("--no-builtin").arg("--rules").arg(here("fixtures/forensics/rules.yaml"))
}

/// A fresh, empty temporary directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kaudit-forensics-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run(c: &mut Command) -> Output {
    let out = c.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{:?}\nstderr:\n{}", c, String::from_utf8_lossy(&out.stderr));
    out
}

/// Compare with `tests/expected/<name>`, or write it under KAUDIT_BLESS.
fn expect(name: &str, got: &[u8]) {
    let path = here("expected").join(name);
    if std::env::var_os("KAUDIT_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|_| panic!("missing {} (run with KAUDIT_BLESS=1)", path.display()));
    assert_eq!(
        String::from_utf8_lossy(got),
        String::from_utf8_lossy(&want),
        "output differs from {} (run with KAUDIT_BLESS=1 if the change is intended)",
        path.display()
    );
}

#[test]
fn summary_matches_expected() {
    let out = run(with_test_rules(kaudit().arg("scan")).arg(hostile()));
    expect("scan-summary.txt", &out.stdout);
    let stats = String::from_utf8(out.stderr).unwrap();
    assert!(stats.contains("records = events + skipped + errors: yes"), "{stats}");
}

#[test]
fn gzip_on_stdin_gives_the_same_summary() {
    let gz = gzip(&std::fs::read(hostile()).unwrap());
    let mut child = with_test_rules(kaudit().arg("scan"))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&gz).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    expect("scan-summary.txt", &out.stdout);
}

#[test]
fn filters_choose_what_is_reported_not_what_is_evaluated() {
    // The burst of denied secret reads (09:20, 09:21, 09:22) fires on its
    // third event. Reporting from 09:22 on still shows that hit: the window
    // was fed by the earlier events, which are evaluated but not reported.
    let out = run(with_test_rules(kaudit().arg("scan")).arg(hostile()).args(["--since", "2025-03-01T09:22:00Z"]));
    expect("scan-summary-since.txt", &out.stdout);

    // As JSON: only the reported events are written.
    let json = |extra: &[&str]| -> Vec<serde_json::Value> {
        let out = run(with_test_rules(kaudit().args(["scan", "--format", "json"])).arg(hostile()).args(extra));
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let ids = |evs: &[serde_json::Value]| -> Vec<String> {
        evs.iter().map(|e| e["auditID"].as_str().unwrap().trim_start_matches("synthetic-fx-").to_owned()).collect()
    };
    let all = json(&[]);
    assert_eq!(all.len(), 9);
    // A reported event carries exactly the detections it has unfiltered.
    let by_id = |evs: &[serde_json::Value]| -> std::collections::BTreeMap<String, serde_json::Value> {
        evs.iter().map(|e| (e["auditID"].as_str().unwrap().to_owned(), e["kaudit"]["detections"].clone())).collect()
    };
    let unfiltered = by_id(&all);
    for args in [&["--since", "2025-03-01T09:22:00Z"][..], &["--actor", "bob"], &["--namespace", "prod"]] {
        for (id, det) in by_id(&json(args)) {
            assert_eq!(det, unfiltered[&id], "{args:?}: {id}");
        }
    }
    assert_eq!(ids(&json(&["--actor", "bob"])), ["03", "04", "05"]);
    assert_eq!(ids(&json(&["--actor", "bob", "--since", "2025-03-01T09:22:00Z"])), ["05"]);
    assert_eq!(ids(&json(&["--rule", "fx-denied-secret-burst"])), ["05"]);
    // An actor matches an impersonated user too; a trailing * is a prefix.
    assert_eq!(ids(&json(&["--actor", "system:serviceaccount:prod:*"])), ["06", "09"]);
    assert_eq!(ids(&json(&["--namespace", "dev"])), ["07", "08"]);
    // --until is exclusive; the event without a time is never in a window.
    assert_eq!(ids(&json(&["--since", "2025-03-01T09:00:00Z", "--until", "2025-03-01T09:20:00Z"])), ["01", "02", "06"]);
    assert_eq!(ids(&json(&["--actor", "dave", "--since", "1970-01-01T00:00:00Z"])), Vec::<String>::new());
}

#[test]
fn bad_filter_flags_exit_2_naming_the_flag() {
    for (args, needle) in [
        (&["--since", "last tuesday"][..], "--since \"last tuesday\""),
        (&["--rule", "no-such-rule"][..], "--rule \"no-such-rule\""),
    ] {
        let out = with_test_rules(kaudit().arg("scan")).arg(hostile()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn timeline_matches_expected() {
    // Matched on impersonatedUser (alice acting as the deployer) and on user.
    let out = run(with_test_rules(kaudit().arg("timeline"))
        .args(["--actor", "system:serviceaccount:prod:deployer"])
        .arg(hostile()));
    expect("timeline-deployer.txt", &out.stdout);
    let out =
        run(with_test_rules(kaudit().arg("timeline")).args(["--actor", "alice", "--format", "json"]).arg(hostile()));
    expect("timeline-alice.jsonl", &out.stdout);
    // Hostile strings never reach the terminal as control characters.
    let out = run(with_test_rules(kaudit().arg("timeline")).args(["--actor", "mallory*"]).arg(hostile()));
    expect("timeline-mallory.txt", &out.stdout);
    assert!(!out.stdout.contains(&0x1b));
    // Time order, not input order: bob's three reads, then nothing else.
    let out = run(with_test_rules(kaudit().arg("timeline")).args(["--actor", "bob", "--only-hits"]).arg(hostile()));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("actor bob: 1 actions, 1 with detections"), "{text}");
}

// ---------------------------------------------------------------- report

/// Check that `html` is a valid, self-contained report, and return its
/// document for further checks.
fn check_report(html: &str) -> roxmltree::Document<'_> {
    assert!(html.starts_with("<!DOCTYPE html>\n"), "doctype");
    let doc = roxmltree::Document::parse_with_options(
        html,
        roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() },
    )
    .unwrap_or_else(|e| panic!("the report is not well-formed markup: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "html");
    let kids: Vec<&str> = root.children().filter(|n| n.is_element()).map(|n| n.tag_name().name()).collect();
    assert_eq!(kids, ["head", "body"]);
    let head = root.first_element_child().unwrap();
    for needed in ["title", "style", "meta"] {
        assert!(head.children().any(|n| n.has_tag_name(needed)), "head has no <{needed}>");
    }
    assert!(head.descendants().any(|n| n.attribute("charset") == Some("utf-8")));
    let csp = head
        .descendants()
        .find(|n| n.attribute("http-equiv") == Some("Content-Security-Policy"))
        .and_then(|n| n.attribute("content"))
        .expect("a CSP");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let ids: Vec<&str> =
        doc.descendants().filter(|n| n.has_tag_name("section")).filter_map(|n| n.attribute("id")).collect();
    assert_eq!(ids, ["overview", "severity", "timeline", "rules", "actors", "sources", "blind", "hits"]);
    // Self-contained: no script, no external resource of any kind.
    for n in doc.descendants().filter(|n| n.is_element()) {
        let name = n.tag_name().name();
        assert!(
            !["script", "link", "img", "iframe", "object", "embed", "base", "form", "image", "use", "foreignObject"]
                .contains(&name),
            "<{name}> in the report"
        );
        for a in n.attributes() {
            let an = a.name().to_ascii_lowercase();
            assert!(!an.starts_with("on"), "event handler attribute {an}");
            assert!(!["src", "href", "srcset", "action", "background", "poster"].contains(&an.as_str()), "{an}=");
        }
    }
    let lower = html.to_ascii_lowercase();
    for bad in ["http:", "https:", "//cdn", "url(", "@import", "javascript:"] {
        assert!(!lower.contains(bad), "{bad:?} in the report");
    }
    // Every table row has as many cells as its header.
    for t in doc.descendants().filter(|n| n.has_tag_name("table")) {
        let head = t.descendants().filter(|n| n.has_tag_name("th")).count();
        for tr in t.descendants().filter(|n| n.has_tag_name("tr")).skip(1) {
            assert_eq!(tr.children().filter(|n| n.has_tag_name("td")).count(), head, "ragged table");
        }
    }
    doc
}

fn cells(doc: &roxmltree::Document<'_>, table: &str) -> Vec<Vec<String>> {
    let t = doc.descendants().find(|n| n.attribute("id") == Some(table)).unwrap_or_else(|| panic!("no #{table}"));
    t.descendants()
        .filter(|n| n.has_tag_name("tr"))
        .skip(1)
        .map(|tr| {
            tr.children()
                .filter(|n| n.has_tag_name("td"))
                .map(|td| td.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect())
                .collect()
        })
        .collect()
}

const MALLORY: &str = r#"mallory"><img src=x onerror=alert(1)>"#;

#[test]
fn report_is_valid_self_contained_and_escapes_hostile_strings() {
    let dir = temp_dir("report");
    let report = dir.join("report.html");
    run(with_test_rules(kaudit().arg("scan")).arg(hostile()).arg("--report").arg(&report));
    let html = std::fs::read_to_string(&report).unwrap();
    let doc = check_report(&html);
    let hits = cells(&doc, "hit-list");
    assert_eq!(hits.len(), 4);
    // Time order; the hostile strings arrive as text, made visible where invisible.
    let times: Vec<&str> = hits.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(
        times,
        ["2025-03-01T09:05:00Z", "2025-03-01T09:10:00.25Z", "2025-03-01T09:22:00Z", "2025-03-01T11:30:00Z"]
    );
    let m = &hits[1];
    assert_eq!(m[3], MALLORY);
    assert_eq!(m[5], "prod/pods/x</td><script>document.body.dataset.pwned=1</script>/exec");
    assert_eq!(m[9], r"<script>document.title='pwned'</script>\u{1b}[31mred\u{202e}evil");
    assert!(!html.contains('\u{1b}') && !html.contains('\u{202e}'));
    let actors = cells(&doc, "top-actors");
    assert!(actors.iter().any(|r| r[0] == MALLORY));
    // The chart: one bar per hour from 09:00 to 11:00, stacked by severity.
    let svg = doc.descendants().find(|n| n.has_tag_name("svg")).expect("an inline SVG chart");
    // Bars are stacked from the least severe up.
    let rects: Vec<&str> =
        svg.descendants().filter_map(|n| n.attribute("class")).filter(|c| c.starts_with("sev-")).collect();
    assert_eq!(rects, ["sev-medium", "sev-high", "sev-critical", "sev-low"]);
    let tips: Vec<String> =
        svg.descendants().filter(|n| n.has_tag_name("title")).filter_map(|n| n.text().map(str::to_owned)).collect();
    assert_eq!(tips, ["2025-03-01T09:00:00Z, 1 critical, 1 high, 1 medium", "2025-03-01T11:00:00Z, 1 low"]);
    // The same input gives the same bytes.
    let again = dir.join("again.html");
    run(with_test_rules(kaudit().arg("scan")).arg(hostile()).arg("--report").arg(&again));
    assert_eq!(std::fs::read(&again).unwrap(), html.as_bytes());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn report_hit_list_is_bounded_and_says_so() {
    let dir = temp_dir("bounded");
    let report = dir.join("r.html");
    run(with_test_rules(kaudit().arg("scan")).arg(hostile()).arg("--report").arg(&report).args(["--report-hits", "2"]));
    let html = std::fs::read_to_string(&report).unwrap();
    let doc = check_report(&html);
    let hits = cells(&doc, "hit-list");
    assert_eq!(
        hits.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(),
        ["2025-03-01T09:05:00Z", "2025-03-01T09:10:00.25Z"]
    );
    assert!(html.contains("The earliest 2 of 4 hits"), "the report says hits were left out");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unwritable_report_fails_the_run() {
    let out = with_test_rules(kaudit().arg("scan"))
        .arg(hostile())
        .args(["--report", "/nonexistent-dir/for/sure/report.html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot write the report"));
    // The summary was still printed.
    assert!(String::from_utf8_lossy(&out.stdout).contains("detections by rule:"));
}

/// Headless Chromium loads the report: it renders, and no injected markup
/// ran. Skipped (with a message) where `/usr/bin/chromium` is not installed;
/// `KAUDIT_REQUIRE_CHROMIUM=1` makes a missing Chromium a failure.
#[test]
fn chromium_renders_the_report() {
    let chromium = std::env::var_os("KAUDIT_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
    if !chromium.exists() {
        assert!(
            std::env::var_os("KAUDIT_REQUIRE_CHROMIUM").is_none(),
            "KAUDIT_REQUIRE_CHROMIUM is set but {} is missing",
            chromium.display()
        );
        eprintln!(
            "SKIPPED chromium_renders_the_report: {} not found (apt-get install -y chromium, or set KAUDIT_CHROMIUM)",
            chromium.display()
        );
        return;
    }
    let dir = temp_dir("chromium");
    let report = dir.join("report.html");
    run(with_test_rules(kaudit().arg("scan")).arg(hostile()).arg("--report").arg(&report));
    let url = format!("file://{}", report.display());
    let headless = |extra: &[&str]| -> Output {
        // `timeout` only guards against a hung browser; no time is asserted.
        Command::new("timeout")
            .arg("120")
            .arg(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars"])
            .arg(format!("--user-data-dir={}", dir.join("profile").display()))
            .args(extra)
            .arg(&url)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = headless(&["--dump-dom"]);
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("<title>kaudit scan report</title>"), "document.title was changed or not rendered");
    assert!(dom.contains(r#"id="hit-list""#) && dom.contains("<svg"), "the report did not render");
    assert!(!dom.contains("data-pwned") && !dom.contains("<script"), "injected markup became live");
    assert!(dom.contains("mallory\"&gt;&lt;img src=x onerror=alert(1)&gt;"), "the hostile actor is shown as text");
    let shot = dir.join("shot.png");
    let out = headless(&["--window-size=1280,1600", &format!("--screenshot={}", shot.display())]);
    assert!(out.status.success(), "chromium screenshot failed: {}", String::from_utf8_lossy(&out.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "a rendered page, not a blank one");
    let _ = std::fs::remove_dir_all(&dir);
}

// ------------------------------------------------ a dump of mixed vendors

/// Every vendor sample and synthetic envelope, relative to tests/fixtures.
fn vendor_files() -> Vec<PathBuf> {
    fn walk(base: &Path, rel: &Path, out: &mut Vec<PathBuf>) {
        let mut es: Vec<_> = std::fs::read_dir(base.join(rel)).unwrap().flatten().map(|e| e.file_name()).collect();
        es.sort();
        for name in es {
            let r = rel.join(&name);
            if base.join(&r).is_dir() {
                walk(base, &r, out);
            } else if [".json", ".jsonl", ".gz"].iter().any(|x| name.to_string_lossy().ends_with(x)) {
                out.push(r);
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures(""), Path::new(""), &mut out);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    g.write_all(data).unwrap();
    g.finish().unwrap()
}

/// Build a dump directory: every fixture gzip'd (already gzip'd ones copied)
/// under nested per-vendor folders, plus files that must not be read.
/// Returns the dump and, in the order a directory walk reads them, the
/// original files.
fn build_dump(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let dump = dir.join("dump");
    let mut pairs = Vec::new();
    for (i, rel) in vendor_files().iter().enumerate() {
        let src = fixtures("").join(rel);
        let data = std::fs::read(&src).unwrap();
        // vendors/<vendor>/<file> → <vendor>/, synthetic/<file> → synthetic/
        let comps: Vec<_> = rel.iter().collect();
        let top = comps[comps.len().saturating_sub(2)].to_string_lossy().into_owned();
        let name = rel.file_name().unwrap().to_string_lossy().into_owned();
        // Nest deeper for some, to exercise recursion.
        let sub = if i % 3 == 0 { dump.join(&top).join("2025").join("03") } else { dump.join(&top) };
        std::fs::create_dir_all(&sub).unwrap();
        let dst = if name.ends_with(".gz") { sub.join(&name) } else { sub.join(format!("{i:02}-{name}.gz")) };
        let bytes = if name.ends_with(".gz") { data } else { gzip(&data) };
        assert!(bytes.starts_with(&[0x1f, 0x8b]));
        std::fs::write(&dst, bytes).unwrap();
        pairs.push((dst, src));
    }
    // Not read: a README, a hidden file, a hidden directory, a link loop.
    let hidden_event = br#"{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"synthetic-hidden","stage":"ResponseComplete","verb":"get","user":{"username":"hidden-user"},"stageTimestamp":"2025-01-01T00:00:00Z"}"#;
    std::fs::write(dump.join("README.md"), "# a note next to the logs\n").unwrap();
    std::fs::write(dump.join(".hidden.jsonl"), hidden_event).unwrap();
    std::fs::create_dir_all(dump.join(".cache")).unwrap();
    std::fs::write(dump.join(".cache").join("x.jsonl"), hidden_event).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(&dump, dump.join("loop")).unwrap();
    pairs.sort();
    (dump, pairs.into_iter().map(|(_, src)| src).collect())
}

#[test]
fn scan_over_a_directory_of_mixed_gzipped_vendor_files() {
    let dir = temp_dir("dump");
    let (dump, originals) = build_dump(&dir);
    assert!(originals.len() >= 25, "fixtures went missing: {}", originals.len());
    let report = dir.join("report.html");
    let out = run(kaudit().arg("scan").arg(&dump).arg("--report").arg(&report).stdout(Stdio::piped()));
    let summary = String::from_utf8(out.stdout).unwrap();
    for section in [
        "time range: ",
        "detections by severity",
        "detections by rule:",
        "top actors",
        "sources seen:",
        "clusters seen:",
        "blind (the source cannot provide a field the rule needs):",
    ] {
        assert!(summary.contains(section), "no {section:?} in\n{summary}");
    }
    for source in [
        "k8s ",
        "k8s.eventlist",
        "k8s.shipper",
        "eks.cloudwatch",
        "eks.subscription",
        "aks.diagnostic",
        "aks.loganalytics",
        "aks.azurediagnostics",
        "gke.logentry",
        "gke.pubsub",
        "openshift.viaq",
        "openshift.otlp",
    ] {
        assert!(summary.contains(&format!("\n{source}")), "source {source} not seen in\n{summary}");
    }
    // The gzip'd, nested dump gives exactly the summary of the plain files.
    let plain = run(kaudit().arg("scan").args(&originals));
    assert_eq!(summary, String::from_utf8(plain.stdout).unwrap());
    // Piped stderr: the stats table, no progress bar.
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("records = events + skipped + errors: yes"), "{err}");
    assert!(
        !err.contains('\u{1b}') && !err.contains('\r') && !err.contains("/s)"),
        "progress drawn on a pipe: {err:?}"
    );
    // The report.
    let html = std::fs::read_to_string(&report).unwrap();
    let doc = check_report(&html);
    assert!(!cells(&doc, "hit-list").is_empty());
    assert!(!cells(&doc, "blind-rules").is_empty());
    // Hidden files and directories, README and the link loop were not read.
    let tl = run(kaudit().args(["timeline", "--actor", "hidden-user"]).arg(&dump));
    assert!(String::from_utf8(tl.stdout).unwrap().starts_with("actor hidden-user: 0 actions"));
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- progress

/// Run a shell command under a pseudo-terminal with `script` (util-linux);
/// `None` where it is not installed.
fn under_pty(cmd: &str) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"].into_iter().find(|p| Path::new(p).exists())?;
    let out = Command::new(script)
        .args(["-q", "-e", "-c", cmd, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && (err.contains("pseudo-terminal") || err.contains("openpty")) {
        eprintln!("SKIPPED: no pseudo-terminal available here: {err}");
        return None;
    }
    assert!(out.status.success(), "{cmd}: {err}");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn progress_is_drawn_on_a_terminal_only() {
    let bin = env!("CARGO_BIN_EXE_kaudit");
    let input = fixtures("vendors/gke/khi-gke-k8s-audit-logentries.jsonl");
    // stdout goes to /dev/null; stderr is the terminal `script` records.
    let cmd = |extra: &str| format!("'{bin}' scan {extra} '{}' > /dev/null", input.display());
    let Some(tty) = under_pty(&cmd("")) else {
        eprintln!(
            "SKIPPED the terminal half of progress_is_drawn_on_a_terminal_only: no `script` (util-linux) or no pty"
        );
        return;
    };
    assert!(tty.contains(" events (") && tty.contains("/s)"), "no progress bar on a terminal: {tty:?}");
    assert!(tty.contains("records = events + skipped + errors: yes"));
    let off = under_pty(&cmd("--no-progress")).unwrap();
    assert!(!off.contains("/s)"), "--no-progress drew a bar: {off:?}");
    // The same run with stderr on a pipe: nothing drawn.
    let piped = run(kaudit().arg("scan").arg(&input).stdout(Stdio::null()).stderr(Stdio::piped()));
    let err = String::from_utf8(piped.stderr).unwrap();
    assert!(!err.contains("/s)") && !err.contains('\r') && !err.contains('\u{1b}'), "{err:?}");
}
