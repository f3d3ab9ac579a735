//! Hostile clients against a real node of any kind, measured the same way for each (issue 13):
//!
//! | module | what it owns |
//! |---|---|
//! | this file | [`Target`] (what a node kind gives the harness), [`Limits`] (the config under attack), [`run_case`] (checksum, baseline, attack, peak RSS, checksum again), [`Report`] and its [`Bounds`] |
//! | [`cases`] | the cases by name, their sizes (bounded for CI, full for the script) and the limits each runs with |
//! | [`measure`] | the control client's latency percentiles, the RSS sampler |
//! | [`attacks`] | the attacks, each with a size: connection and idle floods, slowloris, never-reading streams, mutated frames, held arrays |
//! | [`pin`] | the node and the control client on one core, the attack on the other (`swarm-hostile --pin`) |
//! | [`mutate`] | the mutations of valid frames: length fields set to hostile values, flips, cuts, LZO bombs |
//! | [`targets`] | the three node kinds as [`Target`]s: data seeded, checksums, control requests, templates |
//!
//! A case: the stored data's checksum; the control client's baseline (n requests on an idle
//! node); then the attack with the control client and an RSS sampler running beside it, the
//! attack holding its connections until the control client measured n more; then the
//! connections dropped, RSS again, the checksum again, and the control request once more on a
//! new connection (the node still serves). [`Report::check`] asserts the bounds.

pub mod attacks;
pub mod cases;
pub mod measure;
pub mod mutate;
pub mod pin;
pub mod targets;

use crate::process::NodeProcess;
use measure::{Control, ControlRequest, Latency, RssSampler};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use cases::{run, Case, Sizes};
pub use pin::Pinning;
pub use targets::{DhtTarget, LogfilesTarget, QueueTarget};

const MIB: u64 = 1024 * 1024;

/// What a node kind gives the harness. Requests are raw bytes, built with the protocol crate.
pub trait Target {
    /// `dht`, `queue` or `logfiles`.
    fn kind(&self) -> &'static str;
    fn node(&self) -> &NodeProcess;
    /// A checksum of every record the attacks must not touch (read without changing them).
    fn checksum(&mut self) -> u64;
    /// The last word on the stored data, which may consume it (the queue drains its channels
    /// and compares them with what it pushed); `Err` says what differs. Kinds whose checksum
    /// reads every record already have nothing more to check.
    fn final_check(&mut self) -> Result<(), String> {
        Ok(())
    }
    /// The control client's cheap request and its exact reply.
    fn control(&mut self) -> ControlRequest;
    /// Valid requests of this kind, whole, for mutation: none of them may change the checked
    /// records however it is mutated (they name a scratch channel, or only read).
    fn templates(&self) -> Vec<Vec<u8>>;
    /// A request carrying `batch` as an LZO batch (PutBatch), for kinds that take one.
    fn batch_request(&self, batch: &[u8]) -> Option<Vec<u8>>;
    /// A valid request long enough to dribble (a few KiB).
    fn slow_request(&self) -> Vec<u8>;
    /// A request whose reply is a stream larger than the socket buffers (GetAll, Consume,
    /// GetRange of the seeded stream channel).
    fn stream_request(&self) -> Vec<u8>;
    /// The head of a request whose last field is an array of `len` bytes, announced; variant
    /// `i` picks among the requests that take a long array.
    fn array_head(&self, i: usize, len: u64) -> Vec<u8>;
}

/// The `[Server]` limits a node runs with under attack.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connection_limit: usize,
    pub input_buffer_limit: u64,
    pub request_timeout_ms: u64,
    /// 0: off.
    pub idle_timeout_s: u64,
}

impl Limits {
    /// The config lines setting them.
    pub fn lines(&self) -> Vec<(&'static str, &'static str, String)> {
        vec![
            (
                "Server",
                "connection_limit",
                self.connection_limit.to_string(),
            ),
            (
                "Server",
                "input_buffer_limit",
                self.input_buffer_limit.to_string(),
            ),
            (
                "Server",
                "request_timeout_ms",
                self.request_timeout_ms.to_string(),
            ),
            ("Server", "idle_timeout_s", self.idle_timeout_s.to_string()),
            // For the loop-turn histogram around the attack ([`Turns`]).
            ("Stats", "http_port", "0".to_owned()),
        ]
    }
}

/// The bounds a case is held to.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// What the node may buffer of partial requests as configured: `[Server]
    /// input_buffer_limit` beyond the 64 KiB each connection may hold, so the limit plus
    /// 64 KiB times `connection_limit`.
    pub input_budget: u64,
    /// RSS growth allowed beyond the budget: output buffered to stalled readers (up to 1 MiB
    /// each before the node stops producing), the connections' state, the allocator's slack.
    pub margin: u64,
    /// Control p99 during the attack may be this many times its baseline...
    pub p99_factor: u32,
    /// ...plus this: a few scheduler slices on a 2-core machine where the attacking threads
    /// share the cores with the node.
    pub p99_floor: Duration,
}

impl Bounds {
    /// The bounds for a node with `limits`: growth < budget + 64 MiB, p99 <= 3 x
    /// baseline + 2 ms.
    pub fn of(limits: &Limits) -> Bounds {
        Bounds {
            input_budget: limits.input_buffer_limit + limits.connection_limit as u64 * 64 * 1024,
            margin: 64 * MIB,
            p99_factor: 3,
            p99_floor: Duration::from_millis(2),
        }
    }

    /// The same with another absolute floor.
    pub fn with_p99_floor(self, floor: Duration) -> Bounds {
        Bounds {
            p99_floor: floor,
            ..self
        }
    }

    pub fn p99_limit(&self, baseline: Duration) -> Duration {
        baseline * self.p99_factor + self.p99_floor
    }
}

/// The node's loop turns by length (`swarm_node_loop_turn_seconds`): how long the loop kept
/// every client waiting, whatever the control client's own luck with the scheduler.
#[derive(Debug, Clone, Copy, Default)]
struct Turns {
    all: u64,
    /// Turns longer than 1 ms, 2.5 ms and 10 ms.
    over: [u64; 3],
}

impl Turns {
    const BOUNDS: [&'static str; 3] = ["0.001", "0.0025", "0.01"];

    fn scrape(addr: std::net::SocketAddr) -> Turns {
        let s = crate::metrics::Scrape::get(addr);
        let name = "swarm_node_loop_turn_seconds";
        let all = s.value(&format!("{name}_count"), &[]).unwrap_or(0.0) as u64;
        let within = |le| {
            s.value(&format!("{name}_bucket"), &[("le", le)])
                .unwrap_or(0.0) as u64
        };
        Turns {
            all,
            over: Turns::BOUNDS.map(|le| all.saturating_sub(within(le))),
        }
    }

    fn since(&self, before: &Turns) -> Turns {
        Turns {
            all: self.all.saturating_sub(before.all),
            over: [0, 1, 2].map(|i| self.over[i].saturating_sub(before.over[i])),
        }
    }

    fn counters(&self) -> [(&'static str, u64); 4] {
        [
            ("turns", self.all),
            ("turns_over_1ms", self.over[0]),
            ("turns_over_2.5ms", self.over[1]),
            ("turns_over_10ms", self.over[2]),
        ]
    }
}

/// What an attack counted and what it found wrong.
#[derive(Debug, Default)]
pub struct Outcome {
    pub counters: Vec<(&'static str, u64)>,
    pub failures: Vec<String>,
}

/// One case's figures.
#[derive(Debug)]
pub struct Report {
    pub kind: &'static str,
    pub case: String,
    pub rss_before: u64,
    pub rss_peak: u64,
    pub rss_after: u64,
    pub before: Latency,
    pub during: Latency,
    pub checksum_ok: bool,
    pub final_check: Result<(), String>,
    pub running: bool,
    pub took: Duration,
    pub outcome: Outcome,
}

impl Report {
    pub fn growth(&self) -> u64 {
        self.rss_peak.saturating_sub(self.rss_before)
    }

    /// p99 during / p99 before.
    pub fn ratio(&self) -> f64 {
        self.during.p99.as_secs_f64() / self.before.p99.as_secs_f64().max(1e-9)
    }

    /// Every bound it breaks, in words.
    pub fn violations(&self, b: &Bounds) -> Vec<String> {
        let mut v = self.outcome.failures.clone();
        if self.growth() >= b.input_budget + b.margin {
            v.push(format!(
                "RSS grew {} MiB, over the {} MiB budget + {} MiB margin",
                self.growth() / MIB,
                b.input_budget / MIB,
                b.margin / MIB
            ));
        }
        let limit = b.p99_limit(self.before.p99);
        if self.during.p99 > limit {
            v.push(format!("control p99 {:?} over {limit:?}", self.during.p99));
        }
        if self.during.failed + self.before.failed > 0 {
            v.push("a control request failed".to_owned());
        }
        if !self.checksum_ok {
            v.push("stored records changed".to_owned());
        }
        if let Err(e) = &self.final_check {
            v.push(format!("final check: {e}"));
        }
        if !self.running {
            v.push("node no longer serves".to_owned());
        }
        v
    }

    /// Panics naming every bound broken.
    pub fn check(&self, b: &Bounds) {
        let v = self.violations(b);
        assert!(v.is_empty(), "{self}\n{}", v.join("\n"));
    }

    /// The table header matching [`Report::row`].
    pub fn header() -> &'static str {
        "| case | RSS before / peak / after (MiB) | control p50 / p99 before | p50 / p99 during | p99 ratio | checksum | counters |\n|---|---|---|---|---|---|---|"
    }

    /// One markdown table row.
    pub fn row(&self) -> String {
        let mib = |b: u64| b as f64 / MIB as f64;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let counters: Vec<String> = self
            .outcome
            .counters
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        format!(
            "| {} | {:.1} / {:.1} / {:.1} | {:.3} / {:.3} ms | {:.3} / {:.3} ms | {:.2} | {} | {} |",
            self.case,
            mib(self.rss_before),
            mib(self.rss_peak),
            mib(self.rss_after),
            ms(self.before.p50),
            ms(self.before.p99),
            ms(self.during.p50),
            ms(self.during.p99),
            self.ratio(),
            if self.checksum_ok && self.final_check.is_ok() { "ok" } else { "CHANGED" },
            counters.join(", ")
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({:.1} s): {}",
            self.kind,
            self.case,
            self.took.as_secs_f64(),
            self.row()
        )
    }
}

/// What an attack gets: the node's address and limits, and [`Ctx::hold`].
#[derive(Debug)]
pub struct Ctx {
    pub addr: SocketAddr,
    pub limits: Limits,
    measured: Arc<AtomicUsize>,
    samples: usize,
}

impl Ctx {
    /// Waits until the control client measured its samples during the attack (at most 60 s).
    pub fn hold(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.measured.load(Ordering::Relaxed) < self.samples && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Runs one case against `t` (see the module doc); `samples` control requests before and at
/// least as many during.
pub fn run_case(
    t: &mut dyn Target,
    limits: Limits,
    case: &str,
    samples: usize,
    attack: impl FnOnce(&Ctx) -> Outcome,
) -> Report {
    let started = Instant::now();
    let sum_before = t.checksum();
    let req = t.control();
    let (addr, pid) = (t.node().addr(), t.node().pid());
    let cpu = pin::node_cpu();
    if let Some(cpu) = cpu {
        if let Err(e) = pin::pin_process(pid, cpu) {
            eprintln!("cannot pin the node to cpu {cpu}: {e}");
        }
    }
    let mut control = Control::connect(addr, req.clone()).on_cpu(cpu);
    // On the control client's own thread, as during the attack (pinned with the node).
    let before = std::thread::scope(|s| {
        s.spawn(|| {
            control.pin();
            control.measure(samples / 10); // warm up: the connection's buffers, the node's caches
            control.measure(samples)
        })
        .join()
        .unwrap_or_default()
    });
    let rss_before = crate::mem::rss_bytes(pid).unwrap_or(0);
    let sampler = RssSampler::start(pid);
    let (stop, measured) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let running = control.spawn(Arc::clone(&stop), Arc::clone(&measured));
    let ctx = Ctx {
        addr,
        limits,
        measured,
        samples,
    };
    let waited = cpu_wait(pid);
    let metrics = crate::metrics::metrics_addr(&t.node().root_log_path());
    let turns_before = Turns::scrape(metrics);
    let mut outcome = attack(&ctx);
    ctx.hold();
    stop.store(true, Ordering::Relaxed);
    let during = running.join().unwrap_or_default();
    outcome
        .counters
        .extend(Turns::scrape(metrics).since(&turns_before).counters());
    // Time the node was ready to run but another process had its core: not the node's delay,
    // yet the control client's all the same (see `pin`).
    if let (Some(a), Some(b)) = (waited, cpu_wait(pid)) {
        outcome
            .counters
            .push(("node_cpu_wait_ms", b.saturating_sub(a) / 1_000_000));
    }
    std::thread::sleep(Duration::from_millis(100));
    let rss_peak = sampler.finish();
    let rss_after = crate::mem::rss_bytes(pid).unwrap_or(0);
    let serves = Control::connect(addr, req).measure(1).failed == 0;
    let checksum_ok = t.checksum() == sum_before;
    let final_check = t.final_check();
    Report {
        kind: t.kind(),
        case: case.to_owned(),
        rss_before,
        rss_peak,
        rss_after,
        before,
        during,
        checksum_ok,
        final_check,
        running: serves && crate::mem::rss_bytes(pid).is_some(),
        took: started.elapsed(),
        outcome,
    }
}

/// Nanoseconds the threads of `pid` spent runnable but waiting for a CPU (the second field of
/// `/proc/PID/task/*/schedstat`), summed; `None` without schedstats.
fn cpu_wait(pid: u32) -> Option<u64> {
    let mut sum = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        sum += stat.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    }
    Some(sum)
}

/// FNV-1a over bytes: the harness's checksum of stored records.
#[derive(Debug, Clone, Copy)]
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    /// The checksum of (key, value) records, in the order given.
    pub fn of_records(records: impl IntoIterator<Item = (u64, Vec<u8>)>) -> u64 {
        let mut sum = Fnv::default();
        for (k, v) in records {
            sum.add(&k.to_le_bytes());
            sum.add(&v);
        }
        sum.0
    }

    pub fn add(&mut self, bytes: &[u8]) {
        // The length first, so ("ab", "c") and ("a", "bc") differ.
        for b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
