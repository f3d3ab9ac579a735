//! Redistribute (33) on real dhtnode processes, over raw requests: records move to the listed
//! nodes and nowhere else, the range and the config file change at once, draining a node to
//! the empty range loses nothing, a target that goes away mid-move ends the request with Error
//! with every record still held by one of the two nodes, and a second Redistribute completes.
//! (The driver tool and the client's view of a move are tested in cli/ and client/.)
// Integration tests are not `cfg(test)` code, so clippy's test allowance does not reach them.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use swarm_protocol::dht::{DhtRequest, RedistributeNode};
use swarm_protocol::HashRange;

const HALF: u64 = 0x7fff_ffff_ffff_ffff;
const LOW: HashRange = HashRange { min: 0, max: HALF };
const HIGH: HashRange = HashRange {
    min: HALF + 1,
    max: u64::MAX,
};
/// The record size limit with the tests' batch_size of 65535.
const LIMIT: usize = 65_535 - 32;

fn redistribute(node: &Node, own: HashRange, others: &[(SocketAddr, HashRange)]) -> i32 {
    node.connect().redistribute(own, others)
}

fn range_of(node: &Node) -> HashRange {
    node.connect().range()
}

/// Records of two channels, with values at the record limit among them.
fn data() -> Vec<(&'static [u8], Records)> {
    let mut a = records(20_000, 1, 300);
    for k in 0..40u64 {
        a.insert(k * 0x0101_0101_0101_0101 + 7, vec![k as u8; LIMIT]);
    }
    vec![(b"alpha", a), (b"beta", records(5_000, 2, 2_000))]
}

fn load(node: &Node, data: &[(&[u8], Records)]) {
    let mut c = node.connect();
    for (ch, recs) in data {
        c.put_all(ch, recs);
    }
}

/// Every record of `data` is on exactly one of `nodes`, the one whose range holds it.
fn check_placed(nodes: &[&Node], data: &[(&[u8], Records)]) {
    for (ch, recs) in data {
        let mut seen = Records::new();
        for n in nodes {
            let range = range_of(n);
            for (k, v) in n.connect().get_all(ch) {
                assert!(
                    range.contains(k),
                    "{k:016x} on {} outside {range:?}",
                    n.addr()
                );
                assert!(seen.insert(k, v).is_none(), "{k:016x} on two nodes");
            }
        }
        assert_eq!(seen.len(), recs.len(), "records of {:?}", ch);
        assert!(seen == *recs, "values of {:?} changed", ch);
    }
}

fn empty_node() -> Node {
    start_node_range(HashRange::EMPTY.min, HashRange::EMPTY.max, &[])
}

#[test]
fn half_of_a_node_moves_to_an_empty_one() {
    let a = start_node(&[]);
    let b = empty_node();
    assert!(range_of(&b).is_empty());
    let data = data();
    load(&a, &data);
    // A starts first: B answers WrongNode until its own Redistribute gives it the range, and
    // A's forwarder retries meanwhile (the driver sends both at once).
    let (a_addr, b_addr) = (a.addr(), b.addr());
    std::thread::scope(|s| {
        let first = s.spawn(|| redistribute(&a, LOW, &[(b_addr, HIGH)]));
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(redistribute(&b, HIGH, &[(a_addr, LOW)]), 200);
        assert_eq!(first.join().unwrap(), 200);
    });
    assert_eq!(range_of(&a), LOW);
    assert_eq!(range_of(&b), HIGH);
    let mut cb = b.connect();
    for (ch, recs) in &data {
        let on_b = cb.get_all(ch);
        assert_eq!(
            on_b.len(),
            recs.keys().filter(|k| HIGH.contains(**k)).count()
        );
    }
    check_placed(
        &[&a],
        &[
            (b"alpha", keep(&data[0].1, LOW)),
            (b"beta", keep(&data[1].1, LOW)),
        ],
    );
    // The config file carries the new range; writes outside it are refused.
    let config = std::fs::read_to_string(a.config_path()).unwrap();
    assert!(config.contains("minval = 0x0000000000000000"), "{config}");
    assert!(config.contains("maxval = 0x7fffffffffffffff"), "{config}");
    let mut ca = a.connect();
    let high_key = (0..).find(|k: &u64| HIGH.contains(*k)).unwrap();
    ca.exchange(
        &DhtRequest::Put {
            channel: b"alpha",
            key: &swarm_protocol::format_key(high_key),
            value: b"v",
        },
        &status(404),
    );
    assert!(
        a.wait_log("Redistribute finished", 1, LOG_WAIT),
        "{}",
        a.root_log()
    );
}

/// The records of `recs` in `range`.
fn keep(recs: &Records, range: HashRange) -> Records {
    recs.iter()
        .filter(|(k, _)| range.contains(**k))
        .map(|(k, v)| (*k, v.clone()))
        .collect()
}

/// A node with `range` on `host`, started.
fn node_on(host: &Host, range: HashRange) -> Node {
    let mut n = Node::new(
        env!("CARGO_BIN_EXE_dhtnode"),
        &[("Options_Memory", "batch_size", "65535")],
    )
    .with_read_timeout(Duration::from_secs(20))
    .with_sticky_port();
    n.place_on(host);
    n.set_range(range.min, range.max);
    n.start();
    n
}

#[test]
fn a_drained_node_gives_everything_away() {
    // Each node on a test host of its own (network namespaces, or 127.0.0.x without them).
    let hosts = TestHosts::new(2);
    let mut a = node_on(hosts.host(0), LOW);
    let b = node_on(hosts.host(1), HIGH);
    let data = data();
    for (ch, recs) in &data {
        a.connect().put_all(ch, &keep(recs, LOW));
        b.connect().put_all(ch, &keep(recs, HIGH));
    }
    // B grows first (nothing to move), then A drains into it.
    assert_eq!(
        redistribute(&b, HashRange::FULL, &[(a.addr(), HashRange::EMPTY)]),
        200
    );
    assert_eq!(
        redistribute(&a, HashRange::EMPTY, &[(b.addr(), HashRange::FULL)]),
        200
    );
    assert!(range_of(&a).is_empty());
    check_placed(&[&a, &b], &data);
    for (ch, _) in &data {
        assert!(a.connect().get_all(ch).is_empty());
    }
    // The empty range survives a restart: the config file says so.
    a.restart();
    assert!(range_of(&a).is_empty());
    check_placed(&[&a, &b], &data);
}

/// A TCP relay to `target` that passes `budget` bytes from the client, then goes away: the
/// connection is cut and the port closed.
fn relay(target: SocketAddr, budget: u64) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let gone = Arc::new(AtomicBool::new(false));
    let passed = Arc::new(AtomicU64::new(0));
    let flag = Arc::clone(&gone);
    std::thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return;
        };
        drop(listener); // the target's port now refuses connections
        let mut server = TcpStream::connect(target).unwrap();
        let mut back = server.try_clone().unwrap();
        let mut front = client.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut back, &mut front);
        });
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if passed.fetch_add(n as u64, Ordering::SeqCst) + n as u64 > budget {
                break;
            }
            if server.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        // Let the last replies through, then cut both ways.
        std::thread::sleep(Duration::from_millis(100));
        let _ = client.shutdown(std::net::Shutdown::Both);
        let _ = server.shutdown(std::net::Shutdown::Both);
        flag.store(true, Ordering::SeqCst);
    });
    (addr, gone)
}

#[test]
fn a_target_that_goes_away_fails_the_request_and_loses_nothing() {
    let a = start_node(&[("Performance", "redistribute_retry_s", "1")]);
    let b = empty_node();
    let data = data();
    load(&a, &data);
    // B grows its range by a Redistribute of its own (nothing to move).
    assert_eq!(redistribute(&b, HIGH, &[(a.addr(), LOW)]), 200);
    let (via, gone) = relay(b.addr(), 2 << 20);
    assert_eq!(redistribute(&a, LOW, &[(via, HIGH)]), 500);
    assert!(gone.load(Ordering::SeqCst));
    assert!(a.wait_log("giving up on", 1, LOG_WAIT), "{}", a.root_log());
    // Every record is on A or on B (the acknowledged ones only on B); some did move.
    let moved: usize = data
        .iter()
        .map(|(ch, _)| b.connect().get_all(ch).len())
        .sum();
    assert!(moved > 0, "nothing went through before the relay went away");
    for (ch, recs) in &data {
        let mut union = a.connect().get_all(ch);
        for (k, v) in b.connect().get_all(ch) {
            union.insert(k, v);
        }
        assert!(union == *recs, "records of {ch:?} lost or changed");
    }
    // The same move again, to B directly: it completes.
    assert_eq!(redistribute(&a, LOW, &[(b.addr(), HIGH)]), 200);
    check_placed(&[&a, &b], &data);
}

#[test]
fn a_second_request_while_one_runs_is_refused() {
    let a = start_node(&[("Performance", "redistribute_retry_s", "2")]);
    load(&a, &data());
    // A target nobody listens on: the move runs until the retry window ends.
    let dead: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut first = a.connect();
    let nodes = vec![RedistributeNode {
        address: b"127.0.0.1",
        port: dead.port(),
        min: HIGH.min,
        max: HIGH.max,
    }];
    first.send(&DhtRequest::Redistribute {
        min: LOW.min,
        max: LOW.max,
        nodes: nodes.clone(),
    });
    std::thread::sleep(Duration::from_millis(200));
    let mut second = a.connect();
    second.exchange(
        &DhtRequest::Redistribute {
            min: LOW.min,
            max: LOW.max,
            nodes,
        },
        &status(500),
    );
    // Meanwhile the node serves: reads of keys it still holds, and the guard-free Put path.
    second.exchange(&DhtRequest::GetResponsibleRange, &OK);
    assert_eq!((second.read_u64(), second.read_u64()), (LOW.min, LOW.max));
    assert_eq!(first.read_n(4), status(500));
    let total: usize = data()
        .iter()
        .map(|(ch, _)| a.connect().get_all(ch).len())
        .sum();
    assert_eq!(total, data().iter().map(|(_, r)| r.len()).sum::<usize>());
}
