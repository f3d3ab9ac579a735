//! A channel's open bucket writers (spec/logfiles.md section 3.5): at most
//! [`MAX_OPEN_WRITERS`] buckets open per channel, least recently used evicted (its buffer
//! flushed, the file closed), each with a write buffer of `[Options_Dls] write_buffer_size`
//! bytes. A record goes to the end of its key's bucket, in the file's own format: a new (or
//! empty) file gets the v1 header, a legacy file stays legacy.
//!
//! Buffers reach the OS when full, when the bucket is evicted, and on [`ChannelWriter::flush`]
//! (before any read of the channel, so readers see every acknowledged record). Durability is
//! [`ChannelWriter::sync`]: every bucket written since the last sync, open or evicted meanwhile,
//! is flushed and fsynced, and its length becomes a checkpoint entry (the original listed a
//! closed bucket in one more checkpoint, then dropped it; so does this).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use swarm_protocol::bucket::path::{
    bucket_file_name, bucket_first_key, bucket_of, slot_dir_name, slot_of,
};
use swarm_protocol::bucket::{BucketError, BucketFormat, BucketWriter, HEADER_LEN};

/// Buckets a channel keeps open for writing (the original's `max_files`).
pub const MAX_OPEN_WRITERS: usize = 3;

/// An open bucket.
#[derive(Debug)]
struct Open {
    first_key: u64,
    path: PathBuf,
    writer: BucketWriter<BufWriter<File>>,
    /// The file's length with everything written so far (buffered bytes included).
    len: u64,
    last_used: u64,
}

/// A bucket written since the last [`ChannelWriter::sync`] and closed since: synced and
/// reported by the next one.
#[derive(Debug)]
struct Closed {
    first_key: u64,
    path: PathBuf,
    len: u64,
}

/// One channel's writers.
#[derive(Debug)]
pub struct ChannelWriter {
    dir: PathBuf,
    buffer_size: usize,
    open: Vec<Open>,
    closed: Vec<Closed>,
    clock: u64,
}

fn named(path: &Path, what: &str) -> impl FnOnce(io::Error) -> io::Error {
    let p = path.display().to_string();
    let what = what.to_owned();
    move |e| io::Error::new(e.kind(), format!("cannot {what} {p}: {e}"))
}

impl ChannelWriter {
    /// Writers for the channel directory `dir` (created, with slot directories, as records
    /// arrive), each buffering `buffer_size` bytes.
    pub fn new(dir: &Path, buffer_size: usize) -> ChannelWriter {
        ChannelWriter {
            dir: dir.to_path_buf(),
            buffer_size: buffer_size.max(1),
            open: Vec::new(),
            closed: Vec::new(),
            clock: 0,
        }
    }

    /// Appends a record to its bucket. The value must be non-empty and within the record
    /// limit (the request handlers check both and answer the statuses).
    pub fn put(&mut self, key: u64, value: &[u8]) -> io::Result<()> {
        self.clock += 1;
        let first = bucket_first_key(key);
        let i = match self.open.iter().position(|o| o.first_key == first) {
            Some(i) => i,
            None => self.open_bucket(key)?,
        };
        let o = &mut self.open[i];
        o.last_used = self.clock;
        let n = o
            .writer
            .write_record(key, value)
            .map_err(named(&o.path, "write to"))?;
        o.len += n;
        Ok(())
    }

    /// Opens `key`'s bucket, evicting the least recently used one if need be; its index.
    fn open_bucket(&mut self, key: u64) -> io::Result<usize> {
        if self.open.len() >= MAX_OPEN_WRITERS {
            let lru = (0..self.open.len())
                .min_by_key(|&i| self.open[i].last_used)
                .unwrap_or(0);
            let o = self.open.swap_remove(lru);
            self.close(o)?;
        }
        let slot_dir = self.dir.join(slot_dir_name(slot_of(key)));
        fs::create_dir_all(&slot_dir).map_err(named(&slot_dir, "create directory"))?;
        let path = slot_dir.join(bucket_file_name(bucket_of(key)));
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(named(&path, "open"))?;
        let mut head = Vec::with_capacity(HEADER_LEN as usize);
        (&mut file)
            .take(HEADER_LEN)
            .read_to_end(&mut head)
            .map_err(named(&path, "read"))?;
        let format = match BucketFormat::for_append(&head) {
            Ok(f) => f,
            Err(BucketError::TooShort { len }) => {
                // Under a header: no records (readers skip it). A crash cut it while its header
                // was written; start it afresh.
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
        let out = BufWriter::with_capacity(self.buffer_size, file);
        let (writer, len) = match format {
            Some(f) => (BucketWriter::append(out, f), len),
            None => (
                BucketWriter::create(out).map_err(named(&path, "write to"))?,
                HEADER_LEN,
            ),
        };
        self.open.push(Open {
            first_key: bucket_first_key(key),
            path,
            writer,
            len,
            last_used: self.clock,
        });
        Ok(self.open.len() - 1)
    }

    fn close(&mut self, mut o: Open) -> io::Result<()> {
        o.writer.flush().map_err(named(&o.path, "write to"))?;
        self.closed.push(Closed {
            first_key: o.first_key,
            path: o.path,
            len: o.len,
        });
        Ok(())
    }

    /// Hands every buffered record to the OS (before a read of the channel).
    pub fn flush(&mut self) -> io::Result<()> {
        for o in &mut self.open {
            o.writer.flush().map_err(named(&o.path, "write to"))?;
        }
        Ok(())
    }

    /// Flushes and fsyncs every bucket written since the last sync; returns (bucket first
    /// key, length) of each, the checkpoint's entries for this channel.
    pub fn sync(&mut self) -> io::Result<Vec<(u64, u64)>> {
        let mut entries = Vec::new();
        for c in self.closed.drain(..) {
            File::open(&c.path)
                .and_then(|f| f.sync_all())
                .map_err(named(&c.path, "fsync"))?;
            entries.push((c.first_key, c.len));
        }
        for o in &mut self.open {
            o.writer.flush().map_err(named(&o.path, "write to"))?;
            o.writer
                .get_ref()
                .get_ref()
                .sync_all()
                .map_err(named(&o.path, "fsync"))?;
            entries.push((o.first_key, o.len));
        }
        // A bucket closed and opened again is listed twice: keep its longer (newer) length.
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        entries.dedup_by_key(|e| e.0);
        Ok(entries)
    }

    /// Flushes and closes every bucket (shutdown, RemoveChannel).
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
}

#[cfg(test)]
mod tests;
