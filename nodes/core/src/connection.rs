//! One client connection as the loop sees it: socket, buffers, request state, the readiness it
//! has seen and the interest it is registered with, its clocks (for the request, idle and
//! write timeouts); reading and writing the socket.
//!
//! Sockets are registered edge-triggered, so the flags here remember what an edge promised
//! (`read_pending`: bytes may still be waiting; `write_blocked`: the send buffer is full) until
//! the loop has acted on it.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Instant;

use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::buffer::{InputBudget, InputBuffer, OutputBuffer, FREE_INPUT};
use crate::service::ConnRef;

/// Bytes read from one connection in one turn before the others get theirs (fairness).
const READ_BUDGET: usize = 256 * 1024;
/// Output kept pending before the loop stops taking requests from a connection.
pub(crate) const HIGH_WATER: usize = 1024 * 1024;
/// Output below which a streaming ([`crate::Step::More`]) reply, or a woken waiting one, is
/// resumed.
pub(crate) const LOW_WATER: usize = 256 * 1024;
/// Unprocessed input buffered while the connection cannot process it (a request in progress,
/// output backed up); past it the loop stops reading until the backlog clears.
const INPUT_PAUSE: usize = 1024 * 1024;

/// Where the connection is in its request sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// No request in progress: the next one is decoded from the input.
    Idle,
    /// A streaming reply goes on as output drains.
    More,
    /// A request waits for the service to wake it.
    Wait,
}

/// How a read pass ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// The socket has nothing more for now.
    Drained,
    /// The per-turn budget ran out with bytes possibly still waiting.
    Budget,
    /// The client closed its side.
    Eof,
    /// The input buffer must grow and the node-wide input budget has no room for it now.
    Starved,
}

#[derive(Debug)]
pub(crate) struct Connection<T> {
    /// This connection's slot and generation.
    pub(crate) me: ConnRef,
    pub(crate) stream: TcpStream,
    pub(crate) peer: SocketAddr,
    pub(crate) input: InputBuffer,
    pub(crate) out: OutputBuffer,
    pub(crate) session: T,
    pub(crate) state: State,
    /// A readable edge arrived and the socket was not yet read to the end.
    pub(crate) read_pending: bool,
    /// The peer half-closed or the socket reported an error: read to the end, not to the first
    /// short read.
    pub(crate) hup: bool,
    /// The last write hit `WouldBlock`; a writable edge clears it.
    pub(crate) write_blocked: bool,
    /// Whether the registration currently includes `WRITABLE`.
    pub(crate) writable_interest: bool,
    /// The client closed its side; no more input will come.
    pub(crate) eof: bool,
    /// Close once the output is flushed; take no more requests.
    pub(crate) closing: bool,
    /// The last processing pass stopped with input left that it could not take (a budget, a
    /// request in progress, output backed up), rather than for want of bytes.
    pub(crate) input_blocked: bool,
    /// The service asked for a resume (see [`crate::Context::wake`]).
    pub(crate) woken: bool,
    /// In the loop's ready queue (revisit without a new event).
    pub(crate) queued: bool,
    /// Since when output has been pending without the socket taking any of it.
    pub(crate) stalled_since: Option<Instant>,
    /// Since when a request has been arriving without arriving whole (the request timeout).
    pub(crate) partial_since: Option<Instant>,
    /// The last time bytes came in or went out, or a request was handled (idle timeout, and
    /// which connection makes room at the connection limit).
    pub(crate) last_active: Instant,
    /// Whether a request of it was ever handled: at the connection limit, connections that
    /// never sent one (a flood, a port scan) make room before those that were served.
    pub(crate) served: bool,
    /// Input bytes still to be dropped as they arrive ([`crate::Handled::Discard`]).
    pub(crate) discard: u64,
    /// Waiting for the input budget to have room before reading on.
    pub(crate) starved: bool,
    /// The request in progress (More/Wait), by command, and when it started (metrics only).
    pub(crate) ongoing: Option<(usize, Instant)>,
}

impl<T> Connection<T> {
    pub(crate) fn new(
        me: ConnRef,
        stream: TcpStream,
        peer: SocketAddr,
        session: T,
        now: Instant,
    ) -> Self {
        Connection {
            me,
            stream,
            peer,
            input: InputBuffer::default(),
            out: OutputBuffer::default(),
            session,
            state: State::Idle,
            read_pending: false,
            hup: false,
            write_blocked: false,
            writable_interest: false,
            eof: false,
            closing: false,
            input_blocked: false,
            woken: false,
            queued: false,
            stalled_since: None,
            partial_since: None,
            last_active: now,
            served: false,
            discard: 0,
            starved: false,
            ongoing: None,
        }
    }

    /// No request in progress, nothing buffered either way: the connection only holds a socket.
    pub(crate) fn is_idle(&self) -> bool {
        self.state == State::Idle
            && self.input.is_empty()
            && self.out.is_empty()
            && self.discard == 0
            && !self.closing
    }

    /// Whether reading now is useful. While the last pass took all it could, the buffered bytes
    /// are an incomplete request, however large, and reading goes on. Otherwise only up to
    /// `INPUT_PAUSE`: enough to notice a hang-up during a long request, without letting a client
    /// that sends faster than it is served (or never reads) grow the buffer without bound.
    /// Whether a large request is arriving: one the service announced as longer than every
    /// connection's free input buffer, or an oversized value being dropped as it arrives.
    pub(crate) fn bulk(&self) -> bool {
        self.discard > 0 || self.input.need() > FREE_INPUT
    }

    pub(crate) fn may_read(&self) -> bool {
        !self.eof
            && !self.closing
            && !self.starved
            && (!self.input_blocked || self.input.len() < INPUT_PAUSE)
    }

    /// Reads until the socket is drained, the client closed, or the turn's budget is spent:
    /// at most `allowance` bytes (the loop's [`crate::drive::TurnBudget`] left), and never more
    /// than [`READ_BUDGET`] from one connection.
    ///
    /// A read that returns less than asked for means the socket buffer was emptied (Linux
    /// reports new data with a new edge), so the usual request costs one `read` call, not a
    /// second one just to see `WouldBlock`. After a hang-up edge it reads on to the end of
    /// stream instead, as no further edge will come. Bytes to discard are dropped as they come.
    #[inline]
    pub(crate) fn read(
        &mut self,
        received: &mut u64,
        budget: &mut InputBudget,
        allowance: usize,
    ) -> io::Result<ReadEnd> {
        let allowance = allowance.min(READ_BUDGET);
        let mut total = 0;
        loop {
            if total >= allowance {
                return Ok(ReadEnd::Budget);
            }
            let Some(spare) = self.input.spare(budget) else {
                let wanted = self.input.refused();
                if !budget.could_hold(wanted) {
                    // It would wait for ever: no amount of freed budget is enough.
                    return Err(io::Error::other(format!(
                        "a request of {} bytes does not fit [Server] input_buffer_limit \
                         ({} bytes)",
                        wanted.max(self.input.len()),
                        budget.limit()
                    )));
                }
                self.starved = true;
                return Ok(ReadEnd::Starved);
            };
            // No more than the allowance left: 200 connections each reading a whole chunk
            // in a turn whose budget is spent would copy 12 MiB before the loop polls again.
            let room = spare.len().min(allowance - total);
            let spare = &mut spare[..room];
            let asked = spare.len();
            match (&self.stream).read(spare) {
                Ok(0) => return Ok(ReadEnd::Eof),
                Ok(n) => {
                    self.input.commit(n);
                    self.drop_discarded();
                    total += n;
                    *received += n as u64;
                    if n < asked && !self.hup {
                        return Ok(ReadEnd::Drained);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadEnd::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Drops buffered input that a [`crate::Handled::Discard`] asked to skip.
    pub(crate) fn drop_discarded(&mut self) {
        if self.discard > 0 {
            let n = usize::try_from(self.discard)
                .unwrap_or(usize::MAX)
                .min(self.input.len());
            self.input.consume(n);
            self.discard -= n as u64;
        }
    }

    /// Writes pending output until it is all gone or the socket is full; tracks progress for
    /// the stalled-writer check.
    #[inline]
    pub(crate) fn write(&mut self, now: Instant, sent: &mut u64) -> io::Result<()> {
        if self.write_blocked || self.out.is_empty() {
            if !self.out.is_empty() && self.stalled_since.is_none() {
                self.stalled_since = Some(now);
            }
            return Ok(());
        }
        let mut progressed = false;
        while !self.out.is_empty() {
            match (&self.stream).write(self.out.pending()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.out.advance(n);
                    *sent += n as u64;
                    progressed = true;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_blocked = true;
                    break;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.out.is_empty() {
            self.stalled_since = None;
        } else if progressed || self.stalled_since.is_none() {
            self.stalled_since = Some(now);
        }
        Ok(())
    }

    /// Registers `WRITABLE` interest only while output is pending. Reregisters only when that
    /// changes: the usual request/reply, whose reply fits the socket buffer, costs no
    /// `epoll_ctl` at all.
    pub(crate) fn update_interest(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        let want = !self.out.is_empty();
        if want != self.writable_interest {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            registry.reregister(&mut self.stream, token, interest)?;
            self.writable_interest = want;
        }
        Ok(())
    }
}

/// Whether an I/O error is a normal way for a client to go away (logged at debug, not warn).
pub(crate) fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
            | io::ErrorKind::NotConnected
    )
}
