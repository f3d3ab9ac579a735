//! The contract between the shared event loop and a node kind.
//!
//! The loop owns sockets, buffers, timers and signals; a [`Service`] owns the node's storage and
//! request semantics. The loop hands a service the bytes a connection has received, the service
//! decodes one request from the front, handles it and appends its reply to the connection's
//! output ([`Out`]). Requests whose reply is long (GetAll) or open-ended (Listen, Consume) leave
//! the connection in a [`Step::More`] or [`Step::Wait`] state; the loop then calls
//! [`Service::resume`] as the socket drains, or after the connection was woken
//! ([`Context::wake`], [`crate::Waiters`], [`crate::Mailbox::wake`]) and its output has room.
//!
//! Everything addressed to a connection from elsewhere (another connection, a worker thread)
//! carries a [`ConnRef`], whose generation makes it die with the connection: an event or a wake
//! for a closed connection is dropped, never delivered to the next client in the same slot.
//!
//! Client-to-node streams (the queue's Produce: a request, then records until an empty array)
//! need no extra machinery: after the opening request the service remembers the stream in the
//! session and decodes each following record as a request of its own, returning
//! [`Step::Done`]; it returns [`Step::Wait`] to stop taking records for a while. Back-pressure
//! comes from not reading: input the service does not take stays buffered (a bounded amount)
//! and the loop stops reading the socket, so the client's sends block.

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::time::Instant;

use slab::Slab;

use crate::connection::{Connection, HIGH_WATER};
use crate::mailbox::Mailbox;

/// Names one connection for as long as it is open: its slot in the pool and the generation the
/// slot had when the connection was accepted. Slots are reused, generations are not, so
/// anything addressed to a closed connection is recognised as stale and dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnRef {
    slot: u32,
    generation: u32,
}

impl ConnRef {
    /// A reference from its parts (the loop makes them; tests may too).
    pub fn new(slot: usize, generation: u32) -> ConnRef {
        ConnRef {
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
            generation,
        }
    }

    /// The pool slot.
    pub fn slot(self) -> usize {
        self.slot as usize
    }

    /// The slot's generation when the connection was accepted.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

/// What a request needs from the loop after it was handled (or resumed, or delivered to).
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The request is complete; the loop goes on with the next request in the input.
    Done,
    /// The reply goes on: call [`Service::resume`] again once the output has drained below the
    /// loop's low-water mark. Used for replies produced batch by batch (GetAll).
    More,
    /// The request waits for something elsewhere (a Put for a Listen, a worker's result): call
    /// [`Service::resume`] after the connection was woken and its output has room, or
    /// [`Service::deliver`] when an event for it arrives.
    Wait,
    /// Close the connection after flushing what is already in the output buffer. The text is
    /// logged once as a warning with the peer address.
    Close(String),
}

/// Outcome of [`Service::handle`].
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// The input does not yet hold a whole request: read more bytes and call again.
    Incomplete,
    /// The input holds the start of a request that is at least this many bytes long in all (its
    /// length prefixes say so). The loop reserves that much input buffer at once, under the
    /// node-wide input budget, instead of growing step by step; a request that does not fit
    /// the budget now waits, unread, until it does.
    NeedMore(usize),
    /// A request was taken from the front of the input. `consumed` may be 0 only with
    /// [`Step::Wait`]: the service cannot take the next record of a client-to-node stream yet,
    /// and the input stays buffered (unread from the socket past a bound) until it is woken.
    Request {
        /// Bytes of the input the request used.
        consumed: usize,
        /// What happens next on this connection.
        step: Step,
    },
    /// The head of a request was taken and answered (`consumed` bytes), and its body is not
    /// wanted (a Put value over the record limit): the loop drops the next `discard` bytes of
    /// input as they arrive, without buffering them, then goes on with the next request.
    Discard {
        /// Bytes of the input the request's head used.
        consumed: usize,
        /// Bytes that follow the head and are to be dropped.
        discard: u64,
    },
    /// The input cannot be a valid request (unknown command, malformed key, array too long):
    /// close the connection. The text is logged once as a warning with the peer address.
    Close(String),
    /// The request at the front needs heavy work (inflating a compressed batch, say) and this
    /// turn of the loop has none left for it ([`Context::may_work`] is false): nothing is
    /// taken, and the loop calls again in a later turn, after the other clients were served.
    Later,
}

/// A connection's output, lent to a service for one call: append replies (it dereferences to
/// the `Vec<u8>` being written), and ask [`Out::room`] how much more is welcome.
#[derive(Debug)]
pub struct Out<'a> {
    buf: &'a mut Vec<u8>,
    /// Bytes at the front of `buf` already written to the socket.
    written: usize,
}

impl<'a> Out<'a> {
    /// Output appended to `buf` (tests; the loop lends the connection's buffer).
    pub fn new(buf: &'a mut Vec<u8>) -> Out<'a> {
        Out { buf, written: 0 }
    }

    pub(crate) fn with_written(buf: &'a mut Vec<u8>, written: usize) -> Out<'a> {
        Out { buf, written }
    }

    /// Bytes still to send on this connection, including what was appended in this call.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.written
    }

    /// How many more bytes may be appended before the connection's output reaches its
    /// high-water mark: a streaming request sizes its next batch to this, and stops (returning
    /// [`Step::More`] or [`Step::Wait`]) when it is 0. One batch past it is tolerated.
    pub fn room(&self) -> usize {
        HIGH_WATER.saturating_sub(self.pending())
    }
}

impl Deref for Out<'_> {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        self.buf
    }
}

impl DerefMut for Out<'_> {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        self.buf
    }
}

/// What the loop lends a service for one call.
#[derive(Debug)]
pub struct Context<'a, E> {
    pub(crate) woken: &'a mut Vec<ConnRef>,
    pub(crate) posted: &'a mut Vec<(ConnRef, E)>,
    pub(crate) num_connections: usize,
    pub(crate) now: Instant,
    pub(crate) mailbox: &'a Mailbox<E>,
    /// What this turn may still spend on heavy work ([`Context::spend`]); `None`: unbounded
    /// (calls outside a connection's turn, tests).
    pub(crate) work: Option<&'a mut usize>,
}

impl<'a, E> Context<'a, E> {
    /// A context over caller-owned queues, for testing a service without sockets (see
    /// [`crate::testing::TestLoop`]).
    pub fn new(
        woken: &'a mut Vec<ConnRef>,
        posted: &'a mut Vec<(ConnRef, E)>,
        num_connections: usize,
        mailbox: &'a Mailbox<E>,
    ) -> Self {
        Context {
            woken,
            posted,
            num_connections,
            now: Instant::now(),
            mailbox,
            work: None,
        }
    }

    /// Asks the loop to call [`Service::resume`] for `conn` (in [`Step::Wait`] or
    /// [`Step::More`]) soon, within this turn of the loop, once its output has room. Waking a
    /// closed connection does nothing.
    pub fn wake(&mut self, conn: ConnRef) {
        self.woken.push(conn);
    }

    /// Delivers `event` to `conn` through [`Service::deliver`], after the current call, within
    /// this turn. Dropped if `conn` has closed meanwhile.
    pub fn post(&mut self, conn: ConnRef, event: E) {
        self.posted.push((conn, event));
    }

    /// The loop's mailbox, for threads that report back (a clone is `Send`).
    pub fn mailbox(&self) -> Mailbox<E> {
        self.mailbox.clone()
    }

    /// Open client connections, for GetNumConnections.
    pub fn num_connections(&self) -> usize {
        self.num_connections
    }

    /// The time this turn of the loop started.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Whether this turn of the loop has room for heavy work: work whose cost the request's
    /// size on the wire does not bound, such as inflating an LZO batch (a few KiB can claim
    /// 10 MiB). When it has not, the service answers [`Handled::Later`] and the loop serves
    /// the other clients first.
    pub fn may_work(&self) -> bool {
        self.work.as_deref().is_none_or(|left| *left > 0)
    }

    /// Counts `bytes` of heavy work (bytes inflated, say) against this turn's budget, which
    /// the loop shares with what it reads from sockets: a turn does about 1 MiB of it before
    /// the loop polls again, so one client's work cannot hold the others for long.
    pub fn spend(&mut self, bytes: usize) {
        if let Some(left) = self.work.as_deref_mut() {
            *left = left.saturating_sub(bytes);
        }
    }
}

/// The connections of one poll turn that have a request to handle, lent to
/// [`Service::prepare`] before any of them is handled.
#[derive(Debug)]
pub struct Prepare<'a, T> {
    pub(crate) conns: &'a mut Slab<Connection<T>>,
    pub(crate) slots: &'a [usize],
}

impl<T> Prepare<'_, T> {
    /// Connections in the batch.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The `i`th connection's session and its buffered input (which may end in a partial
    /// request).
    pub fn get(&mut self, i: usize) -> Option<(&mut T, &[u8])> {
        let conn = self.conns.get_mut(*self.slots.get(i)?)?;
        Some((&mut conn.session, conn.input.data()))
    }
}

/// One node kind's request handling, driven by the shared event loop. All calls happen on the
/// loop's thread, one at a time, so a service needs no locking.
pub trait Service {
    /// Per-connection state: the request in progress (an iteration cursor, a Listen queue).
    type Session;
    /// What other connections ([`Context::post`]) and threads ([`Mailbox`]) send a connection
    /// or the service (worker results, stream notifications).
    type Event: Send + 'static;

    /// A connection was accepted.
    fn open(&mut self, conn: ConnRef, peer: SocketAddr) -> Self::Session;

    /// Decode one request from the front of `input`, handle it and append its reply to `out`.
    /// Called only while the connection has no request in progress.
    fn handle(
        &mut self,
        cx: &mut Context<'_, Self::Event>,
        session: &mut Self::Session,
        input: &[u8],
        out: &mut Out<'_>,
    ) -> Handled;

    /// Continue the request in progress (after [`Step::More`] or [`Step::Wait`]), appending to
    /// `out` no more than about [`Out::room`]. A `Wait` request resumed with nothing to do
    /// returns `Wait` again.
    fn resume(
        &mut self,
        cx: &mut Context<'_, Self::Event>,
        session: &mut Self::Session,
        out: &mut Out<'_>,
    ) -> Step;

    /// An event for this connection arrived. It is delivered whatever the state of the output
    /// (an event cannot wait), so a service that has much to write keeps it in the session and
    /// writes it in [`Service::resume`] after a [`Context::wake`]. The step replaces the
    /// connection's state as a `resume` would; a connection without a request in progress
    /// should get [`Step::Done`]. The default drops the event.
    fn deliver(
        &mut self,
        _cx: &mut Context<'_, Self::Event>,
        _session: &mut Self::Session,
        _event: Self::Event,
        _out: &mut Out<'_>,
    ) -> Step {
        Step::Done
    }

    /// An event for the service as a whole ([`Mailbox::post_node`]): a background job's result.
    fn on_event(&mut self, _cx: &mut Context<'_, Self::Event>, _event: Self::Event) {}

    /// Optional: before the connections of a poll turn are handled, look at their buffered
    /// requests, e.g. to prefetch what they will touch into the CPU's cache so the memory
    /// misses of many connections overlap. Nothing observable may change. The default does
    /// nothing.
    fn prepare(&mut self, _batch: &mut Prepare<'_, Self::Session>) {}

    /// The connection is closed (by the peer, an error, a timeout or shutdown); forget
    /// `session`.
    fn close(&mut self, cx: &mut Context<'_, Self::Event>, session: Self::Session);

    /// Called every `write_flush_ms` (the original's Listen flush period).
    fn tick(&mut self, _cx: &mut Context<'_, Self::Event>) {}

    /// Shutdown was asked for: called once, after the listener closed and before pending
    /// output is flushed and the connections are closed (flush and sync files, dump).
    fn shutdown(&mut self, _cx: &mut Context<'_, Self::Event>) {}

    /// Asked right after [`Service::shutdown`]: whether the data could not be persisted (a
    /// dump failed on a full disk). Then the loop does not stop, as exiting would drop what
    /// only memory holds: it accepts and serves again, and calls `shutdown` anew at the next
    /// shutdown request (a second SIGTERM); SIGKILL remains the way to drop the data. The
    /// default: the data is always persisted.
    fn shutdown_incomplete(&self) -> bool {
        false
    }

    /// The node's part of the `stats.log` line, as `(key, value)` pairs with the original key
    /// names; called every 30 s. Counters that the original resets per line are reset here.
    fn stats(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The names of the node's request commands, the `command` label values of the loop's
    /// request metrics (index = what [`Service::command`] returns). Asked once, and only when
    /// `http_port` is set.
    fn command_names(&self) -> Vec<&'static str> {
        Vec::new()
    }

    /// Which of [`Service::command_names`] the request at the front of `input` is (called,
    /// when metrics are on, just before [`Service::handle`]); `None` for input that is no
    /// request of its own (the records of a client-to-node stream) or an unknown command.
    fn command(&self, _session: &Self::Session, _input: &[u8]) -> Option<usize> {
        None
    }

    /// The node's figures for `/metrics`: current values, never reset (the stats.log
    /// per-line counters as running totals). Called on the loop's thread between steps.
    fn metrics(&self, _page: &mut crate::metrics::Exposition) {}

    /// The node's part of the one-line console display (hash range, records and bytes stored).
    fn console(&self) -> String {
        String::new()
    }
}
