//! `swarm-soak`, the load driver of `scripts/soak.sh` (issue 13): a steady, moderate mixed load
//! on a local cluster of every node kind (the nodes files `scripts/local-cluster.sh` writes),
//! through the `swarm-client` library, for a fixed time. Every `--interval` seconds it prints
//! one `key=value` line: requests, errors and p50/p99/max latency per kind of operation, and
//! the stream counters; at the end one `total ...` line. Every record read back is checked.
//!
//! | module | owns |
//! |---|---|
//! | `load` | the workers: what each sends, at what rate, and how replies are checked |
//! | `stats` | per-kind figures of an interval and of the run; the report lines |
//! | `values` | self-checking values, the RNG, the pacing |
//!
//! Exit codes: 0 the run had no error; 1 some operation failed (the lines say which kind);
//! 2 usage, or the cluster could not be reached at the start.

mod load;
mod stats;
mod values;

use clap::Parser;
use load::Ctx;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long the load goes on after the last report line.
const LAST_SAMPLE_GRACE: Duration = Duration::from_secs(2);

/// Soak load driver: mixed dht, queue and logfiles load on a local cluster.
#[derive(Debug, Clone, Parser)]
#[command(name = "swarm-soak")]
pub struct Opts {
    /// The cluster's directory, holding dht.nodes, queue.nodes and logfiles.nodes.
    #[arg(long)]
    cluster: PathBuf,
    /// How long to run, in seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds between report lines.
    #[arg(long, default_value_t = 10)]
    interval: u64,
    /// dht Put/Get/Remove requests a second.
    #[arg(long, default_value_t = 1000.0)]
    dht_rate: f64,
    /// Queue Push and Pop requests a second (half of each).
    #[arg(long, default_value_t = 500.0)]
    queue_rate: f64,
    /// Records pushed a second for the Consume stream.
    #[arg(long, default_value_t = 100.0)]
    consume_rate: f64,
    /// Logfiles Put requests a second.
    #[arg(long, default_value_t = 400.0)]
    logfiles_rate: f64,
    /// dht keys (0 to N-1): the data set's bound.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=1 << 31))]
    keys: u64,
    /// Largest value in bytes (values are 8 to N bytes).
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(8..=65_536))]
    value_max: u64,
    /// Seconds between logfiles GetRange requests.
    #[arg(long, default_value_t = 1.0)]
    getrange_every: f64,
    /// How far behind the Puts (seconds) the GetRange window is.
    #[arg(long, default_value_t = 30)]
    getrange_behind: u64,
    /// Seconds between dht GetAll requests.
    #[arg(long, default_value_t = 30.0)]
    getall_every: f64,
    /// Seconds a Listen stream lives before it is reopened.
    #[arg(long, default_value_t = 60.0)]
    listen_every: f64,
    /// Seconds between churn rounds (new clients of each kind, one request each, dropped).
    #[arg(long, default_value_t = 5.0)]
    churn_every: f64,
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    for (name, v) in [
        ("--dht-rate", opts.dht_rate),
        ("--queue-rate", opts.queue_rate),
        ("--consume-rate", opts.consume_rate),
        ("--logfiles-rate", opts.logfiles_rate),
        ("--getrange-every", opts.getrange_every),
        ("--getall-every", opts.getall_every),
        ("--listen-every", opts.listen_every),
        ("--churn-every", opts.churn_every),
    ] {
        if !(v.is_finite() && v > 0.0) {
            eprintln!("swarm-soak: {name} must be a positive number, not {v}");
            return ExitCode::from(2);
        }
    }
    if opts.interval == 0 {
        eprintln!("swarm-soak: --interval must be at least 1");
        return ExitCode::from(2);
    }
    let ctx = Ctx {
        opts,
        stats: stats::Stats::new(),
        errors: stats::ErrorLog::default(),
        stop: Default::default(),
    };
    match run(&ctx) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(errors) => {
            eprintln!("swarm-soak: {errors} operations failed");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!(
                "swarm-soak: cannot reach the cluster in {}: {e}",
                ctx.opts.cluster.display()
            );
            ExitCode::from(2)
        }
    }
}

/// Starts the workers, prints the report lines until `--seconds` have passed, stops and joins
/// the workers, prints the total. Returns the run's error count.
fn run(ctx: &Ctx) -> Result<u64, swarm_client::ClientError> {
    let (dht, queue, logs) = (ctx.dht()?, ctx.queue()?, ctx.logfiles()?);
    let (feed, consume) = (ctx.queue()?, ctx.queue()?);
    let (getall, getrange, listen) = (ctx.dht()?, ctx.logfiles()?, ctx.dht()?);
    // t=0: the clients are connected, no load yet (soak.sh takes its first sample on it).
    println!("{}", ctx.stats.interval_line(0));
    std::thread::scope(|s| {
        s.spawn(|| load::dht(ctx, dht));
        s.spawn(|| load::queue(ctx, queue));
        s.spawn(|| load::consume_feed(ctx, feed));
        s.spawn(|| load::consume(ctx, consume));
        s.spawn(|| load::logfiles(ctx, logs));
        s.spawn(|| load::streams(ctx, getall, getrange));
        s.spawn(|| load::listen(ctx, listen));
        s.spawn(|| load::churn(ctx));
        report(ctx);
        // The load goes on a little after the last line, so soak.sh's last sample (taken when
        // it reads that line) sees the cluster under load, not the workers going away.
        std::thread::sleep(LAST_SAMPLE_GRACE);
        ctx.stop.store(true, Ordering::Relaxed);
    });
    println!("{}", ctx.stats.total_line());
    Ok(ctx.stats.total_errors())
}

/// One line every `--interval` seconds (the last one when `--seconds` are up).
fn report(ctx: &Ctx) {
    let start = Instant::now();
    let end = Duration::from_secs(ctx.opts.seconds);
    let mut t = 0;
    while t < ctx.opts.seconds {
        t = (t + ctx.opts.interval).min(ctx.opts.seconds);
        let due = Duration::from_secs(t);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait.min(end));
        }
        println!("{}", ctx.stats.interval_line(t));
    }
}
