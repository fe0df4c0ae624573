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
