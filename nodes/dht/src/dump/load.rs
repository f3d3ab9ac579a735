//! Loading one channel's `.tcm` into storage with the original's per-record rules
//! (`DumpManager.loadRecord`): keys of 8 binary bytes or 16 hex digits, empty and too-large
//! values skipped, out-of-range keys per `allow_out_of_range`, the "all out of range" guard,
//! then a summary per kind of bad record. Records go through the normal storage put (no Listen
//! is registered at start, so nobody is notified). Records are read a small batch ahead of
//! their puts, so that the index misses of a batch overlap (`batch`). The directory scan that
//! decides which file to load is in `scan`.

mod batch;
mod estimate;
mod progress;
pub mod scan;

use crate::config::OutOfRange;
use crate::storage::{Prefaulter, Storage, WriteError};
use batch::{Batch, Stop};
use estimate::Estimate;
use progress::Progress;
use std::fmt;
use std::fs::File;
use std::path::Path;
use swarm_protocol::tcm::{TcmError, TcmReader};
use swarm_protocol::{format_key, HashRange};

/// The configuration the load rules use.
#[derive(Debug, Clone, Copy)]
pub struct LoadRules {
    /// The node's hash range.
    pub range: HashRange,
    /// Values longer than this are skipped (`[Options_Memory] batch_size`).
    pub batch_size: usize,
    /// `[Options_Memory] allow_out_of_range`.
    pub out_of_range: OutOfRange,
    /// `[Options_Memory] abort_after_all_out_of_range` (0 disables the guard).
    pub abort_after_all_out_of_range: u64,
}

/// Why loading a file stopped.
#[derive(Debug)]
pub enum LoadError {
    /// The file cannot be read (torn, other version, corrupt, I/O): try the backup.
    File(TcmError),
    /// The node must not start (`allow_out_of_range = fatal`, or every record out of range).
    Fatal(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::File(e) => e.fmt(f),
            LoadError::Fatal(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LoadError {}

/// What loading one file found.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Records read from the file.
    pub read: u64,
    /// Records stored.
    pub loaded: u64,
    /// Keys neither 8 bytes nor 16 hex digits.
    pub invalid_keys: u64,
    /// Empty values.
    pub empty_values: u64,
    /// Values longer than `batch_size`.
    pub too_large_values: u64,
    /// Keys outside the node's range (loaded or not, per `allow_out_of_range`).
    pub out_of_range: u64,
    /// Records refused by `size_limit`.
    pub over_size_limit: u64,
}

impl Counts {
    /// The per-kind summary lines, in the original's order and wording.
    fn report(&self, channel: &str) {
        let kinds = [
            (self.out_of_range, "out-of-range keys"),
            (self.invalid_keys, "invalid keys"),
            (self.too_large_values, "too large values"),
            (self.empty_values, "empty values"),
            (self.over_size_limit, "records over size_limit"),
        ];
        for (n, kind) in kinds {
            if n > 0 {
                let pct = n as f64 * 100.0 / self.read as f64;
                log::warn!("Found {n} {kind} ({pct:.2}%) in channel '{channel}'");
            }
        }
    }
}

/// Loads `path` into channel `channel` (created first, so a file without records still makes
/// the channel exist). On [`LoadError::File`] the records read so far stay in storage: the
/// caller removes the channel before trying another file.
pub fn load_channel(
    path: &Path,
    channel: &[u8],
    rules: &LoadRules,
    storage: &mut Storage,
) -> Result<Counts, LoadError> {
    let name = String::from_utf8_lossy(channel).into_owned();
    log::info!("Loading channel '{name}' from {}", path.display());
    let started = std::time::Instant::now();
    let file = File::open(path).map_err(|e| LoadError::File(TcmError::Io(e)))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut reader = TcmReader::new(file).map_err(LoadError::File)?;
    storage.channel_or_create(channel);
    let mut counts = Counts::default();
    let mut progress = Progress::new(&name, len);
    let mut estimate = Estimate::new(len);
    // The values take about the file's bytes: have their pages faulted in on the other core
    // (large files only; a small load is over before a thread would help).
    let _prefault = (len >= 64 << 20).then(|| Prefaulter::start(len)).flatten();
    let mut batch = Batch::default();
    loop {
        let stop = batch.fill(&mut reader);
        batch.prefetch(storage, channel);
        for rec in batch.records() {
            counts.read += 1;
            let key = Key {
                parsed: rec.key,
                raw: rec.raw_key,
            };
            load_record(key, rec.value, channel, &name, rules, storage, &mut counts)?;
            if rules.abort_after_all_out_of_range > 0
                && counts.out_of_range == counts.read
                && counts.out_of_range > rules.abort_after_all_out_of_range
            {
                return Err(LoadError::Fatal(format!(
                    "All records appear to be out-of-range. Aborting. (channel '{name}', {} records read)",
                    counts.read
                )));
            }
            if counts.read % 1024 == 0 {
                progress.update(rec.offset);
                if let Some(total) = estimate.after(counts.read, rec.offset) {
                    storage.reserve(channel, total);
                }
            }
        }
        match stop {
            Stop::Full => {}
            Stop::End => break,
            Stop::Failed(e) => return Err(LoadError::File(e)),
        }
    }
    progress.finish();
    storage.shrink_index(channel);
    counts.report(&name);
    log::info!(
        "Finished loading channel '{name}': {} records (read {} bytes of {} in {:.1} s)",
        counts.loaded,
        reader.bytes_read(),
        len,
        started.elapsed().as_secs_f64()
    );
    Ok(counts)
}

/// A record's key: as [`swarm_protocol::tcm::parse_dump_key`] read it (`None`: invalid) and its raw bytes.
#[derive(Debug, Clone, Copy)]
struct Key<'a> {
    parsed: Option<u64>,
    raw: &'a [u8],
}

/// One record through the rules, in the original's order: key, empty, size, range.
fn load_record(
    raw_key: Key<'_>,
    value: &[u8],
    channel_bytes: &[u8],
    channel: &str,
    rules: &LoadRules,
    storage: &mut Storage,
    counts: &mut Counts,
) -> Result<(), LoadError> {
    let Some(key) = raw_key.parsed else {
        log::error!(
            "Encountered invalid non-hexadecimal key in channel '{channel}': {:?} -- ignored",
            String::from_utf8_lossy(raw_key.raw)
        );
        counts.invalid_keys += 1;
        return Ok(());
    };
    if value.is_empty() {
        log::warn!(
            "Encountered empty record in channel '{channel}': {} -- discarded",
            hex(key)
        );
        counts.empty_values += 1;
        return Ok(());
    }
    if value.len() > rules.batch_size {
        log::warn!(
            "Encountered large record ({} bytes) in channel '{channel}': {} -- ignored",
            value.len(),
            hex(key)
        );
        counts.too_large_values += 1;
        return Ok(());
    }
    if !rules.range.contains(key) {
        counts.out_of_range += 1;
        match rules.out_of_range {
            OutOfRange::Load => {
                log::trace!(
                    "Encountered out-of-range key in channel '{channel}': {} -- loaded",
                    hex(key)
                )
            }
            OutOfRange::Ignore => {
                log::warn!(
                    "Encountered out-of-range key in channel '{channel}': {} -- ignored",
                    hex(key)
                );
                return Ok(());
            }
            OutOfRange::Fatal => {
                return Err(LoadError::Fatal(format!(
                    "Encountered out-of-range key in channel '{channel}': {} -- rejected \
                     (allow_out_of_range = fatal)",
                    hex(key)
                )))
            }
        }
    }
    match storage.put(channel_bytes, key, value) {
        Ok(_) => counts.loaded += 1,
        Err(WriteError::SizeLimit) => counts.over_size_limit += 1,
    }
    Ok(())
}

/// A key as the wire and the dump files write it, for log lines.
fn hex(key: u64) -> String {
    String::from_utf8_lossy(&format_key(key)).into_owned()
}

#[cfg(test)]
mod tests;
