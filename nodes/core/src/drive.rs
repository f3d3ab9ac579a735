//! Driving one connection through one turn: read what arrived, let the service handle the
//! buffered requests (or resume the one in progress), write the replies, and decide whether the
//! connection needs another turn, stays, or goes.
//!
//! Work per turn is bounded (requests, resumes, bytes read, output buffered) so one busy client
//! cannot starve the others; a connection stopped by a bound is revisited through the loop's
//! ready queue or by its next writable edge.

use std::sync::Arc;
use std::time::Instant;

use log::{debug, warn};
use mio::Waker;

use crate::connection::{is_disconnect, Connection, ReadEnd, State, HIGH_WATER, LOW_WATER};
use crate::service::{ConnId, Context, Handled, Service, Step};
use crate::stats::Counters;

/// Requests handled on one connection per turn.
const REQUEST_BUDGET: usize = 128;
/// `resume` calls on one connection per turn (a GetAll must not starve the others).
const RESUME_BUDGET: usize = 4;

/// What an event told about a connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Readiness {
    pub(crate) readable: bool,
    pub(crate) hup: bool,
    pub(crate) writable: bool,
}

/// Why processing stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// No complete request is buffered.
    Incomplete,
    /// A per-turn budget ran out with work left.
    Budget,
    /// Output is backed up above the water mark.
    Backlog,
    /// The request in progress waits for a wake.
    Waiting,
    /// The connection is closing.
    Closing,
}

/// What to do with a connection after its turn.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep it; `revisit` asks for another turn without waiting for an event.
    Keep { revisit: bool },
    /// Close it now (the reason was logged).
    Close,
}

/// The loop state a turn lends to the connection it drives.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    pub(crate) woken: &'a mut Vec<ConnId>,
    pub(crate) waker: &'a Arc<Waker>,
    pub(crate) now: Instant,
    pub(crate) open: usize,
    pub(crate) counters: &'a mut Counters,
}

impl Turn<'_> {
    pub(crate) fn cx(&mut self) -> Context<'_> {
        Context {
            woken: self.woken,
            num_connections: self.open,
            now: self.now,
            waker: self.waker,
        }
    }
}

/// One turn of one connection: read, process, write, decide. `ev`: `None` when [`receive`]
/// already ran for this turn.
pub(crate) fn drive<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    ev: Option<Readiness>,
    t: &mut Turn<'_>,
) -> Verdict {
    if let Some(ev) = ev {
        if !receive(conn, ev, &mut t.counters.bytes_received) {
            return Verdict::Close;
        }
    }
    work(service, conn, t)
}

/// The first part of a turn: take in what the event told and read what arrived. `false`: the
/// read failed (logged) and the connection must close.
#[inline]
pub(crate) fn receive<T>(
    conn: &mut Connection<T>,
    ev: Readiness,
    bytes_received: &mut u64,
) -> bool {
    conn.read_pending |= ev.readable;
    conn.hup |= ev.hup;
    if ev.writable {
        conn.write_blocked = false;
    }
    if conn.read_pending && conn.may_read() {
        match conn.read(bytes_received) {
            Ok(ReadEnd::Drained) => conn.read_pending = false,
            Ok(ReadEnd::Budget) => {}
            Ok(ReadEnd::Eof) => {
                conn.read_pending = false;
                conn.eof = true;
            }
            Err(e) => {
                io_failed(conn, "read", &e);
                return false;
            }
        }
    }
    true
}

/// Whether the connection's next step is handling a buffered request (what
/// [`Service::prefetch`] prepares for).
pub(crate) fn will_handle<T>(conn: &Connection<T>) -> bool {
    conn.state == State::Idle && !conn.closing && !conn.input.is_empty()
}

/// The rest of a turn, after [`receive`]: process, write, decide.
pub(crate) fn work<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    t: &mut Turn<'_>,
) -> Verdict {
    let stop = process(service, conn, t);
    conn.input_blocked = stop != Stop::Incomplete && !conn.input.is_empty();
    if conn.eof && !conn.closing && (conn.state == State::Wait || stop == Stop::Incomplete) {
        // The client hung up and nothing it sent is left to answer.
        debug!("{}: connection closed by client", conn.peer);
        conn.closing = true;
    }
    if let Err(e) = conn.write(t.now, &mut t.counters.bytes_sent) {
        return io_failed(conn, "write", &e);
    }
    if conn.closing {
        return if conn.out.is_empty() {
            Verdict::Close
        } else {
            Verdict::Keep { revisit: false }
        };
    }
    conn.input.shrink_if_idle();
    Verdict::Keep {
        revisit: needs_revisit(conn, stop),
    }
}

/// Whether the connection has work the next turn should do without waiting for an event.
/// Where the output is backed up, the writable edge brings it back instead.
fn needs_revisit<T>(conn: &Connection<T>, stop: Stop) -> bool {
    if conn.read_pending && conn.may_read() {
        return true;
    }
    match (stop, conn.state) {
        (Stop::Budget | Stop::Backlog, State::Idle) => conn.out.len() < HIGH_WATER,
        (Stop::Budget | Stop::Backlog, State::More) => conn.out.len() < LOW_WATER,
        _ => false,
    }
}

/// Handles buffered requests (and resumes the one in progress) until the input runs out, a
/// request goes on waiting, or a budget is spent.
fn process<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    t: &mut Turn<'_>,
) -> Stop {
    let mut requests = 0;
    let mut resumes = 0;
    loop {
        if conn.closing {
            return Stop::Closing;
        }
        let step = match conn.state {
            State::Idle => {
                if requests == REQUEST_BUDGET {
                    return Stop::Budget;
                }
                if conn.out.len() >= HIGH_WATER {
                    return Stop::Backlog;
                }
                if conn.input.is_empty() {
                    return Stop::Incomplete;
                }
                match handle_one(service, conn, t) {
                    Some(step) => {
                        requests += 1;
                        step
                    }
                    None if conn.closing => return Stop::Closing,
                    None => return Stop::Incomplete,
                }
            }
            State::More => {
                if resumes == RESUME_BUDGET {
                    return Stop::Budget;
                }
                if conn.out.len() >= LOW_WATER {
                    return Stop::Backlog;
                }
                resumes += 1;
                service.resume(&mut t.cx(), &mut conn.session, conn.out.vec())
            }
            State::Wait => {
                if !conn.woken {
                    return Stop::Waiting;
                }
                conn.woken = false;
                service.resume(&mut t.cx(), &mut conn.session, conn.out.vec())
            }
        };
        apply(conn, step);
    }
}

/// Takes one request from the input. `None`: no complete request, or the connection must close.
fn handle_one<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    t: &mut Turn<'_>,
) -> Option<Step> {
    let input = conn.input.data();
    let len = input.len();
    match service.handle(&mut t.cx(), &mut conn.session, input, conn.out.vec()) {
        Handled::Incomplete => None,
        Handled::Request { consumed, step } => {
            if consumed == 0 || consumed > len {
                // A service bug; looping on the same bytes would spin forever.
                warn!(
                    "{}: request consumed {consumed} of {len} bytes, closing connection",
                    conn.peer
                );
                conn.closing = true;
                return None;
            }
            conn.input.consume(consumed);
            t.counters.requests += 1;
            Some(step)
        }
        Handled::Close(msg) => {
            warn!("{}: {msg}, closing connection", conn.peer);
            conn.closing = true;
            None
        }
    }
}

fn apply<T>(conn: &mut Connection<T>, step: Step) {
    conn.state = match step {
        Step::Done => State::Idle,
        Step::More => State::More,
        Step::Wait => State::Wait,
        Step::Close(msg) => {
            warn!("{}: {msg}, closing connection", conn.peer);
            conn.closing = true;
            State::Idle
        }
    };
}

/// Logs a failed socket call once: a normal disconnect at debug, anything else at warn.
fn io_failed<T>(conn: &Connection<T>, op: &str, e: &std::io::Error) -> Verdict {
    if is_disconnect(e) {
        debug!("{}: {op}: {e}, closing connection", conn.peer);
    } else {
        warn!("{}: {op}: {e}, closing connection", conn.peer);
    }
    Verdict::Close
}
