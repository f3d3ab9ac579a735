//! The dht node's files in `data_dir`: where a channel's dump lives and how RemoveChannel
//! retires it to `deleted/` so a restart does not reload the channel.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Sub-directory of `data_dir` that receives dump files of removed channels.
pub const DELETED_DIR: &str = "deleted";

/// `<data_dir>/<channel>.tcm`.
pub fn dump_path(data_dir: &Path, channel: &[u8]) -> PathBuf {
    data_dir.join(format!("{}.tcm", String::from_utf8_lossy(channel)))
}

/// Opens a directory and fsyncs it, so renames inside it survive a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Moves `<data_dir>/<channel>.tcm` (if any) to `<data_dir>/deleted/<channel>.tcm`, replacing an
/// older file of the same name there, and fsyncs both directories.
pub fn retire_dump_file(data_dir: &Path, channel: &[u8]) -> io::Result<()> {
    let from = dump_path(data_dir, channel);
    if !from.exists() {
        return Ok(());
    }
    let deleted = data_dir.join(DELETED_DIR);
    fs::create_dir_all(&deleted)?;
    let to = dump_path(&deleted, channel);
    fs::rename(&from, &to)?;
    sync_dir(&deleted)?;
    sync_dir(data_dir)?;
    log::info!("Moved {} to {}", from.display(), to.display());
    Ok(())
}
