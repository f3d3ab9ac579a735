//! What a hostile case measures besides the attack itself: the control client (one cheap
//! request, its reply known in advance, timed one at a time on its own connection) and the
//! node's resident memory sampled while the attack runs.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the control client waits for one reply before counting it as failed.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);

/// The control request and the exact reply it must get.
#[derive(Debug, Clone)]
pub struct ControlRequest {
    pub request: Vec<u8>,
    pub reply: Vec<u8>,
}

/// Latency percentiles of a run of control requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Latency {
    pub samples: usize,
    pub p50: Duration,
    pub p99: Duration,
    /// Requests with no reply, a wrong reply or a closed connection.
    pub failed: usize,
}

impl Latency {
    fn of(mut times: Vec<Duration>, failed: usize) -> Latency {
        times.sort();
        let at = |q: f64| {
            if times.is_empty() {
                return Duration::ZERO;
            }
            let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
            times[i]
        };
        Latency {
            samples: times.len(),
            p50: at(0.50),
            p99: at(0.99),
            failed,
        }
    }
}

/// The control client's connection.
#[derive(Debug)]
pub struct Control {
    s: TcpStream,
    req: ControlRequest,
    /// The core its measuring thread runs on ([`super::pin`]), if pinned.
    cpu: Option<usize>,
}

impl Control {
    pub fn connect(addr: SocketAddr, req: ControlRequest) -> Control {
        let s = TcpStream::connect(addr).expect("control client cannot connect");
        s.set_nodelay(true).expect("TCP_NODELAY");
        s.set_read_timeout(Some(CONTROL_TIMEOUT)).expect("timeout");
        Control { s, req, cpu: None }
    }

    /// Measures from a thread pinned to `cpu` (see [`super::pin`]).
    pub fn on_cpu(self, cpu: Option<usize>) -> Control {
        Control { cpu, ..self }
    }

    /// Pins the calling thread to the control client's core, if it has one.
    pub fn pin(&self) {
        if let Some(cpu) = self.cpu {
            if let Err(e) = super::pin::pin_thread(0, cpu) {
                eprintln!("cannot pin the control client to cpu {cpu}: {e}");
            }
        }
    }

    /// One request: its round trip, or `None` if it failed (which ends the connection's use).
    fn once(&mut self, buf: &mut [u8]) -> Option<Duration> {
        let started = Instant::now();
        self.s.write_all(&self.req.request).ok()?;
        self.s.read_exact(buf).ok()?;
        (buf[..] == self.req.reply[..]).then(|| started.elapsed())
    }

    /// `n` requests one after another (the baseline).
    pub fn measure(&mut self, n: usize) -> Latency {
        let mut buf = vec![0; self.req.reply.len()];
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            match self.once(&mut buf) {
                Some(t) => times.push(t),
                None => {
                    let failed = n - times.len();
                    return Latency::of(times, failed);
                }
            }
        }
        Latency::of(times, 0)
    }

    /// Requests in a thread until told to stop; `done` counts them so an attack can hold its
    /// connections until enough were measured.
    pub fn spawn(mut self, stop: Arc<AtomicBool>, done: Arc<AtomicUsize>) -> JoinHandle<Latency> {
        std::thread::spawn(move || {
            self.pin();
            let mut buf = vec![0; self.req.reply.len()];
            let mut times = Vec::new();
            let mut failed = 0;
            while !stop.load(Ordering::Relaxed) {
                match self.once(&mut buf) {
                    Some(t) => times.push(t),
                    None => {
                        failed += 1;
                        break;
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
                // A client pacing its requests, not a busy loop competing with the attack.
                std::thread::sleep(Duration::from_micros(500));
            }
            Latency::of(times, failed)
        })
    }
}

/// The node's RSS sampled every few milliseconds in a thread; the peak seen.
#[derive(Debug)]
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(crate::mem::rss_bytes(pid).unwrap_or(0)));
        let (s, p) = (Arc::clone(&stop), Arc::clone(&peak));
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(rss) = crate::mem::rss_bytes(pid) {
                    p.fetch_max(rss, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        RssSampler {
            stop,
            peak,
            thread: Some(thread),
        }
    }

    /// Stops sampling: the peak.
    pub fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let times: Vec<_> = (1..=200).map(Duration::from_millis).collect();
        let l = Latency::of(times, 0);
        assert_eq!(
            (l.p50, l.p99),
            (Duration::from_millis(100), Duration::from_millis(198))
        );
        assert_eq!(Latency::of(Vec::new(), 3).p99, Duration::ZERO);
    }
}
