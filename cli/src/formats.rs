//! Output formats of `kaudit normalize --to` and `kaudit scan --format`: the
//! flag values and the plumbing around the core's encoders (the SARIF log's
//! opening and closing, the host facts the core may not read itself).

use std::io::{self, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use kaudit_core::encode::{self, sarif};
use kaudit_core::findings::{self, Context, FindingFormat};
use kaudit_core::rules::RuleSet;
use kaudit_core::scan::Scanner;
use kaudit_core::Stats;

/// `kaudit normalize --to`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum NormalizeFormat {
    /// The canonical event: `audit.k8s.io/v1` Event + `kaudit`.
    Canonical,
    /// OCSF API Activity (class 6003), one per event.
    Ocsf,
    /// Elastic Common Schema with `kubernetes.audit.*`, one per event.
    Ecs,
}

impl NormalizeFormat {
    pub fn encoder(self) -> encode::Format {
        match self {
            NormalizeFormat::Canonical => encode::Format::Canonical,
            NormalizeFormat::Ocsf => encode::Format::Ocsf,
            NormalizeFormat::Ecs => encode::Format::Ecs,
        }
    }
}

/// `kaudit scan --format`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum ScanFormat {
    /// A summary table of detections (and blind rules) on stdout.
    Table,
    /// Canonical events with `kaudit.detections`, one per line.
    Json,
    /// One OCSF Detection Finding (class 2004) per detection.
    Ocsf,
    /// One ECS alert document per detection.
    Ecs,
    /// One Falco payload per detection, as falcosidekick accepts it.
    Falco,
    /// One SARIF 2.1.0 log with a result per detection.
    Sarif,
}

impl ScanFormat {
    /// Whether the scan writes records (anything but the summary table).
    pub fn writes_records(self) -> bool {
        self != ScanFormat::Table
    }

    fn findings(self) -> Option<FindingFormat> {
        match self {
            ScanFormat::Table | ScanFormat::Json => None,
            ScanFormat::Ocsf => Some(FindingFormat::Ocsf),
            ScanFormat::Ecs => Some(FindingFormat::Ecs),
            ScanFormat::Falco => Some(FindingFormat::Falco),
            ScanFormat::Sarif => Some(FindingFormat::Sarif),
        }
    }
}

/// The machine's host name (Linux `/proc`, then `/etc/hostname`).
fn hostname() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
}

/// Set the scanner up for `format` (findings formats get the host's clock
/// and name).
pub fn configure<O: kaudit_core::scan::Observer>(sc: &mut Scanner<'_, O>, format: ScanFormat) {
    if let Some(f) = format.findings() {
        let created_ms = SystemTime::now().duration_since(UNIX_EPOCH).ok().map(|d| d.as_millis() as i64);
        sc.set_findings(f, Context { created_ms, hostname: hostname() });
    }
}

/// Write what comes before the records (the SARIF log's opening).
pub fn begin(set: &RuleSet, format: ScanFormat, out: &mut dyn Write) -> io::Result<()> {
    if format == ScanFormat::Sarif {
        let mut buf = Vec::new();
        findings::sarif_begin(set, &mut buf);
        out.write_all(&buf)?;
    }
    Ok(())
}

/// Write what comes after the records (the SARIF log's closing, with a
/// notification for inputs that could not be read and units that could not
/// be decoded, which a SARIF log has no other place for).
pub fn end(format: ScanFormat, failed: bool, stats: &Stats, out: &mut dyn Write) -> io::Result<()> {
    if format != ScanFormat::Sarif {
        return Ok(());
    }
    let t = stats.total();
    let mut notes = Vec::new();
    let undecoded = format!(
        "{} of {} records could not be decoded; run with --format json to see them with their raw bytes",
        t.errors, t.records
    );
    if t.errors > 0 {
        notes.push(sarif::Notification { level: sarif::Level::Warning, message: &undecoded });
    }
    if failed {
        notes.push(sarif::Notification {
            level: sarif::Level::Error,
            message: "some inputs could not be read (see stderr)",
        });
    }
    let mut buf = Vec::new();
    sarif::end(&mut buf, !failed, &notes);
    buf.push(b'\n');
    out.write_all(&buf)
}
