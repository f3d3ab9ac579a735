//! A process's resident memory, for tests that bound it: `VmRSS` of `/proc/<pid>/status`
//! (Linux; the kernel reports it in kB, meaning KiB).

/// The resident set size of process `pid` in bytes; `None` when the process is gone or the
/// line is missing.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_vm_rss(&status)
}

/// `VmRSS:   123456 kB` -> bytes.
fn parse_vm_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut fields = line["VmRSS:".len()..].split_whitespace();
    let n: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => Some(n * 1024),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_rss_is_plausible() {
        let rss = rss_bytes(std::process::id()).expect("own /proc status");
        assert!(rss > 100 * 1024 && rss < 64 << 30, "{rss}");
    }

    #[test]
    fn parses_the_kernel_line() {
        assert_eq!(
            parse_vm_rss("Name:\tx\nVmRSS:\t    2048 kB\nVmSwap: 0 kB\n"),
            Some(2 << 20)
        );
        assert_eq!(parse_vm_rss("Name:\tx\n"), None);
        assert_eq!(rss_bytes(u32::MAX), None);
    }
}
