//! Reading inputs: files or stdin, plain or gzip, framed into records.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use kaudit_core::frame::{Frame, Framer};
use kaudit_core::scan::{Observer, Scanner};

use crate::progress::Progress;

/// Open `path` (`-` is stdin), transparently gunzipping gzip input.
pub fn open(path: &str) -> io::Result<Box<dyn Read>> {
    open_counted(path, &Progress::hidden())
}

/// [`open`], advancing `progress` by the bytes read from the file (before
/// gunzipping, so that the total is the files' size).
pub fn open_counted(path: &str, progress: &Progress) -> io::Result<Box<dyn Read>> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(progress.reader(io::stdin().lock()))
    } else {
        Box::new(progress.reader(File::open(Path::new(path))?))
    };
    let mut br = BufReader::with_capacity(1 << 20, raw);
    let head = br.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(MultiGzDecoder::new(br)))
    } else {
        Ok(Box::new(br))
    }
}

/// Read `r` to the end, calling `each` with every framed record, until it
/// returns `false`.
pub fn for_each_record_while(
    r: impl Read,
    max_record: usize,
    mut each: impl FnMut(&[u8], &Frame) -> bool,
) -> io::Result<()> {
    for_each_chunk_while(r, max_record, |buf, frames| {
        frames.iter().all(|f| buf.get(f.range.clone()).is_some_and(|rec| each(rec, f)))
    })
}

/// Read `r` to the end, calling `each` with the records framed from each
/// read (`frames` index `buf`), until it returns `false`: all of a read's
/// records at once, for pumps that take several ([`Pump::frames`]).
pub fn for_each_chunk_while(
    mut r: impl Read,
    max_record: usize,
    mut each: impl FnMut(&[u8], &[Frame]) -> bool,
) -> io::Result<()> {
    let mut framer = Framer::new(max_record);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 20];
    let mut frames: Vec<Frame> = Vec::new();
    let mut eof = false;
    loop {
        frames.clear();
        while let Some(f) = framer.next(&buf, eof) {
            frames.push(f);
        }
        if !frames.is_empty() && !each(&buf, &frames) {
            return Ok(());
        }
        if eof {
            return Ok(());
        }
        let keep = framer.keep_from();
        buf.drain(..keep);
        framer.shift(keep);
        let n = loop {
            match r.read(&mut chunk) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            eof = true;
        } else {
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A sink that takes framed records and accumulates output (Normalizer, Scanner).
pub trait Pump {
    fn record(&mut self, dec: &kaudit_core::Decoder, rec: &[u8]);
    fn oversize(&mut self, piece: &[u8], limit: usize);
    /// Several framed records of `buf`, in order: each as [`Pump::record`]
    /// or [`Pump::oversize`] would take it.
    fn frames(&mut self, dec: &kaudit_core::Decoder, limit: usize, buf: &[u8], frames: &[Frame]) {
        for f in frames {
            let Some(rec) = buf.get(f.range.clone()) else { continue };
            if f.oversize {
                self.oversize(rec, limit);
            } else {
                self.record(dec, rec);
            }
        }
    }
    fn output(&self) -> &[u8];
    fn clear_output(&mut self);
    /// Events so far (for the progress bar).
    fn events(&self) -> u64;
}

impl Pump for kaudit_core::Normalizer {
    fn record(&mut self, dec: &kaudit_core::Decoder, rec: &[u8]) {
        kaudit_core::Normalizer::record(self, dec, rec)
    }
    fn oversize(&mut self, piece: &[u8], limit: usize) {
        kaudit_core::Normalizer::oversize(self, piece, limit)
    }
    fn output(&self) -> &[u8] {
        kaudit_core::Normalizer::output(self)
    }
    fn clear_output(&mut self) {
        kaudit_core::Normalizer::clear_output(self)
    }
    fn events(&self) -> u64 {
        kaudit_core::Normalizer::events(self)
    }
}

impl<O: Observer> Pump for Scanner<'_, O> {
    fn record(&mut self, dec: &kaudit_core::Decoder, rec: &[u8]) {
        Scanner::record(self, dec, rec)
    }
    fn oversize(&mut self, piece: &[u8], limit: usize) {
        Scanner::oversize(self, piece, limit)
    }
    fn frames(&mut self, dec: &kaudit_core::Decoder, limit: usize, buf: &[u8], frames: &[Frame]) {
        let recs = frames.iter().filter_map(|f| Some((buf.get(f.range.clone())?, f.oversize)));
        Scanner::frames(self, dec, limit, recs)
    }
    fn output(&self) -> &[u8] {
        Scanner::output(self)
    }
    fn clear_output(&mut self) {
        Scanner::clear_output(self)
    }
    fn events(&self) -> u64 {
        Scanner::events(self)
    }
}

/// Records a pump takes at once in [`pump_all`] (between checks of its
/// output's size and updates of the progress bar).
const RUN: usize = 256;

/// What [`pump_all`] ended with.
pub enum Pumped {
    /// Every input was read; `true` if some could not be (reported on stderr).
    Done(bool),
    /// The reader of our output went away (a closed pipe): stop quietly.
    Closed,
}

/// Read every path (`-` is stdin) through `pump`, writing its output to
/// `out` in pieces of about 1 MiB. Unreadable inputs are reported on stderr
/// and skipped. `progress` is advanced by bytes read and events seen.
pub fn pump_all(
    paths: &[String],
    dec: &kaudit_core::Decoder,
    pump: &mut dyn Pump,
    out: &mut dyn std::io::Write,
    progress: &Progress,
) -> Pumped {
    let max = dec.limits().max_record_bytes;
    let mut failed = false;
    for path in paths {
        progress.set_input(path);
        let res = open_counted(path, progress).and_then(|r| {
            let mut write_err = None;
            for_each_chunk_while(r, max, |buf, frames| {
                // A read's records in runs, the output written out between
                // them once it passes 1 MiB.
                for run in frames.chunks(RUN) {
                    pump.frames(dec, max, buf, run);
                    progress.set_events(pump.events());
                    if pump.output().len() >= 1 << 20 && write_err.is_none() {
                        write_err = out.write_all(pump.output()).err();
                        pump.clear_output();
                    }
                }
                true
            })?;
            if let Some(e) = write_err {
                return Err(e);
            }
            out.write_all(pump.output())?;
            pump.clear_output();
            progress.set_events(pump.events());
            Ok(())
        });
        if let Err(e) = res {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Pumped::Closed;
            }
            progress.suspend(|| eprintln!("kaudit: {path}: {e}"));
            failed = true;
        }
    }
    Pumped::Done(failed)
}

/// Files found by walking a directory that are surely not logs.
const NOT_LOGS: &[&str] = &["md", "py", "rs", "toml", "yaml", "yml", "sh", "html", "css", "js", "txt", "lock"];

/// Expand the command line's paths into the inputs to read, in order: `-`
/// (or no path) is stdin; a directory is walked recursively in name order,
/// leaving out hidden entries, files that are surely not logs (by
/// extension) and symbolic links to directories (no loops); a file named on
/// the command line is always read. A directory that cannot be listed is
/// kept as an input, so that reading it reports the error.
pub fn expand(paths: &[std::path::PathBuf]) -> Vec<String> {
    fn walk(p: &Path, top: bool, out: &mut Vec<String>) {
        let hidden = p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if p.is_dir() {
            let link = p.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink());
            if !top && (hidden || link) {
                return;
            }
            match std::fs::read_dir(p) {
                Ok(rd) => {
                    let mut es: Vec<std::path::PathBuf> = rd.flatten().map(|e| e.path()).collect();
                    es.sort();
                    es.iter().for_each(|e| walk(e, false, out));
                }
                Err(_) => out.push(p.display().to_string()),
            }
        } else {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            // Files named on the command line are always read.
            if top || !(hidden || NOT_LOGS.contains(&ext)) {
                out.push(p.display().to_string());
            }
        }
    }
    if paths.is_empty() {
        return vec!["-".into()];
    }
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push("-".into());
        } else {
            walk(p, true, &mut out);
        }
    }
    out
}
