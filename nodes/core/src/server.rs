//! The select-listener loop: one thread, one `mio::Poll`, every client connection of a node.
//!
//! [`Server`] owns the listening socket, the connection pool (a `Slab`, token = key +
//! `FIRST_CONN`), the waker, the signals and the timers, and drives a [`Service`]. Each turn
//! polls (not sleeping while the ready queue holds connections to revisit), drives the
//! connections that had events, then those in the ready queue, then those a service woke, then
//! the timers. Accepting, the timers and signals, and shutdown live in the submodules.

mod accept;
mod shutdown;
mod timers;

use std::fmt;
use std::io;
use std::mem;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use log::{error, warn};
use mio::event::Event;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token, Waker};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;

use crate::config::ServerConfig;
use crate::connection::Connection;
use crate::drive::{drive, receive, will_handle, Readiness, Turn, Verdict};
use crate::housekeeping::Housekeeping;
use crate::service::{ConnId, Context, Service, PREFETCH_STAGES};
use crate::stats::{Counters, StatsLog};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const SIGNALS: Token = Token(2);
/// Connection tokens are slab keys offset past the reserved tokens.
const FIRST_CONN: usize = 3;
const EVENTS_CAPACITY: usize = 1024;
/// Connections with events in one turn from which on [`Service::prefetch`] is called for all
/// of them: with fewer, a lone request's misses have nothing to overlap with, and the prefetch
/// rounds (which decode the requests once more) cost more than they save. At pipeline 1 the
/// node usually finds one to three connections per turn (it is faster than its clients); the
/// turns grow, and the prefetch starts to pay, as the node gets busy.
const PREFETCH_MIN_CONNS: usize = 8;
/// Input bytes from which a connection gets [`Service::prefetch`] calls even in a turn with
/// few connections: several pipelined requests (a dht Get is about 40 bytes).
const PREFETCH_MIN_INPUT: usize = 256;
/// Rounds of "drive the woken connections" per turn; a service that keeps waking connections
/// in a cycle continues next turn instead of spinning here.
const WAKE_ROUNDS: usize = 16;

/// Stops a running [`Server`] from any thread: [`Server::run`] then flushes, closes every
/// connection and returns.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
}

impl ShutdownHandle {
    /// Asks the loop to shut down and wakes it.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            warn!("shutdown: cannot wake the event loop: {e}");
        }
    }

    /// Whether shutdown was asked for (by a handle or a signal).
    pub fn is_shutdown(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The shared event loop, serving one [`Service`] on one listening socket.
pub struct Server<S: Service> {
    poll: Poll,
    listener: Option<TcpListener>,
    local_addr: SocketAddr,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    signals: Option<Signals>,
    conns: Slab<Connection<S::Session>>,
    service: S,
    cfg: ServerConfig,
    /// When the current turn started (what [`Context::now`] reports).
    now: Instant,
    /// Connections to drive next turn without a new event; `ready_spare` is its swap partner.
    ready: Vec<ConnId>,
    ready_spare: Vec<ConnId>,
    /// Connections a service woke during this turn; `woken_spare` is its swap partner.
    woken: Vec<ConnId>,
    woken_spare: Vec<ConnId>,
    /// Connections with events in this turn, and those still prefetching (see `run_events`).
    batch: Vec<(ConnId, Readiness)>,
    prefetching: Vec<ConnId>,
    counters: Counters,
    hk: Housekeeping,
    /// The connection limit was logged for the current burst of refused connections.
    limit_warned: bool,
    /// `accept` failed for lack of resources; retried by the timer, as no new edge will come
    /// for connections already queued.
    accept_retry: bool,
}

impl<S: Service> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("local_addr", &self.local_addr)
            .field("connections", &self.conns.len())
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl<S: Service> Server<S> {
    /// Binds the listening socket (SO_REUSEADDR, `listen(cfg.backlog)`; port 0 picks a free
    /// port), registers it, the waker and (if `cfg.handle_signals`) the signals, and opens the
    /// stats log if `cfg.stats_file` is set. Nothing is served before [`Server::run`].
    pub fn bind(cfg: &ServerConfig, service: S) -> io::Result<Server<S>> {
        let mut listener = accept::bind_listener(cfg)?;
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let signals = if cfg.handle_signals {
            let mut signals = Signals::new(timers::SIGNALS_HANDLED)?;
            poll.registry()
                .register(&mut signals, SIGNALS, Interest::READABLE)?;
            Some(signals)
        } else {
            None
        };
        let stats_log = cfg
            .stats_file
            .as_deref()
            .map(StatsLog::open_file)
            .transpose()?;
        Ok(Server {
            poll,
            listener: Some(listener),
            local_addr,
            waker,
            stop: Arc::new(AtomicBool::new(false)),
            signals,
            conns: Slab::new(),
            service,
            cfg: cfg.clone(),
            now: Instant::now(),
            ready: Vec::new(),
            ready_spare: Vec::new(),
            woken: Vec::new(),
            woken_spare: Vec::new(),
            batch: Vec::new(),
            prefetching: Vec::new(),
            counters: Counters::default(),
            hk: Housekeeping::new(cfg, stats_log),
            limit_warned: false,
            accept_retry: false,
        })
    }

    /// The address the server listens on (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The service.
    pub fn service(&self) -> &S {
        &self.service
    }

    /// The service, mutably (e.g. to load data before [`Server::run`]).
    pub fn service_mut(&mut self) -> &mut S {
        &mut self.service
    }

    /// Gives the service back (after [`Server::run`] returned, to persist its data).
    pub fn into_service(self) -> S {
        self.service
    }

    /// The configuration the server was bound with.
    pub fn config(&self) -> &ServerConfig {
        &self.cfg
    }

    /// Open client connections.
    pub fn num_connections(&self) -> usize {
        self.conns.len()
    }

    /// A handle that stops [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: Arc::clone(&self.stop),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Serves until shutdown (a [`ShutdownHandle`] or SIGINT/SIGTERM/SIGQUIT), then stops
    /// accepting, flushes pending output for at most a second, closes every connection (calling
    /// [`Service::close`]) and returns, so the caller can persist the service's data. An error
    /// is returned only if polling itself fails; connections are closed in that case too.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        let result = self.serve(&mut events);
        self.finish(&mut events);
        result
    }

    fn serve(&mut self, events: &mut Events) -> io::Result<()> {
        while !self.stop.load(Ordering::SeqCst) {
            let timeout = if self.ready.is_empty() {
                self.hk
                    .next_deadline()
                    .saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            if let Err(e) = self.poll.poll(events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                error!("event loop: poll failed: {e}");
                return Err(e);
            }
            self.now = Instant::now();
            for event in events.iter() {
                self.dispatch(event);
            }
            self.run_events();
            self.run_ready();
            self.run_woken();
            self.run_timers();
        }
        Ok(())
    }

    fn dispatch(&mut self, event: &Event) {
        match event.token() {
            LISTENER => self.accept_all(),
            WAKER => self.on_waker(),
            SIGNALS => self.on_signals(),
            Token(t) => {
                // Events for tokens of connections closed earlier in this turn find no entry.
                if let Some(id) = t.checked_sub(FIRST_CONN) {
                    let ev = Readiness {
                        readable: event.is_readable() || event.is_read_closed() || event.is_error(),
                        hup: event.is_read_closed() || event.is_error(),
                        writable: event.is_writable()
                            || event.is_write_closed()
                            || event.is_error(),
                    };
                    self.batch.push((id, ev));
                }
            }
        }
    }

    /// Drives the connections that had events in this turn: reads every one of them first,
    /// lets the service prefetch for those with a request to handle ([`Service::prefetch`]),
    /// then handles and writes each.
    fn run_events(&mut self) {
        let mut batch = mem::take(&mut self.batch);
        let mut prefetching = mem::take(&mut self.prefetching);
        let many = batch.len() >= PREFETCH_MIN_CONNS;
        for &(id, ev) in &batch {
            let Some(conn) = self.conns.get_mut(id) else {
                continue;
            };
            if !receive(conn, ev, &mut self.counters.bytes_received) {
                // No connection is accepted before the loop below, so the id stays unused.
                self.close_conn(id);
                continue;
            }
            // Only where there is something to overlap: the requests of several connections,
            // or several requests (pipelined) of this one.
            if will_handle(conn)
                && (many || conn.input.len() >= PREFETCH_MIN_INPUT)
                && self
                    .service
                    .prefetch(&mut conn.session, conn.input.data(), 0)
            {
                prefetching.push(id);
            }
        }
        let mut stage = 1;
        while !prefetching.is_empty() && stage < PREFETCH_STAGES {
            prefetching.retain(|&id| {
                self.conns.get_mut(id).is_some_and(|conn| {
                    self.service
                        .prefetch(&mut conn.session, conn.input.data(), stage)
                })
            });
            stage += 1;
        }
        prefetching.clear();
        self.prefetching = prefetching;
        for &(id, _) in &batch {
            // The events were taken in by `receive` above.
            self.drive_one(id, None);
        }
        batch.clear();
        self.batch = batch;
    }

    /// Drives one connection and carries out the verdict.
    fn drive_one(&mut self, id: ConnId, ev: Option<Readiness>) {
        let open = self.conns.len();
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let mut turn = Turn {
            woken: &mut self.woken,
            waker: &self.waker,
            now: self.now,
            open,
            counters: &mut self.counters,
        };
        let keep = match drive(&mut self.service, conn, ev, &mut turn) {
            Verdict::Close => false,
            Verdict::Keep { revisit } => {
                match conn.update_interest(self.poll.registry(), Token(id + FIRST_CONN)) {
                    Ok(()) => {
                        if revisit && !conn.queued {
                            conn.queued = true;
                            self.ready.push(id);
                        }
                        true
                    }
                    Err(e) => {
                        warn!(
                            "{}: cannot update poll registration: {e}, closing connection",
                            conn.peer
                        );
                        false
                    }
                }
            }
        };
        if !keep {
            self.close_conn(id);
        }
    }

    /// Drives the connections queued for a revisit during the previous turn.
    fn run_ready(&mut self) {
        if self.ready.is_empty() {
            return;
        }
        let mut batch = mem::take(&mut self.ready_spare);
        mem::swap(&mut batch, &mut self.ready);
        for &id in &batch {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.queued = false;
            }
            self.drive_one(id, Some(Readiness::default()));
        }
        batch.clear();
        self.ready_spare = batch;
    }

    /// Resumes the connections services woke (a Put waking a Listen), within this turn.
    fn run_woken(&mut self) {
        for _ in 0..WAKE_ROUNDS {
            if self.woken.is_empty() {
                return;
            }
            let mut batch = mem::take(&mut self.woken_spare);
            mem::swap(&mut batch, &mut self.woken);
            for &id in &batch {
                if let Some(conn) = self.conns.get_mut(id) {
                    conn.woken = true;
                    self.drive_one(id, Some(Readiness::default()));
                }
            }
            batch.clear();
            self.woken_spare = batch;
        }
        for id in self.woken.drain(..) {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.woken = true;
                if !conn.queued {
                    conn.queued = true;
                    self.ready.push(id);
                }
            }
        }
    }

    /// Removes a connection and tells the service.
    fn close_conn(&mut self, id: ConnId) {
        let Some(mut conn) = self.conns.try_remove(id) else {
            return;
        };
        // Closing the socket would drop it from epoll anyway; deregistering keeps mio's
        // bookkeeping exact. A failure changes nothing, the socket is closed right after.
        let _ = self.poll.registry().deregister(&mut conn.stream);
        let mut cx = context(&mut self.woken, self.conns.len(), self.now, &self.waker);
        self.service.close(&mut cx, conn.session);
    }
}

/// A context for service calls not tied to one connection's turn (built from the fields it
/// borrows, so the service can be borrowed beside it).
fn context<'a>(
    woken: &'a mut Vec<ConnId>,
    num_connections: usize,
    now: Instant,
    waker: &'a Arc<Waker>,
) -> Context<'a> {
    Context {
        woken,
        num_connections,
        now,
        waker,
    }
}
