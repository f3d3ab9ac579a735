//! The dump at graceful shutdown: every non-empty ring to `<ch>.rq` by the safe-file path. The
//! file is written as `<ch>.rq.XXXXXX.dumping` (created with `O_EXCL` by `tempfile`, a name
//! the loader deletes as a crash's leftover), fsynced, renamed over `<ch>.rq`; the directory is
//! fsynced once after the last channel. A failure leaves any older `<ch>.rq` as it was and
//! deletes the temp file (dropping `TempPath`); the other channels are still dumped.
//!
//! The ring's memory from the read position is already the file's data (`u64 len + payload`
//! records in pop order, see `storage::ring`), so it is written as one or two slices
//! ([`RqWriter::write_encoded`]): no copy per record and no buffer besides the 12-byte header.

use super::{rq_path, sync_dir, DUMPING_SUFFIX, RQ_SUFFIX};
use crate::storage::ring::Ring;
use crate::storage::MemoryStore;
use std::fs;
use std::io;
use std::path::Path;
use swarm_protocol::rq::RqWriter;

/// What one channel's dump wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Written {
    records: u32,
    /// The file's length.
    bytes: u64,
}

/// Dumps every channel of `store` into `data_dir` at shutdown, logging each: a non-empty ring
/// to `<ch>.rq`; an empty one leaves no file (a stale `<ch>.rq` of it is deleted, so it does
/// not come back at the next start). Returns how many channels could not be written, each
/// failure logged with the path and the error; when the final fsync of the directory fails,
/// every channel changed is counted, since none of them is known to survive a crash.
pub fn dump_all(data_dir: &Path, store: &MemoryStore) -> usize {
    let mut rings: Vec<(&[u8], &Ring)> = store.rings().collect();
    rings.sort_unstable_by_key(|&(name, _)| name);
    let non_empty = rings.iter().filter(|(_, r)| !r.is_empty()).count();
    log::info!(
        "Dumping {non_empty} non-empty channels of {} to {}",
        rings.len(),
        data_dir.display()
    );
    let (mut failed, mut changed) = (0, 0);
    for (name, ring) in rings {
        match dump_channel(data_dir, name, ring) {
            Done::Changed => changed += 1,
            Done::Unchanged => {}
            Done::Failed => failed += 1,
        }
    }
    if changed > 0 {
        if let Err(e) = sync_dir(data_dir) {
            log::error!(
                "cannot fsync {} after dumping: {e}; the {changed} files changed may not \
                 survive a crash",
                data_dir.display()
            );
            failed += changed;
        }
    }
    failed
}

/// Deletes the `<ch>.rq` files of `store`'s channels after a shutdown dump that failed for
/// some channel: the node serves on (see `QueueService::shutdown_incomplete`), and a record
/// popped from now on must not come back from such a file at the next start. The channels
/// stay in memory, as between any start and a graceful shutdown; the next shutdown dumps
/// again.
pub fn withdraw(data_dir: &Path, store: &MemoryStore) {
    let mut removed = 0;
    for (name, _) in store.rings() {
        let path = rq_path(data_dir, name);
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => log::error!(
                "cannot delete {} after the failed shutdown dump (records popped from now on \
                 would load again at the next start): {e}",
                path.display()
            ),
        }
    }
    if removed > 0 {
        log::warn!(
            "Deleted the {removed} .rq files the failed shutdown dump wrote: every channel stays \
             in memory until the next shutdown dumps it"
        );
        if let Err(e) = sync_dir(data_dir) {
            log::error!("cannot fsync {}: {e}", data_dir.display());
        }
    }
}

/// What [`dump_channel`] did to the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Done {
    /// Wrote `<ch>.rq`, or deleted a stale one.
    Changed,
    /// Nothing to do: an empty channel without a file.
    Unchanged,
    /// Failed (logged).
    Failed,
}

/// Dumps one channel (or deletes a stale file of an empty one), logging what happened.
fn dump_channel(data_dir: &Path, name: &[u8], ring: &Ring) -> Done {
    let path = rq_path(data_dir, name);
    let shown = String::from_utf8_lossy(name);
    if ring.is_empty() {
        return match fs::remove_file(&path) {
            Ok(()) => {
                log::warn!(
                    "Channel '{shown}' is empty: deleted its stale {}",
                    path.display()
                );
                Done::Changed
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Done::Unchanged,
            Err(e) => {
                log::error!(
                    "Channel '{shown}' is empty, but its stale {} cannot be deleted (it would \
                     load again at the next start): {e}",
                    path.display()
                );
                Done::Failed
            }
        };
    }
    match write_ring(data_dir, name, ring, &path) {
        Ok(w) => {
            log::info!(
                "Dumped channel '{shown}' to {}: {} records, {} bytes",
                path.display(),
                w.records,
                w.bytes
            );
            Done::Changed
        }
        Err(e) => {
            log::error!(
                "Dumping channel '{shown}' to {} failed: {e}",
                path.display()
            );
            Done::Failed
        }
    }
}

/// The record count of a ring as the file's u32 field. A ring of more records cannot exist
/// (each takes at least 8 bytes, so it would be over 32 GiB of empty records); it is refused
/// rather than written with a count that wrapped.
fn file_count(records: usize) -> io::Result<u32> {
    u32::try_from(records).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{records} records are more than a .rq file can count (u32); not dumped"),
        )
    })
}

/// Writes `ring` to a temp file, fsyncs it and renames it over `path` (`<ch>.rq`).
fn write_ring(data_dir: &Path, name: &[u8], ring: &Ring, path: &Path) -> io::Result<Written> {
    let count = file_count(ring.len())?;
    let (first, second) = ring.as_slices();
    let data_len = (first.len() + second.len()) as u64;
    let prefix = format!("{}{RQ_SUFFIX}.", String::from_utf8_lossy(name));
    let (file, temp) = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(DUMPING_SUFFIX)
        .rand_bytes(6)
        .tempfile_in(data_dir)?
        .into_parts();
    // Two large writes straight from the ring: a BufWriter would only add a copy.
    let mut out = RqWriter::new(&file, count, data_len)?;
    out.write_encoded(first)?;
    out.write_encoded(second)?;
    let (_, bytes) = out.finish()?;
    file.sync_all()?;
    drop(file);
    // On failure the error's TempPath is dropped, which deletes the temp file.
    temp.persist(path).map_err(|e| e.error)?;
    Ok(Written {
        records: count,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChannelSizes;
    use crate::dump::tests::names;
    use crate::storage::QueueStore;

    fn store_of(channels: &[(&[u8], &[&[u8]])]) -> MemoryStore {
        let mut s = MemoryStore::new(ChannelSizes::new(1000), 0);
        for (ch, records) in channels {
            s.create_channel(ch).unwrap();
            for r in *records {
                s.push(ch, r).unwrap();
            }
        }
        s
    }

    #[test]
    fn the_spec_fixture_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_of(&[(b"ch2", &[b"Hello ch2!"])]);
        assert_eq!(dump_all(dir.path(), &store), 0);
        assert_eq!(names(dir.path()), ["ch2.rq"]);
        let mut expect = vec![1, 0, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0];
        expect.extend([0x0a, 0, 0, 0, 0, 0, 0, 0]);
        expect.extend(b"Hello ch2!");
        assert_eq!(fs::read(dir.path().join("ch2.rq")).unwrap(), expect);
    }

    #[test]
    fn empty_channels_leave_no_file_and_lose_a_stale_one() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("old.rq"), b"stale").unwrap();
        fs::write(dir.path().join("other.rq"), b"not ours to touch").unwrap();
        let store = store_of(&[(b"old", &[]), (b"never", &[]), (b"full", &[b"x"])]);
        assert_eq!(dump_all(dir.path(), &store), 0);
        assert_eq!(names(dir.path()), ["full.rq", "other.rq"]);
    }

    #[test]
    fn a_failed_channel_is_counted_and_loses_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where b.rq goes: the rename over it fails, whoever runs the test.
        fs::create_dir(dir.path().join("b.rq")).unwrap();
        fs::write(dir.path().join("b.rq").join("keep"), b"k").unwrap();
        let store = store_of(&[(b"a", &[b"1"]), (b"b", &[b"2"]), (b"c", &[b"3"])]);
        assert_eq!(dump_all(dir.path(), &store), 1);
        assert_eq!(
            names(dir.path()),
            ["a.rq", "b.rq", "c.rq"],
            "no temp file left"
        );
        assert_eq!(names(&dir.path().join("b.rq")), ["keep"]);
        assert_eq!(fs::read(dir.path().join("c.rq")).unwrap().len(), 12 + 9);
    }

    #[test]
    fn a_read_only_directory_fails_every_channel_and_changes_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a.rq"), b"old").unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
        if fs::write(dir.path().join("probe"), b"").is_ok() {
            // Root (or a capability) writes anyway; the directory-in-the-way test covers it.
            fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
            return;
        }
        let store = store_of(&[(b"a", &[b"1"]), (b"b", &[b"2"])]);
        let failed = dump_all(dir.path(), &store);
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(failed, 2);
        assert_eq!(names(dir.path()), ["a.rq"]);
        assert_eq!(fs::read(dir.path().join("a.rq")).unwrap(), b"old");
    }

    #[test]
    fn withdraw_deletes_the_files_of_the_channels_only() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("other.rq"), b"not ours to touch").unwrap();
        let store = store_of(&[(b"a", &[b"1"]), (b"b", &[b"2"])]);
        assert_eq!(dump_all(dir.path(), &store), 0);
        withdraw(dir.path(), &store);
        assert_eq!(names(dir.path()), ["other.rq"]);
    }

    #[test]
    fn the_count_is_refused_rather_than_wrapped() {
        assert_eq!(file_count(u32::MAX as usize).unwrap(), u32::MAX);
        assert!(file_count(u32::MAX as usize + 1).is_err());
    }
}
