//! Driving one connection through one turn: read what arrived, let the service handle the
//! buffered requests (or resume the one in progress, or take an event), write the replies, and
//! decide whether the connection needs another turn, stays, or goes.
//!
//! Work per turn is bounded (requests, resumes, bytes read, output buffered) so one busy client
//! cannot starve the others; a connection stopped by a bound is revisited through the loop's
//! ready queue or by its next writable edge. Output is bounded too: a waiting or streaming
//! request is resumed only while the output is below the low-water mark, so a client that does
//! not read holds at most a high-water mark plus one batch, whatever the stream.

use std::time::Instant;

use log::{debug, warn};

use crate::buffer::InputBudget;
use crate::connection::{is_disconnect, Connection, ReadEnd, State, HIGH_WATER, LOW_WATER};
use crate::mailbox::Mailbox;
use crate::metrics::requests::RequestMetrics;
use crate::service::{ConnRef, Context, Handled, Service, Step};
use crate::stats::Counters;

/// Requests handled on one connection per turn.
const REQUEST_BUDGET: usize = 128;
/// `resume` calls on one connection per turn (a GetAll must not starve the others).
const RESUME_BUDGET: usize = 4;
/// Bytes read from all connections together in one turn: 200 clients each sending a large
/// array would otherwise have the loop copy 256 KiB from every one (50 MiB) before it polls
/// again, and every other client waits that long.
const TURN_READ_BUDGET: usize = 1024 * 1024;
/// Streaming resumes (a GetAll batch compressed, say) of all connections together in one turn,
/// for the same reason: 50 GetAlls resumed 4 times each is 200 batches before the next poll.
const TURN_RESUME_BUDGET: usize = 8;
/// What a connection may read in a turn whose read budget is spent: a client's usual request
/// is read and answered in the turn its bytes arrive, however many large ones are arriving. A
/// connection in the middle of a large request ([`Connection::bulk`]) reads nothing more in
/// such a turn and goes first in the next: each read from a client that has much more queued
/// lets the kernel move a window of its data in the node's own `read` call, and 150 of those
/// (4 KiB each, up to a millisecond each) made a 14 ms turn.
const MIN_READ: usize = 4096;
/// What the connection at the head of the ready queue may always use, so it makes progress
/// even in a turn whose budget its events spent.
const HEAD_READ: usize = 64 * 1024;

/// The work left in this turn over all connections; what is left over waits in the ready queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TurnBudget {
    pub(crate) read: usize,
    pub(crate) resumes: usize,
}

impl TurnBudget {
    /// A new turn's budget.
    pub(crate) fn full() -> TurnBudget {
        TurnBudget {
            read: TURN_READ_BUDGET,
            resumes: TURN_RESUME_BUDGET,
        }
    }

    /// Some budget ran out: the ready queue's rest goes first next turn.
    pub(crate) fn spent(&self) -> bool {
        self.read == 0 || self.resumes == 0
    }

    /// Room for one connection's step at least (the head of the ready queue).
    pub(crate) fn at_least_one(&mut self) {
        self.read = self.read.max(HEAD_READ);
        self.resumes = self.resumes.max(1);
    }
}

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
pub(crate) struct Turn<'a, E> {
    pub(crate) woken: &'a mut Vec<ConnRef>,
    pub(crate) posted: &'a mut Vec<(ConnRef, E)>,
    pub(crate) mailbox: &'a Mailbox<E>,
    pub(crate) now: Instant,
    pub(crate) open: usize,
    pub(crate) counters: &'a mut Counters,
    pub(crate) budget: &'a mut InputBudget,
    /// Connections that could not read for want of input budget.
    pub(crate) starved: &'a mut Vec<ConnRef>,
    /// Input budget was given back during the turn (starved connections may go on).
    pub(crate) budget_freed: bool,
    /// Per-command request counts and latencies, when `http_port` is set.
    pub(crate) requests: Option<&'a mut RequestMetrics>,
    /// What this turn may still read and resume over all connections.
    pub(crate) left: &'a mut TurnBudget,
}

impl<E> Turn<'_, E> {
    pub(crate) fn cx(&mut self) -> Context<'_, E> {
        Context {
            woken: self.woken,
            posted: self.posted,
            num_connections: self.open,
            now: self.now,
            mailbox: self.mailbox,
            work: Some(&mut self.left.read),
        }
    }
}

/// One turn of one connection: read, process, write, decide. `ev`: `None` when [`receive`]
/// already ran for this turn.
pub(crate) fn drive<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    ev: Option<Readiness>,
    t: &mut Turn<'_, S::Event>,
) -> Verdict {
    if let Some(ev) = ev {
        if !receive(conn, ev, t) {
            return Verdict::Close;
        }
    }
    work(service, conn, t)
}

/// An event for the connection: the service takes it, then the turn goes on as usual.
pub(crate) fn deliver<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    event: S::Event,
    t: &mut Turn<'_, S::Event>,
) -> Verdict {
    let step = service.deliver(&mut t.cx(), &mut conn.session, event, &mut conn.out.out());
    apply(conn, step, t);
    work(service, conn, t)
}

/// The first part of a turn: take in what the event told and read what arrived. `false`: the
/// read failed (logged) and the connection must close.
#[inline]
pub(crate) fn receive<T, E>(conn: &mut Connection<T>, ev: Readiness, t: &mut Turn<'_, E>) -> bool {
    conn.read_pending |= ev.readable;
    conn.hup |= ev.hup;
    if ev.writable {
        conn.write_blocked = false;
    }
    if conn.read_pending && conn.may_read() {
        let before = t.counters.bytes_received;
        let read = conn.read(
            &mut t.counters.bytes_received,
            t.budget,
            if t.left.read == 0 && conn.bulk() {
                0
            } else {
                t.left.read.max(MIN_READ)
            },
        );
        let n = usize::try_from(t.counters.bytes_received - before).unwrap_or(usize::MAX);
        t.left.read = t.left.read.saturating_sub(n);
        match read {
            Ok(ReadEnd::Drained) => conn.read_pending = false,
            Ok(ReadEnd::Budget) => {}
            Ok(ReadEnd::Starved) => t.starved.push(conn.me),
            Ok(ReadEnd::Eof) => {
                conn.read_pending = false;
                conn.eof = true;
            }
            Err(e) => {
                io_failed(conn, "read", &e);
                return false;
            }
        }
        if t.counters.bytes_received != before {
            conn.last_active = t.now;
        }
    }
    true
}

/// Whether the connection's next step is handling a buffered request (what
/// [`Service::prepare`] looks at).
pub(crate) fn will_handle<T>(conn: &Connection<T>) -> bool {
    conn.state == State::Idle && !conn.closing && !conn.input.is_empty() && conn.discard == 0
}

/// The rest of a turn, after [`receive`]: process, write, decide.
pub(crate) fn work<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    t: &mut Turn<'_, S::Event>,
) -> Verdict {
    let (stop, handled) = process(service, conn, t);
    if let Some(requests) = t.requests.as_deref_mut() {
        requests.end_batch(t.now);
    }
    conn.input_blocked = stop != Stop::Incomplete && !conn.input.is_empty();
    if handled {
        conn.last_active = t.now;
        conn.served = true;
    }
    // The request timeout runs while a request is arriving but not whole, from its first byte
    // (or the end of the request before it); not while the node itself holds the client back.
    let partial =
        stop == Stop::Incomplete && (!conn.input.is_empty() || conn.discard > 0) && !conn.starved;
    conn.partial_since = match (partial, conn.partial_since) {
        (false, _) => None,
        (true, Some(since)) if !handled => Some(since),
        (true, _) => Some(t.now),
    };
    if conn.eof && !conn.closing && (conn.state == State::Wait || stop == Stop::Incomplete) {
        // The client hung up and nothing it sent is left to answer.
        debug!("{}: connection closed by client", conn.peer);
        conn.closing = true;
    }
    let sent = t.counters.bytes_sent;
    if let Err(e) = conn.write(t.now, &mut t.counters.bytes_sent) {
        return io_failed(conn, "write", &e);
    }
    if t.counters.bytes_sent != sent {
        conn.last_active = t.now;
    }
    if conn.closing {
        return if conn.out.is_empty() {
            Verdict::Close
        } else {
            Verdict::Keep { revisit: false }
        };
    }
    if conn.input.shrink_if_idle(t.budget) {
        t.budget_freed = true;
    }
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
        (Stop::Budget | Stop::Backlog, State::More | State::Wait) => conn.out.len() < LOW_WATER,
        _ => false,
    }
}

/// Handles buffered requests (and resumes the one in progress) until the input runs out, a
/// request goes on waiting, or a budget is spent. Also says whether any request was taken.
#[inline]
fn process<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    t: &mut Turn<'_, S::Event>,
) -> (Stop, bool) {
    let mut requests = 0;
    let mut resumes = 0;
    loop {
        if conn.closing {
            return (Stop::Closing, requests > 0);
        }
        let step = match conn.state {
            State::Idle => {
                if requests == REQUEST_BUDGET {
                    return (Stop::Budget, true);
                }
                if conn.out.len() >= HIGH_WATER {
                    return (Stop::Backlog, requests > 0);
                }
                if conn.discard > 0 {
                    conn.drop_discarded();
                }
                if conn.input.is_empty() || conn.discard > 0 {
                    return (Stop::Incomplete, requests > 0);
                }
                match handle_one(service, conn, t) {
                    Ok(step) => {
                        requests += 1;
                        step
                    }
                    Err(stop) => return (stop, requests > 0),
                }
            }
            State::More => {
                if resumes == RESUME_BUDGET || t.left.resumes == 0 {
                    return (Stop::Budget, requests > 0);
                }
                if conn.out.len() >= LOW_WATER {
                    return (Stop::Backlog, requests > 0);
                }
                resumes += 1;
                t.left.resumes -= 1;
                service.resume(&mut t.cx(), &mut conn.session, &mut conn.out.out())
            }
            State::Wait => {
                if !conn.woken {
                    return (Stop::Waiting, requests > 0);
                }
                if conn.out.len() >= LOW_WATER {
                    // Woken, but the client has not taken what it was sent: the wake keeps
                    // until the output drains (a Listen or Consume that is not read must not
                    // grow the node).
                    return (Stop::Backlog, requests > 0);
                }
                conn.woken = false;
                service.resume(&mut t.cx(), &mut conn.session, &mut conn.out.out())
            }
        };
        apply(conn, step, t);
    }
}

/// Takes one request from the input, or says why none was taken: no complete request
/// (`Incomplete`), the connection must close (`Closing`), or the request waits for a turn with
/// room for its work (`Budget`).
#[inline(always)]
fn handle_one<S: Service>(
    service: &mut S,
    conn: &mut Connection<S::Session>,
    t: &mut Turn<'_, S::Event>,
) -> Result<Step, Stop> {
    let input = conn.input.data();
    let len = input.len();
    let cmd = match t.requests {
        Some(_) => service.command(&conn.session, input),
        None => None,
    };
    let handled = service.handle(&mut t.cx(), &mut conn.session, input, &mut conn.out.out());
    let (consumed, step, discard) = match handled {
        Handled::Incomplete => return Err(Stop::Incomplete),
        Handled::NeedMore(n) => {
            conn.input.set_need(n);
            return Err(Stop::Incomplete);
        }
        Handled::Later => return Err(Stop::Budget),
        Handled::Request { consumed, step } => (consumed, step, 0),
        Handled::Discard { consumed, discard } => (consumed, Step::Done, discard),
        Handled::Close(msg) => {
            warn!("{}: {msg}, closing connection", conn.peer);
            conn.closing = true;
            return Err(Stop::Closing);
        }
    };
    if (consumed == 0 && step != Step::Wait) || consumed > len {
        // A service bug; looping on the same bytes would spin forever.
        warn!(
            "{}: request consumed {consumed} of {len} bytes, closing connection",
            conn.peer
        );
        conn.closing = true;
        return Err(Stop::Closing);
    }
    conn.input.consume(consumed);
    conn.discard = discard;
    t.counters.requests += u64::from(consumed > 0);
    if let (Some(requests), Some(cmd), true) = (t.requests.as_deref_mut(), cmd, consumed > 0) {
        requests.started(cmd);
        match step {
            Step::More | Step::Wait => conn.ongoing = Some((cmd, t.now)),
            Step::Done | Step::Close(_) => requests.done_in_batch(cmd),
        }
    }
    Ok(step)
}

#[inline(always)]
fn apply<T, E>(conn: &mut Connection<T>, step: Step, t: &mut Turn<'_, E>) {
    if conn.state != State::Idle && matches!(step, Step::Done | Step::Close(_)) {
        // A request that went on has ended (metrics only: `ongoing` is set only then).
        if let (Some((cmd, since)), Some(requests)) =
            (conn.ongoing.take(), t.requests.as_deref_mut())
        {
            requests.stream_ended(cmd, since);
        }
    }
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
