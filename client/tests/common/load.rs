//! Steady load for the fault tests (`faults_*.rs`): a thread that runs one client request after
//! another, numbered from 0, and records each outcome with when it ended, so that a test can
//! say which writes were acknowledged before a moment (a dump, a checkpoint, a kill), which
//! failed, and when the client served again after a restart or a cut.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use swarm_client::ClientError;
use swarm_testkit::NodeProcess;

/// One request's outcome: its number, `Ok` (acknowledged) or the error the client reported,
/// and when it started and ended.
#[derive(Debug)]
pub struct Outcome {
    pub i: u64,
    pub error: Option<String>,
    pub started: Instant,
    pub ended: Instant,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// A thread running requests until stopped.
pub struct Load {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Outcome>>>,
    thread: Option<JoinHandle<()>>,
}

impl Load {
    /// Runs `request(0)`, `request(1)`, … on a thread, `pause` apart, recording every outcome.
    pub fn start(
        pause: Duration,
        mut request: impl FnMut(u64) -> Result<(), ClientError> + Send + 'static,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (s, l) = (Arc::clone(&stop), Arc::clone(&log));
        let thread = std::thread::spawn(move || {
            let mut i = 0;
            while !s.load(Ordering::SeqCst) {
                let started = Instant::now();
                let result = request(i);
                let outcome = Outcome {
                    i,
                    error: result.err().map(|e| e.to_string()),
                    started,
                    ended: Instant::now(),
                };
                l.lock().unwrap().push(outcome);
                i += 1;
                std::thread::sleep(pause);
            }
        });
        Load {
            stop,
            log,
            thread: Some(thread),
        }
    }

    /// Acknowledged requests so far.
    pub fn acked(&self) -> usize {
        self.log.lock().unwrap().iter().filter(|o| o.ok()).count()
    }

    /// Acknowledged requests that ended after `t`.
    pub fn acked_after(&self, t: Instant) -> usize {
        let log = self.log.lock().unwrap();
        log.iter().filter(|o| o.ok() && o.ended > t).count()
    }

    /// Waits until `n` requests that ended after `t` were acknowledged; panics after `timeout`.
    pub fn wait_acked_after(&self, t: Instant, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.acked_after(t) < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} acknowledged requests in {timeout:?}: {}",
                self.summary()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits until `n` requests that ended after `t` failed; panics after `timeout`.
    pub fn wait_failed_after(&self, t: Instant, n: usize, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let failed = {
                let log = self.log.lock().unwrap();
                log.iter().filter(|o| !o.ok() && o.ended > t).count()
            };
            if failed >= n {
                return;
            }
            assert!(Instant::now() < deadline, "no failure in {timeout:?}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn summary(&self) -> String {
        let log = self.log.lock().unwrap();
        let last = log.iter().rev().find_map(|o| o.error.clone());
        format!("{} requests, last error {last:?}", log.len())
    }

    /// Stops the thread after its current request; every outcome, in order.
    pub fn stop(mut self) -> Vec<Outcome> {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.join().expect("the load thread panicked");
        }
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Counts of a run, for the asserts' messages and the figures.
#[derive(Debug)]
pub struct Tally {
    pub acked: usize,
    pub failed: usize,
}

pub fn tally(outcomes: &[Outcome]) -> Tally {
    let acked = outcomes.iter().filter(|o| o.ok()).count();
    Tally {
        acked,
        failed: outcomes.len() - acked,
    }
}

/// No request was acknowledged in `[from, to)` (the node was not running; one that started
/// there may be acknowledged later, by the node back up), and at least one ended there with an
/// error: the client reported the outage instead of succeeding
/// silently.
pub fn assert_failed_while_down(outcomes: &[Outcome], from: Instant, to: Instant) {
    let acked = outcomes
        .iter()
        .find(|o| o.ok() && o.ended >= from && o.ended < to);
    assert!(
        acked.is_none(),
        "a request acknowledged while the node was down: {acked:?}"
    );
    let failed = outcomes
        .iter()
        .filter(|o| !o.ok() && o.ended >= from && o.ended < to)
        .count();
    assert!(failed > 0, "no request failed while the node was down");
}

/// How a fault test takes its node down.
#[derive(Debug, Clone, Copy)]
pub enum Down {
    /// SIGTERM, and waiting for the exit (a dump first, for the nodes that dump).
    Stop,
    Kill9,
}

/// A node taken down and brought back under load: the load's outcomes, and when the node was
/// told to go, was down, was started and listened again.
pub struct Bounce {
    pub outcomes: Vec<Outcome>,
    pub stopping: Instant,
    pub down: Instant,
    pub starting: Instant,
    pub up: Instant,
}

/// Takes `node` down (`how`), runs `while_down` on it, keeps it down for `down_for`, starts it,
/// waits for `acked` acknowledged requests after it listens, stops `load`, and asserts that the
/// client reported the outage ([`assert_failed_while_down`]).
pub fn bounce(
    node: &mut NodeProcess,
    load: Load,
    how: Down,
    down_for: Duration,
    acked: usize,
    while_down: impl FnOnce(&NodeProcess),
) -> Bounce {
    let stopping = Instant::now();
    match how {
        Down::Stop => node.stop(),
        Down::Kill9 => node.kill9(),
    }
    let down = Instant::now();
    while_down(node);
    std::thread::sleep(down_for);
    let starting = Instant::now();
    node.start();
    let up = Instant::now();
    load.wait_acked_after(up, acked, Duration::from_secs(20));
    let outcomes = load.stop();
    assert_failed_while_down(&outcomes, down, starting);
    Bounce {
        outcomes,
        stopping,
        down,
        starting,
        up,
    }
}

/// From `t` to the end of the first acknowledged request that started after it: how long the
/// client took to serve again.
pub fn resumed_after(outcomes: &[Outcome], t: Instant) -> Duration {
    outcomes
        .iter()
        .find(|o| o.ok() && o.ended > t)
        .map(|o| o.ended - t)
        .expect("no acknowledged request after the restart")
}

/// Prints a figure line for the fault figures (`cargo test -- --nocapture` shows them).
pub fn figure(case: &str, text: &str) {
    eprintln!("FIGURE {case}: {text}");
}
