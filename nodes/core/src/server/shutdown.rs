//! The end of [`Server::run`]: stop accepting, let the service persist
//! ([`crate::Service::shutdown`]), give pending replies a bounded time to leave, then close
//! every connection through [`crate::Service::close`]. A service that could not persist
//! ([`crate::Service::shutdown_incomplete`]) is served on instead, until the next request to
//! stop: an exit would drop its data.
//!
//! Requests in progress (a GetAll, a Listen) are cut, not finished: a node must stop promptly
//! and persist its data, and the client sees the connection close as with any node restart.

use std::io;
use std::time::{Duration, Instant};

use std::sync::atomic::Ordering;

use log::{info, warn};
use mio::{Events, Interest};

use super::{Server, LISTENER};
use crate::service::Service;

/// Longest time spent flushing pending output at shutdown.
const SHUTDOWN_FLUSH: Duration = Duration::from_secs(1);

impl<S: Service> Server<S> {
    /// Stops accepting and lets the service persist; `false` if it could not: then the
    /// listener accepts again and the stop request is cleared, so the loop serves on.
    pub(super) fn persist(&mut self) -> bool {
        // Clients that connect during the dump wait in the backlog: the listener stays open
        // until the dump is known to have succeeded.
        if let Some(listener) = self.listener.as_mut() {
            let _ = self.poll.registry().deregister(listener);
        }
        self.service.shutdown(&mut cx!(self));
        // What worker threads reported meanwhile (a cut dump's last outcomes) still reaches the
        // service; events for connections are dropped with them in `finish`, or served on.
        self.take_mail();
        if !self.service.shutdown_incomplete() {
            // Closing the listening socket makes new clients fail at once instead of waiting
            // in the backlog of a node that will not serve them.
            self.listener = None;
            return true;
        }
        if let Some(listener) = self.listener.as_mut() {
            let registry = self.poll.registry();
            if let Err(e) = registry.register(listener, LISTENER, Interest::READABLE) {
                warn!("shutdown postponed: cannot listen again: {e}");
            }
        }
        self.stop.store(false, Ordering::SeqCst);
        warn!(
            "shutdown postponed: the data could not be persisted (see above), the node is still \
             serving; stop it again (SIGTERM) to retry once the cause is fixed, SIGKILL drops \
             what only memory holds"
        );
        crate::logging::flush();
        false
    }

    pub(super) fn finish(&mut self, events: &mut Events) {
        info!(
            "event loop stopping: closing {} connections",
            self.conns.len()
        );
        self.flush_all(events);
        let slots: Vec<usize> = self.conns.iter().map(|(slot, _)| slot).collect();
        for slot in slots {
            self.close_conn(slot);
        }
        self.ready.clear();
        self.woken.clear();
        self.posted.clear();
        if let Some(console) = self.hk.console.as_mut() {
            console.finish();
        }
    }

    /// Writes pending output until all is sent or `SHUTDOWN_FLUSH` has passed.
    fn flush_all(&mut self, events: &mut Events) {
        let deadline = Instant::now() + SHUTDOWN_FLUSH;
        loop {
            let now = Instant::now();
            let mut pending = false;
            for (_, conn) in self.conns.iter_mut() {
                if conn.out.is_empty() {
                    continue;
                }
                // Retry every socket with output: a full one costs one `EAGAIN`.
                conn.write_blocked = false;
                if conn.write(now, &mut self.counters.bytes_sent).is_err() {
                    conn.out.clear();
                }
                pending |= !conn.out.is_empty();
            }
            if !pending || now >= deadline {
                return;
            }
            // Every connection with output is registered for WRITABLE: sleep until one drains.
            if let Err(e) = self.poll.poll(events, Some(deadline - now)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return;
                }
            }
        }
    }
}
