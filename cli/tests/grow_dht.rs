//! Growing a dht cluster while it serves (issue 11's acceptance test): two nodes holding
//! 200,000 records (some of exactly `batch_size - 32` bytes, the largest a node stores) get a
//! third, empty node through `dhtredist --execute`, while one client keeps writing new records
//! and overwriting old ones and another keeps reading. Afterwards every record is readable
//! with its last value, each node holds only keys of its new range, the config files carry
//! the new ranges, and the reader saw no miss and no error. The nodes run on their own test
//! hosts (network namespaces) where the machine allows it, on 127.0.0.x otherwise.
//!
//! Empty values cannot be moved because no node holds one: Put and PutBatch refuse them and
//! dumps drop them at load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{dhtnode_bin, nodes_file, run};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use swarm_client::{ClientConfig, DhtClient, HashRange};
use swarm_testkit::{records, DhtConn, Host, Node, TestHosts};

const BIN: &str = env!("CARGO_BIN_EXE_dhtredist");
const CHANNEL: &str = "grow";
const HALF: u64 = u64::MAX / 2;
/// The node's default batch_size is 65536: the record limit is 32 bytes less.
const LIMIT: usize = 65_536 - 32;

fn node_on(host: &Host, min: u64, max: u64) -> Node {
    let mut n = Node::new(dhtnode_bin(), &[]).with_sticky_port();
    n.place_on(host);
    n.set_range(min, max);
    n.start();
    n
}

fn config() -> ClientConfig {
    ClientConfig::default()
        .with_io_timeout(Some(Duration::from_secs(30)))
        .with_range_refresh(Some(Duration::from_millis(200)))
}

/// The `[Server]` minval and maxval lines of a node's config file.
fn config_range(n: &Node) -> HashRange {
    let text = std::fs::read_to_string(n.config_path()).unwrap();
    let value = |key: &str| {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in {text}"));
        let v = line.split('=').nth(1).unwrap().trim();
        u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()
    };
    HashRange {
        min: value("minval"),
        max: value("maxval"),
    }
}

#[test]
fn a_third_node_joins_while_clients_write_and_read() {
    let hosts = TestHosts::new(3);
    eprintln!("network namespaces: {}", hosts.is_isolated());
    let a = node_on(hosts.host(0), 0, HALF);
    let b = node_on(hosts.host(1), HALF + 1, u64::MAX);
    let c = node_on(hosts.host(2), u64::MAX, 0);
    let old = [a.addr(), b.addr()];
    // The clients know the new node from the start (its range empty until the move), as an
    // operator adds it to the clients' nodes file before growing the cluster.
    let all_nodes = [a.addr(), b.addr(), c.addr()];

    let mut expect = records(200_000, 21, 120);
    for i in 0..24u64 {
        expect.insert(
            0x5151_0000_0000_0000 + i * 0x0123_4567,
            vec![i as u8; LIMIT],
        );
    }
    let loader = DhtClient::connect(&old, config()).unwrap();
    let all: Vec<(u64, &[u8])> = expect.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    for chunk in all.chunks(10_000) {
        loader.put_many(CHANNEL, chunk).unwrap();
    }
    let keys: Vec<u64> = expect.keys().copied().collect();
    // Every 50th old record is overwritten during the move; the others are read back.
    let overwritten: Vec<u64> = keys.iter().step_by(50).copied().collect();
    let stable: Vec<u64> = keys
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 50 != 0)
        .map(|(_, k)| *k)
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let cur = nodes_file(dir.path(), "cur", &old);
    let add = nodes_file(dir.path(), "add", &[c.addr()]);
    let stop = AtomicBool::new(false);
    let written: Mutex<BTreeMap<u64, Vec<u8>>> = Mutex::new(BTreeMap::new());
    let (reads, misses) = (AtomicU64::new(0), Mutex::new(Vec::<String>::new()));
    let outcome = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let client = DhtClient::connect(&all_nodes, config()).unwrap();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // A new key, then an overwrite of an old one, in turn.
                let key = 0xd1d1_0000_0000_0000u64.wrapping_add(i.wrapping_mul(0x9e37_79b9));
                let value = format!("during-{i}").into_bytes();
                client
                    .put(CHANNEL, key, &value)
                    .expect("Put during the move");
                written.lock().unwrap().insert(key, value);
                let old_key = overwritten[(i as usize) % overwritten.len()];
                let value = format!("overwritten-{i}").into_bytes();
                client
                    .put(CHANNEL, old_key, &value)
                    .expect("overwrite during the move");
                written.lock().unwrap().insert(old_key, value);
                i += 1;
            }
            i
        });
        let reader = s.spawn(|| {
            let client = DhtClient::connect(&all_nodes, config()).unwrap();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let key = stable[(i * 7919) % stable.len()];
                match client.get(CHANNEL, key) {
                    Ok(Some(v)) if v == expect[&key] => {}
                    Ok(Some(_)) => misses
                        .lock()
                        .unwrap()
                        .push(format!("{key:016x}: wrong value")),
                    Ok(None) => misses.lock().unwrap().push(format!("{key:016x}: missing")),
                    Err(e) => misses.lock().unwrap().push(format!("{key:016x}: {e}")),
                }
                // A record written during the move, too.
                let recent = written.lock().unwrap().iter().next_back().map(|(k, _)| *k);
                if let Some(k) = recent {
                    match client.exists(CHANNEL, k) {
                        Ok(true) => {}
                        other => misses.lock().unwrap().push(format!("{k:016x}: {other:?}")),
                    }
                }
                reads.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        });
        // Let both clients run before the move, and after it.
        std::thread::sleep(Duration::from_millis(300));
        let out = run(
            BIN,
            &[
                "--nodes",
                cur.to_str().unwrap(),
                "--add",
                add.to_str().unwrap(),
                "--execute",
            ],
        );
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        let writes = writer.join().unwrap();
        reader.join().unwrap();
        (out, writes)
    });
    let (out, writes) = outcome;
    eprintln!(
        "{writes} writes (a new key and an overwrite each) and {} reads during the test",
        reads.load(Ordering::Relaxed)
    );
    assert_eq!(
        out.code, 0,
        "dhtredist failed:\n{}\n{}",
        out.stdout, out.stderr
    );
    let misses = misses.into_inner().unwrap();
    assert!(
        misses.is_empty(),
        "the reader saw {} misses or errors in {} reads, first: {:?}",
        misses.len(),
        reads.load(Ordering::Relaxed),
        &misses[..misses.len().min(5)]
    );
    assert!(writes > 10, "the writer wrote only {writes} times");
    assert!(reads.load(Ordering::Relaxed) > 10);
    for (k, v) in written.into_inner().unwrap() {
        expect.insert(k, v);
    }

    // Every node holds only keys of its range, and the config files say that range.
    let everyone = [&a, &b, &c];
    let addrs: Vec<_> = everyone.iter().map(|n| n.addr()).collect();
    let check = DhtClient::connect(&addrs, config()).unwrap();
    let ranges = check.get_responsible_ranges().unwrap();
    let mut seen = BTreeMap::new();
    for (n, (_, range)) in everyone.iter().zip(&ranges) {
        assert!(
            !range.is_empty(),
            "{} has no range after the move",
            n.addr()
        );
        assert_eq!(config_range(n), *range, "config file of {}", n.addr());
        for (k, v) in n.connect().get_all(CHANNEL.as_bytes()) {
            assert!(
                range.contains(k),
                "{k:016x} on {} outside {range:?}",
                n.addr()
            );
            assert!(seen.insert(k, v).is_none(), "{k:016x} on two nodes");
        }
    }
    assert_eq!(seen.len(), expect.len(), "records after the move");
    for (k, v) in &expect {
        assert!(
            seen.get(k) == Some(v),
            "{k:016x}: wrong or missing after the move"
        );
        assert_eq!(check.get(CHANNEL, *k).unwrap().as_ref(), Some(v));
    }
}
