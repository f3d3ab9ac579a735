//! Process figures for stats.log and the console: CPU time, virtual and resident memory, read
//! from `/proc/self/stat`, `/proc/meminfo` and `sysconf`.
//!
//! Everything here tolerates a missing or odd `/proc` (containers, other kernels): a figure that
//! cannot be read is reported as zero rather than stopping the node.

use std::fs;
use std::time::Instant;

/// CPU and memory figures of this process at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProcStat {
    /// User-mode CPU time, in clock ticks.
    pub utime_ticks: u64,
    /// Kernel-mode CPU time, in clock ticks.
    pub stime_ticks: u64,
    /// Virtual memory size, in bytes.
    pub vsize_bytes: u64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

/// Reads `/proc/self/stat`; `None` where it cannot be read or parsed.
pub fn read_self() -> Option<ProcStat> {
    let text = fs::read_to_string("/proc/self/stat").ok()?;
    parse_stat(&text, page_size())
}

/// Parses the text of a `/proc/<pid>/stat` file; rss (counted in pages) is scaled by `page_size`.
pub fn parse_stat(text: &str, page_size: u64) -> Option<ProcStat> {
    // The command name (field 2) is in parentheses and may itself hold spaces or ')': the fields
    // we want are counted from the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // `rest` starts at field 3 (state); utime is field 14, stime 15, vsize 23, rss 24.
    let utime = fields.nth(14 - 3)?.parse().ok()?;
    let stime = fields.next()?.parse().ok()?;
    let vsize = fields.nth(23 - 16)?.parse().ok()?;
    let rss_pages: u64 = fields.next()?.parse().ok()?;
    Some(ProcStat {
        utime_ticks: utime,
        stime_ticks: stime,
        vsize_bytes: vsize,
        rss_bytes: rss_pages.saturating_mul(page_size),
    })
}

/// Total physical memory in bytes (`MemTotal` of `/proc/meminfo`), if known.
pub fn total_memory() -> Option<u64> {
    parse_meminfo_total(&fs::read_to_string("/proc/meminfo").ok()?)
}

/// Extracts `MemTotal` (given in kB) from the text of `/proc/meminfo`, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line["MemTotal:".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb.saturating_mul(1024))
}

/// The memory page size in bytes (4096 where sysconf does not say).
pub fn page_size() -> u64 {
    // SAFETY: sysconf only reads a configuration value; it takes no pointers.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(4096)
}

/// Clock ticks per second, the unit of utime and stime (100 where sysconf does not say).
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a configuration value; it takes no pointers.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(100)
}

/// CPU usage over an interval, in percent of one core.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuUsage {
    /// User-mode share.
    pub user: f64,
    /// Kernel-mode share.
    pub system: f64,
    /// User plus kernel.
    pub total: f64,
}

/// Turns successive [`ProcStat`] samples into CPU percentages over the time between them.
#[derive(Debug)]
pub struct CpuSampler {
    last_at: Instant,
    last: ProcStat,
    ticks_per_sec: f64,
}

impl CpuSampler {
    /// Starts measuring now.
    pub fn new() -> Self {
        CpuSampler {
            last_at: Instant::now(),
            last: read_self().unwrap_or_default(),
            // Tick rates are small integers (usually 100); the conversion is exact.
            ticks_per_sec: clock_ticks() as f64,
        }
    }

    /// CPU usage since the previous call (or since [`CpuSampler::new`]) and the current figures.
    pub fn sample(&mut self) -> (CpuUsage, ProcStat) {
        let now = Instant::now();
        let cur = read_self().unwrap_or(self.last);
        let wall = now.duration_since(self.last_at).as_secs_f64();
        let pct = |ticks: u64| -> f64 {
            if wall <= 0.0 {
                return 0.0;
            }
            // Tick counts over an interval are far below 2^52: the conversion is exact.
            ticks as f64 / self.ticks_per_sec / wall * 100.0
        };
        let user = pct(cur.utime_ticks.saturating_sub(self.last.utime_ticks));
        let system = pct(cur.stime_ticks.saturating_sub(self.last.stime_ticks));
        self.last = cur;
        self.last_at = now;
        (
            CpuUsage {
                user,
                system,
                total: user + system,
            },
            cur,
        )
    }
}

impl Default for CpuSampler {
    fn default() -> Self {
        CpuSampler::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "1234 (my (odd) node) S 1 1234 1234 0 -1 4194560 1000 0 0 0 \
                        250 75 0 0 20 0 3 0 100 123456789 300 18446744073709551615 1 1 0 0 0";

    #[test]
    fn parses_stat_with_parentheses_in_name() {
        let s = parse_stat(STAT, 4096).expect("parses");
        assert_eq!(s.utime_ticks, 250);
        assert_eq!(s.stime_ticks, 75);
        assert_eq!(s.vsize_bytes, 123_456_789);
        assert_eq!(s.rss_bytes, 300 * 4096);
    }

    #[test]
    fn rejects_truncated_stat() {
        assert_eq!(parse_stat("1234 (x) S 1 2 3", 4096), None);
        assert_eq!(parse_stat("garbage", 4096), None);
        assert_eq!(parse_stat("", 4096), None);
    }

    #[test]
    fn parses_meminfo() {
        let text = "MemTotal:       16316412 kB\nMemFree:         1234 kB\n";
        assert_eq!(parse_meminfo_total(text), Some(16_316_412 * 1024));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn reads_own_process() {
        // Linux-only crate: /proc is there in CI and on the nodes' hosts.
        let s = read_self().expect("/proc/self/stat");
        assert!(s.rss_bytes > 0 && s.vsize_bytes >= s.rss_bytes);
        assert!(total_memory().unwrap_or(0) > 0);
        assert!(page_size() >= 4096 && clock_ticks() > 0);
        let (usage, _) = CpuSampler::new().sample();
        assert!(usage.total >= 0.0);
    }
}
