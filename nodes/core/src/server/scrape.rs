//! The loop's side of `/metrics` and `/health`: the HTTP thread sends a letter through the
//! mailbox and waits up to [`SCRAPE_WAIT`]; the loop renders the page between steps (it never
//! blocks on I/O for it), so the figures are those of the same moment as stats.log and the
//! size requests see. `/health` is 200 when the loop answered in time, 503 when it did not.

use std::sync::mpsc;
use std::time::Duration;

use super::Server;
use crate::mailbox::Mailbox;
use crate::metrics::http::{Handler, Want};
use crate::metrics::{Exposition, Kind};
use crate::procstat;
use crate::service::Service;

/// How long the HTTP thread waits for the loop's answer.
pub(crate) const SCRAPE_WAIT: Duration = Duration::from_secs(2);

/// The HTTP thread's handler: ask the loop, wait for it.
pub(super) fn handler<E: Send + 'static>(mailbox: Mailbox<E>) -> Handler {
    Box::new(move |want| {
        let (tx, rx) = mpsc::sync_channel(1);
        if !mailbox.scrape(want, tx) {
            return Err("the event loop is not running".to_owned());
        }
        rx.recv_timeout(SCRAPE_WAIT).map_err(|_| {
            format!(
                "the event loop did not answer within {} s",
                SCRAPE_WAIT.as_secs()
            )
        })
    })
}

impl<S: Service> Server<S> {
    /// The page for `want`: `ok` for `/health`, the loop's and the service's figures for
    /// `/metrics`.
    pub(super) fn render(&self, want: Want) -> String {
        if want == Want::Health {
            return "ok\n".to_owned();
        }
        let mut e = Exposition::new();
        self.render_core(&mut e);
        if let Some(requests) = &self.requests {
            requests.render(&mut e);
        }
        self.service.metrics(&mut e);
        e.into_string()
    }

    fn render_core(&self, e: &mut Exposition) {
        let c = &self.counters;
        e.single(
            "swarm_node_bytes_sent_total",
            Kind::Counter,
            "Bytes written to client sockets (stats.log bytes_sent, summed).",
            c.sent_before + c.bytes_sent,
        );
        e.single(
            "swarm_node_bytes_received_total",
            Kind::Counter,
            "Bytes read from client sockets (stats.log bytes_received, summed).",
            c.received_before + c.bytes_received,
        );
        e.single(
            "swarm_node_connections",
            Kind::Gauge,
            "Open client connections (stats.log handling_connections).",
            self.conns.len(),
        );
        e.single(
            "swarm_node_connection_limit",
            Kind::Gauge,
            "[Server] connection_limit (handling_connections_pcnt is connections / this).",
            self.cfg.connection_limit,
        );
        let stat = procstat::read_self().unwrap_or_default();
        // Ticks and byte sizes below 2^52 convert to f64 exactly.
        let ticks = procstat::clock_ticks().max(1) as f64;
        e.family(
            "swarm_node_cpu_seconds_total",
            Kind::Counter,
            "CPU time used by the process, by mode (stats.log cpu_user / cpu_system are its \
             rate over the stats interval, in percent).",
        );
        let user = stat.utime_ticks as f64 / ticks;
        let system = stat.stime_ticks as f64 / ticks;
        e.sample("swarm_node_cpu_seconds_total", &[("mode", "user")], user);
        e.sample(
            "swarm_node_cpu_seconds_total",
            &[("mode", "system")],
            system,
        );
        e.single(
            "swarm_node_vsz_bytes",
            Kind::Gauge,
            "Virtual memory size of the process (stats.log vsz).",
            stat.vsize_bytes,
        );
        e.single(
            "swarm_node_rss_bytes",
            Kind::Gauge,
            "Resident memory of the process (stats.log rss).",
            stat.rss_bytes,
        );
        e.single(
            "swarm_node_memory_total_bytes",
            Kind::Gauge,
            "Memory of the machine (stats.log mem_percentage is rss / this).",
            self.hk.mem_total.unwrap_or(0),
        );
        e.single(
            "swarm_node_uptime_seconds",
            Kind::Gauge,
            "Time since the event loop was bound.",
            self.now.duration_since(self.hk.started).as_secs_f64(),
        );
        e.family(
            "swarm_node_loop_turn_seconds",
            Kind::Histogram,
            "Loop turns (the work between two polls: reading, handling, writing for every ready \
             connection) by duration; a request arriving during a turn waits for its end \
             (stats.log loop_longest_turn_micros is the longest per line).",
        );
        e.histogram("swarm_node_loop_turn_seconds", &[], &self.turns);
    }
}
