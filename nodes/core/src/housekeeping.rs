//! The loop's timers and what hangs off them: the service tick (`write_flush_ms`), the sweep
//! for timeouts (stalled writers, unfinished requests, idle connections), the stats.log line,
//! and the once-a-second console display.
//!
//! The loop sleeps in `poll` until the earliest deadline here; each turn asks which are due.

use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

use crate::config::ServerConfig;
use crate::procstat::{self, CpuSampler};
use crate::stats::StatsLog;

/// Bounds of the timeout sweep period (a quarter of the shortest timeout in between), so a
/// short test timeout is noticed promptly and a long one costs one scan a second.
const SWEEP_MIN: Duration = Duration::from_millis(10);
const SWEEP_MAX: Duration = Duration::from_secs(1);
const SECOND: Duration = Duration::from_secs(1);

/// Which timers fired this turn.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Due {
    pub(crate) tick: bool,
    pub(crate) sweep: bool,
    pub(crate) second: bool,
    pub(crate) stats: bool,
}

#[derive(Debug)]
struct Timer {
    every: Duration,
    next: Instant,
}

impl Timer {
    fn new(now: Instant, every: Duration) -> Self {
        let every = every.max(Duration::from_millis(1));
        Timer {
            every,
            next: now + every,
        }
    }

    /// Whether the timer fired; if so it is rearmed. A late turn does not cause a burst of
    /// catch-up firings.
    fn fire(&mut self, now: Instant) -> bool {
        if now < self.next {
            return false;
        }
        self.next += self.every;
        if self.next <= now {
            self.next = now + self.every;
        }
        true
    }
}

#[derive(Debug)]
pub(crate) struct Housekeeping {
    pub(crate) started: Instant,
    tick: Timer,
    sweep: Timer,
    second: Timer,
    stats: Timer,
    pub(crate) stats_log: Option<StatsLog>,
    pub(crate) cpu: CpuSampler,
    pub(crate) mem_total: Option<u64>,
    pub(crate) console: Option<Console>,
}

impl Housekeeping {
    pub(crate) fn new(cfg: &ServerConfig, stats_log: Option<StatsLog>) -> Self {
        let now = Instant::now();
        let shortest = cfg
            .write_timeout
            .min(cfg.request_timeout)
            .min(cfg.idle_timeout.unwrap_or(Duration::MAX));
        let sweep_every = (shortest / 4).clamp(SWEEP_MIN, SWEEP_MAX);
        Housekeeping {
            started: now,
            tick: Timer::new(now, Duration::from_millis(cfg.write_flush_ms)),
            sweep: Timer::new(now, sweep_every),
            second: Timer::new(now, SECOND),
            stats: Timer::new(now, cfg.stats_interval),
            stats_log,
            cpu: CpuSampler::new(),
            mem_total: procstat::total_memory(),
            console: io::stdout().is_terminal().then(Console::default),
        }
    }

    /// The earliest deadline: how long `poll` may sleep.
    pub(crate) fn next_deadline(&self) -> Instant {
        self.tick
            .next
            .min(self.sweep.next)
            .min(self.second.next)
            .min(self.stats.next)
    }

    pub(crate) fn due(&mut self, now: Instant) -> Due {
        Due {
            tick: self.tick.fire(now),
            sweep: self.sweep.fire(now),
            second: self.second.fire(now),
            stats: self.stats.fire(now),
        }
    }
}

/// The one-line console display, redrawn in place when stdout is a terminal.
#[derive(Debug, Default)]
pub(crate) struct Console {
    line: String,
    drawn: bool,
}

impl Console {
    /// Redraws the line: uptime, resident memory, open connections, requests handled, and the
    /// service's part.
    pub(crate) fn draw(&mut self, uptime: Duration, open: usize, handled: u64, service: &str) {
        use std::fmt::Write as _;
        let rss = procstat::read_self().map_or(0, |s| s.rss_bytes);
        let secs = uptime.as_secs();
        self.line.clear();
        // Writing into a String cannot fail.
        let _ = write!(
            self.line,
            "\rup {}d {:02}:{:02}:{:02} | rss {:.1} MiB | connections {open} | handled {handled}",
            secs / 86_400,
            secs % 86_400 / 3600,
            secs % 3600 / 60,
            secs % 60,
            rss as f64 / (1024.0 * 1024.0),
        );
        if !service.is_empty() {
            let _ = write!(self.line, " | {service}");
        }
        self.line.push_str("\x1b[K");
        // The display is a courtesy: a closed terminal must not disturb the node.
        let mut out = io::stdout().lock();
        let _ = out
            .write_all(self.line.as_bytes())
            .and_then(|()| out.flush());
        self.drawn = true;
    }

    /// Ends the display line so later output starts on a fresh line.
    pub(crate) fn finish(&mut self) {
        if self.drawn {
            let _ = io::stdout().write_all(b"\n");
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_fires_and_rearms_without_bursts() {
        let t0 = Instant::now();
        let mut t = Timer::new(t0, Duration::from_millis(100));
        assert!(!t.fire(t0));
        assert!(t.fire(t0 + Duration::from_millis(100)));
        assert_eq!(t.next, t0 + Duration::from_millis(200));
        // A turn 1 s late fires once and rearms from now.
        assert!(t.fire(t0 + Duration::from_millis(1300)));
        assert_eq!(t.next, t0 + Duration::from_millis(1400));
        assert!(!t.fire(t0 + Duration::from_millis(1300)));
    }

    #[test]
    fn deadlines_follow_config() {
        let mut cfg = ServerConfig::local(0);
        cfg.write_flush_ms = 5;
        cfg.write_timeout = Duration::from_millis(200);
        let hk = Housekeeping::new(&cfg, None);
        assert_eq!(hk.next_deadline(), hk.tick.next);
        assert_eq!(hk.sweep.every, Duration::from_millis(50));
        cfg.request_timeout = Duration::from_millis(100);
        assert_eq!(
            Housekeeping::new(&cfg, None).sweep.every,
            Duration::from_millis(25)
        );
    }
}
