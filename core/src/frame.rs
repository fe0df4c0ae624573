//! Splitting a byte stream into records, without I/O.
//!
//! Input may be NDJSON, one pretty-printed document, several concatenated
//! documents, or lines of text. The rules, in order:
//!
//! * Whitespace and a UTF-8 BOM between records are skipped.
//! * A record that starts with `{` or `[` is a JSON value: it ends where its
//!   brackets balance. Fast path: a line that starts with `{` and ends with `}`
//!   (or `[` … `]`) is taken as one record without a byte-by-byte scan.
//! * A raw newline is never valid inside a JSON string, so a line that ends
//!   inside a string is a cut-off record and ends at that newline; so does a
//!   line ending in `[Truncated...]` (CloudWatch's marker), and so does a
//!   compact first line left open when the next line starts a new document
//!   at column 0. This keeps one broken line from swallowing the lines after it.
//! * Any other record is one line (a trailing `\r` is dropped).
//! * A record longer than the limit is emitted in pieces of at most the limit,
//!   each marked `oversize`, so memory stays bounded and no byte is lost.

use std::ops::Range;

use memchr::memchr;

/// CloudWatch Logs' marker at the end of a message cut at 256 KB.
pub const TRUNCATED_MARKER: &[u8] = b"[Truncated...]";

/// One record found by the [`Framer`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Byte range in the buffer passed to [`Framer::next`].
    pub range: Range<usize>,
    /// The record exceeded the size limit; this is one piece of it.
    pub oversize: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Between,
    Json,
    Line,
}

/// A resumable record splitter. Feed it the same growing buffer until it
/// returns `None`, then drop the prefix it no longer needs
/// ([`Framer::keep_from`]) and tell it with [`Framer::shift`].
#[derive(Clone, Debug)]
pub struct Framer {
    max_record: usize,
    mode: Mode,
    pos: usize,
    start: usize,
    depth: usize,
    in_str: bool,
    esc: bool,
    /// The current record already spans more than one line.
    multi_line: bool,
    /// The current piece continues an oversize record.
    continuation: bool,
    at_stream_start: bool,
    /// In `Between`, how far a record's first line has been searched for
    /// its end without finding it.
    seen: usize,
}

impl Framer {
    /// A framer whose records are at most `max_record` bytes.
    pub fn new(max_record: usize) -> Self {
        Framer {
            max_record: max_record.max(1),
            mode: Mode::Between,
            pos: 0,
            start: 0,
            depth: 0,
            in_str: false,
            esc: false,
            multi_line: false,
            continuation: false,
            at_stream_start: true,
            seen: 0,
        }
    }

    /// The first byte of `buf` still needed; everything before it may be dropped.
    pub fn keep_from(&self) -> usize {
        if self.mode == Mode::Between {
            self.pos
        } else {
            self.start
        }
    }

    /// The caller dropped `n` bytes from the front of its buffer.
    pub fn shift(&mut self, n: usize) {
        self.pos -= n;
        self.start = self.start.saturating_sub(n);
        self.seen = self.seen.saturating_sub(n);
    }

    fn begin_between(&mut self, at: usize) {
        self.mode = Mode::Between;
        self.pos = at;
        self.seen = at;
        self.depth = 0;
        self.in_str = false;
        self.esc = false;
        self.multi_line = false;
    }

    fn emit(&mut self, end: usize, next: usize, buf: &[u8]) -> Frame {
        let mut e = end;
        while e > self.start && matches!(buf[e - 1], b'\r' | b' ' | b'\t') {
            e -= 1;
        }
        // The last piece of an oversize record is oversize too.
        let f = Frame { range: self.start..e, oversize: self.continuation };
        self.continuation = false;
        self.begin_between(next);
        f
    }

    /// The next complete record in `buf`, if any. `eof` says no more bytes
    /// will be appended, so a pending partial record is emitted as is.
    pub fn next(&mut self, buf: &[u8], eof: bool) -> Option<Frame> {
        loop {
            match self.mode {
                Mode::Between => {
                    if self.at_stream_start {
                        if buf.len() < 3 && !eof && b"\xEF\xBB\xBF".starts_with(buf) {
                            return None;
                        }
                        if buf[self.pos..].starts_with(b"\xEF\xBB\xBF") {
                            self.pos += 3;
                        }
                        self.at_stream_start = false;
                    }
                    while self.pos < buf.len() && matches!(buf[self.pos], b' ' | b'\t' | b'\n' | b'\r' | 0) {
                        self.pos += 1;
                    }
                    if self.pos >= buf.len() {
                        return None;
                    }
                    self.start = self.pos;
                    let first = buf[self.pos];
                    if first == b'{' || first == b'[' {
                        // Fast path: a whole line that closes what it opens.
                        let from = self.seen.max(self.pos);
                        match memchr(b'\n', &buf[from..]) {
                            Some(nl) => {
                                let nl = from + nl;
                                let mut e = nl;
                                while e > self.pos && matches!(buf[e - 1], b'\r' | b' ' | b'\t') {
                                    e -= 1;
                                }
                                let closing = if first == b'{' { b'}' } else { b']' };
                                if e > self.pos + 1 && buf[e - 1] == closing && e - self.start <= self.max_record {
                                    return Some(self.emit(e, nl + 1, buf));
                                }
                            }
                            // Wait for the end of the line (or the size limit) before
                            // choosing between the fast path and the scan, so that the
                            // records never depend on where the reads ended
                            // (regression: fuzz/regressions/frame/2026-11-27-*).
                            None if !eof && buf.len() - self.start < self.max_record => {
                                self.seen = buf.len();
                                return None;
                            }
                            None => {}
                        }
                        self.mode = Mode::Json;
                        self.depth = 0;
                    } else {
                        self.mode = Mode::Line;
                    }
                }
                Mode::Line => {
                    let limit = buf.len().min(self.start.saturating_add(self.max_record));
                    if let Some(nl) = memchr(b'\n', &buf[self.pos..limit]) {
                        let nl = self.pos + nl;
                        return Some(self.emit(nl, nl + 1, buf));
                    }
                    if limit - self.start >= self.max_record {
                        return Some(self.oversize(limit));
                    }
                    self.pos = buf.len();
                    if eof {
                        return if buf.len() > self.start { Some(self.emit(buf.len(), buf.len(), buf)) } else { None };
                    }
                    return None;
                }
                Mode::Json => {
                    let limit = buf.len().min(self.start.saturating_add(self.max_record));
                    let mut i = self.pos;
                    while i < limit {
                        let b = buf[i];
                        if self.in_str {
                            if self.esc {
                                self.esc = false;
                            } else if b == b'\\' {
                                self.esc = true;
                            } else if b == b'"' {
                                self.in_str = false;
                            } else if b == b'\n' {
                                // A raw newline cannot be inside a JSON string: cut record.
                                return Some(self.emit(i, i + 1, buf));
                            }
                        } else {
                            match b {
                                b'"' => self.in_str = true,
                                b'{' | b'[' => self.depth += 1,
                                b'}' | b']' => {
                                    self.depth = self.depth.saturating_sub(1);
                                    if self.depth == 0 {
                                        return Some(self.emit(i + 1, i + 1, buf));
                                    }
                                }
                                b'\n' => {
                                    let mut e = i;
                                    while e > self.start && buf[e - 1] == b'\r' {
                                        e -= 1;
                                    }
                                    if buf[self.start..e].ends_with(TRUNCATED_MARKER) {
                                        return Some(self.emit(i, i + 1, buf));
                                    }
                                    // A compact first line left open, followed by a line
                                    // that starts a new document at column 0: a cut NDJSON
                                    // line, not a pretty-printed document (whose first line
                                    // is the bare opener and whose inner lines are indented).
                                    if !self.multi_line && e - self.start > 2 {
                                        match buf.get(i + 1) {
                                            Some(b'{' | b'[') => return Some(self.emit(i, i + 1, buf)),
                                            None if !eof => {
                                                self.pos = i;
                                                return None;
                                            }
                                            _ => {}
                                        }
                                    }
                                    self.multi_line = true;
                                }
                                _ => {}
                            }
                        }
                        i += 1;
                    }
                    self.pos = i;
                    if limit - self.start >= self.max_record {
                        return Some(self.oversize(limit));
                    }
                    if eof {
                        return if buf.len() > self.start { Some(self.emit(buf.len(), buf.len(), buf)) } else { None };
                    }
                    return None;
                }
            }
        }
    }

    fn oversize(&mut self, end: usize) -> Frame {
        let f = Frame { range: self.start..end, oversize: true };
        // The rest of this record continues as plain lines, piece by piece.
        self.continuation = true;
        self.mode = Mode::Line;
        self.start = end;
        self.pos = end;
        self.in_str = false;
        self.esc = false;
        self.depth = 0;
        f
    }
}

/// All records of a complete buffer.
pub fn records(buf: &[u8], max_record: usize) -> impl Iterator<Item = Frame> + '_ {
    let mut f = Framer::new(max_record);
    std::iter::from_fn(move || f.next(buf, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &str) -> Vec<String> {
        records(input.as_bytes(), 1 << 20).map(|f| input[f.range].to_string()).collect()
    }

    /// Regression: a limit of `usize::MAX` (any `--max-record-bytes`)
    /// overflowed `start + max_record`.
    #[test]
    fn regression_unbounded_record_limit_does_not_overflow() {
        let input = b"{\"a\":1}\n{\"b\":\n2}\nplain text\n{\"c\"";
        let got: Vec<_> = records(input, usize::MAX).map(|f| f.range).collect();
        let want: Vec<_> = records(input, 1 << 20).map(|f| f.range).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn ndjson_lines() {
        assert_eq!(split("{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}"), ["{\"a\":1}", "{\"b\":2}", "{\"c\":3}"]);
    }

    #[test]
    fn pretty_printed_and_concatenated() {
        let s = "{\n\t\"a\": {\n\t\t\"b\": \"}\"\n\t}\n}{\"c\":1}\n[1,\n2]";
        assert_eq!(split(s), ["{\n\t\"a\": {\n\t\t\"b\": \"}\"\n\t}\n}", "{\"c\":1}", "[1,\n2]"]);
    }

    #[test]
    fn cut_lines_do_not_swallow_the_next() {
        let s = "{\"a\":\"cut here\n{\"b\":1}\n{\"c\":[1,[Truncated...]\n{\"d\":2}\n{\"e\":{\"f\":1\n{\"g\":3}\n";
        assert_eq!(
            split(s),
            ["{\"a\":\"cut here", "{\"b\":1}", "{\"c\":[1,[Truncated...]", "{\"d\":2}", "{\"e\":{\"f\":1", "{\"g\":3}"]
        );
    }

    #[test]
    fn text_lines_and_bom() {
        assert_eq!(split("\u{feff}hello world\r\nI0101 klog line\n"), ["hello world", "I0101 klog line"]);
    }

    #[test]
    fn incremental_feeding_matches_whole() {
        let input = "{\n\"a\": 1\n}\n{\"b\":2}\nplain\n[1,2]\n{\"x\":\"y\"";
        let whole = split(input);
        for chunk in 1..8 {
            let mut f = Framer::new(1 << 20);
            let mut buf: Vec<u8> = Vec::new();
            let mut out = Vec::new();
            let bytes = input.as_bytes();
            let mut fed = 0;
            loop {
                let eof = fed == bytes.len();
                while let Some(fr) = f.next(&buf, eof) {
                    out.push(String::from_utf8(buf[fr.range].to_vec()).unwrap());
                }
                if eof {
                    break;
                }
                let keep = f.keep_from();
                buf.drain(..keep);
                f.shift(keep);
                let n = chunk.min(bytes.len() - fed);
                buf.extend_from_slice(&bytes[fed..fed + n]);
                fed += n;
            }
            assert_eq!(out, whole, "chunk size {chunk}");
        }
    }

    #[test]
    fn oversize_records_come_in_bounded_pieces() {
        let input = format!("{{\"a\":\"{}\"}}\n{{\"b\":1}}\n", "x".repeat(100));
        let frames: Vec<Frame> = records(input.as_bytes(), 40).collect();
        assert!(frames.iter().all(|f| f.range.len() <= 40));
        assert!(frames[0].oversize);
        let (last, rest) = frames.split_last().unwrap();
        assert!(rest.iter().all(|f| f.oversize), "every piece of the long record is marked");
        assert!(!last.oversize);
        assert_eq!(&input[last.range.clone()], "{\"b\":1}");
        let total: usize = frames.iter().map(|f| f.range.len()).sum();
        assert!(total >= 100);
    }
}
