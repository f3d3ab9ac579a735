//! Tests of the logfiles client's writes (Put, PutBatch) and the all-node requests against fake
//! logfiles nodes: round-robin whatever the key, the version handshake, moving on to the next
//! node on I/O errors and 500, the statuses that are reported, and what is refused before
//! sending.

use super::*;
use crate::error::{Command, NodeFailure};
use crate::fake_logfiles::FakeLogfiles;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};
use swarm_protocol::batch::{pair_size, DEFAULT_BATCH_SIZE};
use swarm_protocol::key::KEY_HEX_LEN;
use swarm_protocol::logfiles::LogfilesCommand;
use swarm_protocol::Status;

pub(super) fn config() -> ClientConfig {
    ClientConfig::default()
        .with_connect_timeout(Duration::from_millis(500))
        .with_io_timeout(Some(Duration::from_secs(5)))
        .with_reconnect_backoff_start(Duration::from_millis(5))
        .with_reconnect_backoff_max(Duration::from_millis(50))
        .with_reconnect_timeout(Duration::from_secs(2))
}

/// An address nothing listens on: connecting is refused.
pub(super) fn dead_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub(super) fn fakes(n: usize) -> (Vec<FakeLogfiles>, LogfilesClient) {
    let nodes: Vec<FakeLogfiles> = (0..n).map(|_| FakeLogfiles::start()).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(FakeLogfiles::addr).collect();
    let client = LogfilesClient::new(&addrs, config()).unwrap();
    (nodes, client)
}

pub(super) fn value(i: usize, len: usize) -> Vec<u8> {
    let mut v = format!("value-{i:06}").into_bytes();
    v.resize(len.max(v.len()), b'.');
    v
}

#[test]
fn the_value_limit_is_what_a_read_batch_holds() {
    assert_eq!(LOGFILES_MAX_VALUE_LEN, 65_504);
    assert_eq!(
        pair_size(KEY_HEX_LEN, LOGFILES_MAX_VALUE_LEN),
        DEFAULT_BATCH_SIZE
    );
}

#[test]
fn a_node_list_must_be_non_empty_and_without_duplicates() {
    assert!(matches!(
        LogfilesClient::new(&[], config()),
        Err(ClientError::NodeList(_))
    ));
    let (nodes, client) = fakes(1);
    let a = nodes[0].addr();
    let e = LogfilesClient::new(&[a, a], config()).unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
    // No node is contacted until a request is made.
    assert_eq!(client.nodes(), vec![a]);
    thread::sleep(Duration::from_millis(20));
    assert_eq!(nodes[0].accepted(), 0);
}

#[test]
fn puts_go_round_robin_whatever_the_key_after_one_handshake_per_connection() {
    let (nodes, client) = fakes(3);
    for i in 0..30 {
        client.put("ch", 0x5727_5806, &value(i, 10)).unwrap();
    }
    for (k, node) in nodes.iter().enumerate() {
        let want: Vec<(u64, Vec<u8>)> = (0..30)
            .filter(|i| i % 3 == k)
            .map(|i| (0x5727_5806, value(i, 10)))
            .collect();
        assert_eq!(node.records("ch"), want, "node {k}");
        // Connections are pooled: one per node, its version checked once.
        assert_eq!(node.accepted(), 1);
        assert_eq!(node.handled("GetVersion"), 1);
    }
}

#[test]
fn a_node_with_another_version_is_refused_with_the_version_it_announced() {
    let (nodes, client) = fakes(2);
    nodes[1].set_version(b"20100101");
    client.put("ch", 1, b"a").unwrap();
    let e = client.put("ch", 2, b"b").unwrap_err();
    assert!(
        matches!(&e, ClientError::VersionMismatch { node, version }
            if *node == nodes[1].addr() && version == "20100101"),
        "{e:?}"
    );
    assert!(e.to_string().contains("\"20110401\""), "{e}");
    assert_eq!(nodes[1].handled("Put"), 0, "nothing is sent to it");
    // Every new connection asks again: a node fixed behind the client is used.
    nodes[1].set_version(API_VERSION_TEXT);
    client.put("ch", 3, b"c").unwrap();
    client.put("ch", 4, b"d").unwrap();
    assert_eq!(nodes[1].records("ch"), vec![(4, b"d".to_vec())]);
}

const API_VERSION_TEXT: &[u8] = b"20110401";

#[test]
fn a_500_or_a_lost_connection_moves_the_put_to_the_next_node() {
    let (nodes, client) = fakes(2);
    nodes[0].force_status(Status::Error);
    client.put("ch", 1, b"first").unwrap();
    nodes[0].hang_up_next(); // the next put starts on node 0 again
    client.put("ch", 2, b"skip").unwrap(); // round-robin start: node 1
    client.put("ch", 3, b"second").unwrap(); // node 0 hangs up: node 1
    assert!(nodes[0].records("ch").is_empty());
    let on_1: Vec<u64> = nodes[1].records("ch").iter().map(|r| r.0).collect();
    assert_eq!(on_1, [1, 2, 3]);
    // Node 0 serves again on a new connection, once its backoff has passed.
    thread::sleep(Duration::from_millis(100));
    client.put("ch", 4, b"x").unwrap();
    client.put("ch", 5, b"y").unwrap();
    assert_eq!(nodes[0].records("ch").len(), 1);
}

#[test]
fn statuses_that_every_node_would_answer_are_reported_at_once() {
    let (nodes, client) = fakes(2);
    let statuses = [
        Status::OutOfMemory,
        Status::EmptyValue,
        Status::BadChannelName,
    ];
    for (i, status) in statuses.into_iter().enumerate() {
        nodes[i % 2].force_status(status); // the node the round-robin starts on
        let e = client.put("ch", 1, b"v").unwrap_err();
        let ClientError::Status {
            status: got,
            command,
            ..
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(
            (*got, *command),
            (status, Command::from(LogfilesCommand::Put))
        );
    }
    let handled: Vec<usize> = nodes.iter().map(|n| n.handled("Put")).collect();
    assert_eq!(handled, [2, 1], "each was sent to one node only");
    assert!(nodes.iter().all(|n| n.records("ch").is_empty()));
}

#[test]
fn what_no_node_can_store_is_refused_before_sending() {
    let (nodes, client) = fakes(1);
    let e = client.put("a.b", 1, b"v").unwrap_err();
    assert!(e.to_string().contains("ASCII letters, digits"), "{e}");
    assert!(matches!(
        client.put("ch", 1, b""),
        Err(ClientError::EmptyValue)
    ));
    let big = vec![b'x'; LOGFILES_MAX_VALUE_LEN + 1];
    let e = client.put("ch", 7, &big).unwrap_err();
    assert_eq!(
        e.to_string(),
        "value of 65505 bytes for key 0000000000000007 is over the limit of 65504 bytes"
    );
    let e = client
        .put_batch("ch", &[(1, b"ok"), (2, &big[..])])
        .unwrap_err();
    assert!(
        matches!(e, ClientError::ValueTooBig { key: 2, .. }),
        "{e:?}"
    );
    assert_eq!(nodes[0].accepted(), 0, "nothing was sent");
    // The limit itself is fine, and reads back.
    client.put("ch", 8, &big[..LOGFILES_MAX_VALUE_LEN]).unwrap();
    let got: Vec<_> = client.get_all("ch").unwrap().map(Result::unwrap).collect();
    assert_eq!(got, vec![(8, big[..LOGFILES_MAX_VALUE_LEN].to_vec())]);
}

#[test]
fn a_node_that_is_down_is_skipped_and_used_again_once_back() {
    let (nodes, client) = fakes(2);
    nodes[1].set_refuse(true);
    for i in 0..20 {
        client.put("ch", i, b"v").unwrap();
    }
    assert_eq!(nodes[0].records("ch").len(), 20);
    nodes[1].set_refuse(false);
    thread::sleep(Duration::from_millis(100)); // past the longest backoff
    for i in 0..20 {
        client.put("ch", i, b"v").unwrap();
    }
    assert!(!nodes[1].records("ch").is_empty());
    // A restart behind the client: stale pooled connections are replaced, and checked again.
    for n in &nodes {
        n.drop_connections();
    }
    let before = nodes[0].handled("GetVersion");
    client.put("ch", 99, b"v").unwrap();
    client.put("ch", 99, b"v").unwrap();
    assert_eq!(nodes[0].handled("GetVersion"), before + 1);
}

#[test]
fn when_no_node_can_be_reached_the_error_lists_each_after_the_timeout() {
    let (a, b) = (dead_addr(), dead_addr());
    let config = config().with_reconnect_timeout(Duration::from_millis(300));
    let client = LogfilesClient::new(&[a, b], config).unwrap();
    let started = Instant::now();
    let e = client.put("ch", 1, b"v").unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let ClientError::AllNodesFailed { command, failures } = &e else {
        panic!("{e:?}");
    };
    assert_eq!(*command, Command::from(LogfilesCommand::Put));
    assert!(failures
        .iter()
        .all(|(_, f)| matches!(f, NodeFailure::Io(_) | NodeFailure::Down)));
}

#[test]
fn put_batch_sends_64k_batches_round_robin_in_order() {
    let (nodes, client) = fakes(3);
    let values: Vec<Vec<u8>> = (0..200).map(|i| value(i, 1000)).collect();
    let records: Vec<(u64, &[u8])> = values
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u64, &v[..]))
        .collect();
    client.put_batch("ch", &records).unwrap();
    // 1032 bytes a record: 63 in a 64 KiB batch, so 4 requests, the 4th on node 0 again.
    let batches: Vec<usize> = nodes.iter().map(|n| n.handled("PutBatch")).collect();
    assert_eq!(batches, [2, 1, 1]);
    let mut all = Vec::new();
    for n in &nodes {
        let got = n.records("ch");
        assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "in order");
        all.extend(got);
    }
    all.sort();
    let want: Vec<(u64, Vec<u8>)> = records.iter().map(|&(k, v)| (k, v.to_vec())).collect();
    assert_eq!(all, want);
    client.put_batch("ch", &[]).unwrap();
    assert_eq!(
        nodes[1].handled("PutBatch"),
        1,
        "nothing sent for no records"
    );
}

#[test]
fn put_batch_moves_to_the_next_node_on_a_lost_connection() {
    let (nodes, client) = fakes(2);
    nodes[0].hang_up_next();
    client.put_batch("ch", &[(1, b"a"), (2, b"b")]).unwrap();
    assert!(nodes[0].records("ch").is_empty());
    assert_eq!(nodes[1].records("ch").len(), 2);
}

#[test]
fn the_all_node_requests_merge_and_sum() {
    let (nodes, client) = fakes(2);
    nodes[0].fill("b", &[(1, b"12345"), (2, b"1")]);
    nodes[0].fill("a", &[(1, b"x")]);
    nodes[1].fill("b", &[(3, b"123")]);
    assert_eq!(client.channels().unwrap(), ["a", "b"]);
    let size = client.channel_size("b").unwrap();
    assert_eq!(
        size,
        LogfilesSize {
            records: 3,
            bytes: 9
        }
    );
    assert_eq!(client.size().unwrap().records, 4);
    let conns = client.num_connections().unwrap();
    assert_eq!(conns.len(), 2);
    assert_eq!(conns[0].0, nodes[0].addr());
    assert!(conns.iter().all(|&(_, n)| n >= 1));
    client.remove_channel("b").unwrap();
    assert_eq!(client.channels().unwrap(), ["a"]);
    client.remove_channel("never-made").unwrap();
    assert!(matches!(
        client.remove_channel("a/b"),
        Err(ClientError::BadChannelName { .. })
    ));
}

#[test]
fn sizes_answered_not_supported_say_so() {
    let (nodes, client) = fakes(2);
    nodes[1].set_sizes_unsupported();
    for e in [
        client.channel_size("ch").unwrap_err(),
        client.size().unwrap_err(),
    ] {
        assert!(
            matches!(&e, ClientError::NotSupported { node, .. } if *node == nodes[1].addr()),
            "{e:?}"
        );
        assert!(e.to_string().contains("does not support"), "{e}");
    }
    // The connection stays usable (406 is not fatal).
    assert_eq!(client.channels().unwrap(), Vec::<String>::new());
    assert_eq!(nodes[1].accepted(), 1);
}
