//! The node's `[Testing] sync_journal` read back, and what a power loss would leave of a data
//! directory rebuilt from it (redb's crash tests drop what was never fsynced; here the journal
//! says what was).
//!
//! The rule, for a data directory a single run of the node made: a bucket file keeps the length
//! of its last `sync <file> <len>` line (0 without one), and exists only if a `dir <slot dir>`
//! line follows its `create` line; a slot directory exists only if a `dir <channel dir>` line
//! follows the first `create` in it, a channel directory only if a `dir <data dir>` line follows
//! the first `create` in it. A directory fsync journaled before the `create` may have started
//! before the entry was made, so it is not counted. Optionally a file also keeps a random part
//! of its unsynced tail, as when write-back had begun: a torn last record for recovery to cut.

use super::ingest::Rng;
use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One journal line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    Create(PathBuf),
    Sync(PathBuf, u64),
    Dir(PathBuf),
    Checkpoint(u64),
}

/// The lines of the journal at `path` from byte `from` on (a run's own lines); a last line
/// without its newline is dropped (each line is one write(2), so there is none in practice).
pub fn read(path: &Path, from: u64) -> Vec<Line> {
    let bytes = fs::read(path).unwrap_or_default();
    let text = String::from_utf8(bytes[from as usize..].to_vec()).expect("journal is text");
    let mut lines = Vec::new();
    let mut rest = text.as_str();
    while let Some((line, tail)) = rest.split_once('\n') {
        rest = tail;
        let (word, arg) = line.split_once(' ').expect("journal line has an argument");
        lines.push(match word {
            "create" => Line::Create(arg.into()),
            "dir" => Line::Dir(arg.into()),
            "checkpoint" => Line::Checkpoint(arg.parse().expect("checkpoint ms")),
            "sync" => {
                let (file, len) = arg.rsplit_once(' ').expect("sync <file> <len>");
                Line::Sync(file.into(), len.parse().expect("sync length"))
            }
            _ => panic!("unknown journal line {line:?}"),
        });
    }
    lines
}

/// The time (ms since the epoch) of the last checkpoint in `lines`.
pub fn last_checkpoint(lines: &[Line]) -> Option<u64> {
    lines.iter().rev().find_map(|l| match l {
        Line::Checkpoint(ms) => Some(*ms),
        _ => None,
    })
}

/// Waits (up to `timeout`) until the journal at `path` holds a checkpoint line after byte
/// `from`; whether it does.
pub fn wait_checkpoint(path: &Path, from: u64, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if last_checkpoint(&read(path, from)).is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The length of a journal file (where the next run's lines start).
pub fn len(path: &Path) -> u64 {
    fs::metadata(path).map_or(0, |m| m.len())
}

/// What [`power_loss`] did, for the test's output.
#[derive(Debug, Default)]
pub struct Lost {
    pub bytes_cut: u64,
    pub files_deleted: usize,
    pub dirs_deleted: usize,
}

/// Whether a `dir <dir>` line comes after line `after`.
fn dir_synced_after(lines: &[Line], dir: &Path, after: usize) -> bool {
    lines[after..]
        .iter()
        .any(|l| matches!(l, Line::Dir(d) if d == dir))
}

/// The index of the first `create` of a file at or under `prefix`.
fn first_create(lines: &[Line], prefix: &Path) -> Option<usize> {
    lines
        .iter()
        .position(|l| matches!(l, Line::Create(f) if f.starts_with(prefix)))
}

/// Whether the entry `path` in `parent` would survive: made (first create under it) and the
/// parent fsynced after that.
fn entry_durable(lines: &[Line], parent: &Path, path: &Path) -> bool {
    first_create(lines, path).is_some_and(|i| dir_synced_after(lines, parent, i))
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

/// Rebuilds in `data` (which one run of the node made, then was killed) what a power loss
/// would have left according to `lines`, that run's journal. With `tear`, a file keeps a random
/// part of what it held beyond its synced length (write-back had begun: a torn tail), else
/// exactly the synced length.
pub fn power_loss(data: &Path, lines: &[Line], mut tear: Option<&mut Rng>) -> Lost {
    let mut synced: HashMap<&Path, u64> = HashMap::new();
    for l in lines {
        if let Line::Sync(f, n) = l {
            synced.insert(f, *n);
        }
    }
    let mut lost = Lost::default();
    for channel in subdirs(data) {
        if !entry_durable(lines, data, &channel) {
            fs::remove_dir_all(&channel).unwrap();
            lost.dirs_deleted += 1;
            continue;
        }
        for slot in subdirs(&channel) {
            if !entry_durable(lines, &channel, &slot) {
                fs::remove_dir_all(&slot).unwrap();
                lost.dirs_deleted += 1;
                continue;
            }
            for file in fs::read_dir(&slot).unwrap().map(|e| e.unwrap().path()) {
                if !entry_durable(lines, &slot, &file) {
                    fs::remove_file(&file).unwrap();
                    lost.files_deleted += 1;
                    continue;
                }
                let mut keep = synced.get(file.as_path()).copied().unwrap_or(0);
                let f = OpenOptions::new().write(true).open(&file).unwrap();
                let len = f.metadata().unwrap().len();
                assert!(
                    keep <= len,
                    "{} synced to {keep} but {len} long",
                    file.display()
                );
                if let Some(rng) = tear.as_deref_mut() {
                    keep = rng.range(keep, len + 1);
                }
                f.set_len(keep).unwrap();
                lost.bytes_cut += len - keep;
            }
        }
    }
    lost
}
