//! `dhtredist` against real `dhtnode` binaries on 127.0.0.1: the dry run prints the plan and
//! changes nothing, the refusals before anything is sent, `--execute` moving 20,000 records
//! from two nodes onto a third, and `--drain` emptying a node.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{dhtnode_bin, nodes_file, run};
use std::net::SocketAddr;
use std::time::Duration;
use swarm_client::{ClientConfig, DhtClient, HashRange};
use swarm_testkit::{records, DhtConn, Node, Records};

const BIN: &str = env!("CARGO_BIN_EXE_dhtredist");
const CHANNEL: &str = "redist";
const HALF: u64 = u64::MAX / 2;

/// A started dht node with range `min..=max` (`u64::MAX, 0`: the empty range).
fn node(min: u64, max: u64) -> Node {
    let mut n = Node::new(dhtnode_bin(), &[]).with_sticky_port();
    n.set_range(min, max);
    n.start();
    n
}

/// Two nodes splitting the key space, holding `n` records, and a third with the empty range.
fn cluster(n: u64) -> (Vec<Node>, Node, Records) {
    let nodes = vec![node(0, HALF), node(HALF + 1, u64::MAX)];
    let new = node(u64::MAX, 0);
    let recs = records(n, 11, 40);
    let client = client(&nodes.iter().map(|n| n.addr()).collect::<Vec<_>>());
    let batch: Vec<(u64, &[u8])> = recs.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    client.put_many(CHANNEL, &batch).unwrap();
    (nodes, new, recs)
}

fn client(addrs: &[SocketAddr]) -> DhtClient {
    let config = ClientConfig::default().with_io_timeout(Some(Duration::from_secs(30)));
    DhtClient::connect(addrs, config).unwrap()
}

/// Each node's range (asked now) and its records.
fn state(nodes: &[&Node]) -> Vec<(HashRange, Records)> {
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr()).collect();
    let c = DhtClient::connect(&addrs, ClientConfig::default()).unwrap();
    let ranges = c.get_responsible_ranges().unwrap();
    nodes
        .iter()
        .zip(ranges)
        .map(|(n, (_, r))| (r, n.connect().get_all(CHANNEL.as_bytes())))
        .collect()
}

#[test]
fn the_dry_run_prints_the_plan_and_sends_nothing() {
    let (nodes, new, recs) = cluster(2_000);
    let dir = tempfile::tempdir().unwrap();
    let cur = nodes_file(dir.path(), "cur", &[nodes[0].addr(), nodes[1].addr()]);
    let add = nodes_file(dir.path(), "add", &[new.addr()]);
    let before = state(&[&nodes[0], &nodes[1], &new]);
    assert_eq!(before[0].1.len() + before[1].1.len(), recs.len());
    let r = run(
        BIN,
        &[
            "--nodes",
            cur.to_str().unwrap(),
            "--add",
            add.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0);
    // split-largest: the added node takes the upper half of the first largest range.
    let q = HALF / 2;
    let expect_new = format!("0x{:016x}-0x{HALF:016x}", q + 1);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&new.addr().to_string()))
        .unwrap();
    assert!(line.contains("empty"), "{line}");
    assert!(line.contains(&expect_new), "{line}");
    assert!(line.contains("25.00%"), "{line}");
    let first = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&nodes[0].addr().to_string()))
        .unwrap();
    assert!(
        first.contains(&format!("0x0000000000000000-0x{q:016x}")),
        "{first}"
    );
    assert!(
        r.stdout.contains("dry run: nothing was sent"),
        "{}",
        r.stdout
    );
    assert_eq!(state(&[&nodes[0], &nodes[1], &new]), before);
    // The drain plan is printed the same way and changes nothing either.
    let r = run(
        BIN,
        &[
            "--nodes",
            cur.to_str().unwrap(),
            "--drain",
            &nodes[1].addr().to_string(),
            "--strategy",
            "split-evenly",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("0x0000000000000000-0xffffffffffffffff  100.00%"),
        "{}",
        r.stdout
    );
    assert_eq!(state(&[&nodes[0], &nodes[1], &new]), before);
}

#[test]
fn refusals_name_the_node_and_send_nothing() {
    let (nodes, new, _) = cluster(100);
    let dir = tempfile::tempdir().unwrap();
    let cur = nodes_file(dir.path(), "cur", &[nodes[0].addr(), nodes[1].addr()]);
    // A node to add that holds a range already (the upper half, beside a whole cluster).
    let other = node(HALF + 1, u64::MAX);
    let busy = nodes_file(dir.path(), "busy", &[other.addr()]);
    let before = state(&[&nodes[0], &nodes[1], &new]);
    let r = run(
        BIN,
        &[
            "--nodes",
            cur.to_str().unwrap(),
            "--add",
            busy.to_str().unwrap(),
            "-x",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&other.addr().to_string()), "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("0x{:016x}-0xffffffffffffffff", HALF + 1)),
        "{}",
        r.stderr
    );
    // A node to drain that is not in the cluster; a current node that is down.
    let r = run(
        BIN,
        &[
            "--nodes",
            cur.to_str().unwrap(),
            "--drain",
            &new.addr().to_string(),
            "-x",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&new.addr().to_string()), "{}", r.stderr);
    let add = nodes_file(dir.path(), "add", &[new.addr()]);
    let gone = "127.0.0.1:1".parse::<SocketAddr>().unwrap();
    let partial = nodes_file(dir.path(), "partial", &[nodes[0].addr(), gone]);
    let r = run(
        BIN,
        &[
            "--nodes",
            partial.to_str().unwrap(),
            "--add",
            add.to_str().unwrap(),
            "-x",
        ],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("127.0.0.1:1"), "{}", r.stderr);
    assert_eq!(state(&[&nodes[0], &nodes[1], &new]), before);
}

#[test]
fn execute_moves_every_record_to_its_new_node() {
    let (nodes, new, recs) = cluster(20_000);
    let dir = tempfile::tempdir().unwrap();
    let cur = nodes_file(dir.path(), "cur", &[nodes[0].addr(), nodes[1].addr()]);
    let add = nodes_file(dir.path(), "add", &[new.addr()]);
    let r = run(
        BIN,
        &[
            "--nodes",
            cur.to_str().unwrap(),
            "--add",
            add.to_str().unwrap(),
            "--execute",
            "--progress",
            "0.2",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("every node answered Ok"), "{}", r.stdout);
    let after = state(&[&nodes[0], &nodes[1], &new]);
    let q = HALF / 2;
    assert_eq!(after[0].0, HashRange { min: 0, max: q });
    assert_eq!(
        after[1].0,
        HashRange {
            min: HALF + 1,
            max: u64::MAX
        }
    );
    assert_eq!(
        after[2].0,
        HashRange {
            min: q + 1,
            max: HALF
        }
    );
    let mut total = 0;
    for (range, held) in &after {
        assert!(
            held.keys().all(|k| range.contains(*k)),
            "a key outside {range:?}"
        );
        total += held.len();
    }
    assert_eq!(total, recs.len());
    assert!(!after[2].1.is_empty());
    let c = client(&[nodes[0].addr(), nodes[1].addr(), new.addr()]);
    let keys: Vec<u64> = recs.keys().copied().collect();
    let got = c.get_many(CHANNEL, &keys).unwrap();
    for ((k, v), g) in recs.iter().zip(got) {
        assert_eq!(g.as_deref(), Some(v.as_slice()), "key {k:016x}");
    }
}

#[test]
fn execute_drain_empties_a_node_onto_its_neighbour() {
    let (nodes, _new, recs) = cluster(5_000);
    let dir = tempfile::tempdir().unwrap();
    let cur = nodes_file(dir.path(), "cur", &[nodes[0].addr(), nodes[1].addr()]);
    let drained = nodes[1].addr().to_string();
    let args = ["--nodes", cur.to_str().unwrap(), "--drain", &drained, "-x"];
    let r = run(BIN, &args);
    assert_eq!(r.code, 0);
    let after = state(&[&nodes[0], &nodes[1]]);
    assert_eq!(after[0].0, HashRange::FULL);
    assert_eq!(after[0].1, recs);
    assert_eq!(after[1].0, HashRange::EMPTY);
    assert!(after[1].1.is_empty());
    // The same command again changes nothing and succeeds.
    let r = run(BIN, &args);
    assert_eq!(r.code, 0);
    assert_eq!(state(&[&nodes[0], &nodes[1]]), after);
}

#[test]
fn a_second_run_of_an_interrupted_plan_forwards_what_is_left() {
    // The state an interrupted first run leaves: the ranges are the plan's (each node took
    // its new range at once), but the first node still holds records of the added node's.
    let (mut nodes, new, recs) = cluster(5_000);
    let q = HALF / 2;
    nodes[0].stop(); // dumps its records; they load again whatever the range
    nodes[0].set_range(0, q);
    nodes[0].start();
    let mut new = new;
    new.stop();
    new.set_range(q + 1, HALF);
    new.start();
    let before = state(&[&nodes[0], &nodes[1], &new]);
    assert!(before[0].1.keys().any(|k| !before[0].0.contains(*k)));
    let dir = tempfile::tempdir().unwrap();
    let cur = nodes_file(dir.path(), "cur", &[nodes[0].addr(), nodes[1].addr()]);
    let add = nodes_file(dir.path(), "add", &[new.addr()]);
    let r = run(
        BIN,
        &[
            "--nodes",
            cur.to_str().unwrap(),
            "--add",
            add.to_str().unwrap(),
            "-x",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("resuming"), "{}", r.stdout);
    let after = state(&[&nodes[0], &nodes[1], &new]);
    let mut total = 0;
    for (i, (range, held)) in after.iter().enumerate() {
        assert_eq!(*range, before[i].0);
        assert!(
            held.keys().all(|k| range.contains(*k)),
            "a key outside {range:?}"
        );
        total += held.len();
    }
    assert_eq!(total, recs.len());
}
