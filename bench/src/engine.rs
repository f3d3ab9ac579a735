//! The load loop of one client thread: one mio `Poll` drives all of the thread's connections.
//! A connection sends a batch of `pipeline` requests with one write, reads the replies in
//! order, then sends the next batch, until the budget (request count, deadline or the end of
//! the load) is spent; an optional rate limit holds batches back.

use super::codec::Codec;
use super::codec_log::RECORDS_PER_KEY;
use super::conn::Conn;
use super::mix::{Family, Op};
use super::records::{hex_key_of, key_of, Rng, Values};
use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use swarm_protocol::format_key;

/// Longest wait for any reply before the run is abandoned.
const STALL_LIMIT: Duration = Duration::from_secs(10);

/// Which requests a thread sends.
#[derive(Debug, Clone)]
pub enum Source {
    /// Random keys of `0..keys`, operations drawn with these weights (indexed like [`Op::ALL`]).
    Random {
        /// Key space.
        keys: u64,
        /// Weights.
        weights: [u32; Op::COUNT],
    },
    /// `op` (Put, Push for a queue, Append for a log) of key-space indexes `next..end`, each once.
    Load {
        /// Next index.
        next: u64,
        /// End of the range.
        end: u64,
        /// The operation.
        op: Op,
    },
}

/// When a thread stops sending.
#[derive(Debug, Clone, Copy)]
pub enum Budget {
    /// After this many requests.
    Requests(u64),
    /// At this moment.
    Until(Instant),
}

/// Everything one thread needs besides its connections.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Encoder and parser.
    pub codec: &'a Codec,
    /// Values for Put.
    pub values: &'a Values,
    /// Request source.
    pub source: Source,
    /// Stop condition.
    pub budget: Budget,
    /// Requests per batch.
    pub pipeline: usize,
    /// This thread's rate limit, requests per second.
    pub rate: Option<f64>,
    /// RNG seed.
    pub seed: u64,
    /// Log appends: key of a connection's first record (see [`RECORDS_PER_KEY`]).
    pub key_base: u64,
    /// Replies completed, shared with the progress printer.
    pub done: &'a AtomicU64,
    /// Error replies and failed connections, shared with the progress printer.
    pub failed: &'a AtomicU64,
}

/// What one thread measured.
#[derive(Debug)]
pub struct Tally {
    /// Latency of each reply, nanoseconds since its batch was written.
    pub latency: Histogram<u64>,
    /// Replies with the record present / stored.
    pub hits: u64,
    /// Replies with the record absent.
    pub misses: u64,
    /// Non-Ok statuses and Redis errors.
    pub errors: u64,
    /// Records the hits stored or fetched (PutBatch: a batch each; else one).
    pub records: u64,
    /// Connections lost to protocol errors, I/O errors or fatal statuses.
    pub conn_failures: u64,
    /// The first such failure.
    pub first_failure: Option<String>,
    /// When the first request was written and the last reply read.
    pub span: Option<(Instant, Instant)>,
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            latency: Histogram::new_with_bounds(1, 120_000_000_000, 3)
                .expect("constant histogram bounds are valid"),
            hits: 0,
            misses: 0,
            errors: 0,
            records: 0,
            conn_failures: 0,
            first_failure: None,
            span: None,
        }
    }
}

impl Tally {
    /// Replies of any outcome.
    pub fn replies(&self) -> u64 {
        self.hits + self.misses + self.errors
    }

    /// Adds another thread's tally.
    pub fn merge(&mut self, other: Tally) {
        // Both histograms share the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        self.hits += other.hits;
        self.misses += other.misses;
        self.errors += other.errors;
        self.records += other.records;
        self.conn_failures += other.conn_failures;
        self.first_failure = self.first_failure.take().or(other.first_failure);
        self.span = match (self.span, other.span) {
            (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
            (a, b) => a.or(b),
        };
    }

    fn fail(&mut self, conn: &mut Conn, why: String) {
        conn.alive = false;
        self.conn_failures += 1;
        self.first_failure.get_or_insert(why);
    }
}

/// Runs the thread's connections until the budget is spent; returns its measurements.
pub fn run(mut conns: Vec<Conn>, plan: Plan<'_>) -> io::Result<Tally> {
    let mut poll = Poll::new()?;
    for (i, conn) in conns.iter_mut().enumerate() {
        poll.registry().register(
            conn.stream_mut(),
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
    }
    let mut events = Events::with_capacity(1024);
    let start = Instant::now();
    let mut d = Driver {
        rng: Rng::new(plan.seed),
        limiter: plan.rate.map(|rate| Limiter {
            rate,
            issued: 0.0,
            start,
        }),
        plan,
        waiting: VecDeque::new(),
        tally: Tally::default(),
        last_reply: start,
    };
    for (i, conn) in conns.iter_mut().enumerate() {
        d.issue(conn, i, start);
    }
    while !conns.iter().all(|c| !c.alive || (c.idle() && !c.waiting)) {
        let timeout = match (&d.limiter, d.waiting.is_empty()) {
            (Some(l), false) => l.wait(d.plan.pipeline).min(Duration::from_secs(1)),
            _ => Duration::from_secs(1),
        };
        poll.poll(&mut events, Some(timeout))?;
        let now = Instant::now();
        for event in events.iter() {
            let i = event.token().0;
            if let Some(conn) = conns.get_mut(i).filter(|c| c.alive) {
                let readable = event.is_readable() || event.is_read_closed();
                d.serve(conn, i, readable, now);
            }
        }
        while let Some(&i) = d.waiting.front() {
            if d.limiter
                .as_ref()
                .is_some_and(|l| l.wait(d.plan.pipeline) > Duration::ZERO)
            {
                break;
            }
            d.waiting.pop_front();
            conns[i].waiting = false;
            d.issue(&mut conns[i], i, now);
        }
        for conn in conns.iter_mut().filter(|c| c.alive && !c.idle()) {
            if now.saturating_duration_since(conn.sent_at()) > STALL_LIMIT {
                d.tally
                    .fail(conn, format!("no reply for {} s", STALL_LIMIT.as_secs()));
            }
        }
    }
    if d.tally.replies() > 0 {
        d.tally.span = Some((start, d.last_reply));
    }
    Ok(d.tally)
}

/// The loop's state besides the connections.
#[derive(Debug)]
struct Driver<'a> {
    plan: Plan<'a>,
    rng: Rng,
    limiter: Option<Limiter>,
    /// Connections waiting for the rate limiter, in arrival order.
    waiting: VecDeque<usize>,
    tally: Tally,
    last_reply: Instant,
}

impl Driver<'_> {
    /// Handles a readiness event: flush, read and count replies, send the next batch.
    fn serve(&mut self, conn: &mut Conn, index: usize, readable: bool, now: Instant) {
        if let Err(e) = conn.flush() {
            self.tally.fail(conn, format!("write: {e}"));
            return;
        }
        if readable {
            let latency = &mut self.tally.latency;
            match conn.receive(self.plan.codec, |ns| {
                let _ = latency.record(ns.max(1));
            }) {
                Ok(r) => {
                    let n = r.hits + r.misses + r.errors;
                    if n > 0 {
                        self.last_reply = now;
                        self.plan.done.fetch_add(n, Ordering::Relaxed);
                    }
                    if r.errors > 0 {
                        self.plan.failed.fetch_add(r.errors, Ordering::Relaxed);
                    }
                    self.tally.hits += r.hits;
                    self.tally.misses += r.misses;
                    self.tally.errors += r.errors;
                    self.tally.records += r.records;
                }
                Err(f) => {
                    self.plan.failed.fetch_add(1, Ordering::Relaxed);
                    self.tally.fail(conn, f.0);
                    return;
                }
            }
        }
        if conn.idle() && !conn.waiting {
            self.issue(conn, index, now);
        }
    }

    /// Sends the connection's next batch, or parks it until the rate limiter allows one.
    fn issue(&mut self, conn: &mut Conn, index: usize, now: Instant) {
        let k = take(&mut self.plan, now);
        if k == 0 || !conn.alive {
            return;
        }
        if let Some(l) = &mut self.limiter {
            if l.wait(k) > Duration::ZERO {
                give_back(&mut self.plan, k);
                conn.waiting = true;
                self.waiting.push_back(index);
                return;
            }
            l.issued += k as f64;
        }
        for _ in 0..k {
            let (op, i) = next_request(&mut self.plan.source, &mut self.rng);
            let value = self.plan.values.of(key_of(i));
            let key = if op.family() == Family::Log {
                // A log's keys are timestamps: each connection counts up from the base.
                let key = format_key(self.plan.key_base + conn.log_seq / RECORDS_PER_KEY);
                conn.log_seq += 1;
                key
            } else {
                hex_key_of(i)
            };
            conn.push(self.plan.codec, op, &key, value);
        }
        if let Err(e) = conn.send(now) {
            self.tally.fail(conn, format!("write: {e}"));
        }
    }
}

/// Takes up to `pipeline` requests from the budget.
fn take(plan: &mut Plan<'_>, now: Instant) -> usize {
    let k = plan.pipeline as u64;
    let k = match (&mut plan.budget, &plan.source) {
        (_, Source::Load { next, end, .. }) => k.min(end - next),
        (Budget::Requests(left), _) => {
            let k = k.min(*left);
            *left -= k;
            k
        }
        (Budget::Until(deadline), _) => {
            if now < *deadline {
                k
            } else {
                0
            }
        }
    };
    k as usize
}

fn give_back(plan: &mut Plan<'_>, k: usize) {
    if let (Budget::Requests(left), Source::Random { .. }) = (&mut plan.budget, &plan.source) {
        *left += k as u64;
    }
}

fn next_request(source: &mut Source, rng: &mut Rng) -> (Op, u64) {
    match source {
        Source::Load { next, op, .. } => {
            *next += 1;
            (*op, *next - 1)
        }
        Source::Random { keys, weights } => {
            let total: u32 = weights.iter().sum();
            let mut pick = rng.below(u64::from(total)) as u32;
            let mut op = Op::Get;
            for (candidate, &w) in Op::ALL.iter().zip(weights.iter()) {
                if pick < w {
                    op = *candidate;
                    break;
                }
                pick -= w;
            }
            (op, rng.below(*keys))
        }
    }
}

/// Token bucket: `rate` requests per second since `start`, one batch of burst.
#[derive(Debug)]
struct Limiter {
    rate: f64,
    issued: f64,
    start: Instant,
}

impl Limiter {
    /// How long until a batch of `k` may go.
    fn wait(&self, k: usize) -> Duration {
        let due = (self.issued + k as f64 - 1.0).max(0.0) / self.rate;
        let elapsed = self.start.elapsed().as_secs_f64();
        Duration::from_secs_f64((due - elapsed).max(0.0))
    }
}
