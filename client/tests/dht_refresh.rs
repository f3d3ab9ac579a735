//! The dht client following a hash-range change between two real `dhtnode` processes: node A
//! owns every key and B none while 1,000 records are written; then the upper half of the
//! keys moves to B by hand (B restarted with the upper range and given those records, the
//! records removed from A, A restarted with the lower range), and clients that connected
//! before the change still read every record, land their writes on B after one WrongNode,
//! and report the new ranges after `refresh()`. Then the same move by a real Redistribute
//! while one client keeps reading and writing: no miss, no error.
#![allow(clippy::unwrap_used)]

mod common;

use common::node_bin;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};
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

/// Sends a Redistribute to `node` and returns its status code.
fn redistribute(node: &Node, own: HashRange, others: &[(SocketAddr, HashRange)]) -> i32 {
    node.connect().redistribute(own, others)
}

/// What the client saw while the records moved.
#[derive(Default)]
struct Seen {
    errors: Mutex<Vec<String>>,
    misses: Mutex<Vec<u64>>,
    reads: AtomicU64,
    writes: AtomicU64,
}

impl Seen {
    fn read(&self, client: &DhtClient, key: u64, want: &[u8]) {
        self.reads.fetch_add(1, Ordering::Relaxed);
        match client.get("ch", key) {
            Ok(Some(v)) => assert_eq!(v, want, "key {key:016x}"),
            Ok(None) => self.misses.lock().unwrap().push(key),
            Err(e) => self
                .errors
                .lock()
                .unwrap()
                .push(format!("get {key:016x}: {e}")),
        }
    }
}

#[test]
fn a_client_reading_and_writing_through_a_redistribute_sees_no_miss_and_no_error() {
    let a = node(HashRange::FULL);
    let b = node(HashRange::EMPTY);
    let client = DhtClient::connect(&[a.addr(), b.addr()], common::config()).unwrap();
    let records = records(5000, 3, 200);
    let pairs: Vec<(u64, &[u8])> = records.iter().map(|(k, v)| (*k, &v[..])).collect();
    client.put_many("ch", &pairs).unwrap();
    let (seen, done) = (Seen::default(), AtomicBool::new(false));
    let written = Mutex::new(Records::new());
    let deadline = Instant::now() + Duration::from_secs(60);
    thread::scope(|s| {
        for t in 0..2usize {
            let (client, seen, done, records) = (&client, &seen, &done, &records);
            s.spawn(move || {
                let keys: Vec<(&u64, &Vec<u8>)> = records.iter().collect();
                for (k, v) in keys.iter().cycle().skip(t * 2500) {
                    if done.load(Ordering::Relaxed) || Instant::now() > deadline {
                        break;
                    }
                    seen.read(client, **k, v);
                }
            });
        }
        s.spawn(|| {
            for i in 1u64.. {
                if done.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let key = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                let value = format!("written {i}").into_bytes();
                seen.writes.fetch_add(1, Ordering::Relaxed);
                match client.put("ch", key, &value) {
                    Ok(()) => seen.read(&client, key, &value),
                    Err(e) => seen
                        .errors
                        .lock()
                        .unwrap()
                        .push(format!("put {key:016x}: {e}")),
                }
                written.lock().unwrap().insert(key, value);
            }
        });
        // A gives the upper half away first; B takes it 300 ms later (the node's forwarder
        // retries meanwhile), so the client also passes through a gap.
        thread::sleep(Duration::from_millis(200));
        let (a_addr, b_addr) = (a.addr(), b.addr());
        let a = &a;
        let first = s.spawn(move || redistribute(a, LOWER, &[(b_addr, UPPER)]));
        thread::sleep(Duration::from_millis(300));
        assert_eq!(redistribute(&b, UPPER, &[(a_addr, LOWER)]), 200);
        assert_eq!(first.join().unwrap(), 200);
        thread::sleep(Duration::from_millis(300));
        done.store(true, Ordering::Relaxed);
    });
    let errors = seen.errors.into_inner().unwrap();
    let misses = seen.misses.into_inner().unwrap();
    let (reads, writes) = (seen.reads.into_inner(), seen.writes.into_inner());
    assert!(errors.is_empty(), "{} errors: {errors:?}", errors.len());
    assert!(
        misses.is_empty(),
        "{} misses of {reads} reads",
        misses.len()
    );
    assert!(reads > 100 && writes > 20, "{reads} reads, {writes} writes");
    let mut all = records;
    all.extend(written.into_inner().unwrap());
    let (on_a, on_b) = (a.connect().get_all(b"ch"), b.connect().get_all(b"ch"));
    assert!(on_a.keys().all(|k| LOWER.contains(*k)));
    assert!(on_b.keys().all(|k| UPPER.contains(*k)));
    assert_eq!(on_a.len() + on_b.len(), all.len());
    for (k, v) in &all {
        assert_eq!(on_a.get(k).or_else(|| on_b.get(k)), Some(v), "key {k:016x}");
    }
    assert_eq!(
        client.handshake_report().nodes,
        vec![(a.addr(), LOWER), (b.addr(), UPPER)]
    );
}
