//! What `logfiles_check` does (spec/logfiles.md section 4, DECISIONS "logfiles_check"): read
//! every record of a bucket file (legacy or v1) checking lengths, v1 parity, and that each key
//! lies in the range the file's path implies; report the first fault with its offset; and, on
//! request, repair by truncating the file after its last good record, the cut tail kept beside
//! it as `<file>.cut-<unix time>` (fsynced before the file is cut), so nothing is destroyed. A
//! v1 file keeps its header and every good record: repair never makes a file worse than the
//! node reads it (the original script rewrote v1 files as if they were legacy).

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use swarm_core::files::sync_dir;
use swarm_protocol::bucket::path::parse_bucket_path;
use swarm_protocol::bucket::{BucketError, BucketFormat, BucketReader, EndReason};

/// What is wrong with a bucket file, from its first fault on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The records end before the file does (torn header or value, parity, a length no node
    /// writes, an empty value at the end).
    Records(EndReason),
    /// A record whose key is outside the file's range.
    KeyOutOfPlace {
        /// The key found.
        key: u64,
    },
    /// The file has the v1 magic with a version no node writes; not read, never repaired.
    UnknownVersion(u64),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::Records(EndReason::TornHeader { left }) => {
                write!(f, "a record header cut off ({left} bytes left)")
            }
            Fault::Records(EndReason::TornValue { key, len }) => {
                write!(
                    f,
                    "record of key 0x{key:016x} claims {len} bytes, more than the file holds"
                )
            }
            Fault::Records(EndReason::Parity { key, len, parity }) => write!(
                f,
                "header parity 0x{parity:02x} does not match key 0x{key:016x} and length {len}"
            ),
            Fault::Records(EndReason::TooLong { key, len }) => {
                write!(
                    f,
                    "record of key 0x{key:016x} claims {len} bytes, over the record limit"
                )
            }
            Fault::Records(EndReason::EmptyAtEnd { key }) => {
                write!(f, "an empty record of key 0x{key:016x} at the end")
            }
            Fault::Records(other) => write!(f, "records end early: {other:?}"),
            Fault::KeyOutOfPlace { key } => {
                write!(f, "key 0x{key:016x} does not belong in this file")
            }
            Fault::UnknownVersion(v) => write!(f, "bucket header of unknown version {v}"),
        }
    }
}

/// One file's check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Its format (`None`: under 16 bytes, or of an unknown version).
    pub format: Option<BucketFormat>,
    /// Good records.
    pub records: u64,
    /// The file's length.
    pub len: u64,
    /// Bytes up to the end of the last good record: what a repair keeps.
    pub good_len: u64,
    /// The first fault, if any.
    pub fault: Option<Fault>,
}

/// Checks one bucket file; `range` is the keys its path allows (`None`: not checked, the path
/// is not `<slot>/<bucket>`).
pub fn check_file(path: &Path, range: Option<RangeInclusive<u64>>) -> io::Result<FileReport> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let file = File::open(path).map_err(named)?;
    let len = file.metadata().map_err(named)?.len();
    let mut report = FileReport {
        path: path.to_path_buf(),
        format: None,
        records: 0,
        len,
        good_len: len,
        fault: None,
    };
    let mut reader = match BucketReader::open(BufReader::with_capacity(1 << 20, file), len) {
        Ok(r) => r,
        Err(BucketError::TooShort { .. }) => return Ok(report),
        Err(BucketError::UnknownVersion(v)) => {
            report.fault = Some(Fault::UnknownVersion(v));
            return Ok(report);
        }
        Err(BucketError::Io(e)) => return Err(named(e)),
        Err(e) => return Err(io::Error::other(format!("{}: {e}", path.display()))),
    };
    report.format = Some(reader.format());
    loop {
        let before = reader.offset();
        let record = reader
            .next_record()
            .map_err(|e| io::Error::other(format!("{}: {e}", path.display())))?;
        let Some(r) = record else { break };
        if let Some(range) = &range {
            if !range.contains(&r.key) {
                report.fault = Some(Fault::KeyOutOfPlace { key: r.key });
                report.good_len = before;
                return Ok(report);
            }
        }
        report.records += 1;
    }
    if let Some(end) = reader.end() {
        report.good_len = end.offset;
        if !matches!(end.reason, EndReason::Complete) {
            report.fault = Some(Fault::Records(end.reason));
        }
    }
    Ok(report)
}

/// The range a path's last two parts allow, if they are a slot directory and a bucket name.
pub fn range_of(path: &Path) -> Option<RangeInclusive<u64>> {
    parse_bucket_path(path)
}

/// Repairs a faulty file of `report`: copies the bytes after `good_len` to
/// `<file>.cut-<unix time>` (fsynced), then truncates the file to `good_len` (fsynced). A file
/// of unknown version, or without a fault, is left alone. Returns the tail's path.
pub fn repair(report: &FileReport) -> io::Result<Option<PathBuf>> {
    if report.fault.is_none() || report.format.is_none() || report.good_len >= report.len {
        return Ok(None);
    }
    let path = &report.path;
    let named = |what: &'static str, p: &Path| {
        let p = p.display().to_string();
        move |e: io::Error| io::Error::new(e.kind(), format!("cannot {what} {p}: {e}"))
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut tail_path = PathBuf::from(format!("{}.cut-{now}", path.display()));
    let mut n = 1;
    while tail_path.exists() {
        tail_path = PathBuf::from(format!("{}.cut-{now}-{n}", path.display()));
        n += 1;
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(named("open", path))?;
    // The file must be what was checked: never cut a file that changed since.
    if file.metadata().map_err(named("stat", path))?.len() != report.len {
        return Err(io::Error::other(format!(
            "{} changed since it was checked; not repaired",
            path.display()
        )));
    }
    file.seek(SeekFrom::Start(report.good_len))
        .map_err(named("read", path))?;
    let mut tail = File::create_new(&tail_path).map_err(named("create", &tail_path))?;
    io::copy(
        &mut (&mut file).take(report.len - report.good_len),
        &mut tail,
    )
    .map_err(named("write", &tail_path))?;
    tail.sync_all().map_err(named("fsync", &tail_path))?;
    file.set_len(report.good_len)
        .map_err(named("truncate", path))?;
    file.sync_all().map_err(named("fsync", path))?;
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        sync_dir(dir).map_err(named("fsync", dir))?;
    }
    Ok(Some(tail_path))
}

/// The bucket files under `path` in scan order: `path` itself if it is a file; the slot
/// directories' buckets if it is a channel directory; every channel's if it is a data
/// directory (a directory with no slot directories). Cut tails (`.cut-*`) and other names are
/// skipped.
pub fn bucket_files(path: &Path) -> io::Result<Vec<PathBuf>> {
    use swarm_protocol::bucket::path::{parse_bucket_file, parse_slot_dir};
    let meta = fs::metadata(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    if meta.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    let list = |dir: &Path| -> io::Result<Vec<(String, PathBuf, bool)>> {
        let mut v = Vec::new();
        for e in fs::read_dir(dir)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?
        {
            let e = e.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", dir.display())))?;
            let is_dir = e.file_type()?.is_dir();
            if let Some(name) = e.file_name().to_str() {
                v.push((name.to_owned(), e.path(), is_dir));
            }
        }
        v.sort();
        Ok(v)
    };
    let channel = |dir: &Path| -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for (name, slot, is_dir) in list(dir)? {
            if is_dir && parse_slot_dir(&name).is_some() {
                for (b, file, b_dir) in list(&slot)? {
                    if !b_dir && parse_bucket_file(&b).is_some() {
                        files.push(file);
                    }
                }
            }
        }
        Ok(files)
    };
    let entries = list(path)?;
    let is_channel = entries
        .iter()
        .any(|(name, _, is_dir)| *is_dir && parse_slot_dir(name).is_some());
    if is_channel {
        return channel(path);
    }
    let mut files = Vec::new();
    for (_, dir, is_dir) in entries {
        if is_dir {
            files.extend(channel(&dir)?);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests;
