//! Tests of the queue client's streams against fake queue nodes: Produce round-robin, re-sent
//! buffers and confirmation; Consume across nodes, across a node restart, to its end, and its
//! drop.

use super::tests::{config, dead_addr, fakes};
use super::*;
use crate::fake_queue::FakeQueue;
use std::collections::BTreeSet;
use std::sync::mpsc::RecvTimeoutError;
use std::thread;
use std::time::{Duration, Instant};
use swarm_protocol::Status;

fn rec(i: usize) -> Vec<u8> {
    format!("p-{i}").into_bytes()
}

/// Waits until `cond` holds (or panics after 5 s).
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn produce_hands_records_round_robin_to_every_node() {
    let (nodes, client) = fakes(3);
    let mut p = client.produce("ch").unwrap();
    assert_eq!(p.open_nodes().len(), 3);
    for i in 0..30 {
        p.send(&rec(i)).unwrap();
    }
    assert_eq!(p.pending(), 30, "buffered until flushed");
    p.finish().unwrap();
    for (k, node) in nodes.iter().enumerate() {
        let want: Vec<Vec<u8>> = (0..30).filter(|i| i % 3 == k).map(rec).collect();
        assert_eq!(node.records("ch"), want, "node {k}");
        assert_eq!(
            node.handled("GetNumConnections"),
            1,
            "finish confirms each stream"
        );
    }
}

#[test]
fn a_full_buffer_is_written_without_flush() {
    let (nodes, client) = fakes(1);
    let mut p = client.produce("ch").unwrap();
    let big = vec![7u8; PRODUCE_BUFFER / 4];
    for _ in 0..4 {
        p.send(&big).unwrap();
    }
    assert_eq!(p.pending(), 0);
    wait_for("the records", || nodes[0].records("ch").len() == 4);
    p.finish().unwrap();
}

#[test]
fn produce_multi_puts_each_record_in_every_channel() {
    let (nodes, client) = fakes(2);
    let mut p = client.produce_multi(&["a", "b"]).unwrap();
    for i in 0..4 {
        p.send(&rec(i)).unwrap();
    }
    p.finish().unwrap();
    for ch in ["a", "b"] {
        assert_eq!(nodes[0].records(ch), vec![rec(0), rec(2)]);
        assert_eq!(nodes[1].records(ch), vec![rec(1), rec(3)]);
    }
    assert!(matches!(
        client.produce_multi(&["a", "no good"]),
        Err(ClientError::BadChannelName { .. })
    ));
}

#[test]
fn a_failed_stream_is_dropped_its_buffer_resent_and_reopened_later() {
    let (nodes, client) = fakes(2);
    let mut p = client.produce("ch").unwrap();
    for i in 0..10 {
        p.send(&rec(i)).unwrap();
    }
    p.flush().unwrap();
    wait_for("the first records", || nodes[0].records("ch").len() == 5);
    // Node 0 restarts: its stream is closed, and it refuses connections for a while.
    nodes[0].set_refuse(true);
    nodes[0].drop_connections();
    for i in 10..20 {
        p.send(&rec(i)).unwrap();
    }
    p.flush().unwrap();
    assert_eq!(p.open_nodes(), vec![nodes[1].addr()]);
    assert_eq!(
        nodes[0].records("ch").len(),
        5,
        "nothing went to the closed stream"
    );
    nodes[0].set_refuse(false);
    thread::sleep(Duration::from_millis(60)); // past the backoff
    for i in 20..30 {
        p.send(&rec(i)).unwrap();
    }
    assert_eq!(p.open_nodes().len(), 2, "reopened");
    let err = p.finish().unwrap_err();
    // The 5 records written before the stream broke were not confirmed (here the fake had
    // stored them: "may be lost").
    let ClientError::StreamsLost { streams, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(streams, &[(nodes[0].addr(), 5)]);
    let mut all: Vec<Vec<u8>> = nodes.iter().flat_map(|n| n.records("ch")).collect();
    all.sort();
    let mut want: Vec<Vec<u8>> = (0..30).map(rec).collect();
    want.sort();
    assert_eq!(all, want, "every record once");
    assert!(
        nodes[0].records("ch").len() > 5,
        "records went to node 0 again"
    );
}

#[test]
fn produce_fails_when_no_node_can_be_reached() {
    let config = config().with_reconnect_timeout(Duration::from_millis(100));
    let client = QueueClient::new(&[dead_addr()], config).unwrap();
    let err = client.produce("ch").unwrap_err();
    assert!(matches!(err, ClientError::AllNodesFailed { .. }), "{err:?}");
    let (_nodes, client) = fakes(1);
    let mut p = client.produce("ch").unwrap();
    assert!(matches!(p.send(b""), Err(ClientError::EmptyValue)));
}

#[test]
fn dropping_a_producer_writes_its_buffer() {
    let (nodes, client) = fakes(1);
    let mut p = client.produce("ch").unwrap();
    p.send(b"kept").unwrap();
    drop(p);
    wait_for("the record", || {
        nodes[0].records("ch") == vec![b"kept".to_vec()]
    });
}

#[test]
fn consume_reads_every_node_in_each_nodes_order() {
    let (nodes, client) = fakes(3);
    for (k, n) in nodes.iter().enumerate() {
        let recs: Vec<Vec<u8>> = (0..20).map(|i| rec(k * 100 + i)).collect();
        let refs: Vec<&[u8]> = recs.iter().map(Vec::as_slice).collect();
        n.fill("ch", &refs);
    }
    let mut consumer = client.consume("ch").unwrap();
    let got: Vec<Vec<u8>> = (&mut consumer).take(60).map(Result::unwrap).collect();
    let unique: BTreeSet<Vec<u8>> = got.iter().cloned().collect();
    assert_eq!(unique.len(), 60);
    for k in 0..3 {
        let order: Vec<usize> = got
            .iter()
            .map(|r| String::from_utf8_lossy(&r[2..]).parse::<usize>().unwrap())
            .filter(|i| i / 100 == k)
            .collect();
        assert_eq!(order, (0..20).map(|i| k * 100 + i).collect::<Vec<_>>());
    }
    // Records pushed afterwards are streamed too.
    client.push("ch", b"later").unwrap();
    let next = consumer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(next, b"later");
}

#[test]
fn consume_ends_when_every_node_removed_the_channel() {
    let (nodes, client) = fakes(2);
    nodes[0].fill("ch", &[b"a"]);
    let consumer = client.consume("ch").unwrap();
    wait_for("both streams", || {
        nodes.iter().all(|n| n.consumers("ch") == 1)
    });
    client.remove_channel("ch").unwrap();
    let all: Vec<Vec<u8>> = consumer.map(Result::unwrap).collect();
    assert_eq!(all, vec![b"a".to_vec()]);
}

#[test]
fn consume_reconnects_to_a_restarted_node_and_resends_consume() {
    let (nodes, client) = fakes(2);
    let consumer = client.consume("ch").unwrap();
    wait_for("both streams", || {
        nodes.iter().all(|n| n.consumers("ch") == 1)
    });
    nodes[0].drop_connections();
    nodes[0].fill("ch", &[b"after restart"]);
    let got = consumer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(got, b"after restart");
    assert_eq!(nodes[0].handled("Consume"), 2);
}

#[test]
fn consume_keeps_trying_a_node_that_is_down_at_the_start() {
    let node = FakeQueue::start();
    node.set_refuse(true);
    let client = QueueClient::new(&[node.addr()], config()).unwrap();
    let consumer = client.consume("ch").unwrap();
    assert_eq!(
        consumer
            .recv_timeout(Duration::from_millis(100))
            .unwrap_err(),
        RecvTimeoutError::Timeout
    );
    node.set_refuse(false);
    node.fill("ch", &[b"r"]);
    let got = consumer
        .recv_timeout(Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(got, b"r");
}

#[test]
fn a_node_refusing_consume_yields_its_error_once() {
    let (nodes, client) = fakes(2);
    nodes[0].force_status(Status::Error);
    nodes[1].fill("ch", &[b"ok"]);
    let mut consumer = client.consume("ch").unwrap();
    let mut items: Vec<Item> = (&mut consumer).take(2).collect();
    items.sort_by_key(|i| i.is_ok());
    let err = items[0].as_ref().unwrap_err();
    assert_eq!(err.status(), Some(Status::Error));
    assert_eq!(items[1].as_ref().unwrap(), b"ok");
}

type Item = Result<Vec<u8>, ClientError>;

#[test]
fn dropping_a_consumer_closes_its_connections() {
    let (nodes, client) = fakes(2);
    let consumer = client.consume("ch").unwrap();
    wait_for("both streams", || {
        nodes.iter().all(|n| n.consumers("ch") == 1)
    });
    let started = Instant::now();
    drop(consumer);
    assert!(started.elapsed() < Duration::from_secs(1));
    wait_for("the node to see the close", || {
        nodes.iter().all(|n| n.consumers("ch") == 0)
    });
}
