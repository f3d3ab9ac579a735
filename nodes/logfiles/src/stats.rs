//! The logfiles node's part of `stats.log`, with the original dlsnode's key names
//! (spec/logfiles.md section 6): `request/<Name>/max_active` and `request/<Name>/handled` for
//! Put, GetRange, GetAll, GetAllFilter, GetRangeFilter, Redistribute, PutBatch and
//! GetRangeRegex; Put's timing fields (`mean_handled_time_micros`, `handled_10_micros` ...
//! `handled_over_100_ms`); `action/handled/records|bytes` (records written and records sent by
//! scans) and `action/redistributed/records|bytes`. Ours, as the original had none: `total_records`,
//! `total_bytes`. Counters reset after each line; their running totals, behind `/metrics`, are
//! kept in `Totals` and rendered by `stats/metrics.rs`.

mod metrics;

use crate::storage::channels::ChannelSize;
use std::time::Duration;
use swarm_protocol::logfiles::LogfilesCommand;

/// Requests tracked in stats.log, in the original's order.
const TRACKED: [LogfilesCommand; 8] = [
    LogfilesCommand::Put,
    LogfilesCommand::GetRange,
    LogfilesCommand::GetAll,
    LogfilesCommand::GetAllFilter,
    LogfilesCommand::GetRangeFilter,
    LogfilesCommand::Redistribute,
    LogfilesCommand::PutBatch,
    LogfilesCommand::GetRangeRegex,
];

/// Upper bounds (µs) of Put's timing buckets and their key names; the last counts the rest.
const TIMING: [(u64, &str); 5] = [
    (10, "handled_10_micros"),
    (100, "handled_100_micros"),
    (1_000, "handled_1_ms"),
    (10_000, "handled_10_ms"),
    (100_000, "handled_100_ms"),
];

/// Counters since the last stats line.
#[derive(Debug, Default)]
pub struct Stats {
    handled: [u64; TRACKED.len()],
    active: [u32; TRACKED.len()],
    max_active: [u32; TRACKED.len()],
    /// Put timings per [`TIMING`] bucket, and over the last bound.
    put_timing: [u64; TIMING.len() + 1],
    put_micros: u64,
    /// Records and value bytes written or sent.
    handled_records: (u64, u64),
    /// Records written or sent since start (never reset: the console line).
    total_handled: u64,
    /// Records and value bytes a Redistribute moved to other nodes.
    redistributed: (u64, u64),
    /// The per-line counters summed over the lines written so far.
    before: Totals,
}

/// Running totals of the per-line counters, as of the last stats line.
#[derive(Debug, Default, Clone, Copy)]
struct Totals {
    handled: [u64; TRACKED.len()],
    put_timing: [u64; TIMING.len() + 1],
    put_micros: u64,
    handled_records: (u64, u64),
    redistributed: (u64, u64),
}

fn idx(cmd: LogfilesCommand) -> Option<usize> {
    TRACKED.iter().position(|&c| c == cmd)
}

impl Stats {
    /// A request started.
    #[inline]
    pub fn started(&mut self, cmd: LogfilesCommand) {
        if let Some(i) = idx(cmd) {
            self.handled[i] += 1;
            self.active[i] += 1;
            self.max_active[i] = self.max_active[i].max(self.active[i]);
        }
    }

    /// A request finished after `took` (timed for Put).
    #[inline]
    pub fn finished(&mut self, cmd: LogfilesCommand, took: Duration) {
        if let Some(i) = idx(cmd) {
            self.active[i] = self.active[i].saturating_sub(1);
        }
        if cmd == LogfilesCommand::Put {
            let us = took.as_micros() as u64;
            self.put_micros += us;
            let b = TIMING
                .iter()
                .position(|&(bound, _)| us < bound)
                .unwrap_or(TIMING.len());
            self.put_timing[b] += 1;
        }
    }

    /// Records written, or sent by a scan.
    #[inline]
    pub fn handled(&mut self, records: u64, bytes: u64) {
        self.handled_records.0 += records;
        self.handled_records.1 += bytes;
        self.total_handled += records;
    }

    /// Records (and value bytes) a Redistribute moved to another node.
    pub fn redistributed(&mut self, records: u64, bytes: u64) {
        self.redistributed.0 += records;
        self.redistributed.1 += bytes;
    }

    /// Records written or sent since start.
    pub fn total_handled(&self) -> u64 {
        self.total_handled
    }

    /// The stats.log pairs; resets the counters.
    pub fn line(&mut self, total: ChannelSize) -> Vec<(String, String)> {
        let mut out = vec![
            ("total_records".to_string(), total.records.to_string()),
            ("total_bytes".to_string(), total.bytes.to_string()),
        ];
        for (i, cmd) in TRACKED.iter().enumerate() {
            let name = cmd.name();
            out.push((
                format!("request/{name}/max_active"),
                self.max_active[i].to_string(),
            ));
            out.push((
                format!("request/{name}/handled"),
                self.handled[i].to_string(),
            ));
            if *cmd == LogfilesCommand::Put {
                let n = self.put_timing.iter().sum::<u64>();
                let mean = self.put_micros.checked_div(n).unwrap_or(0);
                out.push((
                    "request/Put/mean_handled_time_micros".to_string(),
                    mean.to_string(),
                ));
                for (b, (_, key)) in TIMING.iter().enumerate() {
                    out.push((format!("request/Put/{key}"), self.put_timing[b].to_string()));
                }
                out.push((
                    "request/Put/handled_over_100_ms".to_string(),
                    self.put_timing[TIMING.len()].to_string(),
                ));
            }
        }
        out.push((
            "action/handled/records".to_string(),
            self.handled_records.0.to_string(),
        ));
        out.push((
            "action/handled/bytes".to_string(),
            self.handled_records.1.to_string(),
        ));
        out.push((
            "action/redistributed/records".to_string(),
            self.redistributed.0.to_string(),
        ));
        out.push((
            "action/redistributed/bytes".to_string(),
            self.redistributed.1.to_string(),
        ));
        let before = self.totals();
        let (active, total_handled) = (self.active, self.total_handled);
        *self = Stats {
            active,
            max_active: active,
            total_handled,
            before,
            ..Stats::default()
        };
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_are_unique_timings_bucketed_and_counters_reset() {
        let mut s = Stats::default();
        s.started(LogfilesCommand::Put);
        s.finished(LogfilesCommand::Put, Duration::from_micros(50));
        s.started(LogfilesCommand::Put);
        s.finished(LogfilesCommand::Put, Duration::from_millis(200));
        s.handled(2, 30);
        s.redistributed(3, 40);
        let line = s.line(ChannelSize {
            records: 5,
            bytes: 60,
        });
        let keys: HashSet<_> = line.iter().map(|(k, _)| k.clone()).collect();
        assert_eq!(keys.len(), line.len(), "no duplicate stats keys");
        let get = |k: &str| {
            line.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("request/Put/handled"), Some("2"));
        assert_eq!(get("request/Put/handled_100_micros"), Some("1"));
        assert_eq!(get("request/Put/handled_over_100_ms"), Some("1"));
        assert_eq!(get("request/Put/mean_handled_time_micros"), Some("100025"));
        assert_eq!(get("action/handled/bytes"), Some("30"));
        assert_eq!(get("action/redistributed/records"), Some("3"));
        assert_eq!(get("action/redistributed/bytes"), Some("40"));
        assert_eq!(get("total_records"), Some("5"));
        assert_eq!(get("request/GetRangeRegex/handled"), Some("0"));
        let again = s.line(ChannelSize::default());
        assert!(again.contains(&("request/Put/handled".to_string(), "0".to_string())));
        assert!(again.contains(&("action/redistributed/records".to_string(), "0".to_string())));
    }
}
