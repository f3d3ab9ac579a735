//! dhtdump's `/metrics` and `/health` (with `[Stats]`/`[STATS] http_port`): the stats.log
//! figures of [`DumpStats`], the per-line counters as running totals, and the cycles run and
//! failed. `/health` is 200 while the process runs and its last cycle did not fail (also before
//! the first cycle), 503 with the last cycle's problem otherwise. The page is rendered on the
//! HTTP thread from the atomics the dump thread bumps; nothing waits for the dump.

use crate::stats::{DumpStats, Snapshot};
use std::sync::Arc;
use swarm_core::metrics::http::{Handler, Want};
use swarm_core::metrics::{Exposition, Kind};

/// The HTTP thread's handler over `stats`.
pub fn handler(stats: Arc<DumpStats>) -> Handler {
    Box::new(move |want| {
        let snap = stats.snapshot();
        match want {
            Want::Health => match snap.last_problem {
                None => Ok("ok\n".to_owned()),
                Some(problem) => Err(format!("the last dump cycle failed: {problem}")),
            },
            Want::Metrics => Ok(render(&snap)),
        }
    })
}

/// The exposition text of `s`.
pub fn render(s: &Snapshot) -> String {
    let mut e = Exposition::new();
    let help = "Records written to dump files (stats.log records_written, summed).";
    e.single(
        "swarm_dhtdump_records_written_total",
        Kind::Counter,
        help,
        s.records_written,
    );
    let help = "Their bytes: key (16) + value + 16 per record (stats.log bytes_written, summed).";
    e.single(
        "swarm_dhtdump_bytes_written_total",
        Kind::Counter,
        help,
        s.bytes_written,
    );
    let help = "Duration of the last complete dump cycle (stats.log last_time_ms / 1000).";
    let secs = s.last_time_ms as f64 / 1000.0;
    e.single(
        "swarm_dhtdump_last_cycle_duration_seconds",
        Kind::Gauge,
        help,
        secs,
    );
    let help = "When the last dump cycle ended, in seconds since the epoch (0: none yet).";
    let end = s.last_end_ms as f64 / 1000.0;
    e.single(
        "swarm_dhtdump_last_cycle_end_timestamp_seconds",
        Kind::Gauge,
        help,
        end,
    );
    let help = "Dump cycles that ran to their end (a stop cuts one without counting it).";
    e.single("swarm_dhtdump_cycles_total", Kind::Counter, help, s.cycles);
    let help = "Of those, the cycles that did not dump every channel.";
    e.single(
        "swarm_dhtdump_cycle_failures_total",
        Kind::Counter,
        help,
        s.failures,
    );
    let help = "Whether the last cycle failed (1) or not (0); /health is 503 while it is 1.";
    let failed = u8::from(s.last_problem.is_some());
    e.single("swarm_dhtdump_last_cycle_failed", Kind::Gauge, help, failed);
    let help = "Records in a channel's last successful dump (stats.log \
                channel/<ch>/records_written).";
    e.family("swarm_dhtdump_channel_records_written", Kind::Gauge, help);
    for (name, t) in &s.channels {
        e.sample(
            "swarm_dhtdump_channel_records_written",
            &[("channel", name)],
            t.records,
        );
    }
    let help = "Bytes of that dump (stats.log channel/<ch>/bytes_written).";
    e.family("swarm_dhtdump_channel_bytes_written", Kind::Gauge, help);
    for (name, t) in &s.channels {
        e.sample(
            "swarm_dhtdump_channel_bytes_written",
            &[("channel", name)],
            t.bytes,
        );
    }
    e.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::ChannelTotals;

    #[test]
    fn health_follows_the_last_cycle() {
        let stats = Arc::new(DumpStats::default());
        let h = handler(Arc::clone(&stats));
        assert_eq!(h(Want::Health), Ok("ok\n".to_owned()));
        stats.cycle_outcome(Some("GetChannels failed: gone".to_owned()));
        let sick = h(Want::Health).unwrap_err();
        assert!(sick.contains("GetChannels failed: gone"), "{sick}");
        let page = h(Want::Metrics).unwrap();
        assert!(
            page.contains("swarm_dhtdump_cycle_failures_total 1\n"),
            "{page}"
        );
        assert!(
            page.contains("swarm_dhtdump_last_cycle_failed 1\n"),
            "{page}"
        );
        stats.record_written(4);
        stats.channel_dumped(
            "a\"b",
            ChannelTotals {
                records: 1,
                bytes: 36,
            },
        );
        stats.cycle_outcome(None);
        assert_eq!(h(Want::Health), Ok("ok\n".to_owned()));
        let page = h(Want::Metrics).unwrap();
        assert!(page.contains("swarm_dhtdump_channel_bytes_written{channel=\"a\\\"b\"} 36\n"));
        assert!(
            page.contains("swarm_dhtdump_bytes_written_total 36\n"),
            "{page}"
        );
    }
}
