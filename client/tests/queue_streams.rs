//! The queue client's streams against three real queuenode binaries: Produce round-robin and
//! confirmed, Consume reading every node, resuming after a node restart, ending when the
//! channel is removed everywhere, and several consumers sharing a channel exactly once.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::thread;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn produce_spreads_records_over_every_node_and_consume_reads_them_all() {
    let ns = nodes(3);
    let client = client(&ns);
    let records = numbered(0, 3000, 100);
    let mut producer = client.produce("ch").unwrap();
    assert_eq!(producer.open_nodes().len(), 3);
    for r in &records {
        producer.send(r).unwrap();
    }
    producer.finish().unwrap();
    for n in &ns {
        assert_eq!(n.connect().channel_size(b"ch").0, 1000, "round-robin");
    }
    let consumer = client.consume("ch").unwrap();
    let got: Vec<Vec<u8>> = (0..3000)
        .map(|_| consumer.recv_timeout(WAIT).unwrap().unwrap())
        .collect();
    let unique: BTreeSet<&Vec<u8>> = got.iter().collect();
    assert_eq!(unique.len(), 3000);
    assert_eq!(unique, records.iter().collect());
    // Each node's records come in its order.
    let pos = |r: &Vec<u8>| got.iter().position(|g| g == r).unwrap();
    for k in 0..3 {
        let order: Vec<usize> = records.iter().skip(k).step_by(3).map(pos).collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "node {k} out of order"
        );
    }
}

#[test]
fn produce_multi_fills_every_channel() {
    let ns = nodes(3);
    let client = client(&ns);
    let mut producer = client.produce_multi(&["x", "y"]).unwrap();
    let records = numbered(0, 30, 10);
    for r in &records {
        producer.send(r).unwrap();
    }
    producer.finish().unwrap();
    for ch in ["x", "y"] {
        let mut got = pop_all(&client, ch);
        got.sort();
        assert_eq!(got, records);
    }
}

#[test]
fn three_consumers_share_a_channel_exactly_once() {
    let ns = nodes(3);
    let client = client(&ns);
    let consumers: Vec<_> = (0..3).map(|_| client.consume("jobs").unwrap()).collect();
    thread::sleep(Duration::from_millis(300)); // every Consume registered
    let records = numbered(0, 900, 30);
    for r in &records {
        client.push("jobs", r).unwrap();
    }
    let got: Vec<Vec<Vec<u8>>> = thread::scope(|s| {
        let handles: Vec<_> = consumers
            .into_iter()
            .map(|c| {
                s.spawn(move || {
                    let mut mine = Vec::new();
                    while let Ok(r) = c.recv_timeout(Duration::from_millis(1500)) {
                        mine.push(r.unwrap());
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<&Vec<u8>> = got.iter().flatten().collect();
    let unique: BTreeSet<&Vec<u8>> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        900,
        "per consumer: {:?}",
        got.iter().map(Vec::len).collect::<Vec<_>>()
    );
    assert_eq!(unique, records.iter().collect());
    assert!(
        got.iter().all(|g| !g.is_empty()),
        "every consumer got a share"
    );
}

#[test]
fn consume_resumes_on_a_restarted_node() {
    let mut ns = nodes(2);
    let client = client(&ns);
    let consumer = client.consume("ch").unwrap();
    client.push("ch", b"before").unwrap();
    assert_eq!(consumer.recv_timeout(WAIT).unwrap().unwrap(), b"before");
    ns[0].restart();
    // Both nodes get records: the one that restarted must be consumed again.
    let records = numbered(0, 20, 10);
    for r in &records {
        client.push("ch", r).unwrap();
    }
    let mut got: Vec<Vec<u8>> = (0..20)
        .map(|_| consumer.recv_timeout(WAIT).unwrap().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, records);
    assert!(
        ns[0].connect().channel_size(b"ch").0 == 0,
        "nothing left behind"
    );
}

#[test]
fn consume_ends_when_the_channel_is_removed_on_every_node() {
    let ns = nodes(3);
    let client = client(&ns);
    client.push("ch", b"r").unwrap();
    let consumer = client.consume("ch").unwrap();
    assert_eq!(consumer.recv_timeout(WAIT).unwrap().unwrap(), b"r");
    thread::sleep(Duration::from_millis(300)); // every Consume registered
    client.remove_channel("ch").unwrap();
    let rest: Vec<_> = consumer.collect();
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn dropping_a_consumer_closes_its_connections() {
    let ns = nodes(2);
    let client = client(&ns);
    let consumer = client.consume("ch").unwrap();
    thread::sleep(Duration::from_millis(300));
    let with: u64 = client.num_connections().unwrap().iter().map(|c| c.1).sum();
    drop(consumer);
    thread::sleep(Duration::from_millis(300));
    let without: u64 = client.num_connections().unwrap().iter().map(|c| c.1).sum();
    assert_eq!(with - without, 2, "one Consume connection per node closed");
}
