//! The logfiles node's records on disk (spec/logfiles.md section 3): one directory per
//! channel under `data_dir`, one sub-directory per slot of 2^24 keys, one bucket file per 4096
//! keys (names and formats in `swarm_protocol::bucket`).
//!
//! | module | what it owns |
//! |---|---|
//! | `channels` | the channel directories at start and their sizes, counted once |
//! | `recover` | start-up after a crash: buckets cut back to the checkpoint |
//! | `scan` | reading a channel's records in a key range: buckets in key order, records in file order |
//! | `write` | a channel's open bucket writers: at most three, buffered, flushed before reads, synced for checkpoints |
//!
//! [`Storage`] ties them together: the channels, their writers and their sizes, kept current
//! as records are written (counted once at open).
//!
//! [`Storage`] lives on the event loop: a Put only copies its record into a buffer (a full
//! buffer is one `write(2)` into the page cache). Opening a bucket, fsyncs, scans and the
//! removal of a channel's files are blocking and run on worker threads (`crate::disk`);
//! [`Storage::open`] (recovery and the count at start) runs before the node serves.

pub mod channels;
pub mod recover;
pub mod scan;
pub mod write;

use crate::checkpoint::{self, Entry};
use crate::config::SyncMode;
use channels::{channel_names, count_channel, ChannelSize};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use write::{ChannelWriter, OpenedBucket, PutError, SyncItem};

/// An I/O error's message with what was done to which file (`cannot fsync data/ch/...: ...`),
/// made only when the error happens.
pub(crate) fn named<'a>(path: &'a Path, what: &'a str) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |e| io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

/// Suffix of a removed channel's directory while its files are deleted (a name no channel can
/// have); left-overs of a crash are deleted at start.
pub const REMOVING_SUFFIX: &str = ".removing";

/// A channel's writers and size.
#[derive(Debug)]
struct Channel {
    writer: ChannelWriter,
    size: ChannelSize,
    /// The lowest and highest key stored.
    keys: Option<(u64, u64)>,
}

impl Channel {
    fn put(&mut self, key: u64, value: &[u8]) -> Result<(), PutError> {
        self.writer.put(key, value)?;
        self.size.records += 1;
        self.size.bytes += value.len() as u64;
        self.keys = Some(match self.keys {
            Some((lo, hi)) => (lo.min(key), hi.max(key)),
            None => (key, key),
        });
        Ok(())
    }
}

/// One channel's writers, for [`ChannelPut::put`] as [`Storage::put`] without the lookup.
#[derive(Debug)]
pub struct ChannelPut<'a>(&'a mut Channel);

impl ChannelPut<'_> {
    /// [`Storage::put`] into this channel.
    pub fn put(&mut self, key: u64, value: &[u8]) -> Result<(), PutError> {
        self.0.put(key, value)
    }
}

/// What [`Storage::open`] found and did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Whether `checkpoint.dat` was there: the last run did not shut down cleanly.
    pub crashed: bool,
    /// Buckets cut back to the checkpoint (sync mode `checkpoint`).
    pub truncated: usize,
    /// Buckets whose torn last record was cut.
    pub torn_cut: u64,
    /// Buckets whose records end early for another reason (reported, left alone).
    pub damaged: u64,
    /// Everything stored.
    pub total: ChannelSize,
    /// Channels.
    pub channels: usize,
}

/// The channels of a data directory.
#[derive(Debug)]
pub struct Storage {
    data_dir: PathBuf,
    write_buffer: usize,
    channels: BTreeMap<String, Channel>,
    /// Directories whose entries changed since the last fsync of them.
    changed_dirs: Vec<PathBuf>,
    /// Buckets found damaged at start and not cut yet, with their good length.
    damaged: std::collections::HashMap<PathBuf, u64>,
}

impl Storage {
    /// Opens `data_dir` (which must exist). After a crash (`checkpoint.dat` there) buckets are
    /// first cut back to the checkpoint in sync mode `checkpoint` (the original's rule); in
    /// `group` mode every acknowledged record was fsynced and is kept. Then every channel is
    /// counted (records and value bytes, progress in root.log), cutting, after a crash, torn
    /// last records. Writers buffer `write_buffer` bytes per open bucket; the count reads
    /// ahead `read_buffer` bytes.
    pub fn open(
        data_dir: &Path,
        write_buffer: usize,
        read_buffer: usize,
        mode: SyncMode,
    ) -> io::Result<(Storage, OpenReport)> {
        let mut report = OpenReport::default();
        remove_leftovers(data_dir);
        if let Some(entries) = checkpoint::read(data_dir)? {
            report.crashed = true;
            log::warn!(
                "{} found: the last run did not shut down cleanly; recovering",
                checkpoint::checkpoint_path(data_dir).display()
            );
            if mode == SyncMode::Checkpoint {
                let r = recover::truncate_to_checkpoint(data_dir, &entries)?;
                report.truncated = r.truncated;
            }
        }
        // Buckets a Redistribute took out and did not finish: back before they are counted.
        let put_back = crate::redistribute::putback::put_back_all(data_dir)?;
        let mut channels = BTreeMap::new();
        let mut damaged = std::collections::HashMap::new();
        for name in channel_names(data_dir)? {
            let dir = data_dir.join(&name);
            let counted = count_channel(&dir, read_buffer, report.crashed)?;
            log::info!(
                "Channel '{name}': {} records, {} bytes",
                counted.size.records,
                counted.size.bytes
            );
            report.torn_cut += counted.cut;
            report.damaged += counted.damaged - counted.cut;
            report.total.records += counted.size.records;
            report.total.bytes += counted.size.bytes;
            damaged.extend(counted.left_damaged);
            let writer = ChannelWriter::new(write_buffer);
            channels.insert(
                name,
                Channel {
                    writer,
                    size: counted.size,
                    keys: counted.keys,
                },
            );
        }
        report.channels = channels.len();
        let storage = Storage {
            data_dir: data_dir.to_path_buf(),
            write_buffer,
            channels,
            changed_dirs: Vec::new(),
            damaged,
        };
        // The run's marker: a crash from now on, even before the first checkpoint, is found
        // at the next start (an empty checkpoint cuts nothing).
        checkpoint::write(data_dir, &[])?;
        // No checkpoint can cut what the put-backs appended any more.
        for tmp in put_back {
            crate::redistribute::putback::finish(&tmp)?;
        }
        Ok((storage, report))
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A channel's directory.
    pub fn channel_dir(&self, channel: &str) -> PathBuf {
        self.data_dir.join(channel)
    }

    fn channel_mut(&mut self, channel: &str) -> &mut Channel {
        if !self.channels.contains_key(channel) {
            self.channels.insert(
                channel.to_owned(),
                Channel {
                    writer: ChannelWriter::new(self.write_buffer),
                    size: ChannelSize::default(),
                    keys: None,
                },
            );
        }
        // Just inserted if it was missing.
        self.channels
            .get_mut(channel)
            .unwrap_or_else(|| unreachable!("channel {channel} inserted above"))
    }

    /// Appends a record (the channel name and the value were checked by the request) if its
    /// bucket is open; [`PutError::NotOpen`] asks for it to be opened on a worker
    /// ([`write::open_bucket`]) and [`Storage::install`]ed.
    pub fn put(&mut self, channel: &str, key: u64, value: &[u8]) -> Result<(), PutError> {
        if let Some(ch) = self.channels.get_mut(channel) {
            return ch.put(key, value);
        }
        self.channel_mut(channel).put(key, value)
    }

    /// `channel`'s writers, looked up once for many records (a PutBatch).
    pub fn channel_put(&mut self, channel: &str) -> ChannelPut<'_> {
        ChannelPut(self.channel_mut(channel))
    }

    /// Installs a bucket opened on a worker for `channel` (creating the channel in memory if
    /// it was removed meanwhile: its directory was made again by the open).
    pub fn install(&mut self, channel: &str, bucket: OpenedBucket) -> io::Result<()> {
        self.changed_dirs
            .extend(bucket.changed_dirs.iter().cloned());
        self.channel_mut(channel).writer.install(bucket)
    }

    /// Takes `channel`'s bucket starting at `first_key` out of the writers
    /// ([`ChannelWriter::detach`]) before a Redistribute renames it (or puts it back).
    pub fn detach(&mut self, channel: &str, first_key: u64) -> io::Result<()> {
        let path = write::bucket_file(&self.channel_dir(channel), first_key);
        self.damaged.remove(&path);
        match self.channels.get_mut(channel) {
            Some(ch) => ch.writer.detach(first_key, &path),
            None => Ok(()),
        }
    }

    /// Records a Redistribute moved to another node leave `channel`'s size.
    pub fn subtract(&mut self, channel: &str, records: u64, bytes: u64) {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.size.records = ch.size.records.saturating_sub(records);
            ch.size.bytes = ch.size.bytes.saturating_sub(bytes);
        }
    }

    /// If the bucket at `path` was found damaged at start: the length of its good records,
    /// which it is cut to before anything is appended (once).
    pub fn take_damaged(&mut self, path: &Path) -> Option<u64> {
        if self.damaged.is_empty() {
            return None;
        }
        self.damaged.remove(path)
    }

    /// Hands `channel`'s buffered records to the OS, so a scan starting now sees them.
    pub fn flush_channel(&mut self, channel: &str) -> io::Result<()> {
        match self.channels.get_mut(channel) {
            Some(ch) => ch.writer.flush(),
            None => Ok(()),
        }
    }

    /// Hands every channel's buffered records to the OS (the `write_flush_ms` timer): a crash
    /// of the process (not of the machine) then loses at most that period of writes that a
    /// checkpoint does not cut anyway.
    pub fn flush_all(&mut self) -> io::Result<()> {
        for ch in self.channels.values_mut() {
            ch.writer.flush()?;
        }
        Ok(())
    }

    /// Removes a channel from the node: its writers are dropped and its directory renamed out
    /// of the way (one `rename(2)`); the renamed directory is returned for a worker to delete.
    /// `None` when there was no such channel (or no directory).
    pub fn remove_channel(&mut self, channel: &str) -> io::Result<Option<PathBuf>> {
        let removed = self.channels.remove(channel);
        let dir = self.channel_dir(channel);
        let gone = self.data_dir.join(format!(
            "{channel}{REMOVING_SUFFIX}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        match fs::rename(&dir, &gone) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot remove {}: {e}", dir.display()),
                ))
            }
        }
        self.changed_dirs.push(self.data_dir.clone());
        if let Some(ch) = removed {
            log::info!(
                "Removing channel '{channel}' ({} records, {} bytes)",
                ch.size.records,
                ch.size.bytes
            );
        }
        Ok(Some(gone))
    }

    /// The channel names, sorted.
    pub fn channel_names(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// A channel's size (zeros for a missing one).
    pub fn size(&self, channel: &str) -> ChannelSize {
        self.channels
            .get(channel)
            .map(|c| c.size)
            .unwrap_or_default()
    }

    /// Every channel's size together.
    pub fn total(&self) -> ChannelSize {
        self.channels
            .values()
            .fold(ChannelSize::default(), |a, c| ChannelSize {
                records: a.records + c.size.records,
                bytes: a.bytes + c.size.bytes,
            })
    }

    /// The lowest and highest key stored in any channel.
    pub fn key_range(&self) -> Option<(u64, u64)> {
        self.channels
            .values()
            .filter_map(|c| c.keys)
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
    }

    /// Buckets open for writing, over all channels.
    pub fn open_buckets(&self) -> usize {
        self.channels
            .values()
            .map(|c| c.writer.open_buckets())
            .sum()
    }

    /// Flushes every buffer and returns what an fsync must cover now: the files with bytes
    /// not yet covered, and the directories whose entries changed.
    pub fn take_unsynced(&mut self) -> io::Result<(Vec<SyncItem>, Vec<PathBuf>)> {
        let mut items = Vec::new();
        for ch in self.channels.values_mut() {
            items.extend(ch.writer.take_unsynced()?);
        }
        let mut dirs = std::mem::take(&mut self.changed_dirs);
        dirs.sort();
        dirs.dedup();
        Ok((items, dirs))
    }

    /// The next `checkpoint.dat`'s entries (call right after [`Storage::take_unsynced`], whose
    /// fsyncs make these lengths durable).
    pub fn take_checkpoint(&mut self) -> Vec<Entry> {
        let mut entries = Vec::new();
        for (name, ch) in &mut self.channels {
            for (bucket_start, offset) in ch.writer.take_checkpoint() {
                entries.push(Entry {
                    channel: name.clone(),
                    bucket_start,
                    offset,
                });
            }
        }
        entries
    }

    /// Flushes and closes every bucket (shutdown).
    pub fn close(&mut self) -> io::Result<()> {
        for ch in self.channels.values_mut() {
            ch.writer.close_all()?;
        }
        Ok(())
    }
}

/// Deletes the directories of channels whose removal a crash interrupted.
fn remove_leftovers(data_dir: &Path) {
    let Ok(entries) = fs::read_dir(data_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_string_lossy().contains(REMOVING_SUFFIX) {
            let path = entry.path();
            match fs::remove_dir_all(&path) {
                Ok(()) => log::info!(
                    "Deleted {}, a removed channel whose files a crash left",
                    path.display()
                ),
                Err(e) => log::warn!("cannot delete {}: {e}", path.display()),
            }
        }
    }
}

#[cfg(test)]
mod tests;
