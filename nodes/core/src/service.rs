//! The contract between the shared event loop and a node kind.
//!
//! The loop owns sockets, buffers, timers and signals; a [`Service`] owns the node's storage and
//! request semantics. The loop hands a service the bytes a connection has received, the service
//! decodes one request from the front, handles it and appends its reply to the connection's
//! output buffer. Requests whose reply is long (GetAll) or open-ended (Listen, Consume) leave the
//! connection in a [`Step::More`] or [`Step::Wait`] state; the loop then calls
//! [`Service::resume`] as the socket drains or when the service wakes the connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

/// Identifies one connection for as long as it is open (its slab index). Ids are reused after a
/// connection closes, so a service must forget an id in [`Service::close`].
pub type ConnId = usize;

/// Most rounds of [`Service::prefetch`] per poll turn.
pub const PREFETCH_STAGES: u32 = 4;

/// What a request needs from the loop after it was handled (or resumed).
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// The request is complete; the loop goes on with the next request in the input.
    Done,
    /// The reply goes on: call [`Service::resume`] again once the output buffer has drained below
    /// the loop's low-water mark. Used for replies produced batch by batch (GetAll).
    More,
    /// The request waits for an event elsewhere (a Put for a Listen): call [`Service::resume`]
    /// after [`Context::wake`] was called for this connection.
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
    /// A request was taken from the front of the input.
    Request {
        /// Bytes of the input the request used.
        consumed: usize,
        /// What happens next on this connection.
        step: Step,
    },
    /// The input cannot be a valid request (unknown command, malformed key, array too long):
    /// close the connection. The text is logged once as a warning with the peer address.
    Close(String),
}

/// What the loop lends a service for one call.
#[derive(Debug)]
pub struct Context<'a> {
    pub(crate) woken: &'a mut Vec<ConnId>,
    pub(crate) num_connections: usize,
    pub(crate) now: Instant,
    pub(crate) waker: &'a Arc<mio::Waker>,
}

impl<'a> Context<'a> {
    /// Builds a context by hand, for testing a service without sockets.
    pub fn for_test(
        woken: &'a mut Vec<ConnId>,
        num_connections: usize,
        waker: &'a Arc<mio::Waker>,
    ) -> Self {
        Context {
            woken,
            num_connections,
            now: Instant::now(),
            waker,
        }
    }

    /// Asks the loop to call [`Service::resume`] for `id` (which must be in [`Step::Wait`] or
    /// [`Step::More`]) soon, within this turn of the loop.
    pub fn wake(&mut self, id: ConnId) {
        self.woken.push(id);
    }

    /// Open client connections, for GetNumConnections.
    pub fn num_connections(&self) -> usize {
        self.num_connections
    }

    /// The time this turn of the loop started.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// A waker for threads that finish work for the service (the logfiles node's disk workers):
    /// waking it makes the loop call [`Service::on_wake`].
    pub fn waker(&self) -> Arc<mio::Waker> {
        Arc::clone(self.waker)
    }
}

/// One node kind's request handling, driven by the shared event loop. All calls happen on the
/// loop's thread, one at a time, so a service needs no locking.
pub trait Service {
    /// Per-connection state: the request in progress (an iteration cursor, a Listen queue).
    type Session;

    /// A connection was accepted.
    fn open(&mut self, id: ConnId, peer: SocketAddr) -> Self::Session;

    /// Decode one request from the front of `input`, handle it and append its reply to `out`.
    /// Called only while the connection has no request in progress.
    fn handle(
        &mut self,
        cx: &mut Context<'_>,
        session: &mut Self::Session,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Handled;

    /// Continue the request in progress (after [`Step::More`] or [`Step::Wait`]), appending to
    /// `out`. A `Wait` request resumed with nothing to do returns `Wait` again.
    fn resume(
        &mut self,
        cx: &mut Context<'_>,
        session: &mut Self::Session,
        out: &mut Vec<u8>,
    ) -> Step;

    /// Optional: start bringing into the CPU's cache what the requests buffered in `input` will
    /// touch, without handling them (a software prefetch; nothing observable may change).
    ///
    /// In each poll turn the loop first reads every connection that had an event, then calls
    /// this for those with a request to handle, in rounds `stage = 0, 1, ...` (one round over
    /// all of them, then the next) for as long as a call returns `true` and at most
    /// [`PREFETCH_STAGES`] rounds, and only then handles their requests. So the memory misses
    /// of the requests of many connections overlap instead of following one another, and a
    /// chain of dependent misses (index, record, value) takes one round per link. `input` may
    /// end in a partial request. The default does nothing.
    fn prefetch(&self, _session: &mut Self::Session, _input: &[u8], _stage: u32) -> bool {
        false
    }

    /// The connection is closed (by the peer, an error or shutdown); forget `session`.
    fn close(&mut self, cx: &mut Context<'_>, session: Self::Session);

    /// Called every `write_flush_ms` (the original's Listen flush period).
    fn tick(&mut self, _cx: &mut Context<'_>) {}

    /// Called when the loop's waker was woken from another thread.
    fn on_wake(&mut self, _cx: &mut Context<'_>) {}

    /// The node's part of the `stats.log` line, as `(key, value)` pairs with the original key
    /// names; called every 30 s. Counters that the original resets per line are reset here.
    fn stats(&mut self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The node's part of the one-line console display (hash range, records and bytes stored).
    fn console(&self) -> String {
        String::new()
    }
}
