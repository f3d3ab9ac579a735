//! What the loop does besides serving sockets: timers (service tick, stalled writers, console,
//! stats line), the waker, and signals (SIGINT/SIGTERM/SIGQUIT shut down, SIGHUP reopens logs).

use std::mem;

use libc::{c_int, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use log::{debug, info, warn};

use super::{context, Server};
use crate::logging;
use crate::service::Service;
use crate::stats::core_pairs;

/// The signals the loop takes over when `handle_signals` is set.
pub(super) const SIGNALS_HANDLED: [c_int; 4] = [SIGINT, SIGTERM, SIGQUIT, SIGHUP];

fn signal_name(sig: c_int) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGQUIT => "SIGQUIT",
        SIGHUP => "SIGHUP",
        _ => "signal",
    }
}

impl<S: Service> Server<S> {
    pub(super) fn run_timers(&mut self) {
        let due = self.hk.due(self.now);
        if due.tick {
            let mut cx = context(&mut self.woken, self.conns.len(), self.now, &self.waker);
            self.service.tick(&mut cx);
            self.run_woken();
        }
        if due.stall_check {
            self.close_stalled();
        }
        if due.second {
            if self.accept_retry {
                self.accept_all();
            }
            if let Some(console) = self.hk.console.as_mut() {
                let text = self.service.console();
                let uptime = self.now.duration_since(self.hk.started);
                console.draw(uptime, self.conns.len(), self.counters.requests, &text);
            }
        }
        if due.stats {
            self.write_stats();
        }
    }

    /// Closes connections whose pending output made no progress for `write_timeout`: a client
    /// that stopped reading must not pin its buffers (and a GetAll's iteration) forever.
    fn close_stalled(&mut self) {
        let timeout = self.cfg.write_timeout;
        let now = self.now;
        let mut stalled = mem::take(&mut self.ready_spare);
        stalled.extend(
            self.conns
                .iter()
                .filter(|(_, c)| {
                    c.stalled_since
                        .is_some_and(|t| now.duration_since(t) >= timeout)
                })
                .map(|(id, _)| id),
        );
        for &id in &stalled {
            if let Some(c) = self.conns.get(id) {
                if c.closing {
                    // Its reason to close was logged already.
                    debug!(
                        "{}: output not taken while closing, closing connection",
                        c.peer
                    );
                } else {
                    warn!(
                        "{}: client stopped reading ({} bytes pending for {} ms), closing connection",
                        c.peer,
                        c.out.len(),
                        timeout.as_millis()
                    );
                }
            }
            self.close_conn(id);
        }
        stalled.clear();
        self.ready_spare = stalled;
    }

    /// Writes one stats.log line: the loop's keys, then the service's.
    fn write_stats(&mut self) {
        let mut pairs = core_pairs(
            &mut self.counters,
            self.conns.len(),
            self.cfg.connection_limit,
            &mut self.hk.cpu,
            self.hk.mem_total,
        );
        pairs.extend(self.service.stats());
        if let Some(log) = self.hk.stats_log.as_mut() {
            if let Err(e) = log.write_line(&pairs) {
                warn!("{}: cannot write stats: {e}", log.path().display());
            }
        }
    }

    /// The waker fired: a worker thread finished something for the service, or shutdown.
    pub(super) fn on_waker(&mut self) {
        let mut cx = context(&mut self.woken, self.conns.len(), self.now, &self.waker);
        self.service.on_wake(&mut cx);
        self.run_woken();
    }

    pub(super) fn on_signals(&mut self) {
        let Some(signals) = self.signals.as_mut() else {
            return;
        };
        let mut reopen = false;
        for sig in signals.pending() {
            if sig == SIGHUP {
                reopen = true;
            } else {
                info!("{} handler: shutting down", signal_name(sig));
                self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        if reopen {
            if let Err(e) = logging::reopen() {
                warn!("SIGHUP handler: cannot reopen root.log: {e}");
            }
            if let Some(log) = self.hk.stats_log.as_mut() {
                if let Err(e) = log.reopen() {
                    warn!(
                        "SIGHUP handler: cannot reopen {}: {e}",
                        log.path().display()
                    );
                }
            }
            info!("SIGHUP handler: log files reopened");
        }
    }
}
