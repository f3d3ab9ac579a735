//! A line-based test service and a harness that runs a `Server` on 127.0.0.1:0 in a thread.
//!
//! Commands, one per line:
//! - `echo TEXT` → `TEXT`; `count` → open connections; `ticks` → tick calls so far;
//!   `bye` → replies `bye` then Step::Close; anything else → Handled::Close.
//! - `stream N` → N lines of 1000 bytes produced 64 per resume (Step::More), then `end`.
//! - `wait` → waits (Step::Wait) for a posted event, replies with its text; `post TEXT` →
//!   posts TEXT to every waiting connection (Context::post), replies `delivered K`.
//! - `worker` → a pool job answers `worker done` after 20 ms (Step::Wait until the event);
//!   `later MS TEXT` → likewise, TEXT after MS ms.
//! - `remember` → records this connection's ConnRef for good (not forgotten at close);
//!   `poke TEXT` → posts TEXT to every remembered ConnRef, replies `poked K`.
//! - `subscribe` → a Waiters stream on key "feed": every `publish N` (another connection,
//!   replies `published`) has each subscriber send N lines of 1000 bytes; resume writes up to
//!   64 lines whatever the room, so only the loop's back-pressure bounds the output.
//! - `produce` → a client-to-node stream: then one record per line until an empty line, each
//!   counted; replies `produced K` at the end. While the gate is shut (`gate shut`, from any
//!   connection; `gate open` opens it and wakes the producers) every record waits
//!   (Step::Wait), so the loop stops taking input.
//! - `big LEN` + LEN bytes + `\n` → `big LEN ok`; reports its length (Handled::NeedMore).
//! - `skip LEN` → `skipping LEN`, then LEN bytes are discarded (Handled::Discard).
//! - `heavy N` → N bytes of heavy work counted against the turn (Context::spend), or
//!   Handled::Later when the turn has none left (Context::may_work); replies `heavy T`;
//!   `turn` → `turn T`. T numbers the loop turn the request was handled in.

#![allow(dead_code)] // each test binary uses a different part

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use swarm_core::work::Pool;
use swarm_core::{
    ConnRef, Context, Handled, Mailbox, Out, Server, ServerConfig, Service, ShutdownHandle, Step,
    Waiters,
};

/// Bound on every blocking socket call and wait in the tests.
pub const TIMEOUT: Duration = Duration::from_secs(10);
pub const LINE: usize = 1000;
const LINES_PER_RESUME: usize = 64;
const MAX_LINE: usize = 1024;

#[derive(Debug, Default)]
pub struct Shared {
    pub opened: AtomicUsize,
    pub closed: AtomicUsize,
    pub ticks: AtomicUsize,
    /// Closes seen when the shutdown hook ran (`usize::MAX`: it has not run).
    pub closed_at_shutdown: AtomicUsize,
    pub shutdown_called: AtomicBool,
    /// The most streaming resumes seen in one loop turn (resumes sharing a `cx.now()`).
    pub max_turn_resumes: AtomicUsize,
}

#[derive(Debug)]
pub enum Mode {
    Idle,
    Streaming { next: usize, total: usize },
    Waiting,
    Subscribed { lines: usize },
    Producing { records: usize },
}

#[derive(Debug)]
pub struct Session {
    conn: ConnRef,
    mode: Mode,
    /// Text posted to this connection, sent when it is resumed.
    mail: Option<String>,
}

/// A pool job: sleep, then answer with the text.
pub struct Job {
    sleep: Duration,
    text: String,
}

pub struct TestService {
    pub shared: Arc<Shared>,
    waiting: Vec<ConnRef>,
    remembered: Vec<ConnRef>,
    feed: Waiters<&'static str>,
    producers: Vec<ConnRef>,
    gate_shut: bool,
    pool: Option<Pool<Job, String>>,
    requests: u64,
    /// The current turn's start and its streaming resumes so far.
    turn: (Option<Instant>, usize),
    /// The start of the last turn a `heavy` or `turn` request saw, and its number.
    numbered: (Option<Instant>, u64),
}

impl Default for TestService {
    fn default() -> Self {
        TestService {
            shared: Arc::new(Shared {
                closed_at_shutdown: AtomicUsize::new(usize::MAX),
                ..Shared::default()
            }),
            waiting: Vec::new(),
            remembered: Vec::new(),
            feed: Waiters::default(),
            producers: Vec::new(),
            gate_shut: false,
            pool: None,
            requests: 0,
            turn: (None, 0),
            numbered: (None, 0),
        }
    }
}

fn line_out(out: &mut Vec<u8>, text: &str) {
    writeln!(out, "{text}").expect("vec write");
}

impl TestService {
    /// The number of the current loop turn (turns told apart by their start, `Context::now`).
    fn turn_number(&mut self, cx: &Context<'_, String>) -> u64 {
        if self.numbered.0 != Some(cx.now()) {
            self.numbered = (Some(cx.now()), self.numbered.1 + 1);
        }
        self.numbered.1
    }

    /// The worker pool, made on first use with the loop's mailbox.
    fn pool(&mut self, mailbox: Mailbox<String>) -> &Pool<Job, String> {
        self.pool.get_or_insert_with(|| {
            Pool::new("test-worker", 2, 16, mailbox, || {
                |job: Job| {
                    thread::sleep(job.sleep);
                    Some(job.text)
                }
            })
            .expect("pool")
        })
    }

    fn stream(session: &mut Session, out: &mut Vec<u8>) -> Step {
        let Mode::Streaming { next, total } = &mut session.mode else {
            return Step::Done;
        };
        for _ in 0..LINES_PER_RESUME {
            if *next == *total {
                out.extend_from_slice(b"end\n");
                session.mode = Mode::Idle;
                return Step::Done;
            }
            write_line(out, *next);
            *next += 1;
        }
        Step::More
    }

    fn command(
        &mut self,
        cx: &mut Context<'_, String>,
        s: &mut Session,
        line: &str,
        out: &mut Out<'_>,
    ) -> Option<Step> {
        let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
        let step = match cmd {
            "echo" => {
                line_out(out, arg);
                Step::Done
            }
            "stream" => {
                s.mode = Mode::Streaming {
                    next: 0,
                    total: arg.parse().ok()?,
                };
                Self::stream(s, out)
            }
            "wait" => {
                s.mode = Mode::Waiting;
                self.waiting.push(s.conn);
                Step::Wait
            }
            "post" => {
                let n = self.waiting.len();
                for conn in self.waiting.drain(..) {
                    cx.post(conn, arg.to_owned());
                }
                line_out(out, &format!("delivered {n}"));
                Step::Done
            }
            "worker" | "later" => {
                let (sleep, text) = if cmd == "worker" {
                    (Duration::from_millis(20), "worker done".to_owned())
                } else {
                    let (ms, text) = arg.split_once(' ')?;
                    (Duration::from_millis(ms.parse().ok()?), text.to_owned())
                };
                s.mode = Mode::Waiting;
                let pool = self.pool(cx.mailbox());
                pool.submit(s.conn, Job { sleep, text }).ok()?;
                Step::Wait
            }
            "remember" => {
                self.remembered.push(s.conn);
                line_out(out, "remembered");
                Step::Done
            }
            "poke" => {
                for &conn in &self.remembered {
                    cx.post(conn, arg.to_owned());
                }
                line_out(out, &format!("poked {}", self.remembered.len()));
                Step::Done
            }
            "subscribe" => {
                s.mode = Mode::Subscribed { lines: 0 };
                self.feed.add("feed", s.conn);
                Step::Wait
            }
            "publish" => {
                let n: usize = arg.parse().ok()?;
                for conn in self.feed.of(&"feed").collect::<Vec<_>>() {
                    cx.post(conn, format!("lines {n}"));
                }
                line_out(out, "published");
                Step::Done
            }
            "produce" => {
                s.mode = Mode::Producing { records: 0 };
                self.producers.push(s.conn);
                Step::Done
            }
            "gate" => {
                self.gate_shut = arg == "shut";
                if !self.gate_shut {
                    for &conn in &self.producers {
                        cx.wake(conn);
                    }
                }
                line_out(out, &format!("gate {arg}"));
                Step::Done
            }
            "count" => {
                line_out(out, &cx.num_connections().to_string());
                Step::Done
            }
            "ticks" => {
                line_out(out, &self.shared.ticks.load(Ordering::SeqCst).to_string());
                Step::Done
            }
            "bye" => {
                out.extend_from_slice(b"bye\n");
                Step::Close("client said bye".to_owned())
            }
            _ => return None,
        };
        Some(step)
    }

    /// One record of a Produce stream (or its end, an empty line).
    fn produced(&mut self, s: &mut Session, line: &[u8], out: &mut Out<'_>) -> Option<Step> {
        let Mode::Producing { records } = &mut s.mode else {
            return None;
        };
        if self.gate_shut {
            return Some(Step::Wait);
        }
        if line.is_empty() {
            line_out(out, &format!("produced {records}"));
            s.mode = Mode::Idle;
            self.producers.retain(|&c| c != s.conn);
        } else {
            *records += 1;
        }
        Some(Step::Done)
    }
}

fn write_line(out: &mut Vec<u8>, n: usize) {
    let start = out.len();
    write!(out, "{n:08} ").expect("vec write");
    out.resize(start + LINE - 1, b'x');
    out.push(b'\n');
}

/// `big LEN\n` + LEN bytes + `\n`: its whole length once the header is there.
fn big_request(input: &[u8], header: usize) -> Option<(usize, usize)> {
    let text = std::str::from_utf8(&input[..header]).ok()?;
    let len: usize = text.strip_prefix("big ")?.trim_end().parse().ok()?;
    Some((len, header + len + 1))
}

impl Service for TestService {
    type Session = Session;
    type Event = String;

    fn open(&mut self, conn: ConnRef, _peer: SocketAddr) -> Session {
        self.shared.opened.fetch_add(1, Ordering::SeqCst);
        Session {
            conn,
            mode: Mode::Idle,
            mail: None,
        }
    }

    fn handle(
        &mut self,
        cx: &mut Context<'_, String>,
        s: &mut Session,
        input: &[u8],
        out: &mut Out<'_>,
    ) -> Handled {
        let Some(pos) = input.iter().position(|&b| b == b'\n') else {
            if input.len() > MAX_LINE {
                return Handled::Close("line too long".to_owned());
            }
            return Handled::Incomplete;
        };
        self.requests += 1;
        if matches!(s.mode, Mode::Producing { .. }) {
            return match self.produced(s, &input[..pos], out) {
                Some(Step::Wait) => Handled::Request {
                    // Nothing taken: the record waits in the input for the gate.
                    consumed: 0,
                    step: Step::Wait,
                },
                Some(step) => Handled::Request {
                    consumed: pos + 1,
                    step,
                },
                None => Handled::Close("not producing".into()),
            };
        }
        if let Some((len, total)) = big_request(input, pos + 1) {
            if input.len() < total {
                return Handled::NeedMore(total);
            }
            line_out(out, &format!("big {len} ok"));
            return Handled::Request {
                consumed: total,
                step: Step::Done,
            };
        }
        let line = String::from_utf8_lossy(&input[..pos]).into_owned();
        if let Some(n) = line.strip_prefix("heavy ") {
            let Ok(n) = n.parse() else {
                return Handled::Close("bad heavy".into());
            };
            if !cx.may_work() {
                return Handled::Later;
            }
            cx.spend(n);
            let turn = self.turn_number(cx);
            line_out(out, &format!("heavy {turn}"));
            return Handled::Request {
                consumed: pos + 1,
                step: Step::Done,
            };
        }
        if line == "turn" {
            let turn = self.turn_number(cx);
            line_out(out, &format!("turn {turn}"));
            return Handled::Request {
                consumed: pos + 1,
                step: Step::Done,
            };
        }
        if let Some(len) = line.strip_prefix("skip ") {
            let Ok(len) = len.parse() else {
                return Handled::Close("bad skip".into());
            };
            line_out(out, &format!("skipping {len}"));
            return Handled::Discard {
                consumed: pos + 1,
                discard: len,
            };
        }
        match self.command(cx, s, &line, out) {
            Some(step) => Handled::Request {
                consumed: pos + 1,
                step,
            },
            None => Handled::Close(format!("unknown command {line:?}")),
        }
    }

    fn resume(&mut self, cx: &mut Context<'_, String>, s: &mut Session, out: &mut Out<'_>) -> Step {
        match &mut s.mode {
            Mode::Streaming { .. } => {
                let now = Some(cx.now());
                if self.turn.0 != now {
                    self.turn = (now, 0);
                }
                self.turn.1 += 1;
                self.shared
                    .max_turn_resumes
                    .fetch_max(self.turn.1, Ordering::Relaxed);
                Self::stream(s, out)
            }
            Mode::Waiting => match s.mail.take() {
                Some(text) => {
                    line_out(out, &text);
                    s.mode = Mode::Idle;
                    Step::Done
                }
                None => Step::Wait,
            },
            Mode::Subscribed { lines } => {
                self.feed.resumed(s.conn);
                let n = (*lines).min(LINES_PER_RESUME);
                for i in 0..n {
                    write_line(out, i);
                }
                *lines -= n;
                if *lines > 0 {
                    cx.wake(s.conn);
                }
                Step::Wait
            }
            Mode::Producing { .. } => Step::Done,
            Mode::Idle => Step::Done,
        }
    }

    fn deliver(
        &mut self,
        cx: &mut Context<'_, String>,
        s: &mut Session,
        event: String,
        _out: &mut Out<'_>,
    ) -> Step {
        match &mut s.mode {
            Mode::Subscribed { lines } => {
                *lines += event
                    .strip_prefix("lines ")
                    .and_then(|n| n.parse::<usize>().ok())
                    .unwrap_or(0);
                cx.wake(s.conn);
                Step::Wait
            }
            Mode::Waiting => {
                s.mail = Some(event);
                cx.wake(s.conn);
                Step::Wait
            }
            // An event for a connection that is not waiting is a bug the tests look for.
            Mode::Idle => {
                panic!("event {event:?} delivered to an idle connection");
            }
            Mode::Streaming { .. } => Step::More,
            Mode::Producing { .. } => Step::Done,
        }
    }

    fn close(&mut self, _cx: &mut Context<'_, String>, s: Session) {
        self.waiting.retain(|&c| c != s.conn);
        self.producers.retain(|&c| c != s.conn);
        self.feed.remove(s.conn);
        if let Some(pool) = &self.pool {
            pool.cancel(s.conn);
        }
        self.shared.closed.fetch_add(1, Ordering::SeqCst);
    }

    fn tick(&mut self, _cx: &mut Context<'_, String>) {
        self.shared.ticks.fetch_add(1, Ordering::SeqCst);
    }

    fn shutdown(&mut self, _cx: &mut Context<'_, String>) {
        self.shared.shutdown_called.store(true, Ordering::SeqCst);
        self.shared
            .closed_at_shutdown
            .store(self.shared.closed.load(Ordering::SeqCst), Ordering::SeqCst);
    }

    fn stats(&mut self) -> Vec<(String, String)> {
        vec![(
            "test_requests".to_owned(),
            std::mem::take(&mut self.requests).to_string(),
        )]
    }
}

/// A server running in a thread; shut down on drop.
pub struct Running {
    pub addr: SocketAddr,
    pub handle: ShutdownHandle,
    pub shared: Arc<Shared>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<TestService>>,
}

pub fn start(cfg: ServerConfig) -> Running {
    let service = TestService::default();
    let shared = Arc::clone(&service.shared);
    let mut server = Server::bind(&cfg, service).expect("bind");
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let (tx, done) = mpsc::channel();
    let thread = thread::spawn(move || {
        server.run().expect("run");
        let _ = tx.send(());
        server.into_service()
    });
    Running {
        addr,
        handle,
        shared,
        done,
        thread: Some(thread),
    }
}

pub fn local() -> ServerConfig {
    ServerConfig::local(0)
}

impl Running {
    /// A connected client with read and write timeouts.
    pub fn connect(&self) -> Client {
        let stream = TcpStream::connect(self.addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
        stream.set_write_timeout(Some(TIMEOUT)).expect("timeout");
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        Client { stream, reader }
    }

    /// Shuts the server down and waits (bounded) for `run` to return.
    pub fn stop(mut self) -> TestService {
        self.handle.shutdown();
        self.done
            .recv_timeout(TIMEOUT)
            .expect("run() returned after shutdown");
        self.thread
            .take()
            .expect("thread")
            .join()
            .expect("server thread")
    }

    pub fn closed(&self) -> usize {
        self.shared.closed.load(Ordering::SeqCst)
    }

    /// Waits (bounded) until `cond` holds.
    pub fn wait_until(&self, what: &str, cond: impl Fn(&Shared) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !cond(&self.shared) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.shutdown();
    }
}

pub struct Client {
    pub stream: TcpStream,
    pub reader: BufReader<TcpStream>,
}

impl Client {
    pub fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).expect("send");
    }

    pub fn line(&mut self) -> String {
        let mut s = String::new();
        let n = self.reader.read_line(&mut s).expect("read reply");
        assert!(n > 0, "connection closed while a reply was expected");
        assert!(s.ends_with('\n'), "partial line {s:?}");
        s.pop();
        s
    }

    pub fn ask(&mut self, text: &str) -> String {
        self.send(text);
        self.line()
    }

    /// Reads until the server closes the connection; returns the bytes received.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        match std::io::Read::read_to_end(&mut self.reader, &mut buf) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!("expected the server to close the connection: {e}"),
        }
        buf
    }
}
