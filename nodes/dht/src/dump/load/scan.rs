//! The data-directory scan at start (spec 6.3, DECISIONS.md): which files are loaded, which are
//! only warned about, and the fallback from an unloadable `<ch>.tcm` to `<ch>.tcm.backup`.
//!
//! | entry | what happens |
//! |---|---|
//! | `deleted/` | nothing (removed channels) |
//! | `node.lock` | nothing: the lock that keeps a second node out ([`lock_data_dir`]) |
//! | another directory | warned, ignored |
//! | `<ch>.tcm.XXXXXX.dumping` | deleted, its path and size logged: the temp file of a dump a crash or kill interrupted (dump/file.rs), never complete; the lock keeps other nodes out, and a dhtdump writing one loses its connection with the node that died |
//! | another `*.dumping` | warned as an unfinished dump ("restarted uncleanly"), ignored |
//! | `<ch>.tcm.backup.<pid>-<n>.new` | removed: the staging link of an interrupted backup rotation, another name of a file still in place |
//! | `<ch>.tcm` | loaded as channel `<ch>`; if it is empty (0 bytes), torn, corrupt or of another version, `<ch>.tcm.backup` is loaded instead |
//! | `<ch>.tcm.backup` | warned and ignored when `<ch>.tcm` loads; loaded (error logged) when it does not or is missing |
//! | anything else, or empty | warned, ignored |
//!
//! Keeping the most data: an unloadable non-empty `<ch>.tcm` is renamed to
//! `<ch>.tcm.torn-<unix time>` (or `.unsupported-<unix time>`), never deleted, so the operator can
//! salvage its readable records with `tcmcli`, and so the next dump does not rotate it into the
//! backup slot over the good backup the node just loaded. A partial file is never loaded: its
//! readable prefix may be older or newer than the backup record by record, and mixing the two
//! would make a state that never existed. If neither file loads, a torn channel starts empty
//! (one of another format version is only skipped, as the original did).

use super::{load_channel, LoadError, LoadRules};
use crate::dump::{sync_dir, BACKUP_SUFFIX, DELETED_DIR, DUMPING_SUFFIX, TCM_SUFFIX};
use crate::storage::Storage;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use swarm_core::lock::DATA_DIR_LOCK;
use swarm_protocol::tcm::TcmError;

/// A dump file found in the directory.
#[derive(Debug)]
struct Entry {
    path: PathBuf,
    len: u64,
}

/// The files of one channel.
#[derive(Debug, Default)]
struct Found {
    tcm: Option<Entry>,
    backup: Option<Entry>,
}

/// Creates the data directory and its `deleted/` if missing; the error names the path that
/// could not be created.
pub fn prepare_data_dir(dir: &Path) -> io::Result<()> {
    let create = |path: &Path, what: &str| {
        fs::create_dir_all(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create {what} {}: {e}", path.display()),
            )
        })
    };
    create(dir, "data directory")?;
    create(&dir.join(DELETED_DIR), "directory")
}

/// Takes `[PidLock] path` and `<dir>/node.lock` (see `swarm_core::lock::lock_data_dir`). Call
/// it after [`prepare_data_dir`] and before [`load_data_dir`].
pub use swarm_core::lock::lock_data_dir;

/// `e` with `what` and `path` in front, keeping its kind.
fn naming<'a>(path: &'a Path, what: &'a str) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |e| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Loads every channel dump in `dir` into `storage`. An error means the node must not start:
/// the directory cannot be read, or a record broke `allow_out_of_range = fatal` or the
/// all-out-of-range guard.
pub fn load_data_dir(dir: &Path, rules: &LoadRules, storage: &mut Storage) -> io::Result<()> {
    log::info!("Scanning {} for memory files", dir.display());
    let mut entries = fs::read_dir(dir)
        .and_then(|d| d.collect::<Result<Vec<_>, _>>())
        .map_err(naming(dir, "cannot read data directory"))?;
    entries.sort_by_key(|e| e.file_name());
    let mut channels: BTreeMap<Vec<u8>, Found> = BTreeMap::new();
    for e in entries {
        classify(dir, &e.path(), &mut channels)?;
    }
    for (channel, found) in channels {
        load_one(&channel, found, rules, storage)?;
    }
    log::info!(
        "Loaded {} records in {} channels from {}",
        storage.records(),
        storage.channel_names().len(),
        dir.display()
    );
    Ok(())
}

/// Sorts one directory entry into `channels`, or warns about it.
fn classify(dir: &Path, path: &Path, channels: &mut BTreeMap<Vec<u8>, Found>) -> io::Result<()> {
    let name = path.file_name().unwrap_or_default();
    let shown = name.to_string_lossy();
    let meta = fs::metadata(path).map_err(naming(path, "cannot stat"))?;
    if meta.is_dir() {
        if name != DELETED_DIR {
            log::warn!(
                "Ignoring subdirectory '{shown}' in data directory {}",
                dir.display()
            );
        }
        return Ok(());
    }
    let bytes = name.as_bytes();
    if name == DATA_DIR_LOCK {
        return Ok(()); // this node's lock (lock_data_dir)
    }
    let entry = Entry {
        path: path.to_path_buf(),
        len: meta.len(),
    };
    let backup_suffix = format!("{TCM_SUFFIX}{BACKUP_SUFFIX}");
    if is_staging_link(bytes, &backup_suffix) {
        // A crash fell between linking the old dump as the next backup and renaming the link
        // (dump/file.rs): it is only another name of a file still in place; drop the name.
        log::info!("{shown}: removing a backup-rotation link left by an interrupted dump");
        fs::remove_file(path).map_err(naming(path, "cannot remove"))?;
    } else if is_dump_temp_file(bytes) {
        remove_dump_temp_file(path, entry.len);
    } else if bytes.ends_with(DUMPING_SUFFIX.as_bytes()) {
        log::warn!(
            "{shown}: Unfinished dump file found while scanning directory '{}', the program \
             was probably restarted uncleanly and data might be old",
            dir.display()
        );
    } else if let Some(ch) = stem(bytes, backup_suffix.as_bytes()) {
        channels.entry(ch.to_vec()).or_default().backup = Some(entry);
    } else if let Some(ch) = stem(bytes, TCM_SUFFIX.as_bytes()) {
        channels.entry(ch.to_vec()).or_default().tcm = Some(entry);
    } else if entry.len == 0 {
        log::warn!("File {shown} in data directory {} is empty", dir.display());
    } else {
        log::warn!(
            "{shown}: Ignoring file while scanning directory '{}' (no '{TCM_SUFFIX}' suffix)",
            dir.display()
        );
    }
    Ok(())
}

/// Whether `name` is `<ch>.tcm.backup.<pid>-<n>.new`, the staging link of a backup rotation.
fn is_staging_link(name: &[u8], backup_suffix: &str) -> bool {
    let Some(pos) = name
        .windows(backup_suffix.len() + 1)
        .position(|w| w.starts_with(backup_suffix.as_bytes()) && w.ends_with(b"."))
    else {
        return false;
    };
    let tail = &name[pos + backup_suffix.len() + 1..];
    tail.strip_suffix(b".new")
        .is_some_and(|mid| !mid.is_empty() && mid.iter().all(|c| c.is_ascii_digit() || *c == b'-'))
}

/// Whether `name` is `<ch>.tcm.XXXXXX.dumping`, as `DumpFile::create` names its temp file
/// (six random alphanumerics): only those are ours to delete.
fn is_dump_temp_file(name: &[u8]) -> bool {
    let Some(rest) = name.strip_suffix(DUMPING_SUFFIX.as_bytes()) else {
        return false;
    };
    let Some((head, random)) = rest.split_last_chunk::<6>() else {
        return false;
    };
    let tcm_dot = format!("{TCM_SUFFIX}.");
    random.iter().all(u8::is_ascii_alphanumeric)
        && head
            .strip_suffix(tcm_dot.as_bytes())
            .is_some_and(|ch| !ch.is_empty())
}

/// Deletes a crashed dump's temp file after logging it. A failure is logged, not fatal: the
/// file is never loaded, it only wastes space.
fn remove_dump_temp_file(path: &Path, len: u64) {
    log::warn!(
        "Unfinished dump file found: {} ({len} bytes), left by a crash or kill during a dump; \
         deleting it",
        path.display()
    );
    if let Err(e) = fs::remove_file(path) {
        log::error!("cannot delete {}: {e}", path.display());
    }
}

/// The channel name before `suffix`, if the name ends with it and the name is not empty.
fn stem<'a>(name: &'a [u8], suffix: &[u8]) -> Option<&'a [u8]> {
    name.strip_suffix(suffix).filter(|s| !s.is_empty())
}

/// Loads one channel from its `.tcm`, or from its backup when the `.tcm` is unusable.
fn load_one(
    channel: &[u8],
    found: Found,
    rules: &LoadRules,
    storage: &mut Storage,
) -> io::Result<()> {
    let name = String::from_utf8_lossy(channel).into_owned();
    // Why the .tcm was not loaded, and whether it was a torn one (the channel then exists).
    let (why, torn) = match &found.tcm {
        None => ("is missing".to_string(), false),
        Some(e) if e.len == 0 => {
            log::warn!("File {} in data directory is empty", e.path.display());
            ("is empty".to_string(), false)
        }
        Some(e) => match attempt(&e.path, channel, rules, storage)? {
            None => {
                if let Some(b) = &found.backup {
                    log::warn!(
                        "{}: Ignoring file (the backup of '{name}', whose {TCM_SUFFIX} loaded)",
                        b.path.display()
                    );
                }
                return Ok(());
            }
            Some(err) => {
                log::error!(
                    "Cannot load channel '{name}' from {}: {err}",
                    e.path.display()
                );
                set_aside(&e.path, &err);
                // A torn channel starts empty; a file of another format is only skipped, as
                // the original did.
                let torn = !matches!(err, TcmError::UnsupportedVersion(_));
                (err.to_string(), torn)
            }
        },
    };
    let tcm_shown = format!("{name}{TCM_SUFFIX}");
    let backup_err = match &found.backup {
        Some(b) if b.len > 0 => match attempt(&b.path, channel, rules, storage)? {
            None => {
                log::error!(
                    "Channel '{name}': {tcm_shown} {why}; loaded the previous dump {} instead",
                    b.path.display()
                );
                if let Some(e) = found.tcm.as_ref().filter(|e| e.len == 0) {
                    set_aside(&e.path, &TcmError::Truncated { offset: 0 });
                }
                return Ok(());
            }
            Some(err) => err.to_string(),
        },
        Some(b) => format!("{} is empty", b.path.display()),
        None => "there is no backup".to_string(),
    };
    if torn {
        log::error!(
            "Channel '{name}': {tcm_shown} {why} and {backup_err}; the channel starts empty"
        );
        storage.channel_or_create(channel);
    }
    Ok(())
}

/// Loads one file. `Ok(None)`: loaded. `Ok(Some(e))`: the file is unusable and whatever it
/// put in storage was removed. `Err`: the node must not start.
fn attempt(
    path: &Path,
    channel: &[u8],
    rules: &LoadRules,
    storage: &mut Storage,
) -> io::Result<Option<TcmError>> {
    match load_channel(path, channel, rules, storage) {
        Ok(_) => Ok(None),
        Err(LoadError::Fatal(why)) => {
            log::error!("{why}");
            Err(io::Error::other(why))
        }
        Err(LoadError::File(e)) => {
            storage.remove_channel(channel);
            Ok(Some(e))
        }
    }
}

/// Renames an unloadable `.tcm` to `<name>.torn-<unix time>` (or `.unsupported-<unix time>`)
/// so it is kept for the operator and out of the next dump's rotation.
fn set_aside(path: &Path, err: &TcmError) {
    let kind = match err {
        TcmError::UnsupportedVersion(_) => "unsupported",
        _ => "torn",
    };
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut to = path.as_os_str().to_owned();
    to.push(format!(".{kind}-{secs}"));
    let to = PathBuf::from(to);
    match fs::rename(path, &to) {
        Ok(()) => {
            log::error!("Kept {} as {}", path.display(), to.display());
            if let Some(dir) = path.parent() {
                if let Err(e) = sync_dir(dir) {
                    log::warn!("cannot fsync {}: {e}", dir.display());
                }
            }
        }
        Err(e) => log::error!("cannot rename {} to {}: {e}", path.display(), to.display()),
    }
}

#[cfg(test)]
mod name_tests {
    use super::{is_dump_temp_file, is_staging_link};

    #[test]
    fn dump_temp_files_are_recognised() {
        assert!(is_dump_temp_file(b"ch.tcm.aB3dE9.dumping"));
        assert!(is_dump_temp_file(b"a.b.tcm.000000.dumping"));
        assert!(!is_dump_temp_file(b".tcm.aB3dE9.dumping"), "no channel");
        assert!(!is_dump_temp_file(b"ch.tcm.aB3dE.dumping"), "five");
        assert!(!is_dump_temp_file(b"ch.tcm.aB3-E9.dumping"));
        assert!(!is_dump_temp_file(b"notes.dumping"));
        assert!(!is_dump_temp_file(b"ch.tcm.aB3dE9.dumping.x"));
    }

    #[test]
    fn staging_links_are_recognised() {
        let suffix = ".tcm.backup";
        assert!(is_staging_link(b"ch.tcm.backup.123-4.new", suffix));
        assert!(!is_staging_link(b"ch.tcm.backup", suffix));
        assert!(!is_staging_link(b"ch.tcm", suffix));
        assert!(!is_staging_link(b"ch.tcm.backup.notes.new", suffix));
        assert!(!is_staging_link(b"ch.tcm.backup..new", suffix));
    }
}
