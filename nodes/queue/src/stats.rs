//! The queue node's part of `stats.log`, with the final dmqnode's key names (spec/queue.md
//! section 7): per-request counters (`request/<Name>/handled`, `request/<Name>/max_active`),
//! record actions (`action/pushed|popped/records|bytes`), totals and per-channel sizes
//! (`channel/<ch>/bytes`, `records`, `percent_memory`: ring fullness in percent). Ours, as no
//! original counted them: `action/dropped/...` (Produce records that did not fit) and
//! `action/refused/...` (pushes answered OutOfMemory). Counters reset after each line; the
//! running totals behind `/metrics` ([`Stats::metrics`]) do not.

use crate::storage::{MemoryStore, QueueStore};
use swarm_core::metrics::{Exposition, Kind};
use swarm_protocol::queue::QueueCommand;

/// Requests tracked in stats.log: the final dmqnode's, and PushMulti2.
const TRACKED: [QueueCommand; 7] = [
    QueueCommand::Push,
    QueueCommand::Pop,
    QueueCommand::PushMulti,
    QueueCommand::PushMulti2,
    QueueCommand::Produce,
    QueueCommand::ProduceMulti,
    QueueCommand::Consume,
];

const ACTIONS: [&str; 4] = ["pushed", "popped", "dropped", "refused"];

/// Counters since the last stats line.
#[derive(Debug, Default)]
pub struct Stats {
    handled: [u64; 13],
    active: [u32; 13],
    max_active: [u32; 13],
    /// (records, bytes of values) per entry of [`ACTIONS`].
    actions: [(u64, u64); 4],
    /// `handled` and `actions` summed over the lines written so far.
    handled_before: [u64; 13],
    actions_before: [(u64, u64); 4],
}

/// Codes are 1..=13 ([`QueueCommand::ALL`] is in code order).
#[inline]
fn idx(cmd: QueueCommand) -> usize {
    (cmd.code() - 1) as usize
}

impl Stats {
    /// A request started.
    #[inline]
    pub fn started(&mut self, cmd: QueueCommand) {
        let i = idx(cmd);
        self.handled[i] += 1;
        self.active[i] += 1;
        self.max_active[i] = self.max_active[i].max(self.active[i]);
    }

    /// A request finished.
    #[inline]
    pub fn finished(&mut self, cmd: QueueCommand) {
        let i = idx(cmd);
        self.active[i] = self.active[i].saturating_sub(1);
    }

    /// Records stored.
    #[inline]
    pub fn pushed(&mut self, records: u64, bytes: u64) {
        self.add(0, records, bytes);
    }

    /// Records taken out (Pop, Consume).
    #[inline]
    pub fn popped(&mut self, records: u64, bytes: u64) {
        self.add(1, records, bytes);
    }

    /// Produce records that did not fit a channel.
    pub fn dropped(&mut self, records: u64, bytes: u64) {
        self.add(2, records, bytes);
    }

    /// Pushes answered OutOfMemory.
    pub fn refused(&mut self, records: u64, bytes: u64) {
        self.add(3, records, bytes);
    }

    #[inline]
    fn add(&mut self, i: usize, records: u64, bytes: u64) {
        self.actions[i].0 += records;
        self.actions[i].1 += bytes;
    }

    /// The stats.log pairs; resets the counters.
    pub fn line(&mut self, store: &MemoryStore) -> Vec<(String, String)> {
        let total = store.total_size();
        let mut out = vec![
            ("total_bytes".to_string(), total.bytes.to_string()),
            ("total_records".to_string(), total.records.to_string()),
        ];
        let mut rings: Vec<_> = store.rings().collect();
        rings.sort_unstable_by_key(|(name, _)| *name);
        for (name, ring) in rings {
            let name = String::from_utf8_lossy(name);
            out.push((
                format!("channel/{name}/bytes"),
                ring.used_bytes().to_string(),
            ));
            out.push((format!("channel/{name}/records"), ring.len().to_string()));
            out.push((
                format!("channel/{name}/percent_memory"),
                fullness(ring.used_bytes(), ring.capacity()).to_string(),
            ));
        }
        for cmd in TRACKED {
            let i = idx(cmd);
            let name = cmd.name();
            out.push((
                format!("request/{name}/max_active"),
                self.max_active[i].to_string(),
            ));
            out.push((
                format!("request/{name}/handled"),
                self.handled[i].to_string(),
            ));
        }
        for (i, name) in ACTIONS.iter().enumerate() {
            out.push((
                format!("action/{name}/records"),
                self.actions[i].0.to_string(),
            ));
            out.push((
                format!("action/{name}/bytes"),
                self.actions[i].1.to_string(),
            ));
        }
        for (before, n) in self.handled_before.iter_mut().zip(self.handled) {
            *before += n;
        }
        for (before, (r, b)) in self.actions_before.iter_mut().zip(self.actions) {
            before.0 += r;
            before.1 += b;
        }
        self.handled = [0; 13];
        self.max_active = self.active;
        self.actions = [(0, 0); 4];
        out
    }

    /// The `/metrics` families: the same figures as [`Stats::line`], counters as running
    /// totals (docs/METRICS.md maps each to its stats.log key).
    pub fn metrics(&self, store: &MemoryStore, e: &mut Exposition) {
        let total = store.total_size();
        let help = "Records in all channels (stats.log total_records).";
        e.single("swarm_queue_records", Kind::Gauge, help, total.records);
        let help = "Bytes in all channels (stats.log total_bytes).";
        e.single("swarm_queue_bytes", Kind::Gauge, help, total.bytes);
        let mut rings: Vec<_> = store.rings().collect();
        rings.sort_unstable_by_key(|(name, _)| *name);
        let names: Vec<String> = rings
            .iter()
            .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
            .collect();
        type Figure = fn(&crate::storage::ring::Ring) -> u64;
        let families: [(&str, &str, Figure); 4] = [
            (
                "swarm_queue_channel_records",
                "Records of one channel (stats.log channel/<ch>/records).",
                |r| r.len() as u64,
            ),
            (
                "swarm_queue_channel_bytes",
                "Bytes one channel's ring holds (stats.log channel/<ch>/bytes).",
                |r| r.used_bytes() as u64,
            ),
            (
                "swarm_queue_channel_capacity_bytes",
                "Size of one channel's ring (its size_limit).",
                |r| r.capacity() as u64,
            ),
            (
                "swarm_queue_channel_fullness_percent",
                "How full one channel's ring is, in whole percent (stats.log \
                 channel/<ch>/percent_memory).",
                |r| fullness(r.used_bytes(), r.capacity()),
            ),
        ];
        for (family, help, figure) in families {
            e.family(family, Kind::Gauge, help);
            for (name, (_, ring)) in names.iter().zip(&rings) {
                e.sample(family, &[("channel", name)], figure(ring));
            }
        }
        self.counter_metrics(e);
    }

    /// The request and action families.
    fn counter_metrics(&self, e: &mut Exposition) {
        let help = "Requests handled, per command (stats.log request/<Name>/handled, summed).";
        e.family("swarm_queue_requests_handled_total", Kind::Counter, help);
        for cmd in TRACKED {
            let (i, label) = (idx(cmd), [("command", cmd.name())]);
            let n = self.handled_before[i] + self.handled[i];
            e.sample("swarm_queue_requests_handled_total", &label, n);
        }
        let help = "Most requests of a command in progress at once since the last stats line \
                    (stats.log request/<Name>/max_active).";
        e.family("swarm_queue_requests_max_active", Kind::Gauge, help);
        for cmd in TRACKED {
            let (i, label) = (idx(cmd), [("command", cmd.name())]);
            e.sample(
                "swarm_queue_requests_max_active",
                &label,
                self.max_active[i],
            );
        }
        let help = "Records that went through an action (stats.log action/<kind>/records, summed).";
        e.family("swarm_queue_action_records_total", Kind::Counter, help);
        for (i, name) in ACTIONS.iter().enumerate() {
            let n = self.actions_before[i].0 + self.actions[i].0;
            e.sample("swarm_queue_action_records_total", &[("action", name)], n);
        }
        let help = "Value bytes of those records (stats.log action/<kind>/bytes, summed).";
        e.family("swarm_queue_action_bytes_total", Kind::Counter, help);
        for (i, name) in ACTIONS.iter().enumerate() {
            let n = self.actions_before[i].1 + self.actions[i].1;
            e.sample("swarm_queue_action_bytes_total", &[("action", name)], n);
        }
    }
}

/// Fullness in whole percent (the original's `bytes * 100 / capacity`).
pub fn fullness(used: usize, capacity: usize) -> u64 {
    if capacity == 0 {
        return 0;
    }
    (used as u128 * 100 / capacity as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChannelSizes;
    use crate::storage::QueueStore;
    use std::collections::HashSet;

    #[test]
    fn keys_are_unique_and_counters_reset() {
        let mut store = MemoryStore::new(ChannelSizes::new(100), 0);
        store.push(b"ch", b"0123456789").unwrap();
        let mut s = Stats::default();
        s.started(QueueCommand::Push);
        s.finished(QueueCommand::Push);
        s.pushed(1, 10);
        let line = s.line(&store);
        let keys: HashSet<_> = line.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys.len(), line.len(), "no duplicate stats keys");
        let get = |k: &str| {
            line.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("request/Push/handled").as_deref(), Some("1"));
        assert_eq!(get("action/pushed/bytes").as_deref(), Some("10"));
        assert_eq!(get("channel/ch/records").as_deref(), Some("1"));
        assert_eq!(get("channel/ch/bytes").as_deref(), Some("18"));
        assert_eq!(get("channel/ch/percent_memory").as_deref(), Some("18"));
        let again = s.line(&store);
        assert!(again.contains(&("request/Push/handled".to_string(), "0".to_string())));
        let mut e = Exposition::new();
        s.metrics(&store, &mut e);
        let text = e.into_string();
        assert!(text.contains("swarm_queue_requests_handled_total{command=\"Push\"} 1\n"));
        assert!(text.contains("swarm_queue_channel_fullness_percent{channel=\"ch\"} 18\n"));
        assert!(text.contains("swarm_queue_action_bytes_total{action=\"pushed\"} 10\n"));
    }

    #[test]
    fn fullness_rounds_down_and_survives_zero() {
        assert_eq!(fullness(0, 0), 0);
        assert_eq!(fullness(99, 100), 99);
        assert_eq!(fullness(100, 100), 100);
    }
}
