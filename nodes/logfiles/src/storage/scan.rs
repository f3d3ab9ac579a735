//! A channel's records in an inclusive key range, as the original's iterator returns them
//! (spec/logfiles.md section 3.6): buckets in ascending slot and bucket order, records inside a
//! bucket in file (arrival) order, duplicates included, each record's key checked against the
//! range as a number (the original compared hex strings; DECISIONS). A bucket is read up to the
//! length it had when it was opened; its records end at the first torn, parity-failed or
//! too-long record, logged once with the file and the offset, and the scan goes on with the next
//! bucket. Files under 16 bytes are no bucket (the original skipped them).
//!
//! The slot and bucket names are taken from directory listings (one per slot), sorted, rather
//! than by `stat`ing the 4096 candidate names of each slot as the original did: the same
//! buckets, in the same order. Names that are not the node's (`.gz` files, other files) are
//! skipped; a slot or bucket name the node could not have written is logged once per scan.
//!
//! A parked scan ([`RangeScan::park`]) goes on with its bucket only if the file at its path is
//! still the same (inode): a Redistribute renames buckets away, and a Put then makes a new
//! file of the same name, in which the parked offset means nothing.

use std::fs::{self, File};
use std::io::{self, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use swarm_protocol::bucket::path::{parse_bucket_file, parse_slot_dir, slot_buckets, slot_of};
use swarm_protocol::bucket::{BucketEnd, BucketError, BucketFormat, BucketReader, EndReason};

/// A bucket a parked scan goes on with.
#[derive(Debug)]
struct Parked {
    path: PathBuf,
    format: BucketFormat,
    file_len: u64,
    pos: u64,
    records: u64,
    /// The file's inode: a Redistribute may have renamed it away and a Put made a new file of
    /// the same name, which the parked offsets do not fit.
    ino: u64,
}

/// The reader of one bucket file.
type Reader = BucketReader<BufReader<File>>;

/// Reads a channel's records with keys in `min..=max`.
#[derive(Debug)]
pub struct RangeScan {
    channel_dir: PathBuf,
    min: u64,
    max: u64,
    /// Read-ahead per bucket (`[Performance] file_buffer_size`; 0: unbuffered).
    buffer: usize,
    /// Slots still to visit, ascending, in range.
    slots: std::vec::IntoIter<u64>,
    /// Bucket files of the current slot still to read, ascending.
    buckets: std::vec::IntoIter<PathBuf>,
    /// The bucket being read, and its path.
    current: Option<(Reader, PathBuf)>,
    /// The inode of the bucket being read.
    current_ino: u64,
    /// The bucket being read while parked ([`RangeScan::park`]): its path and where to go on.
    parked: Option<Parked>,
    /// Buckets whose records ended early (torn, parity, too long).
    damaged: u64,
    /// With [`RangeScan::record_damage`]: each damaged bucket and where its records end.
    damage: Option<Vec<(PathBuf, BucketEnd)>>,
}

/// `dir`'s entry names that `parse` accepts, with their numbers, sorted; others logged at debug.
pub(crate) fn listing<T: Ord>(
    dir: &Path,
    parse: impl Fn(&str) -> Option<T>,
) -> io::Result<Vec<(T, PathBuf)>> {
    let mut found = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(found),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot read directory {}: {e}", dir.display()),
            ))
        }
    };
    for entry in entries {
        let entry = entry.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot read directory {}: {e}", dir.display()),
            )
        })?;
        let name = entry.file_name();
        match name.to_str().and_then(&parse) {
            Some(n) => found.push((n, entry.path())),
            None => log::debug!(
                "{}: not a bucket or slot name, skipped",
                entry.path().display()
            ),
        }
    }
    found.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

impl RangeScan {
    /// A scan of `channel_dir` (which may not exist: no records) for keys `min..=max` (none
    /// when `min > max`), reading each bucket through a `buffer`-byte read-ahead.
    pub fn new(channel_dir: &Path, min: u64, max: u64, buffer: usize) -> io::Result<RangeScan> {
        let slots: Vec<u64> = if min > max {
            Vec::new()
        } else {
            let (lo, hi) = (slot_of(min), slot_of(max));
            listing(channel_dir, parse_slot_dir)?
                .into_iter()
                .map(|(slot, _)| slot)
                .filter(|s| (lo..=hi).contains(s))
                .collect()
        };
        Ok(RangeScan {
            channel_dir: channel_dir.to_path_buf(),
            min,
            max,
            buffer,
            slots: slots.into_iter(),
            buckets: Vec::new().into_iter(),
            current: None,
            current_ino: 0,
            parked: None,
            damaged: 0,
            damage: None,
        })
    }

    /// Buckets whose records ended before their file did, so far.
    pub fn damaged(&self) -> u64 {
        self.damaged
    }

    /// Keeps each damaged bucket's path and end for [`RangeScan::take_damage`] (the start-up
    /// count, which repairs torn tails after a crash).
    pub fn record_damage(mut self) -> Self {
        self.damage = Some(Vec::new());
        self
    }

    /// The damaged buckets recorded so far.
    pub fn take_damage(&mut self) -> Vec<(PathBuf, BucketEnd)> {
        self.damage.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// The next record in the range: its key, with its value copied into `value` (cleared
    /// first). `None` at the end of the range. An error is a failing read or directory listing
    /// (named in the message), not damage in a file.
    pub fn next_into(&mut self, value: &mut Vec<u8>) -> io::Result<Option<u64>> {
        if let Some(p) = self.parked.take() {
            self.current = self.unpark(p)?;
        }
        loop {
            if let Some((reader, path)) = &mut self.current {
                match reader.next_record() {
                    Ok(Some(r)) => {
                        if r.key < self.min || r.key > self.max {
                            continue;
                        }
                        value.clear();
                        value.extend_from_slice(r.value);
                        return Ok(Some(r.key));
                    }
                    Ok(None) => {
                        if let Some(end) = reader.end() {
                            if !matches!(end.reason, EndReason::Complete) {
                                self.damaged += 1;
                                log::warn!(
                                    "{}: records end at byte {} after {} records ({:?}); the rest of \
                                     the file is skipped",
                                    path.display(),
                                    end.offset,
                                    end.records,
                                    end.reason
                                );
                                if let Some(d) = &mut self.damage {
                                    d.push((path.clone(), end));
                                }
                            }
                        }
                        self.current = None;
                    }
                    Err(e) => return Err(named(e, path)),
                }
                continue;
            }
            if let Some(path) = self.buckets.next() {
                if let Some((r, ino)) = self.open(&path)? {
                    self.current = Some((r, path));
                    self.current_ino = ino;
                }
                continue;
            }
            let Some(slot) = self.slots.next() else {
                return Ok(None);
            };
            self.enter(slot)?;
        }
    }

    /// Closes the bucket being read, remembering where its records go on: a scan waiting for
    /// its client to read holds no file and no read-ahead buffer. The next
    /// [`RangeScan::next_into`] opens it again there.
    pub fn park(&mut self) {
        if let Some((r, path)) = self.current.take() {
            if r.end().is_none() {
                self.parked = Some(Parked {
                    path,
                    format: r.format(),
                    file_len: r.file_len(),
                    pos: r.offset(),
                    records: r.records(),
                    ino: self.current_ino,
                });
            }
        }
    }

    fn unpark(&self, p: Parked) -> io::Result<Option<(Reader, PathBuf)>> {
        let mut file = match File::open(&p.path) {
            Ok(f) => f,
            // Removed meanwhile (RemoveChannel): no more records there.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(named(BucketError::Io(e), &p.path)),
        };
        let ino = file
            .metadata()
            .map_err(|e| named(BucketError::Io(e), &p.path))?
            .ino();
        if ino != p.ino {
            // Moved away by a Redistribute (its records go to another node) and made anew.
            log::debug!(
                "{}: another file since the scan parked; skipped",
                p.path.display()
            );
            return Ok(None);
        }
        file.seek(SeekFrom::Start(p.pos))
            .map_err(|e| named(BucketError::Io(e), &p.path))?;
        let read = BufReader::with_capacity(self.buffer.max(1), file);
        let r = BucketReader::resume(read, p.format, p.file_len, p.pos, p.records);
        Ok(Some((r, p.path)))
    }

    /// Lists the buckets of `slot` that may hold keys in the range.
    fn enter(&mut self, slot: u64) -> io::Result<()> {
        let Some(wanted) = slot_buckets(slot, self.min, self.max) else {
            return Ok(());
        };
        let dir = self
            .channel_dir
            .join(swarm_protocol::bucket::path::slot_dir_name(slot));
        let buckets: Vec<PathBuf> = listing(&dir, parse_bucket_file)?
            .into_iter()
            .filter(|(b, _)| wanted.contains(b))
            .map(|(_, p)| p)
            .collect();
        self.buckets = buckets.into_iter();
        Ok(())
    }

    /// Opens a bucket, taking its length now; `None` for a file under 16 bytes (no bucket) or
    /// one gone since the listing.
    fn open(&self, path: &Path) -> io::Result<Option<(Reader, u64)>> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(named(BucketError::Io(e), path)),
        };
        let meta = file
            .metadata()
            .map_err(|e| named(BucketError::Io(e), path))?;
        let read = BufReader::with_capacity(self.buffer.max(1), file);
        match BucketReader::open(read, meta.len()) {
            Ok(r) => Ok(Some((r, meta.ino()))),
            Err(BucketError::TooShort { .. }) => Ok(None),
            Err(e @ BucketError::UnknownVersion(_)) => {
                self.warn_skip(path, &e);
                Ok(None)
            }
            Err(e) => Err(named(e, path)),
        }
    }

    fn warn_skip(&self, path: &Path, e: &BucketError) {
        log::warn!("{}: {e}; the file is skipped", path.display());
    }
}

fn named(e: BucketError, path: &Path) -> io::Error {
    match e {
        BucketError::Io(e) => io::Error::new(e.kind(), format!("{}: {e}", path.display())),
        other => io::Error::other(format!("{}: {other}", path.display())),
    }
}

#[cfg(test)]
mod tests;
