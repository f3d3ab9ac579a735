//! The dht client following a hash-range change between two real `dhtnode` processes: node A
//! owns every key and B none while 1,000 records are written; then the upper half of the
//! keys moves to B by hand (B restarted with the upper range and given those records, the
//! records removed from A, A restarted with the lower range), and clients that connected
//! before the change still read every record, land their writes on B after one WrongNode,
//! and report the new ranges after `refresh()`.
#![allow(clippy::unwrap_used)]

mod common;

use common::node_bin;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use swarm_client::{ClientConfig, DhtClient, HashRange};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::format_key;
use swarm_testkit::dht::{records, DhtConn, Node, Records};
use swarm_testkit::wire::status;

const HALF: u64 = 0x7fff_ffff_ffff_ffff;
const LOWER: HashRange = HashRange { min: 0, max: HALF };
const UPPER: HashRange = HashRange {
    min: HALF + 1,
    max: u64::MAX,
};
/// The status code a node answers a write outside its range with.
const WRONG_NODE: i32 = 404;

fn dhtnode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-dht", "dhtnode", "DHTNODE_BIN"))
}

/// A started dhtnode over `range`, keeping its port across restarts.
fn node(range: HashRange) -> Node {
    let mut n = Node::new(dhtnode_bin(), &[]).with_sticky_port();
    n.set_range(range.min, range.max);
    n.start();
    n
}

/// A restart on another range, as a Redistribute changes it (the config is rewritten).
fn restart_with(n: &mut Node, range: HashRange) {
    n.stop();
    n.set_range(range.min, range.max);
    n.start();
}

/// A client that keeps the table it saw at connect until a WrongNode or an explicit refresh.
fn client(addrs: &[SocketAddr], config: ClientConfig) -> DhtClient {
    DhtClient::connect(addrs, config.with_range_refresh(None)).unwrap()
}

#[test]
fn clients_that_connected_before_a_range_change_follow_it() {
    let mut a = node(HashRange::FULL);
    let mut b = node(HashRange::EMPTY);
    let addrs = [a.addr(), b.addr()];
    let records = records(1000, 11, 64);
    let writer = client(&addrs, common::config());
    for (k, v) in &records {
        writer.put("ch", *k, v).unwrap();
    }
    let reader = client(&addrs, common::config());
    let stale_writer = client(&addrs, common::config());
    let stale_remover = client(&addrs, common::config());
    let unverified = client(&addrs, common::config().with_verify_misses(false));
    let refresher = client(&addrs, common::config());
    assert_eq!(
        refresher.handshake_report().nodes,
        vec![(a.addr(), HashRange::FULL), (b.addr(), HashRange::EMPTY)]
    );

    // Move the upper half: B takes the range and the records, then A gives them up.
    let upper: Records = records
        .iter()
        .filter(|(k, _)| UPPER.contains(**k))
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    assert!((400..600).contains(&upper.len()), "{}", upper.len());
    restart_with(&mut b, UPPER);
    b.connect().put_all(b"ch", &upper);
    {
        let mut conn = a.connect();
        for k in upper.keys() {
            conn.remove(b"ch", *k);
        }
    }
    restart_with(&mut a, LOWER);
    assert_eq!(
        a.connect().get_all(b"ch").len(),
        records.len() - upper.len()
    );
    let (&moved, _) = upper.iter().next().unwrap();

    // Without the range check, a stale client takes A's miss for the answer.
    assert_eq!(unverified.get("ch", moved).unwrap(), None);
    // With it (the default), every record is found.
    for (k, v) in &records {
        assert_eq!(
            reader.get("ch", *k).unwrap().as_ref(),
            Some(v),
            "key {k:016x}"
        );
    }
    assert!(reader.exists("ch", moved).unwrap());

    // A refuses a write of a moved key; the stale client refreshes and writes on B.
    a.connect().exchange(
        &DhtRequest::Put {
            channel: b"ch",
            key: &format_key(moved),
            value: b"refused",
        },
        &status(WRONG_NODE),
    );
    assert_eq!(stale_writer.responsible_node(moved).unwrap(), a.addr());
    stale_writer.put("ch", moved, b"new value").unwrap();
    assert_eq!(stale_writer.responsible_node(moved).unwrap(), b.addr());
    assert_eq!(
        b.connect().get_all(b"ch").get(&moved),
        Some(&b"new value".to_vec())
    );
    assert!(!a.connect().get_all(b"ch").contains_key(&moved));

    // Remove follows the change the same way.
    let (&removed, _) = upper.iter().nth(1).unwrap();
    stale_remover.remove("ch", removed).unwrap();
    assert!(!b.connect().get_all(b"ch").contains_key(&removed));

    // Pipelined writes of a client that connected before the change land on the right nodes.
    let rewrite: Vec<(u64, Vec<u8>)> = records
        .keys()
        .map(|k| (*k, format!("rewritten {k:x}").into_bytes()))
        .collect();
    let pairs: Vec<(u64, &[u8])> = rewrite.iter().map(|(k, v)| (*k, &v[..])).collect();
    writer.put_many("ch", &pairs).unwrap();
    let on_a = a.connect().get_all(b"ch");
    let on_b = b.connect().get_all(b"ch");
    assert!(on_a.keys().all(|k| LOWER.contains(*k)));
    assert!(on_b.keys().all(|k| UPPER.contains(*k)));
    assert_eq!(on_a.len() + on_b.len(), records.len());
    assert!(on_b.values().all(|v| v.starts_with(b"rewritten")));

    refresher.refresh().unwrap();
    let report = refresher.handshake_report();
    assert_eq!(report.nodes, vec![(a.addr(), LOWER), (b.addr(), UPPER)]);
    assert!(report.is_complete(), "{report}");
}
