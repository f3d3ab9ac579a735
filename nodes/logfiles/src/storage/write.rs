//! A channel's open bucket writers (spec/logfiles.md section 3.5): at most
//! [`MAX_OPEN_WRITERS`] buckets open per channel, least recently used evicted (its buffer
//! flushed, the file closed), each with a write buffer of `[Options_Dls] write_buffer_size`
//! bytes. A record goes to the end of its key's bucket, in the file's own format: a new (or
//! empty) file gets the v1 header, a legacy file stays legacy.
//!
//! The writers live on the event loop, which only copies records into buffers and hands full
//! buffers to the OS (`write(2)` into the page cache). What can block on the disk runs on worker
//! threads: opening a bucket ([`open_bucket`]: directories made, the header read) and every
//! fsync ([`SyncItem`]s, done by `crate::disk`). A record for a bucket that is not open is
//! refused with [`PutError::NotOpen`]; the caller opens it on a worker, [`ChannelWriter::install`]s
//! it and puts again.
//!
//! Buffers reach the OS when full, when the bucket is evicted, and on [`ChannelWriter::flush`]
//! (before any read of the channel, so readers see every acknowledged record). Two ledgers
//! follow what was written: what still needs an fsync ([`ChannelWriter::take_unsynced`]), and
//! what the next `checkpoint.dat` lists ([`ChannelWriter::take_checkpoint`]: every bucket
//! written since the last checkpoint with its length; a closed bucket is listed in one more
//! checkpoint and then dropped, as the original did).

use super::named;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use swarm_protocol::bucket::path::{
    bucket_file_name, bucket_first_key, bucket_of, slot_dir_name, slot_of,
};
use swarm_protocol::bucket::{encode_header, encode_record, record_len};
use swarm_protocol::bucket::{BucketError, BucketFormat, HEADER_LEN};

/// Buckets a channel keeps open for writing (the original's `max_files`).
pub const MAX_OPEN_WRITERS: usize = 3;

/// A bucket file opened for appending on a worker thread, to be installed on the loop.
#[derive(Debug)]
pub struct OpenedBucket {
    /// The bucket's first key (`key & !0xfff`).
    pub first_key: u64,
    /// Its path.
    pub path: PathBuf,
    /// The file, positioned at its end.
    pub file: File,
    /// Its format; `None` for a new (or under-16-byte) file, which gets the v1 header.
    pub format: Option<BucketFormat>,
    /// Its length.
    pub len: u64,
    /// Directories whose entries this open changed (a directory or the file made in them):
    /// each needs an fsync before the new entries survive a power loss.
    pub changed_dirs: Vec<PathBuf>,
}

/// Creates `dir` and its missing parents up to `stop` (which exists), noting each parent
/// directory whose entries changed.
fn make_dirs(dir: &Path, stop: &Path, changed: &mut Vec<PathBuf>) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        if parent != stop && parent.starts_with(stop) {
            make_dirs(parent, stop, changed)?;
        }
        match fs::create_dir(dir) {
            Ok(()) => changed.push(parent.to_path_buf()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(named(dir, "create directory")(e)),
        }
    }
    Ok(())
}

/// The path of `key`'s bucket in `channel_dir`.
pub fn bucket_file(channel_dir: &Path, key: u64) -> PathBuf {
    channel_dir
        .join(slot_dir_name(slot_of(key)))
        .join(bucket_file_name(bucket_of(key)))
}

/// Cuts a damaged bucket after its last good record (`good` bytes), keeping the cut bytes as
/// `<file>.cut-<unix time>` (fsynced first), so records appended next are not hidden behind
/// the damage.
fn cut_damaged(path: &Path, file: &File, good: u64) -> io::Result<()> {
    let len = file.metadata().map_err(named(path, "stat"))?.len();
    if len <= good {
        return Ok(());
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let keep = PathBuf::from(format!("{}.cut-{secs}", path.display()));
    let mut tail = Vec::new();
    let mut r = file;
    r.seek(SeekFrom::Start(good))
        .map_err(named(path, "seek in"))?;
    r.read_to_end(&mut tail).map_err(named(path, "read"))?;
    let out = File::create(&keep).map_err(named(&keep, "create"))?;
    io::Write::write_all(&mut &out, &tail).map_err(named(&keep, "write"))?;
    out.sync_all().map_err(named(&keep, "fsync"))?;
    file.set_len(good).map_err(named(path, "truncate"))?;
    file.sync_all().map_err(named(path, "fsync"))?;
    log::warn!(
        "{}: its records end at byte {good} of {len} (damage found at start); cut there before \
         a write appends to it, the {} bytes after kept as {}",
        path.display(),
        len - good,
        keep.display()
    );
    Ok(())
}

/// Opens (creating it, its slot directory and its channel directory under `data_dir` as
/// needed) the bucket of `key` in `channel_dir`, and reads its format; a bucket found damaged
/// at start is first cut to `cut_to`, its good records. Blocking: runs on a worker thread.
pub fn open_bucket(
    data_dir: &Path,
    channel_dir: &Path,
    key: u64,
    cut_to: Option<u64>,
) -> io::Result<OpenedBucket> {
    let mut changed_dirs = Vec::new();
    let slot_dir = channel_dir.join(slot_dir_name(slot_of(key)));
    make_dirs(&slot_dir, data_dir, &mut changed_dirs)?;
    let path = slot_dir.join(bucket_file_name(bucket_of(key)));
    let existed = path.exists();
    let mut file = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(&path)
        .map_err(named(&path, "open"))?;
    if !existed {
        changed_dirs.push(slot_dir.clone());
    }
    if let Some(good) = cut_to {
        cut_damaged(&path, &file, good)?;
        changed_dirs.push(slot_dir.clone());
        // The cut read the tail: back to the header.
        file.seek(SeekFrom::Start(0))
            .map_err(named(&path, "seek in"))?;
    }
    let mut head = Vec::with_capacity(HEADER_LEN as usize);
    (&mut file)
        .take(HEADER_LEN)
        .read_to_end(&mut head)
        .map_err(named(&path, "read"))?;
    let format = match BucketFormat::for_append(&head) {
        Ok(f) => f,
        Err(BucketError::TooShort { len }) => {
            // Under a header: no records (readers skip it). A crash cut it while its header was
            // written; start it afresh.
            log::warn!(
                "{}: {len} bytes, less than a bucket header; rewritten as a new bucket",
                path.display()
            );
            file.set_len(0).map_err(named(&path, "truncate"))?;
            None
        }
        Err(e) => {
            return Err(io::Error::other(format!(
                "{}: {e}; not written to",
                path.display()
            )))
        }
    };
    let len = file
        .seek(SeekFrom::End(0))
        .map_err(named(&path, "seek in"))?;
    Ok(OpenedBucket {
        first_key: bucket_first_key(key),
        path,
        file,
        format,
        len,
        changed_dirs,
    })
}

/// Why a record was not written.
#[derive(Debug)]
pub enum PutError {
    /// The record's bucket is not open: open it ([`open_bucket`]) and install it.
    NotOpen {
        /// The bucket's first key.
        first_key: u64,
    },
    /// Writing to the file failed (named in the message).
    Io(io::Error),
}

/// An open bucket.
#[derive(Debug)]
struct Open {
    first_key: u64,
    path: PathBuf,
    /// The file, opened for appending.
    file: File,
    /// The file's format.
    format: BucketFormat,
    /// Whole records not handed to the OS yet (at most the buffer size, or one record).
    buf: Vec<u8>,
    /// The file's length with everything written so far (buffered bytes included).
    len: u64,
    /// Its length at the last fsync handed out.
    synced: u64,
    /// Its length in the last checkpoint (or when opened).
    checkpointed: u64,
    last_used: u64,
}

impl Open {
    /// Hands the buffered records to the OS. A write that fails (a full disk) may have put
    /// part of the buffer in the file: the file is cut back to its whole records and the
    /// buffer kept, so the next flush writes them again from a record boundary instead of
    /// after a torn one.
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = (&self.file).write_all(&self.buf) {
            let whole = self.len - self.buf.len() as u64;
            let e = named(&self.path, "write to")(e);
            return match self.file.set_len(whole) {
                Ok(()) => Err(e),
                Err(cut) => Err(io::Error::new(
                    e.kind(),
                    format!("{e}; cutting it back to its last whole record ({whole} bytes) failed too: {cut}"),
                )),
            };
        }
        self.buf.clear();
        Ok(())
    }
}

/// A file to fsync and the length the fsync makes durable.
#[derive(Debug)]
pub struct SyncItem {
    /// The file.
    pub path: PathBuf,
    /// An open handle (a duplicate of the writer's), or `None` for a bucket closed since: the
    /// worker opens it by path.
    pub file: Option<File>,
    /// Its length when the fsync was asked for (everything before is covered).
    pub len: u64,
}

/// One channel's writers.
#[derive(Debug)]
pub struct ChannelWriter {
    buffer_size: usize,
    open: Vec<Open>,
    /// Buckets closed with bytes no fsync has covered yet, one entry per file.
    unsynced: Vec<SyncItem>,
    /// Buckets written since the last checkpoint and closed since, with their lengths (the
    /// open ones are added when the checkpoint is taken).
    checkpoint: BTreeMap<u64, u64>,
    clock: u64,
}

impl ChannelWriter {
    /// Writers each buffering `buffer_size` bytes.
    pub fn new(buffer_size: usize) -> ChannelWriter {
        ChannelWriter {
            buffer_size: buffer_size.max(1),
            open: Vec::new(),
            unsynced: Vec::new(),
            checkpoint: BTreeMap::new(),
            clock: 0,
        }
    }

    /// Appends a record to its bucket, if that bucket is open; the bytes it took on disk. The
    /// value must be non-empty and within the record limit (the request handlers check both
    /// and answer the statuses).
    pub fn put(&mut self, key: u64, value: &[u8]) -> Result<u64, PutError> {
        self.clock += 1;
        let first_key = bucket_first_key(key);
        let Some(o) = self.open.iter_mut().find(|o| o.first_key == first_key) else {
            return Err(PutError::NotOpen { first_key });
        };
        o.last_used = self.clock;
        let n = record_len(o.format, value.len());
        // Whole records reach the OS: a record that does not fit what is buffered goes in the
        // next write.
        if o.buf.len() as u64 + n > self.buffer_size as u64 && !o.buf.is_empty() {
            o.flush().map_err(PutError::Io)?;
        }
        encode_record(o.format, key, value, &mut o.buf);
        o.len += n;
        Ok(n)
    }

    /// Takes the bucket at `path` (first key `first_key`) out of the writers for a
    /// Redistribute, which renames it next: its buffer is flushed and its writer closed; bytes
    /// not yet fsynced stay in the ledger with a handle on the file (which follows it through
    /// the rename, so a group commit still covers them); and it leaves the checkpoint ledger
    /// (the file at `path` afterwards, if any, is a new bucket).
    pub fn detach(&mut self, first_key: u64, path: &Path) -> io::Result<()> {
        if let Some(i) = self.open.iter().position(|o| o.first_key == first_key) {
            // Flushed in place: on failure the bucket stays open with its records.
            self.open[i].flush()?;
            let o = self.open.swap_remove(i);
            if o.len > o.synced {
                self.unsynced.retain(|u| u.path != o.path);
                self.unsynced.push(SyncItem {
                    path: o.path,
                    file: Some(o.file),
                    len: o.len,
                });
            }
        }
        for u in &mut self.unsynced {
            if u.path == path && u.file.is_none() {
                u.file = Some(File::open(path).map_err(named(path, "open for fsync"))?);
            }
        }
        self.checkpoint.remove(&first_key);
        Ok(())
    }

    /// Whether the bucket starting at `first_key` is open.
    pub fn is_open(&self, first_key: u64) -> bool {
        self.open.iter().any(|o| o.first_key == first_key)
    }

    /// Installs a bucket opened on a worker, evicting the least recently used one if need be
    /// (its buffer flushed, the file closed). A new file gets its v1 header (buffered).
    pub fn install(&mut self, b: OpenedBucket) -> io::Result<()> {
        if self.is_open(b.first_key) {
            return Ok(()); // opened twice (two connections raced); keep the first
        }
        if self.open.len() >= MAX_OPEN_WRITERS {
            let lru = (0..self.open.len())
                .min_by_key(|&i| self.open[i].last_used)
                .unwrap_or(0);
            // Written before it leaves the writers: a bucket whose buffer cannot be written (a
            // full disk) stays open with its records, and this open fails instead.
            self.open[lru].flush()?;
            let o = self.open.swap_remove(lru);
            self.close(o)?;
        }
        self.clock += 1;
        let mut buf = Vec::with_capacity(self.buffer_size);
        let (format, len) = match b.format {
            Some(f) => (f, b.len),
            None => {
                encode_header(&mut buf);
                (BucketFormat::V1, HEADER_LEN)
            }
        };
        // A new file's length on disk is 0 until its header is flushed: that is what a
        // checkpoint taken before then may promise.
        self.open.push(Open {
            first_key: b.first_key,
            path: b.path,
            file: b.file,
            format,
            buf,
            len,
            synced: b.len.min(len),
            checkpointed: b.len.min(len),
            last_used: self.clock,
        });
        Ok(())
    }

    fn close(&mut self, mut o: Open) -> io::Result<()> {
        o.flush()?;
        if o.len > o.checkpointed {
            self.checkpoint.insert(o.first_key, o.len);
        }
        if o.len > o.synced {
            // A bucket evicted, opened again and evicted again is fsynced once.
            match self.unsynced.iter_mut().find(|u| u.path == o.path) {
                Some(u) => u.len = u.len.max(o.len),
                None => self.unsynced.push(SyncItem {
                    path: o.path,
                    file: None,
                    len: o.len,
                }),
            }
        }
        Ok(())
    }

    /// Hands every buffered record to the OS (before a read of the channel, and before an
    /// fsync).
    pub fn flush(&mut self) -> io::Result<()> {
        for o in &mut self.open {
            o.flush()?;
        }
        Ok(())
    }

    /// Flushes, and returns every bucket with bytes no fsync has covered yet (closed ones by
    /// path, open ones with a duplicate handle), marking them covered.
    pub fn take_unsynced(&mut self) -> io::Result<Vec<SyncItem>> {
        self.flush()?;
        let mut items = std::mem::take(&mut self.unsynced);
        for o in &mut self.open {
            if o.len > o.synced {
                // Open again after a close: its handle's fsync covers the closed entry too.
                items.retain(|i| i.path != o.path);
                let file = o
                    .file
                    .try_clone()
                    .map_err(named(&o.path, "duplicate the handle of"))?;
                items.push(SyncItem {
                    path: o.path.clone(),
                    file: Some(file),
                    len: o.len,
                });
                o.synced = o.len;
            }
        }
        Ok(items)
    }

    /// The (bucket first key, length) entries of the next checkpoint for this channel: every
    /// bucket written since the last one and every open one (written or not: its length is
    /// what a crash cuts it back to).
    pub fn take_checkpoint(&mut self) -> Vec<(u64, u64)> {
        let mut entries = std::mem::take(&mut self.checkpoint);
        for o in &mut self.open {
            entries.insert(o.first_key, o.len);
            o.checkpointed = o.len;
        }
        entries.into_iter().collect()
    }

    /// Flushes and closes every bucket (shutdown).
    pub fn close_all(&mut self) -> io::Result<()> {
        for o in std::mem::take(&mut self.open) {
            self.close(o)?;
        }
        Ok(())
    }

    /// Buckets open now.
    pub fn open_buckets(&self) -> usize {
        self.open.len()
    }

    /// [`ChannelWriter::put`] that opens the bucket itself when needed, blocking (tools and
    /// tests; the node opens buckets on its worker threads).
    pub fn put_now(
        &mut self,
        data_dir: &Path,
        channel_dir: &Path,
        key: u64,
        value: &[u8],
    ) -> io::Result<u64> {
        match self.put(key, value) {
            Ok(n) => Ok(n),
            Err(PutError::Io(e)) => Err(e),
            Err(PutError::NotOpen { .. }) => {
                self.install(open_bucket(data_dir, channel_dir, key, None)?)?;
                match self.put(key, value) {
                    Ok(n) => Ok(n),
                    Err(PutError::Io(e)) => Err(e),
                    Err(PutError::NotOpen { .. }) => Err(io::Error::other("bucket not open")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
