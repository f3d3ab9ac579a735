//! `stats.log`: one `key:value` line per stats interval, and the loop's own counters in it.
//!
//! Line format, as the original's stats log: `YYYY-MM-DD HH:MM:SS,mmm key:value key:value ...`.
//! The loop contributes the connection and process keys (`bytes_sent`, `bytes_received`,
//! `handling_connections`, `handling_connections_pcnt`, `cpu_user`, `cpu_system`, `cpu_total`,
//! `vsz`, `rss`, `mem_percentage`); the node kind appends its own pairs after them.

use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::logging::open_append;
use crate::procstat::{CpuSampler, ProcStat};
use crate::timestamp::write_timestamp;

/// File name of the stats log inside the log directory.
pub const STATS_LOG: &str = "stats.log";

/// An open `stats.log`, appended to one line at a time.
#[derive(Debug)]
pub struct StatsLog {
    path: PathBuf,
    file: File,
    line: String,
}

impl StatsLog {
    /// Opens (creating it and `log_dir` if needed) `<log_dir>/stats.log`.
    pub fn open(log_dir: &Path) -> io::Result<StatsLog> {
        StatsLog::open_file(&log_dir.join(STATS_LOG))
    }

    /// Opens the stats log at an explicit path (the original's `[STATS] file_name`), creating
    /// its directory if needed.
    pub fn open_file(path: &Path) -> io::Result<StatsLog> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir)?;
        }
        Ok(StatsLog {
            path: path.to_path_buf(),
            file: open_append(path)?,
            line: String::new(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line stamped with the current time, with one write call.
    pub fn write_line(&mut self, pairs: &[(String, String)]) -> io::Result<()> {
        self.line.clear();
        format_line(&mut self.line, SystemTime::now(), pairs);
        self.file.write_all(self.line.as_bytes())
    }

    /// Reopens the file under its path (after logrotate renamed it).
    pub fn reopen(&mut self) -> io::Result<()> {
        self.file = open_append(&self.path)?;
        Ok(())
    }
}

/// Formats one stats line (with its newline) into `out`.
pub fn format_line(out: &mut String, t: SystemTime, pairs: &[(String, String)]) {
    write_timestamp(out, t);
    for (key, value) in pairs {
        // Writing into a String cannot fail.
        let _ = write!(out, " {key}:{value}");
    }
    out.push('\n');
}

/// Formats a percentage or rate with two decimals, as stats consumers expect a plain number.
pub fn format_float(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        "0".to_owned()
    }
}

/// What the loop counts between two stats lines (and, for the console, since start).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Bytes written to client sockets since the last stats line.
    pub(crate) bytes_sent: u64,
    /// Bytes read from client sockets since the last stats line.
    pub(crate) bytes_received: u64,
    /// Requests taken from the input since start (the console's "records handled").
    pub(crate) requests: u64,
    /// Bytes sent and received before the last stats line: with the two above, the running
    /// totals `/metrics` shows.
    pub(crate) sent_before: u64,
    pub(crate) received_before: u64,
    /// The longest loop turn (the work between two polls) since the last stats line, in
    /// nanoseconds: how long a client could wait behind the others' work.
    pub(crate) longest_turn_ns: u64,
}

/// The loop's part of a stats line; resets the per-line counters.
pub(crate) fn core_pairs(
    counters: &mut Counters,
    open: usize,
    limit: usize,
    cpu: &mut CpuSampler,
    mem_total: Option<u64>,
) -> Vec<(String, String)> {
    let (usage, proc_stat) = cpu.sample();
    let ProcStat {
        vsize_bytes,
        rss_bytes,
        ..
    } = proc_stat;
    // Counts and byte sizes below 2^52 convert to f64 exactly; the results are percentages.
    let conn_pcnt = if limit == 0 {
        0.0
    } else {
        open as f64 / limit as f64 * 100.0
    };
    let mem_pcnt = match mem_total {
        Some(total) if total > 0 => rss_bytes as f64 / total as f64 * 100.0,
        _ => 0.0,
    };
    let pairs = vec![
        ("bytes_sent".to_owned(), counters.bytes_sent.to_string()),
        (
            "bytes_received".to_owned(),
            counters.bytes_received.to_string(),
        ),
        ("handling_connections".to_owned(), open.to_string()),
        (
            "handling_connections_pcnt".to_owned(),
            format_float(conn_pcnt),
        ),
        ("cpu_user".to_owned(), format_float(usage.user)),
        ("cpu_system".to_owned(), format_float(usage.system)),
        ("cpu_total".to_owned(), format_float(usage.total)),
        ("vsz".to_owned(), vsize_bytes.to_string()),
        ("rss".to_owned(), rss_bytes.to_string()),
        ("mem_percentage".to_owned(), format_float(mem_pcnt)),
        (
            "loop_longest_turn_micros".to_owned(),
            (counters.longest_turn_ns / 1000).to_string(),
        ),
    ];
    counters.sent_before += counters.bytes_sent;
    counters.received_before += counters.bytes_received;
    counters.bytes_sent = 0;
    counters.bytes_received = 0;
    counters.longest_turn_ns = 0;
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::{Duration, UNIX_EPOCH};

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_owned(), v.to_owned())
    }

    #[test]
    fn line_format() {
        let mut s = String::new();
        let t = UNIX_EPOCH + Duration::from_millis(1_525_350_896_789);
        format_line(
            &mut s,
            t,
            &[pair("bytes_sent", "10"), pair("channel/test/records", "3")],
        );
        assert_eq!(
            s,
            "2018-05-03 12:34:56,789 bytes_sent:10 channel/test/records:3\n"
        );
    }

    #[test]
    fn core_keys_are_unique_and_counters_reset() {
        let mut c = Counters {
            bytes_sent: 5,
            bytes_received: 7,
            requests: 9,
            ..Counters::default()
        };
        let mut cpu = CpuSampler::new();
        let pairs = core_pairs(&mut c, 50, 5000, &mut cpu, Some(1 << 30));
        let keys: HashSet<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys.len(), pairs.len(), "duplicate stats key");
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("bytes_sent").as_deref(), Some("5"));
        assert_eq!(get("bytes_received").as_deref(), Some("7"));
        assert_eq!(get("handling_connections_pcnt").as_deref(), Some("1.00"));
        assert_eq!((c.bytes_sent, c.bytes_received, c.requests), (0, 0, 9));
        assert_eq!(
            (c.sent_before, c.received_before),
            (5, 7),
            "the running totals"
        );
    }

    #[test]
    fn writes_and_reopens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let logdir = dir.path().join("log");
        let mut log = StatsLog::open(&logdir).expect("open");
        log.write_line(&[pair("a", "1")]).expect("write");
        fs::rename(log.path(), logdir.join("stats.log.1")).expect("rename");
        log.reopen().expect("reopen");
        log.write_line(&[pair("b", "2")]).expect("write");
        let old = fs::read_to_string(logdir.join("stats.log.1")).expect("old");
        let new = fs::read_to_string(logdir.join(STATS_LOG)).expect("new");
        assert!(old.ends_with(" a:1\n") && new.ends_with(" b:2\n"));
        assert_eq!(new.len(), 23 + " b:2\n".len());
    }
}
