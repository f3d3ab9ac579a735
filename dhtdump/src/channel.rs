//! One channel's dump: GetAll streamed record by record (one compressed batch in memory at a
//! time) into the node's own [`DumpFile`], committed with the node's rotation (temp file, fsync,
//! old `.tcm` to `.tcm.backup`, rename, fsync dir). On any error, or a stop, the temp file is
//! deleted and the channel's files are left as they were.
//!
//! [`ActiveTemp`] records the temp file being written, so that if the dumping thread is stuck in
//! a network call when the process must exit, the exiting thread can delete it.

use crate::stats::{record_bytes, ChannelTotals, DumpStats};
use crate::stop::Stop;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use swarm_client::{ClientError, DhtClient};
use swarm_dht::dump::file::{DumpError, DumpFile, Written};
use swarm_dht::dump::retire_generation;

/// Why a channel was not dumped.
#[derive(Debug)]
pub enum ChannelError {
    /// The node failed the GetAll (unreachable, reset, bad bytes, an error status).
    Node(ClientError),
    /// Creating or writing the temp file failed.
    File(io::Error),
    /// Finishing, syncing or renaming the file failed.
    Commit(DumpError),
    /// A stop was asked for during the dump.
    Stopped,
    /// The node no longer lists the channel after its GetAll: it was removed meanwhile (the
    /// node ends a removed channel's GetAll early but normally), so the file is not written.
    Removed,
}

impl fmt::Display for ChannelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelError::Node(e) => write!(f, "GetAll failed: {e}"),
            ChannelError::File(e) => write!(f, "writing the dump file failed: {e}"),
            ChannelError::Commit(e) => write!(f, "committing the dump file failed: {e}"),
            ChannelError::Stopped => f.write_str("stopped"),
            ChannelError::Removed => f.write_str("the channel was removed during its dump"),
        }
    }
}

impl std::error::Error for ChannelError {}

/// What a committed channel dump held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelDump {
    /// Records and bytes (stats measure) written.
    pub totals: ChannelTotals,
    /// What the file came to (with end marker and padding).
    pub file: Written,
    /// Records received with an empty value, not written.
    pub skipped_empty: u64,
    /// Time the channel took.
    pub took: Duration,
}

/// The temp file of the channel dump in progress, if any.
#[derive(Debug, Default)]
pub struct ActiveTemp(Mutex<Option<PathBuf>>);

impl ActiveTemp {
    fn lock(&self) -> MutexGuard<'_, Option<PathBuf>> {
        // Holds a plain path; valid after any panic.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Deletes the temp file of the dump in progress, for a process about to exit without the
    /// dumping thread. While the returned guard lives no dump file is created or committed, so
    /// hold it until the process exits.
    pub fn abandon(&self) -> MutexGuard<'_, Option<PathBuf>> {
        let mut guard = self.lock();
        if let Some(path) = guard.take() {
            match fs::remove_file(&path) {
                Ok(()) => log::warn!("Removed partial dump file {}", path.display()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => log::error!("Cannot remove partial dump file {}: {e}", path.display()),
            }
        }
        guard
    }
}

/// A [`DumpFile`] registered in an [`ActiveTemp`] for its whole life.
struct Tracked<'a> {
    file: Option<DumpFile>,
    active: &'a ActiveTemp,
}

impl<'a> Tracked<'a> {
    fn create(active: &'a ActiveTemp, data_dir: &Path, channel: &str) -> io::Result<Self> {
        let mut guard = active.lock();
        let file = DumpFile::create(data_dir, channel.as_bytes(), retire_generation())?;
        *guard = Some(file.temp_path().to_path_buf());
        Ok(Tracked {
            file: Some(file),
            active,
        })
    }

    fn write_record(&mut self, key: u64, value: &[u8]) -> io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.write_record(key, value),
            None => Err(io::Error::other("dump file already committed")),
        }
    }

    fn commit(mut self) -> Result<Written, DumpError> {
        let mut guard = self.active.lock();
        let result = match self.file.take() {
            Some(f) => f.commit(),
            None => Err(DumpError::Io(io::Error::other(
                "dump file already committed",
            ))),
        };
        *guard = None;
        drop(guard); // before `self` drops: its Drop takes the lock again
        result
    }
}

impl Drop for Tracked<'_> {
    fn drop(&mut self) {
        // Delete the temp file (DumpFile's drop) before the path leaves the registry, so an
        // exiting thread never misses a temp file that still exists.
        let mut guard = self.active.lock();
        drop(self.file.take());
        *guard = None;
    }
}

/// What a channel dump needs.
#[derive(Debug, Clone, Copy)]
pub struct Dumper<'a> {
    /// The node.
    pub client: &'a DhtClient,
    /// Where the files go.
    pub data_dir: &'a Path,
    /// Counters of stats.log.
    pub stats: &'a DumpStats,
    /// The temp file registry.
    pub active: &'a ActiveTemp,
    /// Checked between records.
    pub stop: &'a Stop,
}

impl Dumper<'_> {
    /// Dumps `channel` to `<data_dir>/<channel>.tcm`. Records with an empty value are not
    /// written (the client only yields valid 16-digit keys, so an empty key fails the stream).
    /// The file is committed only if the node still lists the channel after the GetAll.
    pub fn dump_channel(&self, channel: &str) -> Result<ChannelDump, ChannelError> {
        let started = Instant::now();
        // GetAll first: a node that refuses it leaves no temp file behind at all.
        // Whole batches, records borrowed from them: no allocation per record.
        let batches = self
            .client
            .get_all_batches(channel)
            .map_err(ChannelError::Node)?;
        let mut file =
            Tracked::create(self.active, self.data_dir, channel).map_err(ChannelError::File)?;
        let mut totals = ChannelTotals::default();
        let mut skipped_empty = 0;
        for batch in batches {
            let batch = batch.map_err(ChannelError::Node)?;
            for record in batch.pairs() {
                if self.stop.is_set() {
                    return Err(ChannelError::Stopped);
                }
                let (key, value) = record.map_err(ChannelError::Node)?;
                if value.is_empty() {
                    skipped_empty += 1;
                    continue;
                }
                file.write_record(key, value).map_err(ChannelError::File)?;
                self.stats.record_written(value.len());
                totals.records += 1;
                totals.bytes += record_bytes(value.len());
            }
        }
        if self.stop.is_set() {
            return Err(ChannelError::Stopped);
        }
        // A RemoveChannel during the GetAll ends the stream as if complete; committing it would
        // bring back a removed channel, part of it, at the node's next start.
        let listed = self.client.get_channels().map_err(ChannelError::Node)?;
        if !listed.iter().any(|c| c == channel) {
            return Err(ChannelError::Removed);
        }
        let written = file.commit().map_err(ChannelError::Commit)?;
        Ok(ChannelDump {
            totals,
            file: written,
            skipped_empty,
            took: started.elapsed(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_tracked_file_is_registered_until_committed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let active = ActiveTemp::default();
        let mut t = Tracked::create(&active, dir.path(), "ch").unwrap();
        let temp = active.lock().clone().unwrap();
        assert!(temp.exists());
        t.write_record(1, b"v").unwrap();
        drop(t);
        assert!(!temp.exists());
        assert!(active.lock().is_none());

        let mut t = Tracked::create(&active, dir.path(), "ch").unwrap();
        t.write_record(1, b"v").unwrap();
        let w = t.commit().unwrap();
        assert_eq!(w.records, 1);
        assert!(active.lock().is_none());
        assert_eq!(names(dir.path()), ["ch.tcm"]);
    }

    #[test]
    fn abandon_deletes_the_temp_file_and_blocks_new_ones() {
        let dir = tempfile::tempdir().unwrap();
        let active = ActiveTemp::default();
        let t = Tracked::create(&active, dir.path(), "ch").unwrap();
        let temp = active.lock().clone().unwrap();
        // Forget the tracked file as a thread stuck forever would: only abandon() cleans up.
        std::mem::forget(t);
        let guard = active.abandon();
        assert!(!temp.exists());
        assert!(guard.is_none());
        assert!(active.0.try_lock().is_err(), "the registry stays locked");
        drop(guard);
        assert_eq!(names(dir.path()), Vec::<String>::new());
    }
}
