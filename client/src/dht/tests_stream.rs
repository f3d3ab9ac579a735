//! Client tests against fake nodes: GetAll streams, Listen, pipelined and batch calls, and the
//! all-node info requests.

use super::tests::{config, two_nodes};
use super::*;
use crate::fake_dht::{FakeNode, FAKE_BATCH_SIZE};
use std::collections::BTreeMap;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;
use swarm_protocol::Status;

fn value(key: u64) -> Vec<u8> {
    format!("value-{key}-{}", "x".repeat((key % 40) as usize)).into_bytes()
}

#[test]
fn get_all_streams_every_record_from_both_nodes_in_many_batches() {
    let (a, b, client) = two_nodes();
    let mut expect = BTreeMap::new();
    for key in 0..200u64 {
        let k = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        client.put("ch", k, &value(key)).unwrap();
        expect.insert(k, value(key));
    }
    let stored: usize = [&a, &b].iter().map(|n| n.records("ch").len()).sum();
    assert_eq!(stored, 200);
    const {
        assert!(
            200 * 40 > 4 * FAKE_BATCH_SIZE,
            "the stream has many batches"
        )
    };

    let got: BTreeMap<u64, Vec<u8>> = client
        .get_all("ch")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, expect);

    let keys: Vec<u64> = client
        .get_all_keys("ch")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys.len(), 200);
    assert!(keys.iter().all(|k| expect.contains_key(k)));

    let filtered: Vec<(u64, Vec<u8>)> = client
        .get_all_filter("ch", b"value-1")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let want = expect
        .values()
        .filter(|v| v.starts_with(b"value-1"))
        .count();
    assert_eq!(filtered.len(), want);
    assert_eq!(client.get_all_filter("ch", b"").unwrap().count(), 200);

    assert_eq!(client.get_all("empty").unwrap().count(), 0);
    // Finished streams hand their connections back to the pools.
    assert!(client.pools().iter().all(|p| p.idle_count() >= 1));
}

#[test]
fn get_all_batches_yields_what_get_all_yields_batch_by_batch() {
    let (_a, _b, client) = two_nodes();
    let mut expect = BTreeMap::new();
    for key in 0..200u64 {
        let k = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        client.put("ch", k, &value(key)).unwrap();
        expect.insert(k, value(key));
    }
    let batches: Vec<RawBatch> = client
        .get_all_batches("ch")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(batches.len() > 4, "{} batches", batches.len());
    let mut got = BTreeMap::new();
    for b in &batches {
        for pair in b.pairs() {
            let (k, v) = pair.unwrap();
            assert!(got.insert(k, v.to_vec()).is_none(), "key {k} twice");
        }
    }
    assert_eq!(got, expect);
    assert_eq!(client.get_all_batches("empty").unwrap().count(), 0);
    assert!(client.pools().iter().all(|p| p.idle_count() >= 1));
}

#[test]
fn a_batch_with_a_bad_key_is_a_protocol_error_of_its_node() {
    let b = RawBatch {
        node: "127.0.0.1:1".parse().unwrap(),
        raw: {
            let mut raw = Vec::new();
            for item in [&b"not-a-hex-key!!!"[..], b"v"] {
                raw.extend_from_slice(&(item.len() as u64).to_le_bytes());
                raw.extend_from_slice(item);
            }
            raw
        },
    };
    let first = b.pairs().next().unwrap();
    assert!(
        matches!(first, Err(ClientError::Protocol { node, .. }) if node.port() == 1),
        "{first:?}"
    );
}

#[test]
fn a_stream_dropped_midway_does_not_poison_the_pool() {
    let (_a, _b, client) = two_nodes();
    for key in 0..100u64 {
        client.put("ch", key, &value(key)).unwrap();
    }
    let mut it = client.get_all("ch").unwrap();
    assert!(it.next().unwrap().is_ok());
    drop(it);
    assert_eq!(client.get("ch", 3).unwrap(), Some(value(3)));
    assert_eq!(client.get_all("ch").unwrap().count(), 100);
}

#[test]
fn get_all_opens_streams_after_a_restart() {
    let (a, _b, client) = two_nodes();
    client.put("ch", 0, b"x").unwrap();
    a.drop_connections();
    assert_eq!(client.get_all("ch").unwrap().count(), 1);
}

#[test]
fn listen_delivers_puts_and_ends_on_remove_channel() {
    let (a, b, client) = two_nodes();
    let mut listener = client.listen("ch").unwrap();
    client.put("ch", 2, b"even").unwrap();
    client.put("ch", 3, b"odd").unwrap();
    client.put("other", 4, b"elsewhere").unwrap();
    let mut records = Vec::new();
    for _ in 0..2 {
        match listener.next().unwrap().unwrap() {
            ListenEvent::Record { key, value } => records.push((key, value)),
            e => panic!("unexpected {e:?}"),
        }
    }
    records.sort();
    assert_eq!(records, vec![(2, b"even".to_vec()), (3, b"odd".to_vec())]);

    client.remove_channel("ch").unwrap();
    let mut ended = Vec::new();
    for event in listener.by_ref() {
        match event.unwrap() {
            ListenEvent::Ended { node } => ended.push(node),
            e => panic!("unexpected {e:?}"),
        }
    }
    ended.sort();
    let mut nodes = vec![a.addr(), b.addr()];
    nodes.sort();
    assert_eq!(ended, nodes);
    assert!(matches!(
        listener.recv_timeout(Duration::from_millis(10)),
        Err(RecvTimeoutError::Disconnected)
    ));
}

#[test]
fn dropping_a_listener_ends_its_threads_and_a_restart_is_an_error() {
    let (a, _b, client) = two_nodes();
    let listener = client.listen("ch").unwrap();
    assert!(matches!(
        listener.recv_timeout(Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    ));
    drop(listener); // joins the reader threads: would hang if they did not end

    let mut listener = client.listen("ch").unwrap();
    a.drop_connections();
    let e = listener.next().unwrap().unwrap_err();
    assert_eq!(e.node(), Some(a.addr()));
    assert!(matches!(e, ClientError::Io { .. }), "{e}");
}

#[test]
fn get_many_and_put_many_pipeline_per_node() {
    let (a, b, client) = two_nodes();
    let values: Vec<Vec<u8>> = (0..100u64).map(value).collect();
    let records: Vec<(u64, &[u8])> = (0..100u64).map(|k| (k, &values[k as usize][..])).collect();
    client.put_many("ch", &records).unwrap();
    assert_eq!(a.records("ch").len(), 50);
    assert_eq!(b.records("ch").len(), 50);

    let keys: Vec<u64> = (90..110u64).rev().collect();
    let got = client.get_many("ch", &keys).unwrap();
    for (k, v) in keys.iter().zip(got) {
        assert_eq!(v, (*k < 100).then(|| value(*k)), "key {k}");
    }
    assert!(client.get_many("ch", &[]).unwrap().is_empty());
}

#[test]
fn a_status_inside_a_pipeline_keeps_the_connection_in_sync() {
    let a = FakeNode::start(HashRange::FULL);
    let client = DhtClient::connect(&[a.addr()], config()).unwrap();
    client.put("ch", 1, b"x").unwrap();
    let accepted = a.accepted();
    a.force_status(Status::OutOfMemory);
    let records: Vec<(u64, &[u8])> = (0..5u64).map(|k| (k, &b"v"[..])).collect();
    let e = client.put_many("ch", &records).unwrap_err();
    assert_eq!(e.status(), Some(Status::OutOfMemory));
    let stored = a.records("ch");
    assert!(!stored.contains_key(&0), "the refused one is missing");
    assert!(
        (1..5).all(|k| stored.contains_key(&k)),
        "the others were written"
    );
    assert_eq!(client.get("ch", 4).unwrap(), Some(b"v".to_vec()));
    assert_eq!(a.accepted(), accepted, "connection kept and in sync");
}

#[test]
fn put_batch_sends_several_batches_to_one_node() {
    let (a, b, client) = two_nodes();
    let big = vec![b'b'; 30_000];
    let records: Vec<(u64, &[u8])> = (0..5u64).map(|k| (k * 2, &big[..])).collect();
    client.put_batch(a.addr(), "ch", &records).unwrap();
    assert_eq!(a.records("ch").len(), 5);
    assert!(a.records("ch").values().all(|v| *v == big));

    let e = client
        .put_batch(b.addr(), "ch", &[(2, b"even")])
        .unwrap_err();
    assert_eq!(e.status(), Some(Status::WrongNode));
    let huge = vec![0u8; 70_000];
    assert!(matches!(
        client.put_batch(a.addr(), "ch", &[(0, &huge[..])]),
        Err(ClientError::ValueTooBig {
            key: 0,
            len: 70_000,
            limit: 65_504,
        })
    ));
}

#[test]
fn all_node_info_requests() {
    let (a, b, client) = two_nodes();
    client.put("zeta", 0, b"12345").unwrap();
    client.put("alpha", 1, b"1").unwrap();
    client.put("alpha", 2, b"22").unwrap();
    assert_eq!(client.get_channels().unwrap(), vec!["alpha", "zeta"]);

    let sizes = client.get_channel_size("alpha").unwrap();
    assert_eq!(sizes.len(), 2);
    assert_eq!(total_records(&sizes), 2);
    assert_eq!(total_bytes(&sizes), 16 + 1 + 16 + 2);
    assert_eq!(total_records(&client.get_size().unwrap()), 3);

    let ranges = client.get_responsible_ranges().unwrap();
    assert_eq!(ranges, client.handshake_report().nodes);
    let versions = client.get_versions().unwrap();
    assert_eq!(
        versions,
        vec![(a.addr(), "20110401".into()), (b.addr(), "20110401".into())]
    );
    let conns = client.get_num_connections().unwrap();
    assert!(conns.iter().all(|(_, n)| *n >= 1), "{conns:?}");

    client.remove_channel("alpha").unwrap();
    assert_eq!(client.get_channels().unwrap(), vec!["zeta"]);
    assert!(client.remove_channel("bad/name").is_err());
}
