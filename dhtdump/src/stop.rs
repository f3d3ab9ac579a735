//! The stop flag SIGINT/SIGTERM/SIGQUIT set, and sleeps that end early when it is set. The
//! dumping thread checks it between records and while it waits between cycles.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Longest a sleep runs without looking at the flag.
const POLL: Duration = Duration::from_millis(50);

/// A shared "stop now" flag.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// The flag itself, for `signal_hook::flag::register`.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }

    /// Whether a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Asks for a stop.
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Sleeps for `d`, or less if a stop is asked for meanwhile. Returns `false` if stopped.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.is_set() {
                return false;
            }
            let now = Instant::now();
            if now >= end {
                return true;
            }
            thread::sleep(POLL.min(end - now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_runs_to_its_end_or_stops_early() {
        let stop = Stop::default();
        assert!(stop.sleep(Duration::from_millis(5)));
        let other = stop.clone();
        let t = thread::spawn(move || {
            thread::sleep(Duration::from_millis(20));
            other.set();
        });
        let started = Instant::now();
        assert!(!stop.sleep(Duration::from_secs(30)));
        assert!(started.elapsed() < Duration::from_secs(5));
        t.join().ok();
        assert!(stop.is_set());
    }
}
