//! The logfiles node's `/metrics` families: the figures of its stats.log line, the per-line
//! counters as running totals ([`Stats::totals`]), and per-channel sizes (GetChannelSize's).

use super::{Stats, Totals, TIMING, TRACKED};
use crate::storage::Storage;
use swarm_core::metrics::{Exposition, Kind};

impl Stats {
    /// The counters summed over every line so far and the current one.
    pub(super) fn totals(&self) -> Totals {
        let mut t = self.before;
        for (a, b) in t.handled.iter_mut().zip(self.handled) {
            *a += b;
        }
        for (a, b) in t.put_timing.iter_mut().zip(self.put_timing) {
            *a += b;
        }
        t.put_micros += self.put_micros;
        t.handled_records.0 += self.handled_records.0;
        t.handled_records.1 += self.handled_records.1;
        t.redistributed.0 += self.redistributed.0;
        t.redistributed.1 += self.redistributed.1;
        t
    }

    /// Renders the families (docs/METRICS.md maps each to its stats.log key).
    pub fn metrics(&self, storage: &Storage, e: &mut Exposition) {
        let total = storage.total();
        let help = "Records stored in all channels (stats.log total_records).";
        e.single("swarm_logfiles_records", Kind::Gauge, help, total.records);
        let help = "Value bytes stored in all channels (stats.log total_bytes).";
        e.single("swarm_logfiles_bytes", Kind::Gauge, help, total.bytes);
        let help = "Records of one channel (GetChannelSize).";
        e.family("swarm_logfiles_channel_records", Kind::Gauge, help);
        for name in storage.channel_names() {
            let records = storage.size(name).records;
            e.sample(
                "swarm_logfiles_channel_records",
                &[("channel", name)],
                records,
            );
        }
        let help = "Value bytes of one channel (GetChannelSize).";
        e.family("swarm_logfiles_channel_bytes", Kind::Gauge, help);
        for name in storage.channel_names() {
            let bytes = storage.size(name).bytes;
            e.sample("swarm_logfiles_channel_bytes", &[("channel", name)], bytes);
        }
        self.counter_metrics(e);
    }

    /// The request, Put timing and action families.
    fn counter_metrics(&self, e: &mut Exposition) {
        let t = self.totals();
        let help = "Requests handled, per command (stats.log request/<Name>/handled, summed).";
        e.family("swarm_logfiles_requests_handled_total", Kind::Counter, help);
        for (i, cmd) in TRACKED.iter().enumerate() {
            let label = [("command", cmd.name())];
            e.sample(
                "swarm_logfiles_requests_handled_total",
                &label,
                t.handled[i],
            );
        }
        let help = "Most requests of a command in progress at once since the last stats line \
                    (stats.log request/<Name>/max_active).";
        e.family("swarm_logfiles_requests_max_active", Kind::Gauge, help);
        for (i, cmd) in TRACKED.iter().enumerate() {
            let label = [("command", cmd.name())];
            e.sample(
                "swarm_logfiles_requests_max_active",
                &label,
                self.max_active[i],
            );
        }
        let help = "Puts by time to reply, with the stats.log bucket's key as label \
                    (request/Put/handled_10_micros ... handled_over_100_ms, summed).";
        e.family("swarm_logfiles_put_timing_total", Kind::Counter, help);
        let keys = TIMING
            .iter()
            .map(|(_, k)| *k)
            .chain(["handled_over_100_ms"]);
        for (key, n) in keys.zip(t.put_timing) {
            e.sample("swarm_logfiles_put_timing_total", &[("bucket", key)], n);
        }
        let help = "Time Puts took in all, in microseconds (stats.log \
                    request/Put/mean_handled_time_micros is its per-line mean).";
        let micros = t.put_micros;
        e.single(
            "swarm_logfiles_put_micros_total",
            Kind::Counter,
            help,
            micros,
        );
        let actions = [
            ("handled", t.handled_records),
            ("redistributed", t.redistributed),
        ];
        let help = "Records written or sent (handled) and moved to other nodes \
                    (redistributed) (stats.log action/<kind>/records, summed).";
        e.family("swarm_logfiles_action_records_total", Kind::Counter, help);
        for (name, (records, _)) in actions {
            e.sample(
                "swarm_logfiles_action_records_total",
                &[("action", name)],
                records,
            );
        }
        let help = "Value bytes of those records (stats.log action/<kind>/bytes, summed).";
        e.family("swarm_logfiles_action_bytes_total", Kind::Counter, help);
        for (name, (_, bytes)) in actions {
            e.sample(
                "swarm_logfiles_action_bytes_total",
                &[("action", name)],
                bytes,
            );
        }
    }
}
