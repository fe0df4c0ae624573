//! Reading inputs: files or stdin, plain or gzip, framed into records.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;
use kaudit_core::frame::{Frame, Framer};

/// Open `path` (`-` is stdin), transparently gunzipping gzip input.
pub fn open(path: &str) -> io::Result<Box<dyn Read>> {
    let raw: Box<dyn Read> =
        if path == "-" { Box::new(io::stdin().lock()) } else { Box::new(File::open(Path::new(path))?) };
    let mut br = BufReader::with_capacity(1 << 20, raw);
    let head = br.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(MultiGzDecoder::new(br)))
    } else {
        Ok(Box::new(br))
    }
}

/// Read `r` to the end, calling `each` with every framed record.
pub fn for_each_record(mut r: impl Read, max_record: usize, mut each: impl FnMut(&[u8], &Frame)) -> io::Result<()> {
    let mut framer = Framer::new(max_record);
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut chunk = vec![0u8; 1 << 20];
    let mut eof = false;
    loop {
        while let Some(f) = framer.next(&buf, eof) {
            each(&buf[f.range.clone()], &f);
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
    fn output(&self) -> &[u8];
    fn clear_output(&mut self);
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
}

impl Pump for kaudit_core::scan::Scanner<'_> {
    fn record(&mut self, dec: &kaudit_core::Decoder, rec: &[u8]) {
        kaudit_core::scan::Scanner::record(self, dec, rec)
    }
    fn oversize(&mut self, piece: &[u8], limit: usize) {
        kaudit_core::scan::Scanner::oversize(self, piece, limit)
    }
    fn output(&self) -> &[u8] {
        kaudit_core::scan::Scanner::output(self)
    }
    fn clear_output(&mut self) {
        kaudit_core::scan::Scanner::clear_output(self)
    }
}

/// What [`pump_all`] ended with.
pub enum Pumped {
    /// Every input was read; `true` if some could not be (reported on stderr).
    Done(bool),
    /// The reader of our output went away (a closed pipe): stop quietly.
    Closed,
}

/// Read every path (`-` is stdin) through `pump`, writing its output to
/// `out` in pieces of about 1 MiB. Unreadable inputs are reported on stderr
/// and skipped.
pub fn pump_all(
    paths: &[String],
    dec: &kaudit_core::Decoder,
    pump: &mut dyn Pump,
    out: &mut dyn std::io::Write,
) -> Pumped {
    let max = dec.limits().max_record_bytes;
    let mut failed = false;
    for path in paths {
        let res = open(path).and_then(|r| {
            let mut write_err = None;
            for_each_record(r, max, |rec, frame| {
                if frame.oversize {
                    pump.oversize(rec, max);
                } else {
                    pump.record(dec, rec);
                }
                if pump.output().len() >= 1 << 20 && write_err.is_none() {
                    write_err = out.write_all(pump.output()).err();
                    pump.clear_output();
                }
            })?;
            if let Some(e) = write_err {
                return Err(e);
            }
            out.write_all(pump.output())?;
            pump.clear_output();
            Ok(())
        });
        if let Err(e) = res {
            if e.kind() == io::ErrorKind::BrokenPipe {
                return Pumped::Closed;
            }
            eprintln!("kaudit: {path}: {e}");
            failed = true;
        }
    }
    Pumped::Done(failed)
}
