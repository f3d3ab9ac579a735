//! What the loop does besides serving sockets: timers (service tick and log flush, the sweep
//! for stalled writers and request and idle timeouts, console, stats line), the waker (the
//! mailbox), and signals (SIGINT/SIGTERM/SIGQUIT shut down, SIGHUP reopens logs).

use libc::{c_int, SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use log::{debug, info, warn};

use super::Server;
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
            self.service.tick(&mut cx!(self));
            self.run_woken();
            // root.log is written in blocks, off the request path (errors go out at once).
            logging::flush();
        }
        if due.sweep {
            self.sweep();
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

    /// Closes the connections that overstayed a timeout: pending output that made no progress
    /// for `write_timeout` (a client that stopped reading must not pin its buffers, or a
    /// GetAll's iteration, forever), a request that started arriving and did not finish within
    /// `request_timeout`, and (if set) no activity at all for `idle_timeout`.
    fn sweep(&mut self) {
        let now = self.now;
        let (write, request, idle) = (
            self.cfg.write_timeout,
            self.cfg.request_timeout,
            self.cfg.idle_timeout,
        );
        let over = |since: Option<std::time::Instant>, limit: std::time::Duration| {
            since.is_some_and(|t| now.saturating_duration_since(t) >= limit)
        };
        let mut doomed = Vec::new();
        for (slot, c) in self.conns.iter() {
            let why = if over(c.stalled_since, write) {
                if c.closing {
                    // Its reason to close was logged already.
                    debug!(
                        "{}: output not taken while closing, closing connection",
                        c.peer
                    );
                    None
                } else {
                    Some(format!(
                        "client stopped reading ({} bytes pending for {} ms)",
                        c.out.len(),
                        write.as_millis()
                    ))
                }
            } else if over(c.partial_since, request) {
                Some(format!(
                    "request not complete after {} ms ({} bytes received)",
                    request.as_millis(),
                    c.input.len()
                ))
            } else if idle.is_some_and(|limit| c.is_idle() && over(Some(c.last_active), limit)) {
                debug!(
                    "{}: idle for {} s, closing connection",
                    c.peer,
                    idle.unwrap_or_default().as_secs()
                );
                None
            } else {
                continue;
            };
            if let Some(why) = why {
                warn!("{}: {why}, closing connection", c.peer);
            }
            doomed.push(slot);
        }
        for slot in doomed {
            self.close_conn(slot);
        }
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

    /// The waker fired: letters in the mailbox (worker results, wakes), or shutdown.
    pub(super) fn on_waker(&mut self) {
        self.take_mail();
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
