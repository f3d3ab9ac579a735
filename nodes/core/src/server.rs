//! The select-listener loop: one thread, one `mio::Poll`, every client connection of a node.
//!
//! [`Server`] owns the listening socket, the connection pool (a `Slab`, token = key +
//! `FIRST_CONN`), the waker, the signals and the timers, and drives a [`Service`]. Each turn
//! polls (not sleeping while the ready queue holds connections to revisit), drives the
//! connections that had events, then those in the ready queue, then those a service woke, then
//! the timers. Accepting, the timers and signals, and shutdown live in the submodules.

/// A [`Context`] for a service call not tied to one connection's turn, borrowing only the
/// server's fields it needs (so the service can be borrowed beside it).
macro_rules! cx {
    ($s:ident) => {
        $crate::service::Context {
            woken: &mut $s.woken,
            posted: &mut $s.posted,
            num_connections: $s.conns.len(),
            now: $s.now,
            mailbox: &$s.mailbox,
            work: None,
        }
    };
}

mod accept;
mod scrape;
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

use crate::buffer::InputBudget;
use crate::config::ServerConfig;
use crate::connection::Connection;
use crate::drive::{self, receive, will_handle, Readiness, Turn, TurnBudget, Verdict};
use crate::housekeeping::Housekeeping;
use crate::mailbox::{mailbox, Inbox, Letter, Mailbox};
use crate::metrics::http::HttpServer;
use crate::metrics::requests::RequestMetrics;
use crate::metrics::Histogram;
use crate::service::{ConnRef, Prepare, Service};
use crate::stats::{Counters, StatsLog};

const LISTENER: Token = Token(0);
const WAKER: Token = Token(1);
const SIGNALS: Token = Token(2);
/// Connection tokens are slab keys offset past the reserved tokens.
const FIRST_CONN: usize = 3;
const EVENTS_CAPACITY: usize = 1024;
/// Buffers of closed connections at least this large are freed a few per turn, not at once.
const FREE_LATER_FROM: usize = 1024 * 1024;
/// Bytes of such buffers freed per turn (at least one buffer).
const FREE_PER_TURN: usize = 4 * 1024 * 1024;
/// Rounds of "deliver the posted events, drive the woken connections" per turn; a service that
/// keeps waking connections in a cycle continues next turn instead of spinning here.
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
    /// Generation of the next accepted connection (see [`ConnRef`]).
    next_generation: u32,
    service: S,
    cfg: ServerConfig,
    /// When the current turn started (what [`Context::now`] reports).
    now: Instant,
    /// Connections to drive next turn without a new event; `ready_spare` is its swap partner.
    ready: Vec<ConnRef>,
    ready_spare: Vec<ConnRef>,
    /// Connections woken during this turn; `woken_spare` is its swap partner.
    woken: Vec<ConnRef>,
    woken_spare: Vec<ConnRef>,
    /// Events posted to connections during this turn, and its swap partner.
    posted: Vec<(ConnRef, S::Event)>,
    posted_spare: Vec<(ConnRef, S::Event)>,
    mailbox: Mailbox<S::Event>,
    inbox: Inbox<S::Event>,
    letters: Vec<Letter<S::Event>>,
    /// Connections with events in this turn, and those with a request to handle.
    batch: Vec<(usize, Readiness)>,
    handling: Vec<usize>,
    budget: InputBudget,
    /// What the current turn may still read and resume over all connections.
    left: TurnBudget,
    /// Connections waiting for input budget.
    starved: Vec<ConnRef>,
    budget_freed: bool,
    counters: Counters,
    /// Durations of the loop's turns since start (`/metrics`).
    turns: Histogram,
    /// Large buffers of closed connections, freed a few per turn ([`Server::free_garbage`]).
    garbage: Vec<Vec<u8>>,
    hk: Housekeeping,
    /// The connection limit was logged for the current burst of refused connections.
    limit_warned: bool,
    /// `accept` failed for lack of resources; retried by the timer, as no new edge will come
    /// for connections already queued.
    accept_retry: bool,
    /// Per-command request figures, and the `/metrics` responder (both only with `http_port`).
    requests: Option<Box<RequestMetrics>>,
    http: Option<HttpServer>,
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
        Server::bind_with(cfg, |_| Ok(service))
    }

    /// [`Server::bind`] for a service that needs the loop's mailbox to be made (one that
    /// starts worker pools reporting back to the loop): `make` runs after the socket is bound,
    /// so a taken port fails before the service does any work (loading a data directory), and
    /// clients wait in the listen backlog meanwhile.
    pub fn bind_with<F>(cfg: &ServerConfig, make: F) -> io::Result<Server<S>>
    where
        F: FnOnce(&Mailbox<S::Event>) -> io::Result<S>,
    {
        let mut listener = accept::bind_listener(cfg)?;
        let local_addr = listener.local_addr()?;
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let (mailbox, inbox) = mailbox(Arc::clone(&waker));
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
            .map(|path| {
                StatsLog::open_file(path).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot open the stats log {}: {e}", path.display()),
                    )
                })
            })
            .transpose()?;
        // Bound before the service is made, as the node's own port: a taken port fails first.
        let http_listener = cfg
            .metrics
            .as_ref()
            .map(crate::metrics::http::bind)
            .transpose()?;
        let service = make(&mailbox)?;
        let requests = http_listener
            .as_ref()
            .map(|_| Box::new(RequestMetrics::new(service.command_names())));
        let http = http_listener
            .map(|l| HttpServer::spawn(l, scrape::handler(mailbox.clone())))
            .transpose()?;
        Ok(Server {
            poll,
            listener: Some(listener),
            local_addr,
            waker,
            stop: Arc::new(AtomicBool::new(false)),
            signals,
            conns: Slab::new(),
            next_generation: 1,
            service,
            cfg: cfg.clone(),
            now: Instant::now(),
            ready: Vec::new(),
            ready_spare: Vec::new(),
            woken: Vec::new(),
            woken_spare: Vec::new(),
            posted: Vec::new(),
            posted_spare: Vec::new(),
            mailbox,
            inbox,
            letters: Vec::new(),
            batch: Vec::new(),
            handling: Vec::new(),
            budget: InputBudget::new(cfg.input_buffer_limit),
            left: TurnBudget::full(),
            starved: Vec::new(),
            budget_freed: false,
            counters: Counters::default(),
            turns: Histogram::default(),
            garbage: Vec::new(),
            hk: Housekeeping::new(cfg, stats_log),
            limit_warned: false,
            accept_retry: false,
            requests,
            http,
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

    /// Where `/metrics` is served, when `http_port` is set (with the real port for port 0).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(HttpServer::local_addr)
    }

    /// The loop's mailbox: other threads (worker pools) send events and wakes through it.
    pub fn mailbox(&self) -> Mailbox<S::Event> {
        self.mailbox.clone()
    }

    /// A handle that stops [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: Arc::clone(&self.stop),
            waker: Arc::clone(&self.waker),
        }
    }

    /// Serves until shutdown (a [`ShutdownHandle`] or SIGINT/SIGTERM/SIGQUIT) that persists
    /// the service's data ([`Service::shutdown_incomplete`]), then stops accepting, flushes pending output for at most a second, closes every connection (calling
    /// [`Service::close`]) and returns, so the caller can persist the service's data. An error
    /// is returned only if polling itself fails; connections are closed in that case too.
    pub fn run(&mut self) -> io::Result<()> {
        // root.log in blocks while serving (see `logging`), line by line again afterwards.
        crate::logging::set_buffered(true);
        let mut events = Events::with_capacity(EVENTS_CAPACITY);
        // A shutdown whose data could not be persisted serves on (see `persist`); a loop that
        // failed stops whatever the outcome.
        let result = loop {
            let result = self.serve(&mut events);
            if self.persist() || result.is_err() {
                break result;
            }
        };
        self.finish(&mut events);
        crate::logging::set_buffered(false);
        result
    }

    fn serve(&mut self, events: &mut Events) -> io::Result<()> {
        while !self.stop.load(Ordering::SeqCst) {
            // Work left from the last turn (revisits, events and wakes past the per-turn rounds)
            // must not wait for a timer.
            let idle = self.ready.is_empty()
                && self.woken.is_empty()
                && self.posted.is_empty()
                && self.garbage.is_empty();
            let timeout = if idle {
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
            self.left = TurnBudget::full();
            for event in events.iter() {
                self.dispatch(event);
            }
            self.run_events();
            self.run_ready();
            self.run_woken();
            self.run_timers();
            self.revive_starved();
            self.free_garbage();
            self.end_turn();
        }
        Ok(())
    }

    /// Frees large buffers of closed connections, [`FREE_PER_TURN`] bytes of them a turn (the
    /// first one whatever its size): unmapping 10 MiB takes a few hundred microseconds.
    fn free_garbage(&mut self) {
        let mut freed = 0;
        while freed < FREE_PER_TURN {
            let Some(buf) = self.garbage.pop() else {
                break;
            };
            freed += buf.capacity();
        }
    }

    /// Counts the turn that started at `self.now`: its length in the histogram and, if the
    /// longest since the last stats line, in the counters.
    fn end_turn(&mut self) {
        let ns = u64::try_from(self.now.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.turns.observe_n(ns, 1);
        self.counters.longest_turn_ns = self.counters.longest_turn_ns.max(ns);
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
    /// shows the service those with a request to handle ([`Service::prepare`]), then handles
    /// and writes each.
    fn run_events(&mut self) {
        let mut batch = mem::take(&mut self.batch);
        let mut handling = mem::take(&mut self.handling);
        for &(slot, ev) in &batch {
            let Some(conn) = self.conns.get_mut(slot) else {
                continue;
            };
            let mut turn = Turn {
                woken: &mut self.woken,
                posted: &mut self.posted,
                mailbox: &self.mailbox,
                now: self.now,
                open: 0,
                counters: &mut self.counters,
                budget: &mut self.budget,
                starved: &mut self.starved,
                budget_freed: false,
                requests: self.requests.as_deref_mut(),
                left: &mut self.left,
            };
            if !receive(conn, ev, &mut turn) {
                // No connection is accepted before the loop below, so the slot stays unused.
                self.close_conn(slot);
                continue;
            }
            if will_handle(conn) {
                handling.push(slot);
            }
        }
        if !handling.is_empty() {
            self.service.prepare(&mut Prepare {
                conns: &mut self.conns,
                slots: &handling,
            });
        }
        handling.clear();
        self.handling = handling;
        for &(slot, _) in &batch {
            // The events were taken in by `receive` above.
            self.drive_one(slot, None);
        }
        batch.clear();
        self.batch = batch;
    }

    /// The connection `r` names, if it is still open.
    fn conn(&mut self, r: ConnRef) -> Option<&mut Connection<S::Session>> {
        self.conns.get_mut(r.slot()).filter(|c| c.me == r)
    }

    /// Drives one connection and carries out the verdict.
    fn drive_one(&mut self, slot: usize, ev: Option<Readiness>) {
        self.turn(slot, |service, conn, turn| {
            drive::drive(service, conn, ev, turn)
        });
    }

    /// Runs `f` (a part of a turn) on the connection in `slot` and carries out its verdict:
    /// update the poll registration, queue a revisit, or close.
    #[inline]
    fn turn<F>(&mut self, slot: usize, f: F)
    where
        F: FnOnce(&mut S, &mut Connection<S::Session>, &mut Turn<'_, S::Event>) -> Verdict,
    {
        let open = self.conns.len();
        let Some(conn) = self.conns.get_mut(slot) else {
            return;
        };
        let mut turn = Turn {
            woken: &mut self.woken,
            posted: &mut self.posted,
            mailbox: &self.mailbox,
            now: self.now,
            open,
            counters: &mut self.counters,
            budget: &mut self.budget,
            starved: &mut self.starved,
            budget_freed: false,
            requests: self.requests.as_deref_mut(),
            left: &mut self.left,
        };
        let verdict = f(&mut self.service, conn, &mut turn);
        self.budget_freed |= turn.budget_freed;
        let keep = match verdict {
            Verdict::Close => false,
            Verdict::Keep { revisit } => {
                match conn.update_interest(self.poll.registry(), Token(slot + FIRST_CONN)) {
                    Ok(()) => {
                        if revisit && !conn.queued {
                            conn.queued = true;
                            self.ready.push(conn.me);
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
            self.close_conn(slot);
        }
    }

    /// Drives the connections queued for a revisit during the previous turn. Once the turn's
    /// budget is spent the rest are still driven (to write, close, take a small request) but
    /// read and resume little; the ones driven after that go first next turn, so every queued
    /// connection gets its share in time. The head always gets some budget.
    fn run_ready(&mut self) {
        if self.ready.is_empty() {
            return;
        }
        let mut batch = mem::take(&mut self.ready_spare);
        mem::swap(&mut batch, &mut self.ready);
        self.left.at_least_one();
        let mut cut_at = None;
        for &r in &batch {
            if cut_at.is_none() && self.left.spent() {
                cut_at = Some(self.ready.len());
            }
            if let Some(conn) = self.conn(r) {
                conn.queued = false;
                self.drive_one(r.slot(), Some(Readiness::default()));
            }
        }
        if let Some(at) = cut_at {
            self.ready.rotate_left(at);
        }
        batch.clear();
        self.ready_spare = batch;
    }

    /// Delivers the events posted to connections and resumes the connections woken (a Put
    /// waking a Listen), within this turn, for a bounded number of rounds.
    pub(crate) fn run_woken(&mut self) {
        for _ in 0..WAKE_ROUNDS {
            if self.woken.is_empty() && self.posted.is_empty() {
                return;
            }
            let mut posted = mem::take(&mut self.posted_spare);
            mem::swap(&mut posted, &mut self.posted);
            for (r, event) in posted.drain(..) {
                if self.conn(r).is_some() {
                    self.turn(r.slot(), |service, conn, turn| {
                        drive::deliver(service, conn, event, turn)
                    });
                }
                // An event for a closed connection is dropped here, unseen.
            }
            self.posted_spare = posted;
            let mut batch = mem::take(&mut self.woken_spare);
            mem::swap(&mut batch, &mut self.woken);
            for &r in &batch {
                if let Some(conn) = self.conn(r) {
                    conn.woken = true;
                    self.drive_one(r.slot(), Some(Readiness::default()));
                }
            }
            batch.clear();
            self.woken_spare = batch;
        }
        // Still more: next turn, through the ready queue (posted events stay queued).
        let woken = mem::take(&mut self.woken);
        for &r in &woken {
            self.requeue(r, |conn| conn.woken = true);
        }
        self.woken = woken;
        self.woken.clear();
    }

    /// Queues `r` (if still open) for a turn without an event, after `mark` recorded why.
    fn requeue(&mut self, r: ConnRef, mark: impl FnOnce(&mut Connection<S::Session>)) {
        if let Some(conn) = self.conn(r) {
            mark(conn);
            if !conn.queued {
                conn.queued = true;
                self.ready.push(r);
            }
        }
    }

    /// Takes the mailbox's letters: node events go to the service at once, connection events
    /// and wakes are carried out by [`Server::run_woken`].
    pub(crate) fn take_mail(&mut self) {
        let mut letters = mem::take(&mut self.letters);
        self.inbox.drain(&mut letters);
        for letter in letters.drain(..) {
            match letter {
                Letter::Conn(r, event) => self.posted.push((r, event)),
                Letter::Wake(r) => self.woken.push(r),
                Letter::Node(event) => self.service.on_event(&mut cx!(self), event),
                Letter::Scrape(want, reply) => {
                    // The HTTP thread may have given up waiting; nothing to do then.
                    let _ = reply.send(self.render(want));
                }
            }
        }
        self.letters = letters;
    }

    /// Input budget was given back: the connections waiting for it read again next turn.
    fn revive_starved(&mut self) {
        if !mem::take(&mut self.budget_freed) || self.starved.is_empty() {
            return;
        }
        let starved = mem::take(&mut self.starved);
        for &r in &starved {
            self.requeue(r, |conn| conn.starved = false);
        }
        self.starved = starved;
        self.starved.clear();
    }

    /// Removes a connection and tells the service.
    fn close_conn(&mut self, slot: usize) {
        let Some(mut conn) = self.conns.try_remove(slot) else {
            return;
        };
        // Closing the socket would drop it from epoll anyway; deregistering keeps mio's
        // bookkeeping exact. A failure changes nothing, the socket is closed right after.
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.budget_freed |= conn.input.release(&mut self.budget);
        // Large buffers are freed a few a turn (`free_garbage`): 50 clients hanging up in one
        // turn, each with a 10 MiB partial request, would unmap 128,000 pages before the loop
        // polls again.
        for buf in [conn.input.take(), conn.out.take()] {
            if buf.capacity() >= FREE_LATER_FROM {
                self.garbage.push(buf);
            }
        }
        self.service.close(&mut cx!(self), conn.session);
    }
}
