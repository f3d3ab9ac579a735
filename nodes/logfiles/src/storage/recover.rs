//! Start-up after a crash (spec/logfiles.md section 3.5): when `checkpoint.dat` is there, the
//! last shutdown was not clean, and every bucket it lists that is longer than its checkpointed
//! length is truncated to it, then fsynced. What was written after the last checkpoint is
//! dropped even if it reached the disk, as in the original, so no half-written record survives.
//!
//! Unlike the original, the checkpoint is kept until the next one replaces it or a clean
//! shutdown removes it (as the original did), and a bucket the checkpoint lists that no longer
//! exists is only logged.

use crate::checkpoint::Entry;
use std::fs::OpenOptions;
use std::io;
use std::path::Path;
use swarm_protocol::bucket::path::bucket_path;

/// What [`truncate_to_checkpoint`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recovered {
    /// Buckets cut back to their checkpointed length.
    pub truncated: usize,
    /// Bytes cut off in all.
    pub bytes_dropped: u64,
    /// Listed buckets that no longer exist.
    pub missing: usize,
}

/// Truncates each bucket of `entries` under `data_dir` that is longer than its entry says, and
/// fsyncs it. Errors name the file.
pub fn truncate_to_checkpoint(data_dir: &Path, entries: &[Entry]) -> io::Result<Recovered> {
    let mut done = Recovered::default();
    for e in entries {
        let path = data_dir.join(bucket_path(&e.channel, e.bucket_start));
        let file = match OpenOptions::new().write(true).open(&path) {
            Ok(f) => f,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                log::warn!(
                    "checkpoint lists {} ({} bytes), which does not exist",
                    path.display(),
                    e.offset
                );
                done.missing += 1;
                continue;
            }
            Err(err) => {
                return Err(io::Error::new(
                    err.kind(),
                    format!("cannot open {}: {err}", path.display()),
                ))
            }
        };
        let named = |err: io::Error| {
            io::Error::new(
                err.kind(),
                format!("cannot truncate {}: {err}", path.display()),
            )
        };
        let len = file.metadata().map_err(named)?.len();
        if len <= e.offset {
            continue;
        }
        file.set_len(e.offset).map_err(named)?;
        file.sync_all().map_err(named)?;
        log::warn!(
            "{}: cut from {len} to {} bytes, the length of the last checkpoint (records written \
             after it are dropped)",
            path.display(),
            e.offset
        );
        done.truncated += 1;
        done.bytes_dropped += len - e.offset;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn longer_buckets_are_cut_back_and_others_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let write = |key: u64, len: usize| {
            let p = dir.path().join(bucket_path("ch", key));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, vec![7u8; len]).unwrap();
            p
        };
        let long = write(0x1000, 100);
        let short = write(0x2000, 30);
        let entries = vec![
            Entry {
                channel: "ch".into(),
                bucket_start: 0x1000,
                offset: 40,
            },
            Entry {
                channel: "ch".into(),
                bucket_start: 0x2000,
                offset: 50,
            },
            Entry {
                channel: "ch".into(),
                bucket_start: 0x3000,
                offset: 16,
            },
            Entry {
                channel: "other".into(),
                bucket_start: 0,
                offset: 0,
            },
        ];
        let r = truncate_to_checkpoint(dir.path(), &entries).unwrap();
        assert_eq!(
            r,
            Recovered {
                truncated: 1,
                bytes_dropped: 60,
                missing: 2
            }
        );
        assert_eq!(fs::metadata(&long).unwrap().len(), 40);
        assert_eq!(
            fs::metadata(&short).unwrap().len(),
            30,
            "shorter: untouched"
        );
    }
}
