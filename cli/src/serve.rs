//! `kaudit serve`: newline-delimited JSON over TCP in, annotated NDJSON over
//! TCP out (Vector `socket` sink → kaudit → Vector `socket` source).
//!
//! Threads and bounded queues, so a slow or absent downstream stops the
//! reading of the upstream instead of filling memory:
//!
//! ```text
//! accept loop ─┬─ reader (one per upstream connection) ─┐
//!              └─ reader ───────────────────────────────┴─► [IN_QUEUE batches] ─► engine ─► [OUT_QUEUE chunks] ─► writer ─► --forward
//! ```
//!
//! * One engine for all connections (stateful rules keep their state across
//!   upstream reconnects). Batches of one connection reach it in that
//!   connection's order; batches of concurrent connections interleave in
//!   arrival order, which is not deterministic.
//! * The writer keeps every output line until the downstream's TCP stack has
//!   acknowledged all its bytes (Linux `SIOCOUTQ`). When the connection fails
//!   it reconnects with backoff and re-sends from the first line not fully
//!   acknowledged.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kaudit_core::frame::{Frame, Framer};

use crate::ruleload;
use crate::sidecar::{self, Engine, EngineArgs, EngineSnap, IoCounters, Ticker};

#[derive(clap::Args)]
pub struct Args {
    /// Address to accept newline-delimited JSON on (e.g. 127.0.0.1:9000; port 0 picks one).
    #[arg(long, value_name = "ADDR")]
    listen: String,
    /// Address to send the annotated NDJSON to (e.g. Vector's socket source, 127.0.0.1:9001).
    #[arg(long, value_name = "ADDR")]
    forward: String,
    /// Upstream connections served at once; more are closed on accept (and counted).
    #[arg(long, default_value_t = 64)]
    max_connections: u64,
    /// On SIGTERM/SIGINT, how long to keep trying to deliver the output already
    /// produced before giving up (what is given up is counted as records_lost).
    #[arg(long, value_name = "SECS", default_value_t = 30.0)]
    drain_timeout: f64,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Bytes per read on an upstream connection.
const READ_CHUNK: usize = 64 << 10;
/// Batches queued between the readers and the engine.
const IN_QUEUE: usize = 8;
/// Output chunks queued between the engine and the writer.
const OUT_QUEUE: usize = 8;
/// How often a blocked reader or writer looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Complete records read from one connection, in order.
struct Batch {
    data: Vec<u8>,
    frames: Vec<Frame>,
}

struct Shared {
    io: IoCounters,
    stopping: AtomicBool,
}

pub fn run(a: Args) -> ExitCode {
    let Some(set) = ruleload::load_for_detection(&a.engine.rules, a.engine.no_builtin) else {
        return ExitCode::from(2);
    };
    let set = set.with_match_budget(a.engine.max_match_bytes);
    let listener = match TcpListener::bind(&a.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("kaudit: --listen {}: {e}", a.listen);
            return ExitCode::from(2);
        }
    };
    let local = listener.local_addr().map(|x| x.to_string()).unwrap_or_else(|_| a.listen.clone());
    if let Err(e) = listener.set_nonblocking(true) {
        eprintln!("kaudit: --listen {}: {e}", a.listen);
        return ExitCode::from(2);
    }
    let shared = Arc::new(Shared { io: IoCounters::default(), stopping: AtomicBool::new(false) });
    let sh = shared.clone();
    if let Err(e) = sidecar::on_signals(move |s| {
        if sh.stopping.swap(true, Relaxed) {
            eprintln!("kaudit: signal {s} again: exiting without draining");
            std::process::exit(130);
        }
        eprintln!("kaudit: signal {s}: draining (a second signal exits at once)");
    }) {
        eprintln!("kaudit: cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("kaudit: listening on {local}, forwarding to {}", a.forward);

    let started = Instant::now();
    let slot = a.engine.interval().map(|_| Arc::new(Mutex::new(EngineSnap::default())));
    let ticker = a.engine.interval().zip(slot.clone()).map(|(iv, s)| {
        let sh = shared.clone();
        Ticker::start(iv, move || sidecar::stats_line(started, &sidecar::last(&s), &sh.io, true, false))
    });

    let (in_tx, in_rx) = mpsc::sync_channel::<Batch>(IN_QUEUE);
    let (out_tx, out_rx) = mpsc::sync_channel::<Vec<u8>>(OUT_QUEUE);
    let max_record = a.engine.max_record_bytes;
    let drain = Duration::from_secs_f64(a.drain_timeout.max(0.0));
    let final_snap = std::thread::scope(|sc| {
        let sh = &*shared;
        let forward = a.forward.clone();
        sc.spawn(move || Downstream::new(forward, sh, drain).run(out_rx));
        let engine_args = &a.engine;
        let set = &set;
        let slot = &slot;
        let eng = sc.spawn(move || engine_loop(set, engine_args, in_rx, out_tx, slot));
        accept_loop(sc, &listener, in_tx, sh, a.max_connections, max_record);
        eng.join().unwrap_or_default()
    });
    if let Some(t) = ticker {
        t.stop();
    }
    eprintln!("{}", sidecar::stats_line(started, &final_snap, &shared.io, true, true));
    if shared.io.lines_lost.load(Relaxed) > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn accept_loop<'s>(
    sc: &'s std::thread::Scope<'s, '_>,
    listener: &TcpListener,
    tx: SyncSender<Batch>,
    sh: &'s Shared,
    max_conns: u64,
    max_record: usize,
) {
    while !sh.stopping.load(Relaxed) {
        match listener.accept() {
            Ok((s, peer)) => {
                if sh.io.connections_open.load(Relaxed) >= max_conns {
                    sh.io.connections_refused.fetch_add(1, Relaxed);
                    eprintln!("kaudit: {peer}: refused, {max_conns} connections already open");
                    continue;
                }
                sh.io.connections_open.fetch_add(1, Relaxed);
                sh.io.connections_total.fetch_add(1, Relaxed);
                let tx = tx.clone();
                sc.spawn(move || {
                    if let Err(e) = reader(s, &tx, sh, max_record) {
                        eprintln!("kaudit: upstream {peer}: {e}; the records read before it were kept");
                    }
                    sh.io.connections_open.fetch_sub(1, Relaxed);
                });
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(POLL / 2),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                eprintln!("kaudit: accept: {e}");
                std::thread::sleep(POLL);
            }
        }
    }
}

/// Read one upstream connection to its end (or to the stop flag, after
/// draining what the kernel already received), sending complete records.
fn reader(mut s: TcpStream, tx: &SyncSender<Batch>, sh: &Shared, max_record: usize) -> io::Result<()> {
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(POLL))?;
    let mut framer = Framer::new(max_record);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut chunk = vec![0u8; READ_CHUNK];
    let mut draining = false;
    let mut result = Ok(());
    loop {
        if !draining && sh.stopping.load(Relaxed) {
            draining = true;
            s.set_nonblocking(true)?;
        }
        let eof = match s.read(&mut chunk) {
            Ok(0) => true,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                false
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                if !draining {
                    continue;
                }
                true
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                result = Err(e);
                true
            }
        };
        let mut frames = Vec::new();
        while let Some(f) = framer.next(&buf, eof) {
            frames.push(f);
        }
        if !frames.is_empty() {
            sh.io.records_in.fetch_add(frames.len() as u64, Relaxed);
            let keep = framer.keep_from();
            let rest = buf[keep..].to_vec();
            buf.truncate(keep);
            framer.shift(keep);
            let data = std::mem::replace(&mut buf, rest);
            if tx.send(Batch { data, frames }).is_err() {
                return Err(io::Error::other("engine stopped"));
            }
        }
        if eof {
            return result;
        }
    }
}

fn engine_loop(
    set: &kaudit_core::rules::RuleSet,
    a: &EngineArgs,
    rx: Receiver<Batch>,
    tx: SyncSender<Vec<u8>>,
    slot: &Option<Arc<Mutex<EngineSnap>>>,
) -> EngineSnap {
    let mut engine = Engine::new(set, a);
    for b in rx {
        engine.frames(&b.data, b.frames);
        if !engine.output().is_empty() {
            let out = engine.output().to_vec();
            engine.clear_output();
            // The writer takes every chunk until the channel closes.
            let _ = tx.send(out);
        }
        sidecar::publish(slot, &engine);
    }
    engine.snapshot()
}

/// Bytes the peer's TCP stack has not acknowledged yet (sent or not).
#[cfg(target_os = "linux")]
fn unacked(s: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (SIOCOUTQ on a TCP socket) writes one c_int through the
    // pointer, which points to a live local for the duration of the call.
    let r = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n as *mut libc::c_int) };
    (r == 0 && n >= 0).then_some(n as u64)
}

/// Elsewhere, a write the kernel accepted counts as delivered (see README).
#[cfg(not(target_os = "linux"))]
fn unacked(_: &TcpStream) -> Option<u64> {
    Some(0)
}

/// The output side: a replay buffer of lines not yet acknowledged, and the
/// connection to the downstream. Positions are offsets in the whole output
/// stream since start.
struct Downstream<'a> {
    addr: String,
    conn: Option<TcpStream>,
    sh: &'a Shared,
    /// Unacknowledged output; `buf[0]` is at stream offset `base`.
    buf: Vec<u8>,
    base: u64,
    /// Start of the first line not fully acknowledged.
    head: u64,
    /// Next byte to write on the current connection.
    sent: u64,
    /// Where the current connection started.
    conn_start: u64,
    drain: Duration,
    deadline: Option<Instant>,
    gave_up: bool,
    connected_once: bool,
}

impl<'a> Downstream<'a> {
    fn new(addr: String, sh: &'a Shared, drain: Duration) -> Self {
        Downstream {
            addr,
            conn: None,
            sh,
            buf: Vec::new(),
            base: 0,
            head: 0,
            sent: 0,
            conn_start: 0,
            drain,
            deadline: None,
            gave_up: false,
            connected_once: false,
        }
    }

    fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    fn run(mut self, rx: Receiver<Vec<u8>>) {
        loop {
            match rx.recv_timeout(POLL) {
                Ok(chunk) => {
                    self.push(&chunk);
                    self.pump();
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.confirm();
                    // Idle with output unacknowledged: a downstream that closed or
                    // reset would otherwise go unnoticed until the next write.
                    if self.head < self.sent {
                        if let Some(e) = self.peer_gone() {
                            self.fail(&e);
                            self.pump();
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => break,
            }
        }
        self.finish();
    }

    fn push(&mut self, chunk: &[u8]) {
        if self.gave_up {
            self.sh.io.lines_lost.fetch_add(lines(chunk), Relaxed);
            return;
        }
        self.buf.extend_from_slice(chunk);
        self.gauge();
    }

    fn gauge(&self) {
        self.sh.io.pending_bytes.store(self.end() - self.head, Relaxed);
    }

    /// After the stop signal: whether the drain time is up.
    fn out_of_time(&mut self) -> bool {
        if !self.sh.stopping.load(Relaxed) {
            return false;
        }
        let drain = self.drain;
        Instant::now() >= *self.deadline.get_or_insert_with(|| Instant::now() + drain)
    }

    /// Write everything not yet written, reconnecting as needed.
    fn pump(&mut self) {
        while !self.gave_up && self.sent < self.end() {
            if self.conn.is_none() && !self.connect() {
                return;
            }
            let Some(c) = self.conn.as_mut() else { return };
            let from = (self.sent - self.base) as usize;
            match c.write(&self.buf[from..]) {
                Ok(0) => self.fail(&io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => self.sent += n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                    // A slow downstream: keep waiting, unless draining has run out of time.
                    if self.out_of_time() {
                        self.give_up("the downstream did not take the output within --drain-timeout");
                    }
                }
                Err(e) => self.fail(&e),
            }
            self.confirm();
        }
    }

    fn connect(&mut self) -> bool {
        let mut backoff = BACKOFF_MIN;
        let mut reported = false;
        loop {
            if self.out_of_time() {
                self.give_up("the downstream was unreachable until --drain-timeout");
                return false;
            }
            let res = self.addr.to_socket_addrs().and_then(|mut it| {
                let a = it.next().ok_or_else(|| io::Error::other("no address"))?;
                TcpStream::connect_timeout(&a, BACKOFF_MAX)
            });
            match res.and_then(|s| {
                s.set_nodelay(true)?;
                s.set_write_timeout(Some(POLL))?;
                Ok(s)
            }) {
                Ok(s) => {
                    if self.connected_once || reported {
                        eprintln!(
                            "kaudit: downstream {}: connected; re-sending {} bytes not acknowledged before",
                            self.addr,
                            self.end() - self.head
                        );
                    }
                    self.connected_once = true;
                    self.conn = Some(s);
                    self.conn_start = self.head;
                    self.sent = self.head;
                    return true;
                }
                Err(e) => {
                    if !reported {
                        eprintln!("kaudit: downstream {}: {e}; retrying with backoff", self.addr);
                        reported = true;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                }
            }
        }
    }

    /// Drop the lines the downstream has acknowledged.
    fn confirm(&mut self) {
        let Some(c) = &self.conn else { return };
        let on_conn = self.sent - self.conn_start;
        let acked = match unacked(c) {
            Some(u) => self.sent - u.min(on_conn),
            None => self.conn_start,
        };
        self.trim_to(acked);
    }

    fn trim_to(&mut self, acked: u64) {
        if acked <= self.head {
            return;
        }
        let lo = (self.head - self.base) as usize;
        let hi = (acked - self.base) as usize;
        if let Some(p) = memchr::memrchr(b'\n', &self.buf[lo..hi]) {
            let done = &self.buf[lo..lo + p + 1];
            self.sh.io.lines_out.fetch_add(lines(done), Relaxed);
            self.sh.io.bytes_out.fetch_add(done.len() as u64, Relaxed);
            self.head += p as u64 + 1;
        }
        // Compact when at least half of the buffer is acknowledged.
        let dead = (self.head - self.base) as usize;
        if dead > 0 && dead >= self.buf.len() / 2 {
            self.buf.drain(..dead);
            self.base = self.head;
        }
        self.gauge();
    }

    /// The connection failed: keep what it acknowledged, re-send the rest later.
    fn fail(&mut self, e: &io::Error) {
        self.confirm();
        self.conn = None;
        self.sent = self.head;
        self.sh.io.reconnects.fetch_add(1, Relaxed);
        eprintln!("kaudit: downstream {}: {e}; reconnecting", self.addr);
    }

    fn give_up(&mut self, why: &str) {
        let n = lines(&self.buf[(self.head - self.base) as usize..]);
        self.sh.io.lines_lost.fetch_add(n, Relaxed);
        eprintln!("kaudit: downstream {}: {why}; {n} records not delivered", self.addr);
        self.buf.clear();
        self.base = self.head;
        self.sent = self.head;
        self.conn = None;
        self.gave_up = true;
        self.gauge();
    }

    /// Whether the downstream closed or reset the connection (it never sends data).
    fn peer_gone(&mut self) -> Option<io::Error> {
        let c = self.conn.as_mut()?;
        let mut b = [0u8; 512];
        let r = c.set_nonblocking(true).and_then(|()| c.read(&mut b));
        let _ = c.set_nonblocking(false);
        match r {
            Ok(0) => Some(io::Error::new(io::ErrorKind::UnexpectedEof, "closed by the downstream")),
            Err(e) if !matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => Some(e),
            _ => None,
        }
    }

    /// The input is over: deliver the rest, wait for its acknowledgement, close.
    fn finish(&mut self) {
        let drain = self.drain;
        self.deadline.get_or_insert_with(|| Instant::now() + drain);
        loop {
            self.pump();
            if self.gave_up {
                return;
            }
            self.confirm();
            if self.head == self.end() {
                break;
            }
            if let Some(e) = self.peer_gone() {
                self.fail(&e);
                continue;
            }
            if Instant::now() >= self.deadline.unwrap_or_else(Instant::now) {
                self.give_up("the downstream did not acknowledge the output within --drain-timeout");
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(c) = self.conn.take() {
            let _ = c.shutdown(Shutdown::Write);
        }
    }
}

fn lines(b: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', b).count() as u64
}
