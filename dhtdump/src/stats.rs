//! dhtdump's `stats.log` counters, as the original's `DumpStats`: records and bytes written
//! since the last line, the duration of the last complete cycle, and per channel what its last
//! successful dump held. Bumped by the dumping thread, read by the thread that writes the line
//! every 30 s, so the counters are atomics and the per-channel table sits behind a mutex.
//!
//! | key | meaning |
//! |---|---|
//! | `records_written` | records written to dump files since the last line |
//! | `bytes_written` | their bytes, counted as the original: key (16) + value + 16 per record |
//! | `last_time_ms` | duration of the last complete dump cycle |
//! | `channel/<ch>/records_written` | records in the channel's last successful dump |
//! | `channel/<ch>/bytes_written` | bytes (same measure) of that dump |
//!
//! `/metrics` (see `metrics.rs`) shows the same figures, the per-line counters as running
//! totals, and the cycles run and failed with the last failure's reason (`/health`).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Bytes a record counts for in the stats: the 16-digit key, the value, and the two 8-byte
/// length fields (the original's `key.length + value.length + size_t.sizeof * 2`).
pub fn record_bytes(value_len: usize) -> u64 {
    16 + value_len as u64 + 16
}

/// Records and bytes of one channel's last dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelTotals {
    /// Records written.
    pub records: u64,
    /// Bytes, per [`record_bytes`].
    pub bytes: u64,
}

/// The figures of one `/metrics` scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Records written since start.
    pub records_written: u64,
    /// Their bytes, per [`record_bytes`].
    pub bytes_written: u64,
    /// Duration of the last complete cycle.
    pub last_time_ms: u64,
    /// Cycles that ran to their end.
    pub cycles: u64,
    /// Of those, the ones that failed.
    pub failures: u64,
    /// When the last cycle ended, in ms since the epoch (0: none yet).
    pub last_end_ms: u64,
    /// Why the last cycle failed (`None`: it did not, or none ran yet).
    pub last_problem: Option<String>,
    /// Each channel's last dump.
    pub channels: BTreeMap<String, ChannelTotals>,
}

/// The counters behind `stats.log`.
#[derive(Debug, Default)]
pub struct DumpStats {
    records: AtomicU64,
    bytes: AtomicU64,
    last_time_ms: AtomicU64,
    channels: Mutex<BTreeMap<String, ChannelTotals>>,
    /// `records` and `bytes` of the lines written so far.
    records_before: AtomicU64,
    bytes_before: AtomicU64,
    /// Cycles that ran to their end, and those of them that did not dump every channel.
    cycles: AtomicU64,
    failures: AtomicU64,
    /// When the last cycle ended (ms since the epoch; 0: none yet).
    last_end_ms: AtomicU64,
    /// Why the last cycle failed; `None` when it succeeded (or none ran yet).
    last_problem: Mutex<Option<String>>,
}

impl DumpStats {
    /// Counts one record written.
    pub fn record_written(&self, value_len: usize) {
        self.records.fetch_add(1, Ordering::Relaxed);
        self.bytes
            .fetch_add(record_bytes(value_len), Ordering::Relaxed);
    }

    /// A channel's dump was committed.
    pub fn channel_dumped(&self, channel: &str, totals: ChannelTotals) {
        self.channels().insert(channel.to_owned(), totals);
    }

    /// A channel disappeared from the node: its stats are no longer reported.
    pub fn channel_removed(&self, channel: &str) {
        self.channels().remove(channel);
    }

    /// A cycle ran to its end (also when some channels failed).
    pub fn cycle_done(&self, took: Duration) {
        let ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        self.last_time_ms.store(ms, Ordering::Relaxed);
    }

    /// Bytes of every channel's last dump (for the "dumped N bytes" log line).
    pub fn total_bytes(&self) -> u64 {
        self.channels().values().map(|t| t.bytes).sum()
    }

    /// The pairs of one stats line; resets the since-last-line counters.
    pub fn take_line(&self) -> Vec<(String, String)> {
        let records = self.records.swap(0, Ordering::Relaxed);
        let bytes = self.bytes.swap(0, Ordering::Relaxed);
        self.records_before.fetch_add(records, Ordering::Relaxed);
        self.bytes_before.fetch_add(bytes, Ordering::Relaxed);
        let last = self.last_time_ms.load(Ordering::Relaxed);
        let mut pairs = vec![
            ("records_written".to_owned(), records.to_string()),
            ("bytes_written".to_owned(), bytes.to_string()),
            ("last_time_ms".to_owned(), last.to_string()),
        ];
        for (name, t) in self.channels().iter() {
            pairs.push((
                format!("channel/{name}/records_written"),
                t.records.to_string(),
            ));
            pairs.push((format!("channel/{name}/bytes_written"), t.bytes.to_string()));
        }
        pairs
    }

    /// A cycle ended (not cut by a stop); `problem` says why it failed, `None` if it did not.
    pub fn cycle_outcome(&self, problem: Option<String>) {
        self.cycles.fetch_add(1, Ordering::Relaxed);
        if problem.is_some() {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        self.last_end_ms
            .store(u64::try_from(now).unwrap_or(u64::MAX), Ordering::Relaxed);
        *self
            .last_problem
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = problem;
    }

    /// What `/metrics` shows: the counters as running totals, never reset.
    pub fn snapshot(&self) -> Snapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            records_written: load(&self.records_before) + load(&self.records),
            bytes_written: load(&self.bytes_before) + load(&self.bytes),
            last_time_ms: load(&self.last_time_ms),
            cycles: load(&self.cycles),
            failures: load(&self.failures),
            last_end_ms: load(&self.last_end_ms),
            last_problem: self
                .last_problem
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
            channels: self.channels().clone(),
        }
    }

    fn channels(&self) -> MutexGuard<'_, BTreeMap<String, ChannelTotals>> {
        // The map is valid after any panic: every change is a single insert or remove.
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(s: &DumpStats) -> String {
        s.take_line()
            .iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn counters_reset_per_line_channels_stay_until_removed() {
        let s = DumpStats::default();
        assert_eq!(line(&s), "records_written:0 bytes_written:0 last_time_ms:0");
        s.record_written(10);
        s.record_written(0);
        let a = ChannelTotals {
            records: 2,
            bytes: 74,
        };
        s.channel_dumped("a", a);
        s.channel_dumped("b", ChannelTotals::default());
        s.cycle_done(Duration::from_micros(1_500_700));
        assert_eq!(s.total_bytes(), 74);
        assert_eq!(
            line(&s),
            "records_written:2 bytes_written:74 last_time_ms:1500 \
             channel/a/records_written:2 channel/a/bytes_written:74 \
             channel/b/records_written:0 channel/b/bytes_written:0"
        );
        s.cycle_outcome(Some("1 of 2 channels failed (b)".to_owned()));
        let snap = s.snapshot();
        assert_eq!((snap.records_written, snap.bytes_written), (2, 74));
        assert_eq!((snap.cycles, snap.failures), (1, 1));
        assert_eq!(
            snap.last_problem.as_deref(),
            Some("1 of 2 channels failed (b)")
        );
        s.cycle_outcome(None);
        assert_eq!(s.snapshot().last_problem, None);
        s.channel_removed("a");
        assert_eq!(
            line(&s),
            "records_written:0 bytes_written:0 last_time_ms:1500 \
             channel/b/records_written:0 channel/b/bytes_written:0"
        );
    }

    #[test]
    fn record_bytes_counts_key_value_and_two_lengths() {
        assert_eq!(record_bytes(0), 32);
        assert_eq!(record_bytes(100), 132);
    }
}
