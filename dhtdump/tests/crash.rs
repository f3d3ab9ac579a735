//! Crash test: `kill -9` dhtdump at random moments while it dumps a large channel, then SIGTERM
//! it likewise. After every kill the channel's `.tcm` must be complete (readable to its end
//! marker) and hold either the previous dump or the new one; the backup, if any, is complete
//! too; only `.dumping` temp files may be left over (never renamed into place), a SIGTERM
//! leaves none and exits 0, and at the end a node started on the directory logs and deletes the
//! stale temp files and serves exactly the last complete dump.
//!
//! The node does not change while a dhtdump runs, so "the new dump" is known exactly: before
//! each round the test changes some records, and the dump of that round must hold them all or
//! none of them. `DHTDUMP_CRASH_SEED` replays a run.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};

const RECORDS: u64 = 300_000;
const KILL_ROUNDS: usize = 15;
const TERM_ROUNDS: usize = 3;
const MARKER: u64 = 0xffff_0000_0000_0001;

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn seed() -> u64 {
    if let Some(s) = std::env::var("DHTDUMP_CRASH_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
    {
        return s;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1
}

/// Changes 100 records and the marker in `big` (on the node and in `state`).
fn mutate(node: &Node, keys: &[u64], round: usize, state: &mut Records) {
    let mut change = Records::new();
    for j in 0..100 {
        let k = keys[(round * 997 + j * 7919) % keys.len()];
        change.insert(k, format!("round {round} record {j}").into_bytes());
    }
    change.insert(MARKER, format!("round {round}").into_bytes());
    node.connect().put_all(b"big", &change);
    state.extend(change);
}

/// The `.dumping` files in `dir`.
fn temp_files(dir: &std::path::Path) -> Vec<String> {
    let mut v = names(dir);
    v.retain(|n| n.ends_with(".dumping"));
    v
}

/// Checks the directory after a kill; returns what `big.tcm` now holds.
fn check_files(dump: &Dump, previous: &Records, new: &Records, small: &Records) -> Records {
    for name in names(&dump.data) {
        let ok = name.ends_with(".dumping")
            || ["big.tcm", "big.tcm.backup", "small.tcm", "small.tcm.backup"].contains(&&*name)
            // rotation's staging link, if the kill fell between link and rename; the node
            // removes it at its next start
            || (name.contains(".tcm.backup.") && name.ends_with(".new"));
        assert!(ok, "unexpected file {name}: {:?}", names(&dump.data));
    }
    let on_disk = read_tcm(&dump.data.join("big.tcm")).expect("big.tcm must be complete");
    assert!(
        on_disk == *previous || on_disk == *new,
        "big.tcm is neither the previous nor the new dump ({} records)",
        on_disk.len()
    );
    if dump.data.join("big.tcm.backup").exists() {
        read_tcm(&dump.data.join("big.tcm.backup")).expect("the backup must be complete");
    }
    assert_eq!(&read_tcm(&dump.data.join("small.tcm")).unwrap(), small);
    on_disk
}

/// Waits for a child for at most `limit`.
#[test]
fn kill_9_or_sigterm_during_a_dump_leaves_the_previous_or_the_new_complete_dump() {
    let seed = seed();
    eprintln!("crash test seed {seed:#x} (DHTDUMP_CRASH_SEED replays it)");
    let mut rng = Rng(seed);
    let mut node = node();
    node.start();
    let mut state: Records = (0..RECORDS)
        .map(|i| {
            (
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                vec![b'a' + (i % 26) as u8; 100],
            )
        })
        .collect();
    let keys: Vec<u64> = state.keys().copied().collect();
    node.connect().put_all(b"big", &state);
    let small = records(10, 9, 300);
    node.connect().put_all(b"small", &small);

    let out = tempfile::tempdir().unwrap();
    let dump = Dump::new(node.port(), &out.path().join("data"), "");
    // Two timed runs (the second rotates a backup, like every later one); the slower one sets
    // the window the kills fall in.
    let mut full = Duration::ZERO;
    for _ in 0..2 {
        let started = Instant::now();
        dump.oneshot_ok();
        full = full.max(started.elapsed());
    }
    let mut current = read_tcm(&dump.data.join("big.tcm")).unwrap();
    assert!(current == state);
    eprintln!("a full oneshot dump takes up to {full:?}");

    let (mut old, mut new) = (0, 0);
    for round in 0..KILL_ROUNDS {
        let previous = current.clone();
        mutate(&node, &keys, round, &mut state);
        let mut child = dump.spawn(&["--oneshot"]);
        let delay = rng.below(full.as_micros() as u64 * 3 / 2);
        std::thread::sleep(Duration::from_micros(delay));
        child.kill().unwrap();
        child.wait().unwrap();
        current = check_files(&dump, &previous, &state, &small);
        if current == previous {
            old += 1;
        } else {
            new += 1;
        }
    }
    let stale = temp_files(&dump.data);
    eprintln!(
        "kill -9: {old} times the previous dump, {new} times the new one; {} stale temp files",
        stale.len()
    );

    for round in KILL_ROUNDS..KILL_ROUNDS + TERM_ROUNDS {
        let previous = current.clone();
        mutate(&node, &keys, round, &mut state);
        let starts = dump.root_log().matches("Starting dhtdump").count();
        let mut child = dump.spawn(&["--oneshot"]);
        // Signal handlers are installed before root.log is opened: from then on a SIGTERM is
        // a clean stop (before it, it would kill the process like any program's).
        assert!(dump.wait_log("Starting dhtdump", starts + 1, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_micros(
            rng.below(full.as_micros() as u64 * 4 / 5),
        ));
        signal(&child, "TERM");
        let status = wait_exit(&mut child, Instant::now() + Duration::from_secs(5));
        assert!(status.success(), "SIGTERM: dhtdump exited with {status}");
        current = check_files(&dump, &previous, &state, &small);
        assert_eq!(
            temp_files(&dump.data),
            stale,
            "SIGTERM must remove its temp file"
        );
    }

    // A node on dhtdump's directory: stale temp files are logged and deleted.
    node.stop();
    let mut copy = node_with_data(&dump.data);
    copy.start();
    assert!(copy.connect().get_all(b"big") == current);
    if !stale.is_empty() {
        assert!(copy.root_log().contains("Unfinished dump file found"));
    }
    assert_eq!(temp_files(&dump.data), Vec::<String>::new());
}
