//! `kaudit stream`: NDJSON on stdin, annotated NDJSON on stdout, flushed per
//! read batch (for Vector's `exec` source in streaming mode, or any pipe).
//!
//! One thread: `poll(2)` waits on stdin and on a self-pipe written by the
//! SIGTERM/SIGINT handler. Each `read(2)` takes whatever is in the pipe (up
//! to 256 KiB); the complete records in it are scanned and their output is
//! written and flushed before kaudit waits again. So the output for a line is
//! on stdout before kaudit blocks waiting for the next line, and when input
//! arrives faster one batch holds many lines and is flushed once.
//!
//! On a signal, what is already in the pipe is read too, a last record
//! without its newline is scanned as it is, and kaudit exits after writing
//! it all. On end of input likewise.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kaudit_core::frame::Framer;

use crate::ruleload;
use crate::sidecar::{self, Engine, EngineArgs, EngineSnap, IoCounters, Ticker};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    engine: EngineArgs,
}

/// Bytes per `read(2)` on stdin.
const CHUNK: usize = 256 << 10;

/// Why the loop ended.
enum End {
    Eof,
    ReadError(io::Error),
    Signal,
    /// stdout was closed or failed: the output of the last batch is lost.
    WriteError(io::Error),
}

/// The read end of a self-pipe that SIGTERM and SIGINT write to.
fn signal_pipe() -> io::Result<UnixStream> {
    let (r, w) = UnixStream::pair()?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGTERM, w.try_clone()?)?;
    signal_hook::low_level::pipe::register(signal_hook::consts::SIGINT, w)?;
    Ok(r)
}

/// Wait until stdin or the signal pipe is readable: (stdin, signal).
fn wait(sig: &UnixStream) -> io::Result<(bool, bool)> {
    let mut fds = [
        libc::pollfd { fd: libc::STDIN_FILENO, events: libc::POLLIN, revents: 0 },
        libc::pollfd { fd: sig.as_raw_fd(), events: libc::POLLIN, revents: 0 },
    ];
    loop {
        // SAFETY: `fds` is a live array of two pollfd for the duration of the call.
        let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if r >= 0 {
            // POLLHUP / POLLERR on stdin: the next read reports EOF or the error.
            return Ok((fds[0].revents != 0, fds[1].revents != 0));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Bytes waiting on stdin (a pipe or a file) when the signal came: what is drained.
fn unread_stdin() -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one c_int through a pointer to a live local.
    let r = unsafe { libc::ioctl(libc::STDIN_FILENO, libc::FIONREAD, &mut n as *mut libc::c_int) };
    if r == 0 {
        n.max(0) as usize
    } else {
        0
    }
}

pub fn run(a: Args) -> ExitCode {
    let Some(set) = ruleload::load_for_detection(&a.engine.rules, a.engine.no_builtin) else {
        return ExitCode::from(2);
    };
    let set = set.with_match_budget(a.engine.max_match_bytes);
    let started = Instant::now();
    let sig = match signal_pipe() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("kaudit: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let io_counters = Arc::new(IoCounters::default());
    let slot = a.engine.interval().map(|_| Arc::new(Mutex::new(EngineSnap::default())));
    let ticker = a.engine.interval().zip(slot.clone()).map(|(iv, s)| {
        let io_c = io_counters.clone();
        Ticker::start(iv, move || sidecar::stats_line(started, &sidecar::last(&s), &io_c, false, false))
    });

    let mut engine = Engine::new(&set, &a.engine);
    let end = pump(&sig, &mut engine, a.engine.max_record_bytes, &io_counters, &slot);

    if let Some(t) = ticker {
        t.stop();
    }
    eprintln!("{}", sidecar::stats_line(started, &engine.snapshot(), &io_counters, false, true));
    match end {
        End::Eof => ExitCode::SUCCESS,
        End::Signal => {
            eprintln!("kaudit: stopped by a signal after writing every record read");
            ExitCode::SUCCESS
        }
        End::ReadError(e) => {
            eprintln!("kaudit: reading stdin: {e}");
            ExitCode::FAILURE
        }
        End::WriteError(e) => {
            eprintln!("kaudit: writing stdout: {e}; the output of the last batch was not delivered");
            ExitCode::FAILURE
        }
    }
}

/// The engine loop: wait, read once, scan the complete records, write + flush.
fn pump(
    sig: &UnixStream,
    engine: &mut Engine<'_>,
    max_record: usize,
    io_c: &IoCounters,
    slot: &Option<Arc<Mutex<EngineSnap>>>,
) -> End {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut framer = Framer::new(max_record);
    // `buf[..filled]` holds input not yet framed away; the rest is read space,
    // zeroed once when the buffer grows (not on every read).
    let mut buf: Vec<u8> = vec![0; 2 * CHUNK];
    let mut filled = 0usize;
    // After a signal: how many more bytes to read (what stdin held at that moment).
    let mut drain: Option<usize> = None;
    loop {
        let mut end = None;
        let readable = match drain {
            Some(left) => left > 0,
            None => match wait(sig) {
                Ok((readable, false)) => readable,
                Ok((_, true)) => {
                    let left = unread_stdin();
                    drain = Some(left);
                    left > 0
                }
                Err(e) => return End::ReadError(e),
            },
        };
        if readable {
            let want = drain.map_or(CHUNK, |left| left.min(CHUNK));
            if buf.len() < filled + want {
                buf.resize(filled + want, 0);
            }
            let r = loop {
                match input.read(&mut buf[filled..filled + want]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    r => break r,
                }
            };
            match r {
                Ok(0) => end = Some(End::Eof),
                Ok(n) => {
                    filled += n;
                    if let Some(left) = drain.as_mut() {
                        *left = left.saturating_sub(n);
                    }
                }
                Err(e) => end = Some(End::ReadError(e)),
            }
        } else if drain.is_some() {
            end = Some(End::Signal);
        }
        let eof = end.is_some();
        let data = &buf[..filled];
        let mut records = 0;
        engine.frames(data, std::iter::from_fn(|| framer.next(data, eof)).inspect(|_| records += 1));
        io_c.records_in.fetch_add(records, Relaxed);
        let keep = framer.keep_from();
        buf.copy_within(keep..filled, 0);
        filled -= keep;
        framer.shift(keep);
        let o = engine.output();
        if !o.is_empty() {
            let lines = memchr::memchr_iter(b'\n', o).count() as u64;
            if let Err(e) = out.write_all(o).and_then(|()| out.flush()) {
                return End::WriteError(e);
            }
            io_c.lines_out.fetch_add(lines, Relaxed);
            io_c.bytes_out.fetch_add(o.len() as u64, Relaxed);
            engine.clear_output();
        }
        sidecar::publish(slot, engine);
        if let Some(e) = end {
            return e;
        }
    }
}
