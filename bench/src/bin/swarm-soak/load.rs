//! The workers of the soak: one thread per load, each with clients of its own, paced by
//! [`Pace`] and recording into the shared [`Stats`] until the run's stop flag is set.
//!
//! | worker | load |
//! |---|---|
//! | `dht` | Put/Get/Remove over a bounded key space; every Get checked against the last write |
//! | `queue` | Push then Pop on one channel (balanced: the ring empties, so it stays small) |
//! | `consume` | Pushes to a second channel, and a Consume stream that drains it |
//! | `logfiles` | Put with the current Unix time as the key (grows on disk by design) |
//! | `streams` | GetRange over a sliding window behind the Puts; an occasional dht GetAll |
//! | `listen` | a dht Listen stream, reopened now and then |
//! | `churn` | new clients of each kind, one request each, dropped (fd leaks show) |

use crate::stats::{Counter, ErrorLog, Kind, Stats};
use crate::values::{check, value, Pace, Rng};
use crate::Opts;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use swarm_client::{ClientConfig, DhtClient, ListenEvent, LogfilesClient, QueueClient};

/// The channels of each kind.
const DHT_CHANNEL: &str = "soak";
const QUEUE_CHANNEL: &str = "soak";
const CONSUME_CHANNEL: &str = "soak-consume";
const LOGFILES_CHANNEL: &str = "soak";
const CHURN_CHANNEL: &str = "soak-churn";
/// A key's version while the outcome of its last write is unknown (the write failed).
const UNKNOWN: u32 = u32::MAX;
/// How often a blocked stream read looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);

/// What every worker shares.
#[derive(Debug)]
pub struct Ctx {
    pub opts: Opts,
    pub stats: Stats,
    pub errors: ErrorLog,
    pub stop: AtomicBool,
}

impl Ctx {
    fn running(&self) -> bool {
        !self.stop.load(Ordering::Relaxed)
    }

    fn config(&self) -> ClientConfig {
        ClientConfig::default().with_io_timeout(Some(Duration::from_secs(5)))
    }

    pub fn dht(&self) -> Result<DhtClient, swarm_client::ClientError> {
        DhtClient::from_nodes_file(self.opts.cluster.join("dht.nodes"), self.config())
    }

    pub fn queue(&self) -> Result<QueueClient, swarm_client::ClientError> {
        QueueClient::from_nodes_file(self.opts.cluster.join("queue.nodes"), self.config())
    }

    pub fn logfiles(&self) -> Result<LogfilesClient, swarm_client::ClientError> {
        LogfilesClient::from_nodes_file(self.opts.cluster.join("logfiles.nodes"), self.config())
    }

    /// Times `op` as one operation of `kind`; an error is counted and logged.
    fn timed<T, E: Display>(&self, kind: Kind, op: impl FnOnce() -> Result<T, E>) -> Option<T> {
        let start = Instant::now();
        let result = op();
        self.stats.record(kind, start.elapsed(), result.is_ok());
        result.map_err(|e| self.errors.report(kind.name(), &e)).ok()
    }

    fn fail(&self, counter: Counter, what: &str, error: &dyn Display) {
        self.stats.count(counter, 1);
        self.errors.report(what, error);
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The seed of key `key`'s value at version `version`.
fn dht_seed(key: u64, version: u32) -> u64 {
    key << 32 | u64::from(version)
}

/// Put 40 %, Get 45 %, Remove 15 % over `--keys` keys: the data set settles at about
/// 40 / (40 + 15) of the keys. This thread alone writes the channel, so every Get must return
/// exactly the last write (or nothing after a Remove).
pub fn dht(ctx: &Ctx, client: DhtClient) {
    let max = ctx.opts.value_max as usize;
    let mut versions = vec![0u32; ctx.opts.keys as usize];
    let mut rng = Rng::new(1);
    let mut pace = Pace::new(ctx.opts.dht_rate);
    while ctx.running() {
        pace.wait();
        let key = rng.below(ctx.opts.keys);
        let slot = &mut versions[key as usize];
        match rng.below(100) {
            0..=39 => {
                let next = if *slot >= UNKNOWN - 1 { 1 } else { *slot + 1 };
                let v = value(dht_seed(key, next), max);
                let done = ctx.timed(Kind::Dht, || client.put(DHT_CHANNEL, key, &v));
                *slot = if done.is_some() { next } else { UNKNOWN };
            }
            40..=84 => {
                let expected = *slot;
                let wrong = |got: &Option<Vec<u8>>| match (got, expected) {
                    (_, UNKNOWN) => false,
                    (None, 0) => false,
                    (Some(v), n) if n != 0 => check(v, max) != Some(dht_seed(key, n)),
                    _ => true,
                };
                ctx.timed(Kind::Dht, || match client.get(DHT_CHANNEL, key) {
                    Ok(got) if wrong(&got) => Err(format!(
                        "Get {key:#x}: not the last write (version {expected}): {:?}",
                        got.map(|v| v.len())
                    )),
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.to_string()),
                });
            }
            _ => {
                let done = ctx.timed(Kind::Dht, || client.remove(DHT_CHANNEL, key));
                *slot = if done.is_some() { 0 } else { UNKNOWN };
            }
        }
    }
}

/// Push then Pop, alternately, at `--queue-rate` requests a second.
pub fn queue(ctx: &Ctx, client: QueueClient) {
    let max = ctx.opts.value_max as usize;
    let mut seed = 0u64;
    let mut pace = Pace::new(ctx.opts.queue_rate);
    while ctx.running() {
        pace.wait();
        seed += 1;
        if seed % 2 == 1 {
            let v = value(seed, max);
            ctx.timed(Kind::Queue, || client.push(QUEUE_CHANNEL, &v));
        } else {
            ctx.timed(Kind::Queue, || match client.pop(QUEUE_CHANNEL) {
                Ok(Some(v)) if check(&v, max).is_none() => Err(format!(
                    "Pop: a record that fails its check ({} bytes)",
                    v.len()
                )),
                Ok(_) => Ok(()),
                Err(e) => Err(e.to_string()),
            });
        }
    }
}

/// Pushes for the Consume stream at `--consume-rate` records a second.
pub fn consume_feed(ctx: &Ctx, client: QueueClient) {
    let max = ctx.opts.value_max as usize;
    let mut seed = 1u64 << 48;
    let mut pace = Pace::new(ctx.opts.consume_rate);
    while ctx.running() {
        pace.wait();
        seed += 1;
        let v = value(seed, max);
        if ctx
            .timed(Kind::Queue, || client.push(CONSUME_CHANNEL, &v))
            .is_some()
        {
            ctx.stats.count(Counter::ConsumePushed, 1);
        }
    }
}

/// A Consume stream on the feed's channel, reopened if it ends.
pub fn consume(ctx: &Ctx, client: QueueClient) {
    let max = ctx.opts.value_max as usize;
    while ctx.running() {
        let consumer = match client.consume(CONSUME_CHANNEL) {
            Ok(c) => c,
            Err(e) => {
                ctx.fail(Counter::ConsumeErrors, "consume", &e);
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        while ctx.running() {
            match consumer.recv_timeout(POLL) {
                Ok(Ok(v)) if check(&v, max).is_some() => ctx.stats.count(Counter::Consumed, 1),
                Ok(Ok(v)) => ctx.fail(
                    Counter::ConsumeErrors,
                    "consume",
                    &format!("a record that fails its check ({} bytes)", v.len()),
                ),
                Ok(Err(e)) => ctx.fail(Counter::ConsumeErrors, "consume", &e),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    ctx.fail(Counter::ConsumeErrors, "consume", &"the stream ended");
                    break;
                }
            }
        }
    }
}

/// Put at `--logfiles-rate` records a second, keyed by the current Unix time.
pub fn logfiles(ctx: &Ctx, client: LogfilesClient) {
    let max = ctx.opts.value_max as usize;
    let mut seed = 2u64 << 48;
    let mut pace = Pace::new(ctx.opts.logfiles_rate);
    while ctx.running() {
        pace.wait();
        seed += 1;
        let v = value(seed, max);
        ctx.timed(Kind::Logfiles, || {
            client.put(LOGFILES_CHANNEL, unix_now(), &v)
        });
    }
}

/// Every `--getrange-every` seconds a GetRange of 2 s of Puts from `--getrange-behind` seconds
/// ago; every `--getall-every` seconds a dht GetAll. Every record read is checked.
pub fn streams(ctx: &Ctx, dht: DhtClient, logs: LogfilesClient) {
    let max = ctx.opts.value_max as usize;
    let mut next_range = Instant::now();
    let mut next_all = Instant::now() + Duration::from_secs_f64(ctx.opts.getall_every);
    while ctx.running() {
        let now = Instant::now();
        if now >= next_range {
            next_range = now + Duration::from_secs_f64(ctx.opts.getrange_every);
            let hi = unix_now().saturating_sub(ctx.opts.getrange_behind);
            ctx.timed(Kind::GetRange, || {
                let records = logs
                    .get_range(LOGFILES_CHANNEL, hi.saturating_sub(1), hi)
                    .map_err(|e| e.to_string())?;
                read_all(ctx, records.map(|r| r.map(|(_, v)| v)), max)
            });
        }
        if now >= next_all {
            next_all = now + Duration::from_secs_f64(ctx.opts.getall_every);
            ctx.timed(Kind::GetAll, || {
                let records = dht.get_all(DHT_CHANNEL).map_err(|e| e.to_string())?;
                read_all(ctx, records.map(|r| r.map(|(_, v)| v)), max)
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Reads a stream to its end, checking each value; the first failure ends it.
fn read_all(
    ctx: &Ctx,
    records: impl Iterator<Item = Result<Vec<u8>, swarm_client::ClientError>>,
    max: usize,
) -> Result<(), String> {
    let mut n = 0;
    for record in records {
        let v = record.map_err(|e| e.to_string())?;
        if check(&v, max).is_none() {
            return Err(format!("a record that fails its check ({} bytes)", v.len()));
        }
        n += 1;
    }
    ctx.stats.count(Counter::StreamRecords, n);
    Ok(())
}

/// A dht Listen stream on the Put channel, dropped and reopened every `--listen-every` s.
pub fn listen(ctx: &Ctx, client: DhtClient) {
    let max = ctx.opts.value_max as usize;
    while ctx.running() {
        let listener = match client.listen(DHT_CHANNEL) {
            Ok(l) => l,
            Err(e) => {
                ctx.fail(Counter::ListenErrors, "listen", &e);
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        let until = Instant::now() + Duration::from_secs_f64(ctx.opts.listen_every);
        while ctx.running() && Instant::now() < until {
            match listener.recv_timeout(POLL) {
                // A record removed before the node sent it arrives empty.
                Ok(Ok(ListenEvent::Record { value, .. }))
                    if value.is_empty() || check(&value, max).is_some() =>
                {
                    ctx.stats.count(Counter::ListenEvents, 1);
                }
                Ok(Ok(ListenEvent::Record { value, .. })) => ctx.fail(
                    Counter::ListenErrors,
                    "listen",
                    &format!("a record that fails its check ({} bytes)", value.len()),
                ),
                Ok(Ok(other)) => {
                    ctx.fail(Counter::ListenErrors, "listen", &format!("{other:?}"));
                    break;
                }
                Ok(Err(e)) => {
                    ctx.fail(Counter::ListenErrors, "listen", &e);
                    break;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    ctx.fail(Counter::ListenErrors, "listen", &"every stream ended");
                    break;
                }
            }
        }
    }
}

/// Every `--churn-every` seconds: a new client of each kind, one request each, all dropped.
pub fn churn(ctx: &Ctx) {
    let mut rng = Rng::new(7);
    let every = Duration::from_secs_f64(ctx.opts.churn_every);
    let mut next = Instant::now() + every;
    while ctx.running() {
        if Instant::now() < next {
            std::thread::sleep(POLL.min(next - Instant::now()));
            continue;
        }
        next += every;
        let key = rng.below(ctx.opts.keys);
        ctx.timed(Kind::Churn, || -> Result<(), swarm_client::ClientError> {
            ctx.dht()?.get(DHT_CHANNEL, key)?;
            let queue = ctx.queue()?;
            queue.push(CHURN_CHANNEL, b"churn")?;
            queue.pop(CHURN_CHANNEL)?;
            ctx.logfiles()?.put(CHURN_CHANNEL, unix_now(), b"churn")?;
            Ok(())
        });
    }
}
