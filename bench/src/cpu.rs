//! CPU time of a process (utime + stime of `/proc/PID/stat`, in seconds) and its resident
//! memory (`VmRSS` of `/proc/PID/status`), for the server's and the client's own cost.

use std::fs;

/// Clock ticks per second of `/proc/*/stat` times.
fn ticks_per_second() -> f64 {
    // SAFETY: sysconf only reads a system constant; it has no memory-safety preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// User plus system CPU seconds used so far by `pid` ("self" for this process).
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_ticks(&text).map(|t| t as f64 / ticks_per_second())
}

/// utime + stime (fields 14 and 15) from the text of a `/proc/PID/stat` file.
fn parse_cpu_ticks(text: &str) -> Option<u64> {
    // The command name (field 2) may hold spaces and ')': count fields from the last ')'.
    let mut fields = text[text.rfind(')')? + 1..].split_ascii_whitespace();
    let utime: u64 = fields.nth(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// CPU seconds all cores spent busy since boot (`/proc/stat`: everything but idle and iowait),
/// so a run can tell how much of the machine other processes took meanwhile.
pub fn machine_busy_seconds() -> Option<f64> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    parse_busy_ticks(text.lines().next()?).map(|t| t as f64 / ticks_per_second())
}

fn parse_busy_ticks(cpu_line: &str) -> Option<u64> {
    let mut fields = cpu_line.split_ascii_whitespace();
    if fields.next()? != "cpu" {
        return None;
    }
    let ticks: Vec<u64> = fields.map(|f| f.parse().ok()).collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let total: u64 = ticks.iter().take(8).sum();
    Some(total - ticks.get(3)? - ticks.get(4).copied().unwrap_or(0))
}

/// Resident memory of `pid` in bytes.
pub fn rss_bytes(pid: &str) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line["VmRSS:".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_an_odd_name() {
        let text = "42 (a) b) S 1 2 3 4 5 6 7 8 9 10 111 222 0 0 20 0 1 0 5 1000 7";
        assert_eq!(parse_cpu_ticks(text), Some(333));
    }

    #[test]
    fn busy_ticks_leave_out_idle_and_iowait() {
        let line = "cpu  100 5 50 1000 20 1 2 3 7 0";
        assert_eq!(parse_busy_ticks(line), Some(161));
        assert_eq!(parse_busy_ticks("cpu0 1 2 3 4"), None);
    }
}
