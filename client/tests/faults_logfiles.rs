//! A real `logfilesnode` killed (-9) under load while [`LogfilesClient`] puts through it from a
//! thread the whole time, every outcome recorded (issue 13, faults), in both sync modes:
//!
//! * `group` (the mode that promises most: a Put is answered after an fsync covering it):
//!   every acknowledged Put is read back after the restart;
//! * `checkpoint` (the default, the original's: answered once buffered, a checkpoint every
//!   `checkpoint_commit_seconds`, a crash truncates to it), with a checkpoint a second and the
//!   `[Testing] sync_journal` saying when each was taken: every Put acknowledged before the
//!   last checkpoint is read back.
//!
//! In both, every record read back was put (key and value), the node starts on what the kill
//! left, `logfiles_check` accepts every bucket file afterwards, Puts fail with an error while
//! the node is down, and the client puts again on its own within [`RESUME_BOUND`] of the node
//! listening again.
#![allow(clippy::unwrap_used)]

mod common;

use common::load::{bounce, figure, resumed_after, tally, Bounce, Down, Load, Outcome};
use common::logfiles::{logfilesnode_bin, LogfilesNode};
use common::node_bin;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use swarm_client::{ClientConfig, LogfilesClient};

const CHANNEL: &str = "faults";
const RESUME_BOUND: Duration = Duration::from_secs(1);
const DOWN: Duration = Duration::from_millis(700);
/// The first record's key (a Unix time); ten records a second.
const FIRST_KEY: u64 = 1_700_000_000;

fn check_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-logfiles", "logfiles_check", "LOGFILES_CHECK_BIN"))
}

/// As the dht fault tests: a Put to a node that is down fails after 300 ms.
fn config() -> ClientConfig {
    ClientConfig::default()
        .with_connect_timeout(Duration::from_millis(200))
        .with_io_timeout(Some(Duration::from_secs(2)))
        .with_reconnect_backoff_start(Duration::from_millis(10))
        .with_reconnect_backoff_max(Duration::from_millis(100))
        .with_reconnect_timeout(Duration::from_millis(300))
}

fn key(i: u64) -> u64 {
    FIRST_KEY + i / 10
}

fn value(i: u64) -> Vec<u8> {
    format!("put {i}").into_bytes()
}

/// A node in `mode` with a checkpoint a second and the sync journal, keeping its port.
fn node(mode: &str) -> LogfilesNode {
    let mut node = LogfilesNode::new(
        logfilesnode_bin(),
        &[
            ("Options_Dls", "sync_mode", mode),
            ("Performance", "checkpoint_commit_seconds", "1"),
        ],
    )
    .with_sticky_port();
    let journal = journal(&node).display().to_string();
    node.set("Testing", "sync_journal", &journal);
    node.start();
    node
}

fn journal(node: &LogfilesNode) -> PathBuf {
    node.dir.path().join("sync.journal")
}

/// The times (ms since the epoch) of the journal's checkpoints.
fn checkpoints(node: &LogfilesNode) -> Vec<u64> {
    let text = std::fs::read_to_string(journal(node)).unwrap_or_default();
    text.lines()
        .filter_map(|l| l.strip_prefix("checkpoint "))
        .map(|ms| ms.parse().unwrap())
        .collect()
}

fn load(node: &LogfilesNode) -> Load {
    let client = LogfilesClient::new(&[node.addr()], config()).unwrap();
    Load::start(Duration::from_millis(1), move |i| {
        client.put(CHANNEL, key(i), &value(i))
    })
}

/// Kills the node after `acks` more acknowledged Puts (and, with `checkpoint`, 300 ms after the
/// next checkpoint), keeps it down, starts it and waits for Puts again; the outcomes and when
/// the node was killed, started and listening.
fn kill_under_load(node: &mut LogfilesNode, checkpoint: bool) -> Bounce {
    let load = load(node);
    load.wait_acked_after(Instant::now(), 300, Duration::from_secs(20));
    if checkpoint {
        let seen = checkpoints(node).len();
        let deadline = Instant::now() + Duration::from_secs(10);
        while checkpoints(node).len() <= seen {
            assert!(Instant::now() < deadline, "no checkpoint in 10 s");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    bounce(node, load, Down::Kill9, DOWN, 100, |_| {})
}

/// Every record read back was put, by an acknowledged or a failed Put; how many times each
/// Put number came back.
fn read_back(node: &LogfilesNode, outcomes: &[Outcome]) -> BTreeMap<u64, usize> {
    let client = LogfilesClient::new(&[node.addr()], config()).unwrap();
    let mut seen = BTreeMap::new();
    for r in client.get_all(CHANNEL).unwrap() {
        let (k, v) = r.unwrap();
        let text = String::from_utf8_lossy(&v);
        let i: u64 = text
            .strip_prefix("put ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("read back a record never put: {text:?}"));
        assert!((i as usize) < outcomes.len(), "{i} never put");
        assert_eq!(k, key(i), "put {i} came back under another key");
        *seen.entry(i).or_insert(0) += 1;
    }
    seen
}

/// `logfiles_check` over the stopped node's data directory: every file is sound.
fn assert_checked(node: &mut LogfilesNode) {
    node.stop();
    let out = std::process::Command::new(check_bin())
        .arg(node.data())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logfiles_check: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The Unix time in ms at which `t` was, by the clock now.
fn unix_ms(t: Instant) -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    (now - t.elapsed()).as_millis() as u64
}

#[test]
fn group_mode_kill_9_under_load_keeps_every_acknowledged_put() {
    let mut node = node("group");
    let run = kill_under_load(&mut node, false);
    let seen = read_back(&node, &run.outcomes);
    let acked: Vec<&Outcome> = run.outcomes.iter().filter(|o| o.ok()).collect();
    for o in &acked {
        assert!(seen.contains_key(&o.i), "Put {} acknowledged and lost", o.i);
    }
    let twice = seen.values().filter(|n| **n > 1).count();
    assert_checked(&mut node);
    let resumed = resumed_after(&run.outcomes, run.up);
    let t = tally(&run.outcomes);
    figure(
        "logfiles kill -9, sync_mode group",
        &format!(
            "{} Puts acknowledged (all read back), {} failed with an error, {twice} read back \
             twice; start {:?}, client put again {resumed:?} after the node listened; \
             logfiles_check accepts every file",
            t.acked,
            t.failed,
            run.up - run.starting
        ),
    );
    assert!(resumed < RESUME_BOUND, "resumed after {resumed:?}");
}

#[test]
fn checkpoint_mode_kill_9_under_load_keeps_every_put_acknowledged_before_the_last_checkpoint() {
    let mut node = node("checkpoint");
    let run = kill_under_load(&mut node, true);
    let last = *checkpoints(&node)
        .iter()
        .filter(|ms| **ms <= unix_ms(run.down))
        .max()
        .unwrap();
    let seen = read_back(&node, &run.outcomes);
    let (mut kept, mut lost) = (0, 0);
    for o in run.outcomes.iter().filter(|o| o.ok() && o.ended < run.down) {
        if unix_ms(o.ended) < last {
            assert!(
                seen.contains_key(&o.i),
                "Put {} before the checkpoint lost",
                o.i
            );
            kept += 1;
        } else if !seen.contains_key(&o.i) {
            lost += 1;
        }
    }
    assert!(kept > 0, "no Put before the checkpoint");
    assert_checked(&mut node);
    let resumed = resumed_after(&run.outcomes, run.up);
    let t = tally(&run.outcomes);
    figure(
        "logfiles kill -9, sync_mode checkpoint",
        &format!(
            "{} Puts acknowledged, {} failed with an error; {kept} acknowledged before the last \
             checkpoint all read back, {lost} acknowledged after it lost (the promise allows \
             it); start {:?}, client put again {resumed:?} after the node listened; \
             logfiles_check accepts every file",
            t.acked,
            t.failed,
            run.up - run.starting
        ),
    );
    assert!(resumed < RESUME_BOUND, "resumed after {resumed:?}");
}
