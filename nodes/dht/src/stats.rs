//! The dht node's part of `stats.log`, with the original's key names: per-request counters
//! (`request/<Name>/handled`, `request/<Name>/max_active`), actions (`action/<kind>/records`,
//! `action/<kind>/bytes`), totals and per-channel sizes. Counters reset after each line; the
//! running totals behind `/metrics` ([`Stats::metrics`]) do not.

use crate::storage::Storage;
use swarm_core::metrics::{Exposition, Kind};
use swarm_protocol::dht::DhtCommand;

/// Requests the original tracked in stats.log.
const TRACKED: [DhtCommand; 10] = [
    DhtCommand::Put,
    DhtCommand::Get,
    DhtCommand::Exists,
    DhtCommand::Remove,
    DhtCommand::Listen,
    DhtCommand::GetAll,
    DhtCommand::GetAllKeys,
    DhtCommand::GetAllFilter,
    DhtCommand::PutBatch,
    DhtCommand::Redistribute,
];

/// What happened to records (`action/<name>/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Stored by Put or PutBatch.
    Written,
    /// Sent by Get, GetAll*, Listen.
    Read,
    /// Sent to another node by Redistribute.
    Forwarded,
    /// Visited by an iteration.
    Iterated,
    /// Removed.
    Deleted,
}

const ACTIONS: [(Action, &str); 5] = [
    (Action::Written, "written"),
    (Action::Read, "read"),
    (Action::Forwarded, "forwarded"),
    (Action::Iterated, "iterated"),
    (Action::Deleted, "deleted"),
];

/// Counters since the last stats line.
#[derive(Debug, Default)]
pub struct Stats {
    handled: [u64; 17],
    active: [u32; 17],
    max_active: [u32; 17],
    actions: [(u64, u64); 5],
    /// `handled` and `actions` summed over the lines written so far.
    handled_before: [u64; 17],
    actions_before: [(u64, u64); 5],
}

fn idx(cmd: DhtCommand) -> usize {
    DhtCommand::ALL.iter().position(|c| *c == cmd).unwrap_or(0)
}

impl Stats {
    /// A request started.
    pub fn started(&mut self, cmd: DhtCommand) {
        let i = idx(cmd);
        self.handled[i] += 1;
        self.active[i] += 1;
        self.max_active[i] = self.max_active[i].max(self.active[i]);
    }

    /// A request finished.
    pub fn finished(&mut self, cmd: DhtCommand) {
        let i = idx(cmd);
        self.active[i] = self.active[i].saturating_sub(1);
    }

    /// Records of `bytes` in total went through `action`.
    pub fn action(&mut self, action: Action, records: u64, bytes: u64) {
        let i = ACTIONS.iter().position(|(a, _)| *a == action).unwrap_or(0);
        self.actions[i].0 += records;
        self.actions[i].1 += bytes;
    }

    /// The stats.log pairs; resets the counters.
    pub fn line(&mut self, storage: &Storage) -> Vec<(String, String)> {
        let mut out = vec![
            ("total_bytes".to_string(), storage.bytes().to_string()),
            ("total_records".to_string(), storage.records().to_string()),
        ];
        let mut channels: Vec<_> = storage.iter().collect();
        channels.sort_unstable_by_key(|(name, _)| *name);
        for (name, ch) in channels {
            let name = String::from_utf8_lossy(name);
            out.push((format!("channel/{name}/bytes"), ch.data.bytes().to_string()));
            out.push((
                format!("channel/{name}/records"),
                ch.data.records().to_string(),
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
        for (i, (_, name)) in ACTIONS.iter().enumerate() {
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
        self.handled = [0; 17];
        self.max_active = self.active;
        self.actions = [(0, 0); 5];
        out
    }

    /// The `/metrics` families: the same figures as [`Stats::line`], counters as running
    /// totals (docs/METRICS.md maps each to its stats.log key).
    pub fn metrics(&self, storage: &Storage, e: &mut Exposition) {
        let help = "Records stored in all channels (stats.log total_records).";
        e.single("swarm_dht_records", Kind::Gauge, help, storage.records());
        let help = "Bytes stored in all channels (stats.log total_bytes).";
        e.single("swarm_dht_bytes", Kind::Gauge, help, storage.bytes());
        let mut channels: Vec<_> = storage.iter().collect();
        channels.sort_unstable_by_key(|(name, _)| *name);
        let help = "Records of one channel (stats.log channel/<ch>/records).";
        e.family("swarm_dht_channel_records", Kind::Gauge, help);
        for (name, ch) in &channels {
            let name = String::from_utf8_lossy(name);
            e.sample(
                "swarm_dht_channel_records",
                &[("channel", &name)],
                ch.data.records(),
            );
        }
        let help = "Bytes of one channel (stats.log channel/<ch>/bytes).";
        e.family("swarm_dht_channel_bytes", Kind::Gauge, help);
        for (name, ch) in &channels {
            let name = String::from_utf8_lossy(name);
            e.sample(
                "swarm_dht_channel_bytes",
                &[("channel", &name)],
                ch.data.bytes(),
            );
        }
        self.counter_metrics(e);
    }

    /// The request and action families.
    fn counter_metrics(&self, e: &mut Exposition) {
        let help = "Requests handled, per command (stats.log request/<Name>/handled, summed).";
        e.family("swarm_dht_requests_handled_total", Kind::Counter, help);
        for cmd in TRACKED {
            let (i, label) = (idx(cmd), [("command", cmd.name())]);
            let n = self.handled_before[i] + self.handled[i];
            e.sample("swarm_dht_requests_handled_total", &label, n);
        }
        let help = "Most requests of a command in progress at once since the last stats line                     (stats.log request/<Name>/max_active).";
        e.family("swarm_dht_requests_max_active", Kind::Gauge, help);
        for cmd in TRACKED {
            let (i, label) = (idx(cmd), [("command", cmd.name())]);
            e.sample("swarm_dht_requests_max_active", &label, self.max_active[i]);
        }
        let help = "Records that went through an action (stats.log action/<kind>/records, summed).";
        e.family("swarm_dht_action_records_total", Kind::Counter, help);
        for (i, (_, name)) in ACTIONS.iter().enumerate() {
            let n = self.actions_before[i].0 + self.actions[i].0;
            e.sample("swarm_dht_action_records_total", &[("action", name)], n);
        }
        let help = "Bytes of those records (stats.log action/<kind>/bytes, summed).";
        e.family("swarm_dht_action_bytes_total", Kind::Counter, help);
        for (i, (_, name)) in ACTIONS.iter().enumerate() {
            let n = self.actions_before[i].1 + self.actions[i].1;
            e.sample("swarm_dht_action_bytes_total", &[("action", name)], n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_unique_and_counters_reset() {
        let mut storage = Storage::new(0);
        storage.put(b"ch", 1, b"v").unwrap();
        let mut s = Stats::default();
        s.started(DhtCommand::Put);
        s.finished(DhtCommand::Put);
        s.action(Action::Written, 1, 9);
        let line = s.line(&storage);
        let keys: HashSet<_> = line.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys.len(), line.len(), "no duplicate stats keys");
        let get = |k: &str| {
            line.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("request/Put/handled").as_deref(), Some("1"));
        assert_eq!(get("action/written/bytes").as_deref(), Some("9"));
        assert_eq!(get("channel/ch/records").as_deref(), Some("1"));
        let again = s.line(&storage);
        assert!(again.contains(&("request/Put/handled".to_string(), "0".to_string())));
        s.started(DhtCommand::Put);
        let mut e = Exposition::new();
        s.metrics(&storage, &mut e);
        let text = e.into_string();
        assert!(text.contains("swarm_dht_requests_handled_total{command=\"Put\"} 2\n"));
        assert!(text.contains("swarm_dht_action_bytes_total{action=\"written\"} 9\n"));
        assert!(text.contains("swarm_dht_channel_records{channel=\"ch\"} 1\n"));
    }
}
