//! The move's thread: for each channel and each bucket file in ascending order, chosen with
//! probability `fraction` (per bucket file, as the original), the bucket is taken out by the
//! loop (`<bucket>.tmp`), its records read (legacy or v1) and sent to the destinations as
//! PutBatch batches of at most 64 KiB, round-robin over a [`LogfilesClient`] per destination.
//!
//! Ours, unlike the original: a record that does not fit the batch starts the next one (the
//! original dropped it). A failed send goes to the next destination, with backoff; when no
//! destination has taken a batch for `[Options_Dls] redistribute_retry_s`, the move ends with
//! Error and the `.tmp` is put back. After each acknowledged batch its end offset is written
//! to `<bucket>.tmp.sent` (one `pwrite`, **not fsynced**): a kill -9 keeps it, a power loss
//! may lose the latest ones, and the start then puts back and a later move sends again what
//! was acknowledged after the last marker that reached the disk: duplicates, never a loss.
//! Neither the rename to `.tmp` nor the deletion after the move is fsynced either (three
//! fsyncs per bucket tripled the time of a move of 60 buckets): a power loss may undo them,
//! which again leaves records on both nodes, never on none (the records themselves are as
//! durable as the sync mode made them: the loop's group commit covers the `.tmp` through its
//! handle).
//! Before each try of a batch the marker names it as in flight (its end offset and the
//! destination; one more `pwrite` per batch): a batch the destination stored whose Ok or
//! marker had not come yet when the source was killed, or when the move failed, is settled at
//! the put-back by asking that destination what it holds (`putback::indoubt`), so it is not
//! put back as well; only a destination that cannot be asked then leaves it on both nodes.
//! The `.tmp` is deleted once every record was
//! acknowledged; a bucket whose records end early (damage), or that holds a value too long for
//! a batch (only the original stored those), is kept beside as `<bucket>.unsent-<unix s>`.

use super::putback::{self, finish, open_reader, with_suffix};
use super::{Detached, RedistEvent};
use crate::disk::LogfilesEvent;
use crate::storage::channels::channel_names;
use crate::storage::named;
use crate::storage::scan::listing;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarm_client::{ClientConfig, LogfilesClient, LOGFILES_MAX_VALUE_LEN};
use swarm_core::Mailbox;
use swarm_protocol::batch::{pair_size, DEFAULT_BATCH_SIZE};
use swarm_protocol::bucket::path::{parse_bucket_file, parse_slot_dir};
use swarm_protocol::bucket::EndReason;

/// Longest pause between two tries of a batch no destination took.
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often a wait for the loop checks the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// The destinations, each with a client of its own, taken round-robin.
#[derive(Debug)]
pub struct Dests {
    nodes: Vec<(SocketAddr, LogfilesClient)>,
    next: usize,
}

impl Dests {
    /// The destination for the next try of a batch.
    fn next(&mut self) -> &(SocketAddr, LogfilesClient) {
        let i = self.next % self.nodes.len();
        self.next = self.next.wrapping_add(1);
        &self.nodes[i]
    }
}

/// A move.
#[derive(Debug)]
pub struct Job {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Probability of choosing a bucket file.
    pub fraction: f32,
    /// The destination nodes.
    pub destinations: Vec<SocketAddr>,
    /// No destination took a batch for this long: the move fails.
    pub retry: Duration,
    /// A pause after each acknowledged batch (`[Testing] redistribute_delay_ms`).
    pub batch_delay: Duration,
    /// The choice's random seed.
    pub seed: u64,
    /// The loop.
    pub mailbox: Mailbox<LogfilesEvent>,
    /// Set at shutdown.
    pub stop: Arc<AtomicBool>,
}

/// What a move did.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Totals {
    /// Records acknowledged by a destination.
    pub records: u64,
    /// Their value bytes.
    pub bytes: u64,
    /// Buckets moved.
    pub buckets: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// A seed from the clock and the process id.
pub fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}

/// SplitMix64: uniform floats in [0, 1) for the choice (no cryptographic need).
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Job {
    /// A client of each destination, so that the marker can name the one a batch goes to
    /// before it is sent (refused: a destination listed twice).
    pub fn client(&self) -> Result<Dests, String> {
        let reconnect = self
            .retry
            .clamp(Duration::from_millis(100), Duration::from_secs(1));
        let config = ClientConfig::default()
            .with_connect_timeout(Duration::from_secs(1))
            .with_reconnect_timeout(reconnect)
            .with_reconnect_backoff_max(reconnect);
        let mut nodes = Vec::with_capacity(self.destinations.len());
        for (i, &addr) in self.destinations.iter().enumerate() {
            if self.destinations[..i].contains(&addr) {
                return Err(format!("destination {addr} is listed twice"));
            }
            let client = LogfilesClient::new(&[addr], config.clone()).map_err(|e| e.to_string())?;
            nodes.push((addr, client));
        }
        Ok(Dests { nodes, next: 0 })
    }

    fn stopped(&self) -> Result<(), String> {
        if self.stop.load(Ordering::SeqCst) {
            return Err("the node is shutting down; the rest is put back at the next start".into());
        }
        Ok(())
    }

    /// Posts an event to the loop and waits for its answer.
    fn ask<T>(&self, make: impl FnOnce(mpsc::Sender<T>) -> RedistEvent) -> Result<T, String> {
        let (tx, rx) = mpsc::channel();
        if !self.mailbox.post_node(LogfilesEvent::Redist(make(tx))) {
            return Err("the event loop stopped".into());
        }
        loop {
            self.stopped()?;
            match rx.recv_timeout(POLL) {
                Ok(v) => return Ok(v),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err("the event loop stopped".into())
                }
            }
        }
    }
}

/// Runs the move; the totals, or why it failed (what was not acknowledged is back in place,
/// or put back at the next start when the node stopped).
pub fn run(job: &Job, dests: &mut Dests) -> Result<Totals, String> {
    let started = Instant::now();
    let mut rng = Rng(job.seed);
    let mut totals = Totals::default();
    let mut last_ack = Instant::now();
    let io = |e: std::io::Error| e.to_string();
    for channel in channel_names(&job.data_dir).map_err(io)? {
        let dir = job.data_dir.join(&channel);
        for (_, slot) in listing(&dir, parse_slot_dir).map_err(io)? {
            for (_, bucket) in listing(&slot, parse_bucket_file).map_err(io)? {
                job.stopped()?;
                if f64::from(job.fraction) <= rng.next_f64() {
                    continue;
                }
                let Some(tmp) = take_out(job, &channel, &bucket)? else {
                    continue;
                };
                let mut mover = Mover {
                    job,
                    dests,
                    channel: &channel,
                    tmp: &tmp,
                    acked: 0,
                    last_ack: &mut last_ack,
                };
                match mover.move_bucket() {
                    Ok((records, bytes)) => {
                        totals.records += records;
                        totals.bytes += bytes;
                        totals.buckets += 1;
                    }
                    Err(why) => {
                        job.stopped()?;
                        put_back(job, &channel, &tmp)?;
                        return Err(why);
                    }
                }
            }
        }
    }
    totals.elapsed = started.elapsed();
    Ok(totals)
}

/// Asks the loop to take `bucket` out; `None` when it is gone.
fn take_out(job: &Job, channel: &str, bucket: &Path) -> Result<Option<PathBuf>, String> {
    loop {
        let answer = job.ask(|reply| RedistEvent::Detach {
            channel: channel.to_owned(),
            bucket: bucket.to_path_buf(),
            reply,
        })?;
        match answer {
            Detached::Tmp(tmp) => return Ok(Some(tmp)),
            Detached::Gone => return Ok(None),
            Detached::Failed(why) => return Err(why),
            Detached::Busy => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// Asks the loop to put `tmp` back.
fn put_back(job: &Job, channel: &str, tmp: &Path) -> Result<(), String> {
    loop {
        let done = job.ask(|reply| RedistEvent::PutBack {
            channel: channel.to_owned(),
            tmp: tmp.to_path_buf(),
            reply,
        })??;
        if done {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One bucket's move.
struct Mover<'a> {
    job: &'a Job,
    dests: &'a mut Dests,
    channel: &'a str,
    tmp: &'a Path,
    /// The offset after the last acknowledged record.
    acked: u64,
    last_ack: &'a mut Instant,
}

impl Mover<'_> {
    /// Sends every record of the `.tmp`; the records and bytes acknowledged.
    fn move_bucket(&mut self) -> Result<(u64, u64), String> {
        let io = |e: std::io::Error| e.to_string();
        let mut reader = open_reader(self.tmp).map_err(io)?;
        let mut batch: Vec<(u64, Vec<u8>)> = Vec::new();
        let (mut raw, mut end, mut unsent) = (0, 0, 0u64);
        let (mut records, mut bytes) = (0, 0);
        while let Some(r) = reader.next_record().map_err(|e| e.to_string())? {
            let (key, value) = (r.key, r.value.to_vec());
            let offset = reader.offset();
            if value.is_empty() || value.len() > LOGFILES_MAX_VALUE_LEN {
                unsent += 1;
                continue;
            }
            let size = pair_size(16, value.len());
            if raw + size > DEFAULT_BATCH_SIZE && !batch.is_empty() {
                let (r, b) = self.send(&batch, end)?;
                (records, bytes) = (records + r, bytes + b);
                batch.clear();
                raw = 0;
            }
            // Ours: the record that did not fit starts the next batch.
            batch.push((key, value));
            raw += size;
            end = offset;
        }
        if !batch.is_empty() {
            let (r, b) = self.send(&batch, end)?;
            (records, bytes) = (records + r, bytes + b);
        }
        let complete = matches!(reader.end().map(|e| e.reason), Some(EndReason::Complete));
        if complete && unsent == 0 {
            finish(self.tmp).map_err(io)?;
        } else {
            self.keep_rest(unsent).map_err(io)?;
        }
        Ok((records, bytes))
    }

    /// Sends one batch until a destination takes it, each try recorded in the marker first
    /// (the batch up to `end` in flight to that destination), then records `end` as
    /// acknowledged.
    fn send(&mut self, batch: &[(u64, Vec<u8>)], end: u64) -> Result<(u64, u64), String> {
        let refs: Vec<(u64, &[u8])> = batch.iter().map(|(k, v)| (*k, v.as_slice())).collect();
        let mut backoff = Duration::from_millis(50);
        loop {
            self.job.stopped()?;
            let (dest, client) = self.dests.next();
            putback::write_in_flight(self.tmp, self.acked, end, *dest)
                .map_err(|e| e.to_string())?;
            match client.put_batch(self.channel, &refs) {
                Ok(()) => break,
                Err(e) if self.last_ack.elapsed() >= self.job.retry => {
                    return Err(format!(
                        "no destination took a batch for {} s: {e}",
                        self.job.retry.as_secs_f64()
                    ));
                }
                Err(e) => {
                    log::warn!(
                        "Redistribute: a batch of '{}' not taken by {dest}: {e}; retrying",
                        self.channel
                    );
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        // First the marker (the window where the batch is on both nodes), then the rest.
        putback::write_sent(self.tmp, end).map_err(|e| e.to_string())?;
        self.acked = end;
        *self.last_ack = Instant::now();
        let records = batch.len() as u64;
        let bytes = batch.iter().map(|(_, v)| v.len() as u64).sum();
        let moved = RedistEvent::Moved {
            channel: self.channel.to_owned(),
            records,
            bytes,
        };
        self.job.mailbox.post_node(LogfilesEvent::Redist(moved));
        if !self.job.batch_delay.is_zero() {
            std::thread::sleep(self.job.batch_delay);
        }
        Ok((records, bytes))
    }

    /// A bucket not wholly sent (damage, or values no batch carries): kept beside for the
    /// operator, its markers removed.
    fn keep_rest(&self, unsent: u64) -> std::io::Result<()> {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let bucket = putback::bucket_of_tmp(self.tmp);
        let keep = with_suffix(&bucket, &format!(".unsent-{secs}"));
        std::fs::rename(self.tmp, &keep).map_err(named(&keep, "rename to"))?;
        finish(self.tmp)?;
        log::warn!(
            "Redistribute: {} was not sent whole ({unsent} records too long for a batch, or its \
             records end early); kept as {}",
            bucket.display(),
            keep.display()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Rng;

    #[test]
    fn the_choice_is_uniform_in_zero_to_one() {
        let mut rng = Rng(42);
        let draws: Vec<f64> = (0..10_000).map(|_| rng.next_f64()).collect();
        assert!(draws.iter().all(|x| (0.0..1.0).contains(x)));
        let below = draws.iter().filter(|&&x| 0.5 > x).count();
        assert!(
            (4_700..5_300).contains(&below),
            "{below} of 10000 below 0.5"
        );
        // fraction 1 chooses every bucket.
        assert!(draws.iter().all(|&x| 1.0 > x));
    }
}
