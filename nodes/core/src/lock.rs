//! One node per directory: an exclusive `flock` on a lock file, held as long as the process
//! runs, as the original's `[PidLock]` (ocean's PidLock extension, which used `lockf`).
//!
//! A node takes [`DirLock::data_dir`] on its data directory before it reads or changes anything
//! there: `<data_dir>/node.lock` ([`DATA_DIR_LOCK`], one name for every node kind, so a queue
//! node cannot share a directory with a dht node either). A configured `[PidLock] path` is
//! locked with [`DirLock::file`] as well.
//!
//! - The file holds the holder's pid and a newline, for operators and for the error of the next
//!   node that tries; the lock itself is the `flock`, not the content.
//! - The lock dies with the process (the kernel drops it when the fd closes), so `kill -9` or a
//!   crash leaves no stale lock: the next start takes it even though the file still names the
//!   old pid. The file is never deleted: unlinking it while another process opens it would let
//!   two processes hold locks on two different files of one name.
//! - The pid is written in place (truncate, write), not by temp file and rename: a rename
//!   would put a new, unlocked inode under the name.
//! - `flock` is per open file: the fd is opened with `O_CLOEXEC` (Rust's default), so children
//!   do not inherit the lock.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Name of the lock file in a node's data directory.
pub const DATA_DIR_LOCK: &str = "node.lock";

/// Why a lock was not taken.
#[derive(Debug)]
#[non_exhaustive]
pub enum LockError {
    /// Another process holds it.
    Held {
        /// The lock file.
        path: PathBuf,
        /// The pid written in the file (`None` if unreadable, e.g. the holder has not written
        /// it yet).
        pid: Option<u32>,
    },
    /// The lock file cannot be opened or locked.
    Io {
        /// The lock file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockError::Held {
                path,
                pid: Some(pid),
            } => write!(
                f,
                "{} is locked by another running process (pid {pid})",
                path.display()
            ),
            LockError::Held { path, pid: None } => write!(
                f,
                "{} is locked by another running process (pid unknown)",
                path.display()
            ),
            LockError::Io { path, source } => write!(f, "cannot lock {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for LockError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LockError::Io { source, .. } => Some(source),
            LockError::Held { .. } => None,
        }
    }
}

impl From<LockError> for io::Error {
    fn from(e: LockError) -> io::Error {
        let kind = match &e {
            LockError::Held { .. } => io::ErrorKind::WouldBlock,
            LockError::Io { source, .. } => source.kind(),
        };
        io::Error::new(kind, e.to_string())
    }
}

/// An exclusive lock on a file, released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DirLock {
    /// Keeps the lock: closing the fd releases it. Never read.
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Locks `<dir>/node.lock` ([`DATA_DIR_LOCK`]); `dir` must exist.
    pub fn data_dir(dir: &Path) -> Result<DirLock, LockError> {
        DirLock::file(&dir.join(DATA_DIR_LOCK))
    }

    /// Locks `path`, creating it if missing, and writes this process's pid into it. A second
    /// lock on the same file fails even within one process (`flock` locks belong to the open
    /// file): a node that is dropped releases its lock for the next.
    pub fn file(path: &Path) -> Result<DirLock, LockError> {
        let io_err = |source| LockError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false) // the holder's pid stays readable until we hold the lock
            .open(path)
            .map_err(io_err)?;
        if let Err(e) = try_flock(&file) {
            if e.kind() == io::ErrorKind::WouldBlock {
                return Err(LockError::Held {
                    path: path.to_path_buf(),
                    pid: read_pid(path),
                });
            }
            return Err(io_err(e));
        }
        write_pid(&file).map_err(io_err)?;
        Ok(DirLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `flock(LOCK_EX | LOCK_NB)`; `WouldBlock` when another open file holds it.
fn try_flock(file: &File) -> io::Result<()> {
    loop {
        // SAFETY: flock only takes an fd and flags; the fd is valid because `file` is borrowed
        // for the whole call, and no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Replaces the file's content with `<pid>\n` (not fsynced: it is information, not state).
fn write_pid(file: &File) -> io::Result<()> {
    file.set_len(0)?;
    let line = format!("{}\n", std::process::id());
    file.write_all_at(line.as_bytes(), 0)
}

/// The pid a holder wrote, if the file holds one.
fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Takes `[PidLock] path` (if configured, with [`DirLock::file`]) and `<dir>/node.lock`
/// ([`DirLock::data_dir`]), so no second node reads or changes the directory while the returned
/// locks are kept (a node keeps them for its life, taking them before it reads the directory).
/// The errors say what the lock guards.
pub fn lock_data_dir(dir: &Path, pid_lock: Option<&Path>) -> io::Result<Vec<DirLock>> {
    let mut locks = Vec::new();
    // The lock error names the lock file and the holder's pid; say what it guards.
    let context = |e: LockError, what: String| {
        let msg = format!("{what}{e}");
        io::Error::new(io::Error::from(e).kind(), msg)
    };
    if let Some(path) = pid_lock {
        locks.push(DirLock::file(path).map_err(|e| context(e, "[PidLock] path: ".into()))?);
    }
    let lock = DirLock::data_dir(dir).map_err(|e| match e {
        LockError::Held { .. } => {
            context(e, format!("data directory {} is in use: ", dir.display()))
        }
        other => other.into(),
    })?;
    log::info!("Locked {}", lock.path().display());
    locks.push(lock);
    Ok(locks)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// Another open file description of the same file, as another process would have.
    fn flock_from_elsewhere(path: &Path) -> io::Result<File> {
        let f = File::open(path)?;
        try_flock(&f).map(|()| f)
    }

    #[test]
    fn a_held_lock_names_the_file_and_the_pid() {
        let dir = tempfile::tempdir().unwrap();
        let lock = DirLock::data_dir(dir.path()).unwrap();
        let path = dir.path().join(DATA_DIR_LOCK);
        assert_eq!(lock.path(), path);
        assert_eq!(read_pid(&path), Some(std::process::id()));
        let e = flock_from_elsewhere(&path).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        drop(lock);
        let other = flock_from_elsewhere(&path).unwrap();
        let e = DirLock::data_dir(dir.path()).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, LockError::Held { pid: Some(_), .. }), "{text}");
        assert_eq!(
            text,
            format!(
                "{} is locked by another running process (pid {})",
                path.display(),
                std::process::id()
            )
        );
        drop(other);
        assert!(DirLock::data_dir(dir.path()).is_ok());
    }

    #[test]
    fn a_second_lock_in_the_same_process_fails_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::data_dir(dir.path()).unwrap();
        // The same file under another name, from this process: still held.
        let other_name = dir.path().join(".").join(DATA_DIR_LOCK);
        assert!(matches!(
            DirLock::file(&other_name),
            Err(LockError::Held { .. })
        ));
        drop(first);
        let again = DirLock::file(&other_name).unwrap();
        drop(again);
        assert!(flock_from_elsewhere(&dir.path().join(DATA_DIR_LOCK)).is_ok());
    }

    #[test]
    fn a_missing_directory_is_an_io_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = DirLock::data_dir(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(e, LockError::Io { .. }));
        assert!(e.to_string().starts_with("cannot lock "), "{e}");
        assert!(e.to_string().contains("nope/node.lock"), "{e}");
    }
}
