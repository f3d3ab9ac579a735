//! A real `dhtnode` stopped and killed under load while [`DhtClient`] writes through it from a
//! thread the whole time, every outcome recorded (issue 13, faults):
//!
//! * a graceful restart (SIGTERM: the shutdown dump, then a start on it) loses no acknowledged
//!   Put;
//! * a kill -9 while `dhtdump --oneshot` runs beside the node: every Put acknowledged before
//!   the last completed dump started is there after the restart (the dump's promise), and
//!   nothing is there that was never written;
//!
//! and in both, while the node is down every Put fails with an error (none is acknowledged),
//! and the client serves again on its own within [`RESUME_BOUND`] of the node listening again.
//! `cargo test -p swarm-client --test faults_dht -- --nocapture` prints the figures.
#![allow(clippy::unwrap_used)]

mod common;

use common::load::{bounce, figure, resumed_after, tally, Bounce, Down, Load, Outcome};
use common::{dhtnode_bin, node_bin};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use swarm_client::{ClientConfig, DhtClient};
use swarm_testkit::Node;

const CHANNEL: &str = "faults";
/// The client serves again this soon after the node listens again (the backoff cap is 100 ms).
const RESUME_BOUND: Duration = Duration::from_secs(1);
/// How long the node stays down: long enough for several Puts to fail.
const DOWN: Duration = Duration::from_millis(600);

fn dhtdump_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-dhtdump", "dhtdump", "DHTDUMP_BIN"))
}

/// Put `i`'s key: spread over the key space.
fn key(i: u64) -> u64 {
    i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

fn value(i: u64) -> Vec<u8> {
    format!("put {i}").into_bytes()
}

/// Quick timeouts, so that a Put to a node that is down fails in 300 ms instead of waiting
/// for it, and a short backoff cap, so that the client is back soon after the node.
fn config() -> ClientConfig {
    ClientConfig::default()
        .with_connect_timeout(Duration::from_millis(200))
        .with_io_timeout(Some(Duration::from_secs(2)))
        .with_reconnect_backoff_start(Duration::from_millis(10))
        .with_reconnect_backoff_max(Duration::from_millis(100))
        .with_reconnect_timeout(Duration::from_millis(300))
}

/// A full-range node keeping its port across restarts.
fn node() -> Node {
    let mut n = Node::new(dhtnode_bin(), &[]).with_sticky_port();
    n.start();
    n
}

/// Puts `key(i)` = `value(i)` one after another through a client of `node`.
fn load(node: &Node) -> Load {
    let client = DhtClient::connect(&[node.addr()], config()).unwrap();
    Load::start(Duration::from_millis(1), move |i| {
        client.put(CHANNEL, key(i), &value(i))
    })
}

/// What the node holds now, through a new client.
fn stored(node: &Node) -> BTreeMap<u64, Vec<u8>> {
    let client = DhtClient::connect(&[node.addr()], config()).unwrap();
    let all = client.get_all(CHANNEL).unwrap();
    all.map(|r| r.unwrap()).collect()
}

/// Every record stored was written (by key and value), by a Put acknowledged or failed.
fn assert_only_written(stored: &BTreeMap<u64, Vec<u8>>, outcomes: &[Outcome]) {
    let written: BTreeMap<u64, u64> = outcomes.iter().map(|o| (key(o.i), o.i)).collect();
    for (k, v) in stored {
        let i = written
            .get(k)
            .unwrap_or_else(|| panic!("key {k:016x} never written"));
        assert_eq!(v, &value(*i), "key {k:016x}: another value than written");
    }
}

/// Every Put acknowledged before `t` (all of them without `t`) is stored; how many.
fn assert_kept(stored: &BTreeMap<u64, Vec<u8>>, outcomes: &[Outcome], t: Option<Instant>) -> usize {
    let mut kept = 0;
    for o in outcomes
        .iter()
        .filter(|o| o.ok() && t.is_none_or(|t| o.ended < t))
    {
        assert_eq!(
            stored.get(&key(o.i)),
            Some(&value(o.i)),
            "Put {} was acknowledged and is lost",
            o.i
        );
        kept += 1;
    }
    kept
}

#[test]
fn a_graceful_restart_under_load_loses_no_acknowledged_put() {
    let mut node = node();
    let load = load(&node);
    load.wait_acked_after(Instant::now(), 300, Duration::from_secs(20));
    let Bounce {
        outcomes,
        stopping,
        down,
        starting,
        up,
    } = bounce(&mut node, load, Down::Stop, DOWN, 300, |_| {});
    let stored = stored(&node);
    let kept = assert_kept(&stored, &outcomes, None);
    assert_only_written(&stored, &outcomes);
    let resumed = resumed_after(&outcomes, up);
    let t = tally(&outcomes);
    figure(
        "dht graceful restart",
        &format!(
            "{} Puts acknowledged (all {kept} present after the restart), {} failed with an \
             error; stop (dump) {:?}, start {:?}, client served again {resumed:?} after the \
             node listened",
            t.acked,
            t.failed,
            down - stopping,
            up - starting
        ),
    );
    assert!(resumed < RESUME_BOUND, "resumed after {resumed:?}");
}

#[test]
fn a_kill_9_keeps_every_put_acknowledged_before_the_last_completed_dhtdump() {
    let mut node = node();
    let load = load(&node);
    let dump = Dump::new(&node);
    load.wait_acked_after(Instant::now(), 200, Duration::from_secs(20));
    dump.oneshot();
    load.wait_acked_after(Instant::now(), 200, Duration::from_secs(20));
    // Every Put acknowledged before the dump starts is in what it reads.
    let dump_started = Instant::now();
    let took = dump.oneshot();
    load.wait_acked_after(Instant::now(), 50, Duration::from_secs(20));
    let Bounce {
        outcomes,
        down,
        starting,
        up,
        ..
    } = bounce(&mut node, load, Down::Kill9, DOWN, 300, |_| {});
    let stored = stored(&node);
    let kept = assert_kept(&stored, &outcomes, Some(dump_started));
    assert_only_written(&stored, &outcomes);
    let lost = outcomes
        .iter()
        .filter(|o| o.ok() && o.ended < down && !stored.contains_key(&key(o.i)))
        .count();
    let resumed = resumed_after(&outcomes, up);
    let t = tally(&outcomes);
    figure(
        "dht kill -9 with dhtdump",
        &format!(
            "{} Puts acknowledged, {} failed with an error; {kept} acknowledged before the last \
             dump (took {took:?}) all present; {lost} acknowledged after it lost by the kill \
             (the promise allows it); start {:?}, client served again {resumed:?} after the \
             node listened",
            t.acked,
            t.failed,
            up - starting
        ),
    );
    assert!(resumed < RESUME_BOUND, "resumed after {resumed:?}");
}

/// `dhtdump` configured for a node, writing into the node's data directory (which the node
/// loads at its next start).
struct Dump {
    dir: tempfile::TempDir,
}

impl Dump {
    fn new(node: &Node) -> Dump {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[Dht]\naddress = {}\nport = {}\n[Dump]\ndata_dir = {}\n[LOG.Root]\n\
             file = log/root.log\n[STATS]\nfile_name = log/stats.log\n",
            node.addr().ip(),
            node.port(),
            node.data().display()
        );
        std::fs::write(dir.path().join("dump.ini"), config).unwrap();
        Dump { dir }
    }

    /// Runs one `dhtdump --oneshot` cycle, which must succeed; how long it took.
    fn oneshot(&self) -> Duration {
        let started = Instant::now();
        let out = std::process::Command::new(dhtdump_bin())
            .arg("-c")
            .arg(self.dir.path().join("dump.ini"))
            .arg("--oneshot")
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "dhtdump --oneshot failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        started.elapsed()
    }
}
