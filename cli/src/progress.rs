//! A progress bar on stderr (bytes read, bytes/s, events, events/s), drawn
//! only when stderr is a terminal: a piped or redirected stderr gets nothing.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

/// Whether to draw: only on a terminal that can redraw a line (not
/// `TERM=dumb`), and not when the user turned it off.
pub fn should_draw(stderr_is_terminal: bool, disabled: bool, term: Option<&str>) -> bool {
    stderr_is_terminal && !disabled && term != Some("dumb")
}

/// The progress of a run; a hidden one does nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
    events: Arc<AtomicU64>,
}

const TEMPLATE_TOTAL: &str =
    "{spinner} [{elapsed_precise}] {bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}) {events} events ({eps}/s) {wide_msg}";
const TEMPLATE_OPEN: &str =
    "{spinner} [{elapsed_precise}] {binary_bytes} ({binary_bytes_per_sec}) {events} events ({eps}/s) {wide_msg}";

impl Progress {
    /// A progress that draws nothing.
    pub fn hidden() -> Progress {
        Progress { bar: None, events: Arc::new(AtomicU64::new(0)) }
    }

    /// A bar over `total` input bytes (unknown with stdin), drawn on stderr
    /// when `draw` (see [`should_draw`]).
    pub fn new(total: Option<u64>, draw: bool) -> Progress {
        if !draw {
            return Progress::hidden();
        }
        let events = Arc::new(AtomicU64::new(0));
        let (ev1, ev2) = (events.clone(), events.clone());
        let template = if total.is_some() { TEMPLATE_TOTAL } else { TEMPLATE_OPEN };
        let style = match ProgressStyle::with_template(template) {
            Ok(s) => s,
            // The templates are constants; a bad one only loses the bar.
            Err(_) => return Progress::hidden(),
        }
        .with_key("events", move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
            let _ = write!(w, "{}", ev1.load(Ordering::Relaxed));
        })
        .with_key("eps", move |st: &ProgressState, w: &mut dyn std::fmt::Write| {
            let secs = st.elapsed().as_secs_f64();
            let n = ev2.load(Ordering::Relaxed) as f64;
            let _ = write!(w, "{:.0}", if secs > 0.0 { n / secs } else { 0.0 });
        });
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr()).with_style(style);
        bar.tick();
        Progress { bar: Some(bar), events }
    }

    /// Wrap a raw input so that bytes read from it advance the bar.
    pub fn reader<R: Read>(&self, inner: R) -> Counting<R> {
        Counting { inner, bar: self.bar.clone() }
    }

    /// Events seen so far.
    pub fn set_events(&self, n: u64) {
        self.events.store(n, Ordering::Relaxed);
    }

    /// Name the input being read.
    pub fn set_input(&self, path: &str) {
        if let Some(b) = &self.bar {
            b.set_message(crate::table::printable(path).into_owned());
        }
    }

    /// Run `f` (which writes to stderr) with the bar out of the way.
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.bar {
            Some(b) => b.suspend(f),
            None => f(),
        }
    }

    /// Remove the bar from the terminal.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// A reader that advances a bar by the bytes it reads.
pub struct Counting<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(b) = &self.bar {
            b.inc(n as u64);
        }
        Ok(n)
    }
}

/// The total size of the named inputs, if all are regular files.
pub fn total_bytes(paths: &[String]) -> Option<u64> {
    paths.iter().try_fold(0u64, |acc, p| {
        if p == "-" {
            return None;
        }
        let m = std::fs::metadata(p).ok()?;
        m.is_file().then(|| acc + m.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_only_on_a_terminal() {
        assert!(should_draw(true, false, Some("xterm-256color")));
        assert!(should_draw(true, false, None));
        assert!(!should_draw(false, false, Some("xterm")), "piped or redirected stderr");
        assert!(!should_draw(true, true, Some("xterm")), "--no-progress");
        assert!(!should_draw(true, false, Some("dumb")), "a terminal that cannot redraw");
    }

    #[test]
    fn hidden_progress_counts_nothing_and_passes_bytes_through() {
        let p = Progress::new(Some(10), false);
        assert!(p.bar.is_none());
        let mut r = p.reader(&b"0123456789"[..]);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "0123456789");
    }

    #[test]
    fn total_is_unknown_with_stdin_or_a_missing_file() {
        assert_eq!(total_bytes(&["-".into()]), None);
        assert_eq!(total_bytes(&["/no/such/file".into()]), None);
        let me = file!();
        let dir = env!("CARGO_MANIFEST_DIR");
        let path = std::path::Path::new(dir).join("..").join(me).display().to_string();
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(total_bytes(&[path.clone(), path]), Some(2 * len));
    }
}
