//! The driver's figures: per kind of operation, the requests, errors and latency histogram of
//! the current interval and of the whole run, and the one-line `key=value` report of each.
//! Workers record into a shared [`Stats`]; the reporter takes the interval's figures every
//! `--interval` seconds and starts a new one.

use hdrhistogram::Histogram;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// What a latency is measured over: single requests of each node kind, whole streams (GetAll,
/// GetRange), and a churn round (new clients, one request each, dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dht,
    Queue,
    Logfiles,
    GetAll,
    GetRange,
    Churn,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Dht,
        Kind::Queue,
        Kind::Logfiles,
        Kind::GetAll,
        Kind::GetRange,
        Kind::Churn,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Dht => "dht",
            Kind::Queue => "queue",
            Kind::Logfiles => "logfiles",
            Kind::GetAll => "getall",
            Kind::GetRange => "getrange",
            Kind::Churn => "churn",
        }
    }
}

/// Counters of the streams that have no request latency of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// Records a Listen stream delivered.
    ListenEvents,
    /// Listen streams that failed (opening or while reading).
    ListenErrors,
    /// Records pushed for the Consume stream.
    ConsumePushed,
    /// Records the Consume stream delivered.
    Consumed,
    /// Consume stream errors (and records that fail their check).
    ConsumeErrors,
    /// Records GetAll and GetRange streams delivered.
    StreamRecords,
}

impl Counter {
    pub const ALL: [Counter; 6] = [
        Counter::ListenEvents,
        Counter::ListenErrors,
        Counter::ConsumePushed,
        Counter::Consumed,
        Counter::ConsumeErrors,
        Counter::StreamRecords,
    ];

    fn name(self) -> &'static str {
        match self {
            Counter::ListenEvents => "listen_events",
            Counter::ListenErrors => "listen_err",
            Counter::ConsumePushed => "consume_pushed",
            Counter::Consumed => "consumed",
            Counter::ConsumeErrors => "consume_err",
            Counter::StreamRecords => "stream_records",
        }
    }

    /// Whether the counter counts failures (they make the run fail).
    pub fn is_error(self) -> bool {
        matches!(self, Counter::ListenErrors | Counter::ConsumeErrors)
    }
}

/// One kind's figures over some time.
#[derive(Debug, Clone)]
struct Figures {
    requests: u64,
    errors: u64,
    /// Microseconds.
    latency: Histogram<u64>,
}

impl Figures {
    fn new() -> Figures {
        Figures {
            requests: 0,
            errors: 0,
            // 1 us to 10 min, 3 significant digits; saturating, so nothing is lost.
            latency: Histogram::new_with_bounds(1, 600_000_000, 3)
                .expect("constant histogram bounds are valid"),
        }
    }

    fn add(&mut self, other: &Figures) {
        self.requests += other.requests;
        self.errors += other.errors;
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&other.latency);
    }

    fn write(&self, kind: Kind, out: &mut String) {
        let q = |q: f64| {
            if self.latency.is_empty() {
                0
            } else {
                self.latency.value_at_quantile(q)
            }
        };
        let _ = write!(
            out,
            " {k}_req={} {k}_err={} {k}_p50_us={} {k}_p99_us={} {k}_max_us={}",
            self.requests,
            self.errors,
            q(0.5),
            q(0.99),
            self.latency.max(),
            k = kind.name()
        );
    }
}

/// The figures every worker records into.
#[derive(Debug)]
pub struct Stats {
    interval: Mutex<Vec<Figures>>,
    total: Mutex<Vec<Figures>>,
    counters: [AtomicU64; Counter::ALL.len()],
    total_counters: [AtomicU64; Counter::ALL.len()],
}

impl Stats {
    pub fn new() -> Stats {
        let figures = || Kind::ALL.iter().map(|_| Figures::new()).collect();
        Stats {
            interval: Mutex::new(figures()),
            total: Mutex::new(figures()),
            counters: Default::default(),
            total_counters: Default::default(),
        }
    }

    /// One operation of `kind` that took `took`; `ok` false counts it as an error too.
    pub fn record(&self, kind: Kind, took: Duration, ok: bool) {
        let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX).max(1);
        let mut figures = self.interval.lock().unwrap_or_else(|e| e.into_inner());
        let f = &mut figures[kind as usize];
        f.requests += 1;
        f.errors += u64::from(!ok);
        f.latency.saturating_record(us);
    }

    pub fn count(&self, counter: Counter, n: u64) {
        self.counters[counter as usize].fetch_add(n, Ordering::Relaxed);
    }

    /// The `key=value` line of the interval since the last call (which it starts anew), for
    /// the interval that ended `t` seconds into the run.
    pub fn interval_line(&self, t: u64) -> String {
        let taken = {
            let mut figures = self.interval.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::replace(
                &mut *figures,
                Kind::ALL.iter().map(|_| Figures::new()).collect(),
            )
        };
        let mut total = self.total.lock().unwrap_or_else(|e| e.into_inner());
        let mut line = format!("t={t}");
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            taken[i].write(kind, &mut line);
            total[i].add(&taken[i]);
        }
        for (i, counter) in Counter::ALL.into_iter().enumerate() {
            let n = self.counters[i].swap(0, Ordering::Relaxed);
            self.total_counters[i].fetch_add(n, Ordering::Relaxed);
            let _ = write!(line, " {}={n}", counter.name());
        }
        line
    }

    /// The `key=value` line of the whole run (call after the last interval line).
    pub fn total_line(&self) -> String {
        let total = self.total.lock().unwrap_or_else(|e| e.into_inner());
        let mut line = String::from("total");
        for (i, kind) in Kind::ALL.into_iter().enumerate() {
            total[i].write(kind, &mut line);
        }
        for (i, counter) in Counter::ALL.into_iter().enumerate() {
            let n = self.total_counters[i].load(Ordering::Relaxed);
            let _ = write!(line, " {}={n}", counter.name());
        }
        line
    }

    /// Errors of the whole run so far, every kind and error counter together.
    pub fn total_errors(&self) -> u64 {
        let total = self.total.lock().unwrap_or_else(|e| e.into_inner());
        let requests: u64 = total.iter().map(|f| f.errors).sum();
        let counters: u64 = Counter::ALL
            .into_iter()
            .enumerate()
            .filter(|(_, c)| c.is_error())
            .map(|(i, _)| self.total_counters[i].load(Ordering::Relaxed))
            .sum();
        requests + counters
    }
}

/// Prints the first failures and then every hundredth, so a broken cluster does not flood the
/// log but is never silent.
#[derive(Debug, Default)]
pub struct ErrorLog {
    seen: AtomicU64,
}

impl ErrorLog {
    pub fn report(&self, what: &str, error: &dyn fmt::Display) {
        let n = self.seen.fetch_add(1, Ordering::Relaxed);
        if n < 20 || n % 100 == 0 {
            eprintln!("swarm-soak: error #{}: {what}: {error}", n + 1);
        }
    }
}
