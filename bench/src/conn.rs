//! One benchmark connection: a non-blocking socket registered once (edge-triggered, readable
//! and writable), an output buffer holding the current batch of requests, an input buffer, and
//! the operations in flight in send order.

use super::codec::{Codec, Fatal, Outcome};
use super::mix::Op;
use mio::net::TcpStream;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

/// Initial input buffer; it grows when one reply does not fit.
const READ_BUF: usize = 64 * 1024;

/// A connection and its in-flight requests.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    out: Vec<u8>,
    out_pos: usize,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    inflight: VecDeque<Op>,
    sent_at: Instant,
    /// False once the connection failed; it is never used again.
    pub alive: bool,
    /// True while the connection waits for the rate limiter.
    pub waiting: bool,
    /// Log requests (Append, PutBatch) sent so far: the connection's timestamp-like counter.
    pub log_seq: u64,
}

/// What one read turn produced.
#[derive(Debug, Default)]
pub struct Replies {
    /// Replies parsed, by outcome.
    pub hits: u64,
    /// See [`Outcome::Miss`].
    pub misses: u64,
    /// See [`Outcome::Error`].
    pub errors: u64,
    /// Records the hits stored or fetched (a PutBatch stores a batch of them).
    pub records: u64,
}

impl Conn {
    /// Wraps a connected, non-blocking stream.
    pub fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            out: Vec::with_capacity(4096),
            out_pos: 0,
            buf: vec![0; READ_BUF],
            start: 0,
            end: 0,
            inflight: VecDeque::new(),
            sent_at: Instant::now(),
            alive: true,
            waiting: false,
            log_seq: 0,
        }
    }

    /// The socket, for registration.
    pub fn stream_mut(&mut self) -> &mut TcpStream {
        &mut self.stream
    }

    /// When the current batch was written.
    pub fn sent_at(&self) -> Instant {
        self.sent_at
    }

    /// Whether every request sent has its reply and every byte is written.
    pub fn idle(&self) -> bool {
        self.inflight.is_empty() && self.out_pos == self.out.len()
    }

    /// Buffers a request; [`Conn::send`] writes all buffered requests at once.
    pub fn push(&mut self, codec: &Codec, op: Op, key: &[u8; 16], value: &[u8]) {
        codec.encode(op, key, value, self.log_seq, &mut self.out);
        self.inflight.push_back(op);
    }

    /// Starts the batch clock and writes what was pushed (one write unless the socket is full).
    pub fn send(&mut self, now: Instant) -> io::Result<()> {
        self.sent_at = now;
        self.flush()
    }

    /// Writes pending output until done or the socket is full.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }

    /// Reads what arrived and parses every complete reply, calling `latency` with the time
    /// since the batch was sent for each. A short read means the socket is drained: with
    /// edge-triggered readiness, bytes arriving later raise a new event.
    pub fn receive(
        &mut self,
        codec: &Codec,
        mut latency: impl FnMut(u64),
    ) -> Result<Replies, Fatal> {
        let mut replies = Replies::default();
        loop {
            self.make_room();
            let space = self.buf.len() - self.end;
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => return Err(Fatal("the server closed the connection".into())),
                Ok(n) => {
                    self.end += n;
                    self.parse(codec, &mut replies, &mut latency)?;
                    if n < space {
                        return Ok(replies);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(replies),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Fatal(format!("read: {e}"))),
            }
        }
    }

    fn make_room(&mut self) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
    }

    fn parse(
        &mut self,
        codec: &Codec,
        replies: &mut Replies,
        latency: &mut impl FnMut(u64),
    ) -> Result<(), Fatal> {
        let mut now = None;
        while let Some(&op) = self.inflight.front() {
            let Some((outcome, used)) = codec.parse(op, &self.buf[self.start..self.end])? else {
                break;
            };
            self.start += used;
            self.inflight.pop_front();
            let now = *now.get_or_insert_with(Instant::now);
            latency(now.saturating_duration_since(self.sent_at).as_nanos() as u64);
            match outcome {
                Outcome::Hit => {
                    replies.hits += 1;
                    replies.records += codec.records_per_request(op);
                }
                Outcome::Miss => replies.misses += 1,
                Outcome::Error => replies.errors += 1,
            }
        }
        if self.inflight.is_empty() && self.start < self.end {
            return Err(Fatal("the server sent bytes no request asked for".into()));
        }
        Ok(())
    }
}
