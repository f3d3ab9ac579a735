//! The client library against real `dhtnode` processes: the original dhttest's bulk cases
//! (10,000 records with sequential and spread keys, full verification, remove every second one),
//! routing over three nodes on split ranges, Listen, and reconnecting after a node restart.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;
use swarm_client::{total_records, ClientConfig, ClientError, DhtClient, ListenEvent, Status};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::format_key;
use swarm_protocol::key::fnv1a64;

fn client(nodes: &[&Node]) -> DhtClient {
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr()).collect();
    DhtClient::connect(&addrs, ClientConfig::default()).unwrap()
}

/// The original LegacyVerifier: channel size, GetAll exactly, GetAllFilter("0") exactly,
/// GetAllKeys, Exists and Get for every record.
fn verify(c: &DhtClient, channel: &str, expect: &BTreeMap<u64, Vec<u8>>) {
    assert_eq!(
        total_records(&c.get_channel_size(channel).unwrap()),
        expect.len() as u64
    );
    let mut all = BTreeMap::new();
    for r in c.get_all(channel).unwrap() {
        let (k, v) = r.unwrap();
        assert!(all.insert(k, v).is_none(), "key {k:x} sent twice");
    }
    assert_eq!(&all, expect);
    let filtered: BTreeMap<u64, Vec<u8>> = c
        .get_all_filter(channel, b"0")
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let want: BTreeMap<u64, Vec<u8>> = expect
        .iter()
        .filter(|(_, v)| v.contains(&b'0'))
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    assert_eq!(filtered, want);
    let keys: BTreeSet<u64> = c
        .get_all_keys(channel)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(keys, expect.keys().copied().collect());
    for (k, v) in expect {
        assert!(c.exists(channel, *k).unwrap());
        assert_eq!(c.get(channel, *k).unwrap().as_ref(), Some(v));
    }
}

fn bulk(c: &DhtClient, channel: &str, keys: impl Iterator<Item = u64>) {
    let mut expect = BTreeMap::new();
    for k in keys {
        let value = k.to_string().into_bytes();
        c.put(channel, k, &value).unwrap();
        expect.insert(k, value);
    }
    assert_eq!(expect.len(), 10_000);
    verify(c, channel, &expect);
    let removed: Vec<u64> = expect.keys().copied().step_by(2).collect();
    for k in &removed {
        c.remove(channel, *k).unwrap();
        expect.remove(k);
    }
    verify(c, channel, &expect);
    for k in &removed {
        assert!(!c.exists(channel, *k).unwrap());
        assert_eq!(c.get(channel, *k).unwrap(), None);
    }
    c.remove_channel(channel).unwrap();
    assert!(c.get_all(channel).unwrap().next().is_none());
}

#[test]
fn ten_thousand_sequential_and_spread_records() {
    let node = start_node(&[]);
    let c = client(&[&node]);
    bulk(&c, "sequential", 0..10_000u64);
    bulk(
        &c,
        "spread",
        (0..10_000u32).map(|i| fnv1a64(&i.to_le_bytes())),
    );
}

#[test]
fn three_nodes_on_split_ranges() {
    let third = u64::MAX / 3;
    let nodes = [
        start_node_range(0, third, &[]),
        start_node_range(third + 1, 2 * third, &[]),
        start_node_range(2 * third + 1, u64::MAX, &[]),
    ];
    let c = client(&[&nodes[0], &nodes[1], &nodes[2]]);
    assert!(
        c.handshake_report().is_complete(),
        "{}",
        c.handshake_report()
    );
    let ranges = [
        (0, third),
        (third + 1, 2 * third),
        (2 * third + 1, u64::MAX),
    ];
    let mut expect = BTreeMap::new();
    for i in 0..3000u32 {
        let k = if i % 2 == 0 {
            u64::from(i)
        } else {
            fnv1a64(&i.to_le_bytes())
        };
        c.put("routed", k, format!("v{i}").as_bytes()).unwrap();
        expect.insert(k, format!("v{i}").into_bytes());
    }
    // Each node holds exactly the keys of its range.
    let mut seen = 0;
    for (node, (min, max)) in nodes.iter().zip(ranges) {
        let partial = ClientConfig::default().with_require_full_coverage(false);
        let alone = DhtClient::connect(&[node.addr()], partial).unwrap();
        let mut n = 0;
        for r in alone.get_all("routed").unwrap() {
            let (k, v) = r.unwrap();
            let rev = k.reverse_bits();
            assert!(rev >= min && rev <= max, "key {k:x} on the wrong node");
            assert_eq!(expect.get(&k), Some(&v));
            n += 1;
        }
        assert!(n > 300, "keys spread over all nodes ({n})");
        seen += n;
    }
    assert_eq!(seen, expect.len());
    verify(&c, "routed", &expect);
    // A Put sent straight to the wrong node gets WrongNode, and the connection stays usable.
    let key = (0u64..).find(|k| k.reverse_bits() > third).unwrap();
    let mut raw = nodes[0].connect();
    raw.exchange(
        &DhtRequest::Put {
            channel: b"routed",
            key: &format_key(key),
            value: b"x",
        },
        &status(404),
    );
    raw.exchange(
        &DhtRequest::GetVersion,
        &[&OK[..], &arr(b"20110401")].concat(),
    );
    let err = c
        .put_batch(nodes[0].addr(), "routed", &[(key, b"x")])
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Status {
                status: Status::WrongNode,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn listen_through_the_client() {
    let nodes = [
        start_node_range(0, u64::MAX / 2, &[]),
        start_node_range(u64::MAX / 2 + 1, u64::MAX, &[]),
    ];
    let c = client(&[&nodes[0], &nodes[1]]);
    let listener = c.listen("news").unwrap();
    let mut want = BTreeMap::new();
    for k in 0..20u64 {
        c.put("news", k, format!("item {k}").as_bytes()).unwrap();
        want.insert(k, format!("item {k}").into_bytes());
    }
    let mut got = BTreeMap::new();
    while got.len() < want.len() {
        match listener
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap()
        {
            ListenEvent::Record { key, value } => {
                got.insert(key, value);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got, want);
    c.remove_channel("news").unwrap();
    let mut ended = BTreeSet::new();
    while ended.len() < 2 {
        match listener
            .recv_timeout(Duration::from_secs(10))
            .unwrap()
            .unwrap()
        {
            ListenEvent::Ended { node } => {
                ended.insert(node);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn client_reconnects_after_a_node_restart() {
    let mut node = start_node(&[("Server", "port", "0")]);
    // A fixed port, so the restarted node is found at the same address.
    let port = node.addr().port().to_string();
    node.stop();
    let mut node = start_node(&[("Server", "port", &port)]);
    let c = client(&[&node]);
    c.put("r", 1, b"before").unwrap();
    node.restart();
    assert_eq!(node.addr().port().to_string(), port);
    // The pooled connection is dead; the client reconnects and the dumped record is back.
    assert_eq!(c.get("r", 1).unwrap(), Some(b"before".to_vec()));
    c.put("r", 2, b"after").unwrap();
    assert_eq!(c.get("r", 2).unwrap(), Some(b"after".to_vec()));
}
