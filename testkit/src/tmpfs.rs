//! A small tmpfs mounted for one test, as a node's data directory that can be filled up, freed,
//! and made read-only: the disk-fault tests' full disk and unwritable directory.
//!
//! Mounting needs root (as here and in CI). Where `mount` fails, [`Tmpfs::mount_or_skip`]
//! prints why and the test skips, but under `CI=true` it panics, so CI never passes a disk test
//! it did not run. Each guard mounts on a fresh directory under the temp dir and unmounts on
//! drop, also when the test panics (lazily if a process still holds a file there).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The name of the file [`Tmpfs::fill`] takes the space with.
pub const FILLER: &str = "filler.bin";

/// A mounted tmpfs, unmounted on drop.
#[derive(Debug)]
pub struct Tmpfs {
    /// Owns the mount point's parent; removed after the unmount.
    _parent: tempfile::TempDir,
    mount: PathBuf,
}

/// Runs `program args`; its stderr as the error.
fn run(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` bytes (`ro`: read-only) on a new directory.
    pub fn mount(size: u64, ro: bool) -> Result<Tmpfs, String> {
        let parent = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mount = parent.path().join("mnt");
        std::fs::create_dir(&mount).map_err(|e| e.to_string())?;
        let options = format!("size={size}{}", if ro { ",ro" } else { "" });
        let dir = mount.to_string_lossy().into_owned();
        run("mount", &["-t", "tmpfs", "-o", &options, "tmpfs", &dir])?;
        Ok(Tmpfs {
            _parent: parent,
            mount,
        })
    }

    /// [`Tmpfs::mount`], or `None` with the reason printed where mounting fails (not root, no
    /// mount namespace); under `CI=true` a failure panics instead.
    pub fn mount_or_skip(size: u64, ro: bool) -> Option<Tmpfs> {
        match Tmpfs::mount(size, ro) {
            Ok(t) => Some(t),
            Err(e) => {
                let msg = format!("cannot mount a tmpfs ({e}): the disk-fault test is skipped");
                assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
                eprintln!("{msg}");
                None
            }
        }
    }

    /// The mount point.
    pub fn path(&self) -> &Path {
        &self.mount
    }

    /// Bytes free for an unprivileged writer (as `statfs` reports them; tmpfs counts pages).
    pub fn free_bytes(&self) -> u64 {
        let out = run(
            "stat",
            &["-f", "-c", "%a %S", &self.mount.to_string_lossy()],
        )
        .expect("stat -f on the tmpfs");
        let mut it = out.split_whitespace().map(|n| n.parse::<u64>().unwrap());
        let (avail, block) = (it.next().unwrap(), it.next().unwrap());
        avail * block
    }

    /// Fills the file system with [`FILLER`] until at most `leave` bytes are free (0: until
    /// a write fails with "no space"). Returns the free bytes then.
    pub fn fill(&self, leave: u64) -> u64 {
        let mut file = File::create(self.mount.join(FILLER)).expect("create the filler");
        let chunk = vec![0xa5u8; 64 * 1024];
        loop {
            let free = self.free_bytes();
            if free <= leave {
                break;
            }
            let want = usize::try_from((free - leave).min(chunk.len() as u64)).unwrap();
            match file.write_all(&chunk[..want]) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC: full
                Err(e) => panic!("filling the tmpfs: {e}"),
            }
            file.flush().unwrap();
        }
        self.free_bytes()
    }

    /// Removes [`FILLER`]: the space it took is free again.
    pub fn free(&self) {
        match std::fs::remove_file(self.mount.join(FILLER)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => panic!("removing the filler: {e}"),
            _ => {}
        }
    }

    /// Remounts read-only (fails while a file there is open for writing).
    pub fn remount_ro(&self) -> Result<(), String> {
        self.remount("remount,ro")
    }

    /// Remounts read-write.
    pub fn remount_rw(&self) -> Result<(), String> {
        self.remount("remount,rw")
    }

    fn remount(&self, options: &str) -> Result<(), String> {
        run("mount", &["-o", options, &self.mount.to_string_lossy()]).map(drop)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let dir = self.mount.to_string_lossy().into_owned();
        // A node killed a moment ago may still hold files: detach lazily then.
        if let Err(e) = run("umount", &[&dir]) {
            if let Err(e2) = run("umount", &["-l", &dir]) {
                eprintln!("cannot unmount the test tmpfs {dir}: {e}; {e2}");
            }
        }
    }
}

/// Starts a node (made by `node` for a data directory) on each data directory it cannot make or
/// write in: a read-only tmpfs, a missing directory on one, and a regular file. Each start must
/// fail, naming the path and the reason on stderr and in root.log. Skipped, as
/// [`Tmpfs::mount_or_skip`] says, where mount fails.
pub fn assert_unwritable_data_dirs_are_named<N>(mut node: impl FnMut(&Path) -> N)
where
    N: std::ops::DerefMut<Target = crate::process::NodeProcess>,
{
    let Some(ro) = Tmpfs::mount_or_skip(1024 * 1024, true) else {
        return;
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    let cases = [
        (ro.path().to_path_buf(), "Read-only file system"),
        (ro.path().join("missing/data"), "Read-only file system"),
        (file.path().to_path_buf(), "ile exists"),
    ];
    for (data, reason) in cases {
        let mut node = node(&data);
        let failure = node.try_start_status().unwrap_err();
        assert!(!failure.status.unwrap().success());
        let path = data.display().to_string();
        assert!(
            failure.stderr.contains(&path) && failure.stderr.contains(reason),
            "{path}: {}",
            failure.stderr
        );
        let log = node.root_log();
        assert!(log.contains(&path) && log.contains(reason), "{log}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_frees_and_remounts() {
        let Some(t) = Tmpfs::mount_or_skip(1024 * 1024, false) else {
            return;
        };
        let before = t.free_bytes();
        assert!(before > 900 * 1024, "{before}");
        assert_eq!(t.fill(0), 0);
        let e = std::fs::write(t.path().join("x"), vec![0u8; 8192]).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}");
        t.free();
        assert!(t.fill(64 * 1024) <= 64 * 1024);
        t.free();
        assert_eq!(t.free_bytes(), before);
        t.remount_ro().unwrap();
        assert!(std::fs::write(t.path().join("y"), b"y").is_err());
        t.remount_rw().unwrap();
        std::fs::write(t.path().join("y"), b"y").unwrap();
        let mount = t.path().to_path_buf();
        drop(t);
        assert!(!mount.exists(), "the mount point's parent is removed");
    }
}
