//! The dht node's files in `data_dir`: their names, the load at start (`load`), the dump at
//! shutdown and the periodic dump in steps (`file`, `writer`, `periodic`), and
//! RemoveChannel retiring a channel's files to `deleted/` so neither a restart nor a dump that
//! was running at the time brings the channel back.
//!
//! | name in `data_dir` | what it is |
//! |---|---|
//! | `<ch>.tcm` | the channel's last complete dump (format in `swarm_protocol::tcm`) |
//! | `<ch>.tcm.backup` | the dump before it (see [`file::DumpFile::commit`] for the rotation) |
//! | `<ch>.tcm.XXXXXX.dumping` | a dump being written; left over only by a crash, never loaded, deleted at the next start |
//! | `<ch>.tcm.torn-<unix time>` | a `.tcm` that could not be loaded, kept for the operator |
//! | `<ch>.tcm.unsupported-<unix time>` | a `.tcm` of another format version, kept likewise |
//! | `deleted/` | files of removed channels |

mod direct;
pub mod file;
pub mod load;
pub mod periodic;
mod writer;

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Sub-directory of `data_dir` that receives dump files of removed channels.
pub const DELETED_DIR: &str = "deleted";
/// Suffix of a channel's dump file.
pub const TCM_SUFFIX: &str = ".tcm";
/// Suffix (after `.tcm`) of the previous dump.
pub const BACKUP_SUFFIX: &str = ".backup";
/// Suffix of a dump being written.
pub const DUMPING_SUFFIX: &str = ".dumping";

/// `<data_dir>/<channel>.tcm`.
pub fn dump_path(data_dir: &Path, channel: &[u8]) -> PathBuf {
    data_dir.join(format!("{}{TCM_SUFFIX}", String::from_utf8_lossy(channel)))
}

/// `<data_dir>/<channel>.tcm.backup`.
pub fn backup_path(data_dir: &Path, channel: &[u8]) -> PathBuf {
    data_dir.join(format!(
        "{}{TCM_SUFFIX}{BACKUP_SUFFIX}",
        String::from_utf8_lossy(channel)
    ))
}

pub use swarm_core::files::sync_dir;

/// Counts RemoveChannel retirements, process-wide. A dump notes the count when it starts a
/// channel; at commit, [`RETIRED`] tells whether that channel was retired since.
static RETIRE_CLOCK: AtomicU64 = AtomicU64::new(0);

/// `<ch>.tcm` path -> the [`RETIRE_CLOCK`] value of its last retirement. The mutex is also the
/// lock under which a dump commits its renames, so a commit and a retirement of the same
/// channel never interleave.
static RETIRED: Mutex<Option<HashMap<PathBuf, u64>>> = Mutex::new(None);

/// The retirement clock now: a dump starting a channel notes it (see [`file::DumpFile`]).
pub fn retire_generation() -> u64 {
    RETIRE_CLOCK.load(Ordering::SeqCst)
}

/// Takes the commit/retire lock (a poisoned lock is still usable: the map is always valid).
fn retire_lock() -> MutexGuard<'static, Option<HashMap<PathBuf, u64>>> {
    RETIRED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether the channel of `tcm` was retired after `since` (a [`retire_generation`] value).
/// Holds for the caller's guard.
fn retired_since(
    guard: &MutexGuard<'_, Option<HashMap<PathBuf, u64>>>,
    tcm: &Path,
    since: u64,
) -> bool {
    guard
        .as_ref()
        .and_then(|m| m.get(tcm))
        .is_some_and(|&g| g > since)
}

/// Moves `<data_dir>/<channel>.tcm` and its `.backup` (if any) to `<data_dir>/deleted/`,
/// replacing older files of the same names there, and fsyncs both directories. A dump of the
/// channel that is being written meanwhile is discarded instead of committed.
pub fn retire_dump_file(data_dir: &Path, channel: &[u8]) -> io::Result<()> {
    let tcm = dump_path(data_dir, channel);
    let mut guard = retire_lock();
    let generation = RETIRE_CLOCK.fetch_add(1, Ordering::SeqCst) + 1;
    guard
        .get_or_insert_with(HashMap::new)
        .insert(tcm.clone(), generation);
    let deleted = data_dir.join(DELETED_DIR);
    let mut moved = false;
    for from in [tcm, backup_path(data_dir, channel)] {
        if !from.exists() {
            continue;
        }
        fs::create_dir_all(&deleted)?;
        let to = deleted.join(from.file_name().unwrap_or_default());
        fs::rename(&from, &to)?;
        log::info!("Moved {} to {}", from.display(), to.display());
        moved = true;
    }
    if moved {
        sync_dir(&deleted)?;
        sync_dir(data_dir)?;
    }
    Ok(())
}
