//! The HTTP/1.1 responder behind `/metrics` and `/health`: one thread, a blocking std
//! listener, one request at a time, `Connection: close` after every answer.
//!
//! A scraper is the only expected client, so there is no HTTP crate: the request line and
//! headers (at most [`MAX_HEAD`] bytes) must arrive within [`IO_TIMEOUT`], anything else gets
//! 400 (garbage, too long), 404 (another path) or 405 (another method) or, for a client that
//! stalls, a closed connection, so no client holds the next scrape up for longer than the
//! timeout. The answers come from a [`Handler`] the program gives: the event loop's snapshot
//! for a node, dhtdump's counters for dhtdump.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::HttpConfig;

/// Longest request line plus headers taken.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request, and to take the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(1);
/// `Content-Type` of `/metrics` (text exposition format 0.0.4).
pub const METRICS_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// `/metrics`: the exposition text.
    Metrics,
    /// `/health`: whether the program is well.
    Health,
}

/// A handler's answer: `Ok(body)` is 200, `Err(reason)` is 503 with the reason as the body.
pub type Answer = Result<String, String>;

/// Answers requests; called on the HTTP thread.
pub type Handler = Box<dyn Fn(Want) -> Answer + Send>;

/// How a request head parsed.
#[derive(Debug, PartialEq, Eq)]
pub enum Head<'a> {
    /// More bytes are needed (no blank line yet).
    Incomplete,
    /// A well-formed head.
    Request {
        /// The method (`GET`).
        method: &'a str,
        /// The path, without a query string.
        path: &'a str,
    },
    /// Not an HTTP/1.x request head.
    Bad,
}

/// Parses the request head at the front of `buf`: a request line
/// `METHOD SP /target SP HTTP/1.x`, then `name: value` header lines, then a blank line.
pub fn parse_head(buf: &[u8]) -> Head<'_> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return Head::Incomplete;
    };
    let Ok(text) = std::str::from_utf8(&buf[..end]) else {
        return Head::Bad;
    };
    let mut lines = text.split("\r\n");
    let line = lines.next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Head::Bad;
    };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !token(method) || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Head::Bad;
    }
    if !lines.all(|h| {
        h.split_once(':')
            .is_some_and(|(name, _)| token_header(name))
    }) {
        return Head::Bad;
    }
    let path = target.split('?').next().unwrap_or(target);
    Head::Request { method, path }
}

fn token_header(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Binds `cfg`'s address; an error names the address and the config key.
pub fn bind(cfg: &HttpConfig) -> io::Result<TcpListener> {
    let named = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot serve metrics on {}:{} ({}): {e}",
                cfg.address, cfg.port, cfg.key
            ),
        )
    };
    let addrs: Vec<SocketAddr> = (cfg.address.as_str(), cfg.port)
        .to_socket_addrs()
        .map_err(named)?
        .collect();
    TcpListener::bind(&addrs[..]).map_err(named)
}

/// The running responder; dropping it stops the thread.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl HttpServer {
    /// Serves `listener` with `handler` on a thread of its own, and logs
    /// `metrics: serving http://ADDR:PORT/metrics` to root.log.
    pub fn spawn(listener: TcpListener, handler: Handler) -> io::Result<HttpServer> {
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("metrics-http".to_owned())
            .spawn(move || serve(&listener, &handler, &flag))?;
        log::info!("metrics: serving http://{addr}/metrics");
        Ok(HttpServer {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address served.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // The thread blocks in accept: a connection wakes it to see the flag.
        if TcpStream::connect_timeout(&self.addr, IO_TIMEOUT).is_ok() {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
    }
}

fn serve(listener: &TcpListener, handler: &Handler, stop: &AtomicBool) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match stream {
            Ok(stream) => {
                // A failed exchange concerns that client only.
                if let Err(e) = exchange(stream, handler) {
                    log::debug!("metrics: {e}");
                }
            }
            Err(e) => {
                log::warn!("metrics: accept failed: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// One request and its answer, all within [`IO_TIMEOUT`] each way.
fn exchange(mut stream: TcpStream, handler: &Handler) -> io::Result<()> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut buf = vec![0; MAX_HEAD];
    let mut len = 0;
    let Answered {
        status,
        body,
        head_only,
        exposition,
    } = loop {
        match parse_head(&buf[..len]) {
            Head::Request { method, path } => break route(method, path, handler),
            Head::Bad => break Answered::plain(400, "bad request\n", false),
            Head::Incomplete if len == MAX_HEAD => {
                break Answered::plain(400, "request head too long\n", false)
            }
            Head::Incomplete => {}
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "request too slow"));
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf[len..])? {
            0 => return Ok(()),
            n => len += n,
        }
    };
    let content_type = if exposition {
        METRICS_TYPE
    } else {
        "text/plain; charset=utf-8"
    };
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        reason(status),
        body.len()
    );
    if status == 405 {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(&body);
    }
    write_within(&mut stream, out.as_bytes(), Instant::now() + IO_TIMEOUT)?;
    let _ = stream.shutdown(Shutdown::Write);
    Ok(())
}

/// Writes all of `bytes` by `deadline`: a client that reads slowly is cut off at the deadline,
/// not given a fresh timeout for every chunk it takes.
fn write_within(stream: &mut TcpStream, mut bytes: &[u8], deadline: Instant) -> io::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "answer not taken"));
        }
        stream.set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What goes back to the client.
struct Answered {
    status: u16,
    body: String,
    /// HEAD: the head only.
    head_only: bool,
    /// The body is a `/metrics` page (its content type).
    exposition: bool,
}

impl Answered {
    fn plain(status: u16, body: impl Into<String>, head_only: bool) -> Answered {
        Answered {
            status,
            body: body.into(),
            head_only,
            exposition: false,
        }
    }
}

fn route(method: &str, path: &str, handler: &Handler) -> Answered {
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return Answered::plain(405, "method not allowed\n", false);
    }
    let want = match path {
        "/metrics" => Want::Metrics,
        "/health" => Want::Health,
        _ => return Answered::plain(404, "not found\n", head_only),
    };
    match handler(want) {
        Ok(body) => Answered {
            exposition: want == Want::Metrics,
            ..Answered::plain(200, body, head_only)
        },
        Err(why) => Answered::plain(503, format!("{why}\n"), head_only),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests;
