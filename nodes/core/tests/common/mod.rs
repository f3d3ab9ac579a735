//! A line-based test service and a harness that runs a `Server` on 127.0.0.1:0 in a thread.
//!
//! Commands, one per line: `echo TEXT` → `TEXT`; `stream N` → N lines of 1000 bytes produced
//! 64 per resume (Step::More), then `end`; `wait` → waits (Step::Wait) for a `post`, replies
//! with the posted text; `post TEXT` → delivers TEXT to every waiting connection, replies
//! `delivered K`; `worker` → a thread finishes through the waker, the reply `worker done` comes
//! from on_wake; `count` → open connections; `ticks` → tick calls so far; `bye` → replies `bye`
//! then Step::Close; anything else → Handled::Close.

#![allow(dead_code)] // each test binary uses a different part

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use swarm_core::{ConnId, Context, Handled, Server, ServerConfig, Service, ShutdownHandle, Step};

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
}

#[derive(Debug)]
pub enum Mode {
    Idle,
    Streaming { next: usize, total: usize },
    Waiting,
}

#[derive(Debug)]
pub struct Session {
    id: ConnId,
    mode: Mode,
}

#[derive(Debug, Default)]
pub struct TestService {
    pub shared: Arc<Shared>,
    waiting: Vec<ConnId>,
    mail: HashMap<ConnId, String>,
    worker_done: Arc<AtomicBool>,
    worker_for: Option<ConnId>,
    requests: u64,
}

impl TestService {
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
            let start = out.len();
            write!(out, "{:08} ", *next).expect("vec write");
            out.resize(start + LINE - 1, b'x');
            out.push(b'\n');
            *next += 1;
        }
        Step::More
    }

    fn command(
        &mut self,
        cx: &mut Context<'_>,
        s: &mut Session,
        line: &str,
        out: &mut Vec<u8>,
    ) -> Option<Step> {
        let (cmd, arg) = line.split_once(' ').unwrap_or((line, ""));
        let step = match cmd {
            "echo" => {
                writeln!(out, "{arg}").expect("vec write");
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
                self.waiting.push(s.id);
                Step::Wait
            }
            "post" => {
                let n = self.waiting.len();
                for id in self.waiting.drain(..) {
                    self.mail.insert(id, arg.to_owned());
                    cx.wake(id);
                }
                writeln!(out, "delivered {n}").expect("vec write");
                Step::Done
            }
            "worker" => {
                s.mode = Mode::Waiting;
                self.worker_for = Some(s.id);
                let (done, waker) = (Arc::clone(&self.worker_done), cx.waker());
                thread::spawn(move || {
                    thread::sleep(Duration::from_millis(20));
                    done.store(true, Ordering::SeqCst);
                    waker.wake().expect("wake");
                });
                Step::Wait
            }
            "count" => {
                writeln!(out, "{}", cx.num_connections()).expect("vec write");
                Step::Done
            }
            "ticks" => {
                writeln!(out, "{}", self.shared.ticks.load(Ordering::SeqCst)).expect("vec write");
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
}

impl Service for TestService {
    type Session = Session;

    fn open(&mut self, id: ConnId, _peer: SocketAddr) -> Session {
        self.shared.opened.fetch_add(1, Ordering::SeqCst);
        Session {
            id,
            mode: Mode::Idle,
        }
    }

    fn handle(
        &mut self,
        cx: &mut Context<'_>,
        s: &mut Session,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Handled {
        let Some(pos) = input.iter().position(|&b| b == b'\n') else {
            if input.len() > MAX_LINE {
                return Handled::Close("line too long".to_owned());
            }
            return Handled::Incomplete;
        };
        self.requests += 1;
        let line = String::from_utf8_lossy(&input[..pos]).into_owned();
        match self.command(cx, s, &line, out) {
            Some(step) => Handled::Request {
                consumed: pos + 1,
                step,
            },
            None => Handled::Close(format!("unknown command {line:?}")),
        }
    }

    fn resume(&mut self, _cx: &mut Context<'_>, s: &mut Session, out: &mut Vec<u8>) -> Step {
        match s.mode {
            Mode::Streaming { .. } => Self::stream(s, out),
            Mode::Waiting => match self.mail.remove(&s.id) {
                Some(text) => {
                    writeln!(out, "{text}").expect("vec write");
                    s.mode = Mode::Idle;
                    Step::Done
                }
                None => Step::Wait,
            },
            Mode::Idle => Step::Done,
        }
    }

    fn close(&mut self, _cx: &mut Context<'_>, s: Session) {
        self.waiting.retain(|&id| id != s.id);
        self.mail.remove(&s.id);
        self.shared.closed.fetch_add(1, Ordering::SeqCst);
    }

    fn tick(&mut self, _cx: &mut Context<'_>) {
        self.shared.ticks.fetch_add(1, Ordering::SeqCst);
    }

    fn on_wake(&mut self, cx: &mut Context<'_>) {
        if self.worker_done.swap(false, Ordering::SeqCst) {
            if let Some(id) = self.worker_for.take() {
                self.mail.insert(id, "worker done".to_owned());
                cx.wake(id);
            }
        }
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
