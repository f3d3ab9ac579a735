//! Tests of the logfiles reads against fake nodes: every node read at once, each node's order
//! kept, the request each call and filter sends, a node's 500 and a node that is down as error
//! items naming the node, and an early drop that neither hangs nor leaves sockets open.

use super::tests::{config, dead_addr, fakes, value};
use super::*;
use crate::error::Command;
use crate::fake_logfiles::FakeLogfiles;
use std::thread;
use std::time::{Duration, Instant};
use swarm_protocol::logfiles::LogfilesCommand;
use swarm_protocol::Status;

type Record = (u64, Vec<u8>);

/// Stores `n` records of `len` bytes, keys `from..from + n`, on `node`.
fn fill(node: &FakeLogfiles, channel: &str, from: usize, n: usize, len: usize) -> Vec<Record> {
    let records: Vec<Record> = (from..from + n)
        .map(|i| (i as u64, value(i, len)))
        .collect();
    let refs: Vec<(u64, &[u8])> = records.iter().map(|(k, v)| (*k, &v[..])).collect();
    node.fill(channel, &refs);
    records
}

fn sorted(records: impl Iterator<Item = Result<Record, ClientError>>) -> Vec<Record> {
    let mut all: Vec<Record> = records.map(Result::unwrap).collect();
    all.sort();
    all
}

/// Waits up to 2 s for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn get_all_reads_every_node_and_keeps_each_nodes_order() {
    let (nodes, client) = fakes(2);
    let mut want = fill(&nodes[0], "ch", 0, 300, 500);
    want.extend(fill(&nodes[1], "ch", 300, 300, 500));
    let got: Vec<Record> = client.get_all("ch").unwrap().map(Result::unwrap).collect();
    for range in [0..300, 300..600] {
        let keys: Vec<u64> = got
            .iter()
            .map(|r| r.0)
            .filter(|k| range.contains(&(*k as usize)))
            .collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "each node's order");
    }
    let mut got = got;
    got.sort();
    assert_eq!(got, want);
    // A completed stream gives its connection back: the next read reuses it.
    assert_eq!(sorted(client.get_all("ch").unwrap()).len(), 600);
    assert!(nodes.iter().all(|n| n.accepted() == 1));
    assert!(client.get_all("nothing").unwrap().next().is_none());
}

#[test]
fn each_call_and_filter_sends_its_request() {
    let (nodes, client) = fakes(2);
    nodes[0].fill("ch", &[(1, b"Hello world"), (2, b"bye"), (5, b"hello")]);
    nodes[1].fill("ch", &[(3, b"say HELLO"), (9, b"Hello")]);
    let keys = |records: Records| -> Vec<u64> { sorted(records).iter().map(|r| r.0).collect() };
    let handled = |name: &str| -> usize { nodes.iter().map(|n| n.handled(name)).sum() };

    assert_eq!(keys(client.get_range("ch", 2, 5).unwrap()), [2, 3, 5]);
    assert_eq!(handled("GetRange"), 2, "one per node");
    assert!(keys(client.get_range("ch", 5, 2).unwrap()).is_empty());

    let hello = Filter::substring("Hello");
    assert_eq!(keys(client.get_all_filter("ch", &hello).unwrap()), [1, 9]);
    assert_eq!(handled("GetAllFilter"), 2);
    assert_eq!(
        keys(client.get_range_filter("ch", 0, 8, &hello).unwrap()),
        [1]
    );
    assert_eq!(handled("GetRangeFilter"), 2);

    let re = Filter::regex("ello");
    assert_eq!(keys(client.get_all_filter("ch", &re).unwrap()), [1, 5, 9]);
    let caseless = Filter::Regex {
        pattern: "hello".into(),
        case_insensitive: true,
    };
    assert_eq!(
        keys(client.get_range_filter("ch", 2, 9, &caseless).unwrap()),
        [3, 5, 9]
    );
    assert_eq!(
        handled("GetRangeRegex"),
        4,
        "a regex GetAll is a full range"
    );

    // An empty substring is the unfiltered request.
    let all = Filter::substring("");
    assert_eq!(keys(client.get_all_filter("ch", &all).unwrap()).len(), 5);
    assert_eq!(handled("GetAll"), 2);
    assert_eq!(
        keys(client.get_range_filter("ch", 0, 3, &all).unwrap()),
        [1, 2, 3]
    );
    assert_eq!(handled("GetRange"), 6);
    assert!(matches!(
        client.get_all("bad name"),
        Err(ClientError::BadChannelName { .. })
    ));
}

#[test]
fn a_pattern_the_nodes_refuse_is_an_error_naming_each_node() {
    let (nodes, client) = fakes(2);
    nodes[0].fill("ch", &[(1, b"x")]);
    let items: Vec<_> = client
        .get_all_filter("ch", &Filter::regex("*vw=1&"))
        .unwrap()
        .collect();
    assert_eq!(items.len(), 2, "{items:?}");
    let mut failed: Vec<SocketAddr> = items
        .iter()
        .map(|item| match item {
            Err(ClientError::Status {
                node,
                command,
                status: Status::Error,
            }) => {
                assert_eq!(*command, Command::from(LogfilesCommand::GetRangeRegex));
                *node
            }
            other => panic!("{other:?}"),
        })
        .collect();
    failed.sort();
    let mut want = client.nodes();
    want.sort();
    assert_eq!(failed, want);
    // 500 is fatal for the connection, not for the node: the next read works.
    assert_eq!(sorted(client.get_all("ch").unwrap()).len(), 1);
}

#[test]
fn a_node_that_is_down_is_an_error_item_not_skipped() {
    let live = FakeLogfiles::start();
    let want = fill(&live, "ch", 0, 10, 10);
    let dead = dead_addr();
    let config = config().with_reconnect_timeout(Duration::from_millis(300));
    let client = LogfilesClient::new(&[dead, live.addr()], config).unwrap();
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    for item in client.get_all("ch").unwrap() {
        match item {
            Ok(r) => records.push(r),
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(records, want);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        matches!(&errors[0], ClientError::Io { node, .. } if *node == dead),
        "{errors:?}"
    );
}

#[test]
fn a_node_restarting_when_the_read_starts_is_waited_for() {
    let (nodes, client) = fakes(2);
    let want = fill(&nodes[1], "ch", 0, 10, 10);
    nodes[1].set_refuse(true);
    let records = client.get_all("ch").unwrap();
    thread::sleep(Duration::from_millis(100));
    nodes[1].set_refuse(false);
    assert_eq!(sorted(records), want);
}

#[test]
fn a_stream_cut_midway_is_an_error_item_and_not_reopened() {
    let (nodes, client) = fakes(1);
    fill(&nodes[0], "ch", 0, 200, 1000); // several batches
    nodes[0].set_stall(true);
    let mut records = client.get_all("ch").unwrap();
    let first = records.next().unwrap().unwrap();
    assert_eq!(first.0, 0);
    nodes[0].drop_connections();
    let rest: Vec<_> = records.by_ref().collect();
    let (ok, errors): (Vec<_>, Vec<_>) = rest.into_iter().partition(Result::is_ok);
    assert_eq!(ok.len(), 62, "the rest of the first batch");
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0], Err(ClientError::Io { node, .. }) if *node == nodes[0].addr()));
    assert_eq!(nodes[0].handled("GetAll"), 1, "not sent again");
}

#[test]
fn nodes_are_read_in_parallel_and_an_early_drop_does_not_hang() {
    let (nodes, client) = fakes(2);
    fill(&nodes[0], "ch", 0, 200, 1000);
    let want = fill(&nodes[1], "ch", 1000, 100, 10);
    nodes[0].set_stall(true); // sends one batch, then nothing
    let mut records = client.get_all("ch").unwrap();
    // Node 1's records all arrive although node 0's stream is stuck after its first batch.
    let (mut from_0, mut from_1) = (0, Vec::new());
    while from_0 < 63 || from_1.len() < want.len() {
        let r = records.next().unwrap().unwrap();
        if r.0 >= 1000 {
            from_1.push(r);
        } else {
            from_0 += 1;
        }
    }
    assert_eq!(from_1, want);
    // Node 0's reader now waits in a read: the drop must cut it.
    let started = Instant::now();
    drop(records);
    assert!(started.elapsed() < Duration::from_secs(1), "drop hung");
    eventually("node 0's stream closed", || {
        nodes[0].open_connections() == 0
    });
}

#[test]
fn dropping_a_read_whose_queue_is_full_does_not_hang() {
    let (nodes, client) = fakes(2);
    for n in &nodes {
        fill(n, "ch", 0, 3000, 1000); // far more batches than READ_AHEAD
    }
    let mut records = client.get_all("ch").unwrap();
    records.next().unwrap().unwrap();
    thread::sleep(Duration::from_millis(100)); // let the readers fill the queue
    let started = Instant::now();
    drop(records);
    assert!(started.elapsed() < Duration::from_secs(1), "drop hung");
    for n in &nodes {
        eventually("the streams closed", || n.open_connections() == 0);
    }
    // The client is still fine: new connections serve the next read.
    assert_eq!(sorted(client.get_all("ch").unwrap()).len(), 6000);
}
