//! One channel's dump being written: the temp file `<ch>.tcm.XXXXXX.dumping` (created with
//! `O_EXCL` by `tempfile`), written through a [`TcmWriter`] over a `BlockWriter` (large
//! aligned buffers written by a thread of their own, with `O_DIRECT` where the filesystem
//! allows it: `direct.rs`), and on commit fsynced and rotated into place. Dropping an
//! uncommitted [`DumpFile`] (an error, an abort, a removed channel) deletes the temp file: a
//! partial dump is never renamed.
//!
//! Shared by the shutdown dump, the periodic dump's writer thread and (through the library)
//! dhtdump, so every `.tcm` in a data directory comes from the same code.

pub use super::direct::set_direct_io;
use super::direct::BlockWriter;
use super::{
    backup_path, dump_path, retire_generation, retire_lock, retired_since, sync_dir, DUMPING_SUFFIX,
};
use crate::storage::Storage;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use swarm_protocol::tcm::TcmWriter;
use tempfile::TempPath;

/// Write buffer of a dump file: large sequential writes (the original had one of 32 MiB).
pub const WRITE_BUFFER: usize = super::direct::BUFFER_BYTES;

/// What a committed dump wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Records in the file.
    pub records: u64,
    /// Length of the file (with end marker and padding).
    pub bytes: u64,
}

/// Why a dump was not committed.
#[derive(Debug)]
pub enum DumpError {
    /// Writing, syncing or renaming failed; the old files are untouched.
    Io(io::Error),
    /// RemoveChannel retired the channel while it was being dumped; the dump was discarded.
    ChannelRemoved,
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Io(e) => e.fmt(f),
            DumpError::ChannelRemoved => f.write_str("the channel was removed during the dump"),
        }
    }
}

impl std::error::Error for DumpError {}

impl From<io::Error> for DumpError {
    fn from(e: io::Error) -> Self {
        DumpError::Io(e)
    }
}

/// A dump file being written.
#[derive(Debug)]
pub struct DumpFile {
    data_dir: PathBuf,
    channel: Box<[u8]>,
    since: u64,
    writer: TcmWriter<BlockWriter>,
    temp: TempPath,
}

impl DumpFile {
    /// Creates `<data_dir>/<channel>.tcm.XXXXXX.dumping` and writes the format version.
    /// `since` is [`super::retire_generation`] read when the channel was found to exist: a
    /// RemoveChannel after that makes [`DumpFile::commit`] discard the file.
    pub fn create(data_dir: &Path, channel: &[u8], since: u64) -> io::Result<DumpFile> {
        let prefix = format!("{}.tcm.", String::from_utf8_lossy(channel));
        let named = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(DUMPING_SUFFIX)
            .rand_bytes(6)
            .tempfile_in(data_dir)
            .map_err(naming("create a dump file in", data_dir))?;
        let (file, temp) = named.into_parts();
        let writer = TcmWriter::new(BlockWriter::new(file)).map_err(naming("write", &temp))?;
        Ok(DumpFile {
            data_dir: data_dir.to_path_buf(),
            channel: channel.into(),
            since,
            writer,
            temp,
        })
    }

    /// The temp file's path.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// Appends one record.
    pub fn write_record(&mut self, key: u64, value: &[u8]) -> io::Result<()> {
        let temp = &self.temp;
        self.writer
            .write_record(key, value)
            .map_err(naming("write", temp))
    }

    /// Appends `records` records serialized by `swarm_protocol::tcm::encode_record`.
    pub fn write_encoded(&mut self, bytes: &[u8], records: u64) -> io::Result<()> {
        let temp = &self.temp;
        self.writer
            .write_encoded(bytes, records)
            .map_err(naming("write", temp))
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.writer.records()
    }

    /// Finishes the file (end marker, padding), fsyncs it, and rotates it into place:
    ///
    /// 1. the current `<ch>.tcm` (if any) is hard-linked as `<ch>.tcm.backup.<pid>-<n>.new` and that is
    ///    renamed over `<ch>.tcm.backup` (the old backup goes);
    /// 2. the temp file is renamed over `<ch>.tcm`;
    /// 3. the directory is fsynced.
    ///
    /// The end state is the one of "rename `.tcm` to `.backup`, rename the temp file to `.tcm`",
    /// but a crash at any moment leaves a complete `<ch>.tcm` (old or new) in place, never a
    /// gap with only the backup. On filesystems without hard links step 1 falls back to that
    /// rename. Steps 1 and 2 run under the retire lock, so a RemoveChannel either happens
    /// before (the dump is discarded: [`DumpError::ChannelRemoved`]) or after (it moves the new
    /// files to `deleted/`).
    pub fn commit(self) -> Result<Written, DumpError> {
        let records = self.writer.records();
        let temp = &self.temp;
        let (sink, bytes) = self.writer.finish().map_err(naming("write", temp))?;
        let file = sink.into_inner().map_err(naming("write", temp))?;
        file.sync_all().map_err(naming("fsync", temp))?;
        drop(file);
        let tcm = dump_path(&self.data_dir, &self.channel);
        let guard = retire_lock();
        if retired_since(&guard, &tcm, self.since) {
            return Err(DumpError::ChannelRemoved); // dropping `temp` deletes the file
        }
        let backup = backup_path(&self.data_dir, &self.channel);
        rotate_backup(&tcm, &backup).map_err(naming("keep the old dump as", &backup))?;
        self.temp
            .persist(&tcm)
            .map_err(|e| naming("rename the dump file to", &tcm)(e.error))?;
        drop(guard);
        sync_dir(&self.data_dir).map_err(naming("fsync the directory", &self.data_dir))?;
        Ok(Written { records, bytes })
    }
}

/// `e` with "cannot `what` `path`" in front, keeping its kind: a dump's error in root.log
/// names the file it was writing.
fn naming<'a>(what: &'a str, path: &'a Path) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |e| io::Error::new(e.kind(), format!("cannot {what} {}: {e}", path.display()))
}

/// Makes the current `tcm` (if any) the backup, leaving `tcm` in place.
fn rotate_backup(tcm: &Path, backup: &Path) -> io::Result<()> {
    if !tcm.exists() {
        return Ok(());
    }
    // Unique per process and call: the node and a dhtdump on the same directory may rotate the
    // same channel at the same moment, and must not trip over each other's staging link.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut staging = backup.as_os_str().to_owned();
    staging.push(format!(".{}-{n}.new", std::process::id()));
    let staging = PathBuf::from(staging);
    match fs::remove_file(&staging) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    match fs::hard_link(tcm, &staging) {
        Ok(()) => fs::rename(&staging, backup),
        Err(e) => {
            log::debug!(
                "cannot hard-link {} ({e}); renaming it to the backup",
                tcm.display()
            );
            fs::rename(tcm, backup)
        }
    }
}

/// Dumps every channel of `storage` (at shutdown, when nothing else runs), logging each; empty
/// channels get a file too, so a channel emptied by Removes stays empty after a restart
/// instead of coming back from its older dump. Returns how many channels failed.
pub fn dump_all(data_dir: &Path, storage: &Storage) -> usize {
    dump_all_counted(data_dir, storage).failed
}

/// What [`dump_all_counted`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DumpSummary {
    /// Channels dumped.
    pub channels: usize,
    /// Channels that could not be dumped (root.log says why).
    pub failed: usize,
    /// Records and file bytes written.
    pub records: u64,
    pub bytes: u64,
    /// Seconds it took.
    pub secs: f64,
}

/// [`dump_all`], with the totals (for the node's last words on the console).
pub fn dump_all_counted(data_dir: &Path, storage: &Storage) -> DumpSummary {
    let started = std::time::Instant::now();
    let names = storage.channel_names();
    log::info!(
        "Closing memory channels: dumping {} channels to {}",
        names.len(),
        data_dir.display()
    );
    let mut summary = DumpSummary::default();
    let mut failed = 0;
    for name in names {
        let Some(entry) = storage.channel(name) else {
            continue;
        };
        let shown = String::from_utf8_lossy(name);
        log::info!("Dumping channel '{shown}' to disk");
        let result = DumpFile::create(data_dir, name, retire_generation())
            .map_err(DumpError::Io)
            .and_then(|mut f| {
                for (key, value) in entry.data.iter() {
                    f.write_record(key, value)?;
                }
                f.commit()
            });
        match result {
            Ok(w) => {
                log::info!(
                    "Finished dumping channel '{shown}': {} records, {} bytes written",
                    w.records,
                    w.bytes
                );
                summary.channels += 1;
                summary.records += w.records;
                summary.bytes += w.bytes;
            }
            Err(e) => {
                log::error!("Dumping channel '{shown}' failed: {e}");
                failed += 1;
            }
        }
    }
    summary.failed = failed;
    summary.secs = started.elapsed().as_secs_f64();
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::retire_dump_file;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn dump(dir: &Path, ch: &[u8], value: &[u8]) -> Result<Written, DumpError> {
        let mut f = DumpFile::create(dir, ch, retire_generation()).unwrap();
        f.write_record(1, value).unwrap();
        f.commit()
    }

    #[test]
    fn second_dump_rotates_the_first_into_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let w = dump(dir.path(), b"ch", b"one").unwrap();
        assert_eq!(
            w,
            Written {
                records: 1,
                bytes: 512
            }
        );
        assert_eq!(names(dir.path()), ["ch.tcm"]);
        let first = fs::read(dir.path().join("ch.tcm")).unwrap();
        dump(dir.path(), b"ch", b"two").unwrap();
        assert_eq!(names(dir.path()), ["ch.tcm", "ch.tcm.backup"]);
        assert_eq!(fs::read(dir.path().join("ch.tcm.backup")).unwrap(), first);
        dump(dir.path(), b"ch", b"three").unwrap();
        assert_ne!(fs::read(dir.path().join("ch.tcm.backup")).unwrap(), first);
    }

    #[test]
    fn dropped_dump_leaves_no_temp_file_and_old_files_intact() {
        let dir = tempfile::tempdir().unwrap();
        dump(dir.path(), b"ch", b"one").unwrap();
        let mut f = DumpFile::create(dir.path(), b"ch", retire_generation()).unwrap();
        let temp = f.temp_path().to_path_buf();
        assert!(temp.to_string_lossy().ends_with(".dumping"), "{temp:?}");
        assert!(temp.to_string_lossy().contains("ch.tcm."), "{temp:?}");
        f.write_record(2, b"partial").unwrap();
        drop(f);
        assert_eq!(names(dir.path()), ["ch.tcm"]);
    }

    #[test]
    fn a_channel_retired_during_its_dump_is_not_recreated() {
        let dir = tempfile::tempdir().unwrap();
        dump(dir.path(), b"ch", b"one").unwrap();
        let mut f = DumpFile::create(dir.path(), b"ch", retire_generation()).unwrap();
        f.write_record(2, b"two").unwrap();
        retire_dump_file(dir.path(), b"ch").unwrap();
        assert!(matches!(f.commit(), Err(DumpError::ChannelRemoved)));
        assert_eq!(names(dir.path()), ["deleted"]);
        assert_eq!(names(&dir.path().join("deleted")), ["ch.tcm"]);
        // A channel of the same name created after the removal dumps normally.
        dump(dir.path(), b"ch", b"new").unwrap();
        assert_eq!(names(dir.path()), ["ch.tcm", "deleted"]);
    }
}
