//! Putting a bucket that a Redistribute took out (`<bucket>.tmp`) back into the node: at start
//! for every `.tmp` a crash or a shutdown left, and on the open pool (before the bucket is
//! opened for writes again) when a move failed. The records
//! after the acknowledged offset (`<bucket>.tmp.sent`) become part of the bucket again.
//!
//! | file | written | content |
//! |---|---|---|
//! | `<bucket>.tmp` | renamed from the bucket by the loop | the bucket's records, as they were |
//! | `<bucket>.tmp.sent` | by the loop before the rename (`0`), then before and after each batch: one `pwrite` over it (no fsync) | the acknowledged offset, and the batch in flight (its end offset and destination): [`marker`] |
//! | `<bucket>.tmp.back` | by a put-back that appends: temp, fsync, rename, fsync dir | `L` (the bucket's length before the append); a second line `N` once the append was fsynced |
//!
//! A `.tmp` without a `.sent` is the original node's (its Redistribute renamed buckets to
//! `.tmp` too and never deleted them): left alone, with a warning.
//!
//! A batch in flight is settled first by asking its destination what it holds (`indoubt`);
//! the outcome is written to the marker (fsynced) as the acknowledged offset.
//!
//! Nothing acknowledged and no bucket file: the `.tmp` is renamed back. Otherwise the records
//! after the acknowledged offset are appended to the bucket in its own format (a new bucket
//! gets the v1 header), and `.back` makes that repeatable: bytes `L..N` of the bucket are
//! exactly the appended records (nothing else writes the bucket meanwhile), so a later start
//! that finds the bucket at `N` or longer knows the append is there; shorter (a crash during
//! the append, or a checkpoint cut), it cuts the bucket to `L` if longer and appends again.
//! The `.tmp`, `.sent` and `.back` are deleted only once the appended bytes cannot be cut by a
//! checkpoint recovery any more ([`finish`], called by the caller when that holds).

use crate::storage::named;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use swarm_core::files::sync_dir;
use swarm_protocol::bucket::path::{parse_bucket_file, parse_slot_dir};
use swarm_protocol::bucket::{encode_header, encode_record, BucketFormat, BucketReader};
use swarm_protocol::bucket::{BucketError, HEADER_LEN};

mod indoubt;
pub mod marker;
pub use marker::{InFlight, Marker};

/// Suffix of a bucket being moved.
pub const TMP_SUFFIX: &str = ".tmp";
/// Suffix (after [`TMP_SUFFIX`]) of its acknowledged offset.
pub const SENT_SUFFIX: &str = ".sent";
/// Suffix (after [`TMP_SUFFIX`]) of a put-back's lengths.
pub const BACK_SUFFIX: &str = ".back";

/// Bytes appended per `write(2)` by a put-back.
const APPEND_CHUNK: usize = 1 << 20;

/// `path` with `suffix` appended to its file name.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// The bucket a `.tmp` was (its path without the suffix).
pub fn bucket_of_tmp(tmp: &Path) -> PathBuf {
    let s = tmp.to_string_lossy();
    PathBuf::from(s.strip_suffix(TMP_SUFFIX).unwrap_or(&s).to_owned())
}

/// Reads a decimal number per line; `None` when the file does not exist or does not parse
/// (a torn marker counts as none: putting back too much duplicates, too little would lose).
fn read_numbers(path: &Path) -> Option<Vec<u64>> {
    let text = fs::read_to_string(path).ok()?;
    text.lines().map(|l| l.trim().parse().ok()).collect()
}

/// `tmp`'s marker: `None` when there is none (a `.tmp` the original node left), else what it
/// says (`Some(None)`: it does not parse, which counts as nothing acknowledged: putting back
/// too much duplicates, too little would lose).
pub fn read_marker(tmp: &Path) -> Option<Option<Marker>> {
    marker::read(&with_suffix(tmp, SENT_SUFFIX))
}

/// `tmp`'s acknowledged offset, as [`read_marker`] (`Some(None)`: none was, or unknown); an
/// offset inside the v1 header (or 0) is before the first record.
pub fn read_sent(tmp: &Path) -> Option<Option<u64>> {
    read_marker(tmp).map(|m| m.map(|m| m.acked).filter(|&a| a > HEADER_LEN))
}

/// Records `offset` as `tmp`'s acknowledged offset, nothing in flight: one `pwrite`, not
/// fsynced ([`marker::write`]).
pub fn write_sent(tmp: &Path, offset: u64) -> io::Result<()> {
    let m = Marker {
        acked: offset,
        in_flight: None,
    };
    marker::write(&with_suffix(tmp, SENT_SUFFIX), &m, false)
}

/// Records, before it is sent, that the batch after `acked` up to `end` goes to `dest`: one
/// `pwrite`, not fsynced ([`marker::write`]).
pub fn write_in_flight(tmp: &Path, acked: u64, end: u64, dest: SocketAddr) -> io::Result<()> {
    let m = Marker {
        acked,
        in_flight: Some(InFlight { end, dest }),
    };
    marker::write(&with_suffix(tmp, SENT_SUFFIX), &m, false)
}

/// The channel of a `.tmp` (`<channel>/<slot>/<bucket>.tmp`).
fn channel_of(tmp: &Path) -> Option<&str> {
    tmp.parent()?.parent()?.file_name()?.to_str()
}

/// Settles the batch in flight of `tmp`'s marker, if any ([`indoubt`]), and records the
/// outcome durably as nothing in flight, so a put-back that is repeated appends the same.
fn settle(tmp: &Path) -> io::Result<()> {
    let Some(Some(m)) = read_marker(tmp) else {
        return Ok(());
    };
    let (Some(flight), Some(channel)) = (m.in_flight, channel_of(tmp)) else {
        return Ok(());
    };
    let acked = indoubt::settle(tmp, channel, &m, flight)?;
    let settled = Marker {
        acked,
        in_flight: None,
    };
    marker::write(&with_suffix(tmp, SENT_SUFFIX), &settled, true)
}

/// Writes `text` durably as `path` (temp, fsync, rename, fsync the directory).
fn write_durable(path: &Path, text: &str) -> io::Result<()> {
    let new = with_suffix(path, ".new");
    let mut f = File::create(&new).map_err(named(&new, "create"))?;
    f.write_all(text.as_bytes()).map_err(named(&new, "write"))?;
    f.sync_all().map_err(named(&new, "fsync"))?;
    fs::rename(&new, path).map_err(named(path, "rename to"))?;
    sync_parent(path)
}

fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) => sync_dir(dir).map_err(named(dir, "fsync the directory")),
        None => Ok(()),
    }
}

/// How a `.tmp` went back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutBack {
    /// Nothing was acknowledged and there was no bucket: renamed back, nothing left to delete.
    Renamed,
    /// These records (and value bytes) were appended to the bucket; [`finish`] deletes the
    /// `.tmp` and its markers once that is safe.
    Appended {
        /// Records appended.
        records: u64,
        /// Their value bytes.
        bytes: u64,
    },
    /// A put-back of an earlier run is complete in the bucket; [`finish`] as for `Appended`.
    AlreadyBack,
}

/// Puts `tmp` back into its bucket (see the module doc). Blocking; nothing may write the
/// bucket meanwhile (at start nothing does; after a failed move the bucket's writer was
/// closed and its next open waits for this).
pub fn put_back(tmp: &Path) -> io::Result<PutBack> {
    let bucket = bucket_of_tmp(tmp);
    let back = with_suffix(tmp, BACK_SUFFIX);
    let len = match fs::metadata(&bucket) {
        Ok(m) => Some(m.len()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(named(&bucket, "stat")(e)),
    };
    let start = match read_numbers(&back).as_deref() {
        Some([_, n]) if len.unwrap_or(0) >= *n => return Ok(PutBack::AlreadyBack),
        Some([l, ..]) => Some(*l),
        _ => None,
    };
    settle(tmp)?;
    let acked = read_sent(tmp).flatten();
    if start.is_none() && acked.is_none() && len.is_none() {
        fs::rename(tmp, &bucket).map_err(named(&bucket, "rename back to"))?;
        sync_parent(&bucket)?;
        remove_if_there(&with_suffix(tmp, SENT_SUFFIX))?;
        return Ok(PutBack::Renamed);
    }
    append(tmp, &bucket, acked, start.or(len).unwrap_or(0))
}

/// Appends `tmp`'s records after `acked` to `bucket`, cut to `l` first if longer.
fn append(tmp: &Path, bucket: &Path, acked: Option<u64>, l: u64) -> io::Result<PutBack> {
    let back = with_suffix(tmp, BACK_SUFFIX);
    write_durable(&back, &format!("{l}\n"))?;
    let mut out = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(bucket)
        .map_err(named(bucket, "open"))?;
    let len = out.metadata().map_err(named(bucket, "stat"))?.len();
    if len > l {
        out.set_len(l).map_err(named(bucket, "truncate"))?;
    }
    let mut head = Vec::new();
    (&mut out)
        .take(HEADER_LEN)
        .read_to_end(&mut head)
        .map_err(named(bucket, "read"))?;
    let mut buf = Vec::with_capacity(APPEND_CHUNK);
    let format = match BucketFormat::for_append(&head) {
        Ok(Some(f)) => f,
        Ok(None) | Err(BucketError::TooShort { .. }) => {
            out.set_len(0).map_err(named(bucket, "truncate"))?;
            encode_header(&mut buf);
            BucketFormat::V1
        }
        Err(e) => return Err(io::Error::other(format!("{}: {e}", bucket.display()))),
    };
    out.seek(SeekFrom::End(0))
        .map_err(named(bucket, "seek in"))?;
    let (mut records, mut bytes) = (0, 0);
    let from = acked.unwrap_or(0);
    let mut reader = open_reader(tmp)?;
    while let Some(r) = reader.next_record().map_err(|e| bucket_err(tmp, e))? {
        let (key, value) = (r.key, r.value.to_vec());
        if reader.offset() <= from {
            continue;
        }
        encode_record(format, key, &value, &mut buf);
        records += 1;
        bytes += value.len() as u64;
        if buf.len() >= APPEND_CHUNK {
            out.write_all(&buf).map_err(named(bucket, "write to"))?;
            buf.clear();
        }
    }
    out.write_all(&buf).map_err(named(bucket, "write to"))?;
    out.sync_all().map_err(named(bucket, "fsync"))?;
    let n = out.metadata().map_err(named(bucket, "stat"))?.len();
    sync_parent(bucket)?;
    write_durable(&back, &format!("{l}\n{n}\n"))?;
    Ok(PutBack::Appended { records, bytes })
}

/// A reader of `tmp`'s records.
pub fn open_reader(tmp: &Path) -> io::Result<BucketReader<BufReader<File>>> {
    let file = File::open(tmp).map_err(named(tmp, "open"))?;
    let len = file.metadata().map_err(named(tmp, "stat"))?.len();
    BucketReader::open(BufReader::with_capacity(1 << 20, file), len).map_err(|e| bucket_err(tmp, e))
}

fn bucket_err(path: &Path, e: BucketError) -> io::Error {
    match e {
        BucketError::Io(e) => named(path, "read")(e),
        other => io::Error::other(format!("{}: {other}", path.display())),
    }
}

fn remove_if_there(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(named(path, "delete")(e)),
    }
}

/// Deletes `tmp` (first: a `.sent` without its `.tmp` means nothing), then its markers.
pub fn finish(tmp: &Path) -> io::Result<()> {
    remove_if_there(tmp)?;
    remove_if_there(&with_suffix(tmp, SENT_SUFFIX))?;
    remove_if_there(&with_suffix(tmp, BACK_SUFFIX))
}

/// The `.tmp` buckets under `data_dir` (`<channel>/<slot>/<bucket>.tmp`), and deletes the
/// markers whose `.tmp` is gone (a move that finished, killed before its last delete).
pub fn find_tmps(data_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for channel in crate::storage::channels::channel_names(data_dir)? {
        for slot in dir_entries(&data_dir.join(channel))? {
            let is_slot = slot
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(parse_slot_dir)
                .is_some();
            if !is_slot {
                continue;
            }
            for file in dir_entries(&slot)? {
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
                let stem = name.split('.').next().unwrap_or("");
                if parse_bucket_file(stem).is_none() || !name.contains(TMP_SUFFIX) {
                    continue;
                }
                if name.ends_with(TMP_SUFFIX) && name.len() == stem.len() + TMP_SUFFIX.len() {
                    found.push(file);
                } else if !slot.join(format!("{stem}{TMP_SUFFIX}")).exists() {
                    remove_if_there(&file)?;
                }
            }
        }
    }
    found.sort();
    Ok(found)
}

fn dir_entries(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(named(dir, "read directory")(e)),
    };
    for e in entries {
        out.push(e.map_err(named(dir, "read directory"))?.path());
    }
    Ok(out)
}

/// At start (after the checkpoint cut, before the channels are counted): every `.tmp` put
/// back, logged with its name and counts. Returns the `.tmp`s to [`finish`] once the new
/// run's empty checkpoint is written (so an old checkpoint can no longer cut what was
/// appended).
pub fn put_back_all(data_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut to_finish = Vec::new();
    for tmp in find_tmps(data_dir)? {
        let Some(acked) = read_sent(&tmp) else {
            log::warn!(
                "{}: a .tmp without our marker, left by the original node's Redistribute (which \
                 did not delete them): not read and not put back; its records were sent to the \
                 destinations but for the one at each batch boundary the original dropped",
                tmp.display()
            );
            continue;
        };
        match put_back(&tmp)? {
            PutBack::Renamed => log::warn!(
                "{}: a Redistribute did not finish moving it, nothing was sent; put back (renamed)",
                tmp.display()
            ),
            PutBack::Appended { records, bytes } => {
                log::warn!(
                    "{}: a Redistribute did not finish moving it; {records} records ({bytes} \
                     bytes) after the acknowledged offset {} put back into {}",
                    tmp.display(),
                    acked.unwrap_or(0),
                    bucket_of_tmp(&tmp).display()
                );
                to_finish.push(tmp);
            }
            PutBack::AlreadyBack => {
                log::info!("{}: already put back; deleted", tmp.display());
                to_finish.push(tmp);
            }
        }
    }
    Ok(to_finish)
}

#[cfg(test)]
mod tests;
