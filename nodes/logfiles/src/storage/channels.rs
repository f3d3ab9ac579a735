//! The channels in `data_dir` at start and their sizes (spec/logfiles.md section 2.1: the
//! original listed the directories it found at start-up; GetChannelSize and GetSize answered
//! NotSupported, ours answer real counts, DECISIONS). The sizes are counted once at start by
//! reading every bucket (progress in root.log for a large directory) and kept up to date by the
//! node afterwards, without rescans.

use super::scan::RangeScan;
use std::fs;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};
use swarm_protocol::bucket::EndReason;
use swarm_protocol::channel::is_valid_channel_name;

/// Records and bytes of a channel, as GetChannelSize answers them: the records' values (keys
/// and headers not counted, as the original's other nodes count `bytes`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ChannelSize {
    /// Records.
    pub records: u64,
    /// Bytes of their values.
    pub bytes: u64,
}

/// How often the count logs its progress.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// The channel directories of `data_dir` (names a channel may have; other entries, such as
/// `checkpoint.dat`, `node.lock` or a stray file, are skipped, the odd ones with a warning),
/// sorted.
pub fn channel_names(data_dir: &Path) -> io::Result<Vec<String>> {
    let named = |e: io::Error| {
        io::Error::new(
            e.kind(),
            format!("cannot read data directory {}: {e}", data_dir.display()),
        )
    };
    let mut names = Vec::new();
    for entry in fs::read_dir(data_dir).map_err(named)? {
        let entry = entry.map_err(named)?;
        let name = entry.file_name();
        let is_dir = entry.file_type().map_err(named)?.is_dir();
        match name.to_str() {
            Some(n) if is_dir && is_valid_channel_name(n.as_bytes()) => names.push(n.to_owned()),
            Some(n) if !is_dir => log::debug!("{}: not a channel directory", n),
            _ => log::warn!("{}: not a channel name, ignored", entry.path().display()),
        }
    }
    names.sort_unstable();
    Ok(names)
}

/// What counting a channel found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Its records and value bytes.
    pub size: ChannelSize,
    /// Buckets whose records end before their file does (torn, parity, too long).
    pub damaged: u64,
    /// Buckets cut back to their last whole record (with `cut_torn`).
    pub cut: u64,
    /// Bytes cut off in all.
    pub bytes_cut: u64,
    /// The lowest and highest key.
    pub keys: Option<(u64, u64)>,
    /// Damaged buckets not cut here, with the length of their good records: cut (keeping
    /// the rest beside them) before a write appends to them, so no new record is hidden.
    pub left_damaged: Vec<(std::path::PathBuf, u64)>,
}

/// Counts every record of the channel in `dir`, reading each bucket through a `buffer`-byte
/// read-ahead; logs progress every 10 s. With `cut_torn` (a start after a crash), a bucket
/// whose last record was cut while being written (a torn header or value at the end, nothing
/// after it) is truncated after its last whole record and fsynced, so records appended later
/// are not hidden behind the torn one; other damage (a parity failure, an impossible length)
/// is only reported, as it is no crash's doing.
pub fn count_channel(dir: &Path, buffer: usize, cut_torn: bool) -> io::Result<Counted> {
    let mut scan = RangeScan::new(dir, 0, u64::MAX, buffer)?.record_damage();
    let mut counted = Counted::default();
    let mut value = Vec::new();
    let started = Instant::now();
    let mut next_log = started + PROGRESS_EVERY;
    while let Some(key) = scan.next_into(&mut value)? {
        counted.keys = Some(match counted.keys {
            Some((lo, hi)) => (lo.min(key), hi.max(key)),
            None => (key, key),
        });
        counted.size.records += 1;
        counted.size.bytes += value.len() as u64;
        if counted.size.records % 65_536 == 0 && Instant::now() >= next_log {
            log::info!(
                "Counting {}: {} records, {} bytes so far ({:.0} s)",
                dir.display(),
                counted.size.records,
                counted.size.bytes,
                started.elapsed().as_secs_f64()
            );
            next_log += PROGRESS_EVERY;
        }
    }
    for (path, end) in scan.take_damage() {
        counted.damaged += 1;
        let torn = matches!(
            end.reason,
            EndReason::TornHeader { .. }
                | EndReason::TornValue { .. }
                | EndReason::EmptyAtEnd { .. }
        );
        if cut_torn && torn {
            counted.bytes_cut += cut_torn_tail(&path, end.offset)?;
            counted.cut += 1;
        } else {
            counted.left_damaged.push((path, end.offset));
        }
    }
    Ok(counted)
}

/// Truncates `path` to `offset` and fsyncs it; the bytes cut.
fn cut_torn_tail(path: &Path, offset: u64) -> io::Result<u64> {
    let named =
        |e: io::Error| io::Error::new(e.kind(), format!("cannot truncate {}: {e}", path.display()));
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(named)?;
    let len = file.metadata().map_err(named)?.len();
    if len <= offset {
        return Ok(0);
    }
    file.set_len(offset).map_err(named)?;
    file.sync_all().map_err(named)?;
    log::warn!(
        "{}: cut from {len} to {offset} bytes after a crash: its last record was only partly \
         written",
        path.display()
    );
    Ok(len - offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::write::ChannelWriter;

    #[test]
    fn channels_are_the_valid_directories_and_sizes_count_values() {
        let dir = tempfile::tempdir().unwrap();
        for (ch, n) in [("b", 3u64), ("a", 1000)] {
            let mut w = ChannelWriter::new(4096);
            let ch_dir = dir.path().join(ch);
            for k in 0..n {
                w.put_now(dir.path(), &ch_dir, k * 977, format!("{k:05}").as_bytes())
                    .unwrap();
            }
            w.close_all().unwrap();
        }
        fs::create_dir(dir.path().join("not.a.channel")).unwrap();
        fs::write(dir.path().join("checkpoint.dat"), b"").unwrap();
        fs::create_dir(dir.path().join("empty")).unwrap();
        assert_eq!(channel_names(dir.path()).unwrap(), ["a", "b", "empty"]);
        assert_eq!(
            count_channel(&dir.path().join("a"), 4096, false)
                .unwrap()
                .size,
            ChannelSize {
                records: 1000,
                bytes: 5000
            }
        );
        assert_eq!(
            count_channel(&dir.path().join("empty"), 0, false).unwrap(),
            Counted::default()
        );
    }
}
