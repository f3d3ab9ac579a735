//! Small file-system steps every node's safe-file path takes (temp file, fsync, rename, fsync
//! the directory).

use std::fs::File;
use std::io;
use std::path::Path;

/// Opens a directory and fsyncs it, so renames, creations and deletions inside it survive a
/// crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}
