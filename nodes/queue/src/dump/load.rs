//! The load at start (spec 5.4): the scan of `data_dir`, each channel's `.rq` into the store,
//! then the deletion of the files loaded, so that a crash later does not load records again
//! that were popped meanwhile (the spec: "Finally all .rq files are deleted").
//!
//! | entry | what happens |
//! |---|---|
//! | `<ch>.rq` | loaded as channel `<ch>` (records and bytes logged), then deleted |
//! | `@<ch>.rq` | loaded as channel `<ch>` and deleted if there is no `<ch>.rq`; otherwise warned and left in place (two backlogs of one channel cannot be ordered, and `<ch>.rq` is what this node writes) |
//! | `<sub>@<ch>.rq` | warned (subscribers are not supported) and left in place |
//! | another `*.rq` | warned (not a valid channel name) and left in place |
//! | a torn `.rq` | its complete records are loaded; renamed to `<name>.rq.torn-<unix time>` with a warning naming the records loaded and the bytes lost |
//! | a `.rq` without a whole header (also 0 bytes) | likewise: set aside, the channel exists and starts empty |
//! | `<ch>.rq.XXXXXX.dumping` | deleted (logged): a shutdown dump a crash or kill interrupted |
//! | another `*.dumping`, `*.rq.torn-*`, a directory, anything else | warned, ignored |
//! | `*.dat`, `*.csv` | one warning: overflow files are not read by this node |
//! | `node.lock` | nothing (the node's own lock) |
//!
//! A torn file is one whose header claims more data than the file holds, whose record header
//! runs past the data or the 10 MiB record limit, or whose count disagrees with the records
//! tiling the data (`swarm_protocol::rq::RqError`): the records before the fault are whole and
//! are kept, as a torn write would leave the oldest records intact. Bytes after the data are
//! ignored with a warning, as the original ignored them.
//!
//! Errors, after which the node must not start: the directory or a `.rq` cannot be read, or a
//! file's records cannot be allocated. They all come before any file is deleted, so a failed
//! start loses nothing. A file that cannot be set aside or deleted after loading is logged as
//! an error and left in place: the node serves its records, and the next graceful shutdown
//! replaces the file (or deletes it, for a channel then empty); a crash before that would load
//! the file again.

mod file;
mod names;

use super::{naming, sync_dir};
use crate::storage::MemoryStore;
use file::{read_rq, set_aside, Contents};
use names::Kind;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use swarm_protocol::rq::RqError;

/// What [`load_data_dir`] loaded.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadReport {
    /// Channels created from files (a torn file's channel too, even with no record).
    pub channels: usize,
    /// Records loaded.
    pub records: u64,
    /// Bytes those records take in the rings, headers included (`Ring::used_bytes`).
    pub bytes: u64,
    /// Where torn or unusable files were set aside (`<name>.rq.torn-<unix time>`).
    pub torn: Vec<PathBuf>,
}

/// A channel's dump files.
#[derive(Debug, Default)]
struct Found {
    /// `<ch>.rq`.
    plain: Option<PathBuf>,
    /// `@<ch>.rq`.
    legacy: Option<PathBuf>,
}

/// What the scan found.
#[derive(Debug, Default)]
struct Scan {
    channels: BTreeMap<Vec<u8>, Found>,
    /// Names of overflow files, for one warning.
    overflow: Vec<String>,
    /// Entries deleted (temp files), for the directory fsync.
    changed: usize,
}

/// Loads every channel dump in `data_dir` into `store` (which should be empty: a channel it
/// has already is an error), then deletes the files loaded and fsyncs the directory. Call it
/// after [`super::lock_data_dir`]. An error means the node must not start (see the module
/// doc); the records loaded so far are then in `store` and all files still on disk.
pub fn load_data_dir(data_dir: &Path, store: &mut MemoryStore) -> io::Result<LoadReport> {
    log::info!("Scanning {} for memory dump files", data_dir.display());
    let mut entries = fs::read_dir(data_dir)
        .and_then(|d| d.collect::<Result<Vec<_>, _>>())
        .map_err(naming(data_dir, "cannot read data directory"))?;
    entries.sort_by_key(|e| e.file_name());
    let mut scan = Scan::default();
    for e in &entries {
        scan.classify(data_dir, &e.path())?;
    }
    scan.warn_overflow(data_dir);
    let mut report = LoadReport::default();
    let mut loaded = Vec::new();
    for (channel, found) in &scan.channels {
        let Some(path) = pick(channel, found) else {
            continue;
        };
        if load_one(channel, path, store, &mut report)? {
            loaded.push(path);
        }
    }
    let changed = scan.changed + report.torn.len() + remove_loaded(&loaded);
    if changed > 0 {
        if let Err(e) = sync_dir(data_dir) {
            log::error!(
                "cannot fsync {}: {e}; a crash soon may bring back files deleted or renamed",
                data_dir.display()
            );
        }
    }
    log::info!(
        "Loaded {} records ({} bytes) in {} channels from {}",
        report.records,
        report.bytes,
        report.channels,
        data_dir.display()
    );
    Ok(report)
}

impl Scan {
    /// Sorts one directory entry, or warns about it.
    fn classify(&mut self, dir: &Path, path: &Path) -> io::Result<()> {
        let name = path.file_name().unwrap_or_default();
        let shown = name.to_string_lossy();
        let kind = names::kind(name.as_bytes());
        let meta = match fs::metadata(path) {
            Ok(meta) => meta,
            // A dump that cannot be examined may hold records: do not start without them.
            Err(e) if matches!(kind, Kind::Dump { .. }) => {
                return Err(naming(path, "cannot stat")(e))
            }
            Err(e) => {
                log::warn!(
                    "Ignoring '{shown}' in {}: cannot stat it: {e}",
                    dir.display()
                );
                return Ok(());
            }
        };
        if meta.is_dir() {
            log::warn!(
                "Ignoring subdirectory '{shown}' in data directory {}",
                dir.display()
            );
        } else if !meta.is_file() {
            log::warn!(
                "Ignoring '{shown}' in {}: not a regular file",
                dir.display()
            );
        } else {
            self.sort(kind, path, &shown, meta.len());
        }
        Ok(())
    }

    /// Files a regular file of `kind`.
    fn sort(&mut self, kind: Kind<'_>, path: &Path, shown: &str, len: u64) {
        match kind {
            Kind::Dump { channel, legacy } => {
                let found = self.channels.entry(channel.to_vec()).or_default();
                let slot = if legacy {
                    &mut found.legacy
                } else {
                    &mut found.plain
                };
                *slot = Some(path.to_path_buf());
            }
            Kind::Subscriber => log::warn!(
                "{shown}: a subscriber's storage (Era C); this node has no subscribers, so it is \
                 not loaded; left in place"
            ),
            Kind::BadName => {
                log::warn!("{shown}: not a valid channel name; not loaded, left in place")
            }
            Kind::Temp => {
                log::warn!(
                    "Unfinished dump file found: {} ({len} bytes), left by a crash or kill \
                     during a shutdown dump; deleting it",
                    path.display()
                );
                match fs::remove_file(path) {
                    Ok(()) => self.changed += 1,
                    Err(e) => log::error!("cannot delete {}: {e}", path.display()),
                }
            }
            Kind::OtherDumping => {
                log::warn!("{shown}: unfinished dump file of another program or version; ignored")
            }
            Kind::Torn => log::warn!(
                "{shown}: a dump set aside at an earlier start (torn); not loaded, kept for the \
                 operator"
            ),
            Kind::Overflow => self.overflow.push(shown.to_owned()),
            Kind::Lock => {}
            Kind::Other => log::warn!("{shown}: not a '.rq' dump file; ignored"),
        }
    }

    fn warn_overflow(&self, dir: &Path) {
        if !self.overflow.is_empty() {
            log::warn!(
                "Not reading {} in {}: disk overflow files (the original's overflow.dat and \
                 ofchannels.csv) are not read by this node, which keeps records in memory only; \
                 their records are not loaded",
                self.overflow.join(", "),
                dir.display()
            );
        }
    }
}

/// The file to load for `channel`: `<ch>.rq`, else `@<ch>.rq`.
fn pick<'a>(channel: &[u8], found: &'a Found) -> Option<&'a Path> {
    match (&found.plain, &found.legacy) {
        (Some(plain), legacy) => {
            if let Some(legacy) = legacy {
                log::warn!(
                    "{}: not loaded, because channel '{}' is loaded from {}; left in place",
                    legacy.display(),
                    String::from_utf8_lossy(channel),
                    plain.display()
                );
            }
            Some(plain)
        }
        (None, legacy) => legacy.as_deref(),
    }
}

/// Loads `path` into channel `channel`. `Ok(true)`: the whole file was loaded (delete it);
/// `Ok(false)`: it was torn, its complete records were loaded and it was set aside (or left in
/// place, logged, if the rename failed).
fn load_one(
    channel: &[u8],
    path: &Path,
    store: &mut MemoryStore,
    report: &mut LoadReport,
) -> io::Result<bool> {
    let shown = String::from_utf8_lossy(channel);
    let contents = read_rq(path)?;
    store
        .load_channel(channel, contents.records, &contents.data)
        .map_err(|e| {
            io::Error::other(format!(
                "cannot load {} as channel '{shown}': {e}",
                path.display()
            ))
        })?;
    report.channels += 1;
    report.records += contents.records;
    report.bytes += contents.data.len() as u64;
    let Some(problem) = &contents.problem else {
        let left = contents.bytes_not_loaded();
        log::info!(
            "Loaded channel '{shown}' from {}: {} records, {} bytes",
            path.display(),
            contents.records,
            contents.data.len()
        );
        if left > 0 {
            log::warn!(
                "{}: {left} bytes after the data were not read (the original did not read them \
                 either)",
                path.display()
            );
        }
        return Ok(true);
    };
    warn_torn(path, &shown, &contents, problem);
    drop(contents);
    if let Some(to) = set_aside(path) {
        report.torn.push(to);
    }
    Ok(false)
}

/// The warning for a torn file: the file, what was loaded and what was lost.
fn warn_torn(path: &Path, channel: &str, contents: &Contents, problem: &RqError) {
    let header = match contents.header {
        Some((count, len)) => format!("its header says {count} records in {len} bytes"),
        None => "its header is incomplete".to_string(),
    };
    log::warn!(
        "{}: torn or inconsistent dump ({problem}; {header}): loaded its {} complete records \
         ({} bytes) into channel '{channel}'; {} bytes of the file lost",
        path.display(),
        contents.records,
        contents.data.len(),
        contents.bytes_not_loaded()
    );
}

/// Deletes the files loaded; how many went. A failure is logged, not fatal (module doc).
fn remove_loaded(paths: &[&Path]) -> usize {
    let mut removed = 0;
    for path in paths {
        match fs::remove_file(path) {
            Ok(()) => removed += 1,
            Err(e) => log::error!(
                "cannot delete {} after loading it: {e}; a crash before the next graceful \
                 shutdown would load its records again",
                path.display()
            ),
        }
    }
    removed
}

#[cfg(test)]
mod tests;
