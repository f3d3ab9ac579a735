//! Small file-system steps every node's safe-file path takes (temp file, fsync, rename, fsync
//! the directory).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Opens a directory and fsyncs it, so renames, creations and deletions inside it survive a
/// crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Replaces `path` with `bytes` by the safe-file path: `bytes` go to `tmp` (beside `path`),
/// which is fsynced and renamed over `path`, then the directory is fsynced; a crash leaves the
/// old file or the new one. The new file keeps the old one's permissions. Each error names
/// the step and the file; a failure after `tmp` was made removes it.
pub fn replace(path: &Path, tmp: &Path, bytes: &[u8]) -> io::Result<()> {
    let named = |what: &str, p: &Path| {
        let what = format!("cannot {what} {}", p.display());
        move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"))
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut file = File::create(tmp).map_err(named("create", tmp))?;
    let written = (|| {
        file.write_all(bytes).map_err(named("write", tmp))?;
        if let Ok(meta) = fs::metadata(path) {
            file.set_permissions(meta.permissions())
                .map_err(named("set the permissions of", tmp))?;
        }
        file.sync_all().map_err(named("fsync", tmp))?;
        fs::rename(tmp, path).map_err(named("rename to", path))
    })();
    if written.is_err() {
        let _ = fs::remove_file(tmp);
    }
    written?;
    sync_dir(dir).map_err(named("fsync the directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_writes_the_new_bytes_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let (path, tmp) = (dir.path().join("f"), dir.path().join(".f.tmp"));
        replace(&path, &tmp, b"one").unwrap();
        replace(&path, &tmp, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!tmp.exists());
        let e = replace(&dir.path().join("no/f"), &dir.path().join("no/t"), b"x").unwrap_err();
        assert!(e.to_string().contains("cannot create"), "{e}");
    }
}
