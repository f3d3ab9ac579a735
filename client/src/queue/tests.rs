//! Tests of the queue client's request calls (Push, Pop, PushMulti, the all-node requests)
//! against fake queue nodes: routing, failover on 407 and on dead or restarting nodes, and
//! what is refused before sending.

use super::*;
use crate::error::{Command, NodeFailure};
use crate::fake_queue::FakeQueue;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};
use swarm_protocol::queue::QueueCommand;
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

pub(super) fn fakes(n: usize) -> (Vec<FakeQueue>, QueueClient) {
    let nodes: Vec<FakeQueue> = (0..n).map(|_| FakeQueue::start()).collect();
    let addrs: Vec<SocketAddr> = nodes.iter().map(FakeQueue::addr).collect();
    let client = QueueClient::new(&addrs, config()).unwrap();
    (nodes, client)
}

fn rec(i: usize) -> Vec<u8> {
    format!("record-{i}").into_bytes()
}

#[test]
fn a_node_list_must_be_non_empty_and_without_duplicates() {
    assert!(matches!(
        QueueClient::new(&[], config()),
        Err(ClientError::NodeList(_))
    ));
    let a = dead_addr();
    let e = QueueClient::new(&[a, a], config()).unwrap_err();
    assert!(e.to_string().contains("listed twice"), "{e}");
    // No node is contacted until a request is made.
    let client = QueueClient::new(&[a], config()).unwrap();
    assert_eq!(client.nodes(), vec![a]);
}

#[test]
fn pushes_go_round_robin_and_keep_each_nodes_order() {
    let (nodes, client) = fakes(3);
    for i in 0..30 {
        client.push("ch", &rec(i)).unwrap();
    }
    for (k, node) in nodes.iter().enumerate() {
        let want: Vec<Vec<u8>> = (0..30).filter(|i| i % 3 == k).map(rec).collect();
        assert_eq!(node.records("ch"), want, "node {k}");
    }
    // Connections are pooled: one per node.
    assert!(nodes.iter().all(|n| n.accepted() == 1));
}

#[test]
fn a_full_node_sends_its_pushes_to_the_next() {
    let (nodes, client) = fakes(3);
    nodes[1].set_capacity(Some(0));
    for i in 0..30 {
        client.push("ch", &rec(i)).unwrap();
    }
    assert!(nodes[1].records("ch").is_empty());
    assert_eq!(nodes[0].records("ch").len(), 10);
    assert_eq!(nodes[2].records("ch").len(), 20);
    assert_eq!(
        nodes[1].handled("Push"),
        10,
        "the full node was asked each time"
    );
}

#[test]
fn every_node_full_fails_with_what_each_said() {
    let (nodes, client) = fakes(2);
    for n in &nodes {
        n.set_capacity(Some(0));
    }
    let err = client.push("ch", b"x").unwrap_err();
    let ClientError::AllNodesFailed { command, failures } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*command, Command::Queue(QueueCommand::Push));
    assert_eq!(failures.len(), 2);
    assert!(failures
        .iter()
        .all(|(_, f)| matches!(f, NodeFailure::Status(Status::OutOfMemory))));
    let text = err.to_string();
    assert!(text.starts_with("Push failed on every node: "), "{text}");
    assert!(text.contains("answered OutOfMemory (407)"), "{text}");
}

#[test]
fn refused_values_and_names_are_not_sent() {
    let (nodes, client) = fakes(1);
    assert!(matches!(
        client.push("ch", b""),
        Err(ClientError::EmptyValue)
    ));
    assert!(matches!(
        client.push("bad name", b"x"),
        Err(ClientError::BadChannelName { .. })
    ));
    assert!(matches!(
        client.pop("bad/name"),
        Err(ClientError::BadChannelName { .. })
    ));
    assert!(matches!(
        client.push_multi(&["ok", "bad name"], b"x"),
        Err(ClientError::BadChannelName { .. })
    ));
    assert!(matches!(
        client.push_multi(&["ok"], b""),
        Err(ClientError::EmptyValue)
    ));
    assert_eq!(client.push_multi(&[], b"x").unwrap(), Vec::<String>::new());
    assert_eq!(nodes[0].accepted(), 0);
}

#[test]
fn statuses_that_every_node_would_give_are_returned_at_once() {
    let (nodes, client) = fakes(2);
    nodes[0].force_status(Status::BadChannelName);
    let err = client.push("ch", b"x").unwrap_err();
    assert_eq!(err.status(), Some(Status::BadChannelName));
    assert_eq!(err.node(), Some(nodes[0].addr()));
    assert_eq!(nodes[1].handled("Push"), 0, "not tried elsewhere");
    nodes[1].force_status(Status::EmptyValue);
    assert_eq!(
        client.push("ch", b"x").unwrap_err().status(),
        Some(Status::EmptyValue)
    );
    // Error (500) is the node's own trouble: the next node takes the record.
    nodes[0].force_status(Status::Error);
    client.push("ch", b"y").unwrap();
    assert_eq!(nodes[1].records("ch"), vec![b"y".to_vec()]);
}

#[test]
fn a_dead_node_is_skipped_with_backoff_and_used_again_when_back() {
    let nodes = [FakeQueue::start(), FakeQueue::start()];
    let config = config().with_reconnect_backoff_start(Duration::from_millis(200));
    let addrs = [nodes[0].addr(), nodes[1].addr()];
    let client = QueueClient::new(&addrs, config).unwrap();
    nodes[0].set_refuse(true);
    for i in 0..20 {
        client.push("ch", &rec(i)).unwrap();
    }
    assert_eq!(nodes[1].records("ch").len(), 20, "all on the live node");
    assert_eq!(
        nodes[0].refused(),
        1,
        "one attempt, then skipped while down"
    );
    nodes[0].set_refuse(false);
    thread::sleep(Duration::from_millis(250));
    for i in 20..30 {
        client.push("ch", &rec(i)).unwrap();
    }
    assert_eq!(nodes[0].records("ch").len(), 5, "back in the rotation");
}

#[test]
fn a_restart_that_closed_pooled_connections_costs_no_record() {
    let (nodes, client) = fakes(2);
    for i in 0..4 {
        client.push("ch", &rec(i)).unwrap();
    }
    nodes[0].drop_connections();
    for i in 4..8 {
        client.push("ch", &rec(i)).unwrap();
    }
    // The stale connection was noticed before sending: a new one took the records, and the
    // node stayed in the rotation.
    assert_eq!(nodes[0].records("ch"), vec![rec(0), rec(2), rec(4), rec(6)]);
    assert_eq!(nodes[0].accepted(), 2);
}

#[test]
fn a_node_that_dies_mid_push_hands_the_record_to_the_next() {
    let (nodes, client) = fakes(2);
    nodes[0].hang_up_next();
    client.push("ch", b"x").unwrap();
    assert_eq!(nodes[1].records("ch"), vec![b"x".to_vec()]);
}

#[test]
fn with_every_node_down_push_waits_for_one_until_the_timeout() {
    let config = config().with_reconnect_timeout(Duration::from_millis(300));
    let client = QueueClient::new(&[dead_addr(), dead_addr()], config).unwrap();
    let started = Instant::now();
    let err = client.push("ch", b"x").unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    let ClientError::AllNodesFailed { failures, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(failures
        .iter()
        .all(|(_, f)| matches!(f, NodeFailure::Io(_) | NodeFailure::Down)));

    // A node that comes back within the timeout takes the record.
    let node = FakeQueue::start();
    node.set_refuse(true);
    let client = QueueClient::new(&[node.addr()], crate::queue::tests::config()).unwrap();
    let back = thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(150));
            node.set_refuse(false);
        });
        client.push("ch", b"late")
    });
    back.unwrap();
    assert_eq!(node.records("ch"), vec![b"late".to_vec()]);
}

#[test]
fn pop_over_empty_nodes_asks_each_once_and_answers_none() {
    let (nodes, client) = fakes(3);
    assert_eq!(client.pop("ch").unwrap(), None);
    assert!(nodes.iter().all(|n| n.handled("Pop") == 1));
}

#[test]
fn pop_finds_the_records_wherever_they_are_in_order() {
    let (nodes, client) = fakes(3);
    nodes[2].fill("ch", &[b"1", b"2", b"3"]);
    for want in [b"1", b"2", b"3"] {
        assert_eq!(client.pop("ch").unwrap(), Some(want.to_vec()));
    }
    assert_eq!(client.pop("ch").unwrap(), None);
}

#[test]
fn pop_with_a_node_down_is_not_none() {
    let node = FakeQueue::start();
    let dead = dead_addr();
    let client = QueueClient::new(&[node.addr(), dead], config()).unwrap();
    let err = client.pop("ch").unwrap_err();
    let ClientError::AllNodesFailed { failures, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(failures
        .iter()
        .any(|(_, f)| matches!(f, NodeFailure::Empty)));
    assert!(failures
        .iter()
        .any(|(n, f)| *n == dead && matches!(f, NodeFailure::Io(_))));
    node.fill("ch", &[b"r"]);
    assert_eq!(client.pop("ch").unwrap(), Some(b"r".to_vec()));
}

#[test]
fn push_multi_sends_only_the_full_channels_to_the_next_node() {
    let (nodes, client) = fakes(2);
    nodes[0].set_capacity(Some(1));
    nodes[0].fill("a", &[b"old"]);
    let left = client.push_multi(&["a", "b", "a"], b"new").unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert_eq!(nodes[0].records("a"), vec![b"old".to_vec()]);
    assert_eq!(nodes[0].records("b"), vec![b"new".to_vec()]);
    assert_eq!(nodes[1].records("a"), vec![b"new".to_vec()]);
    assert!(nodes[1].records("b").is_empty(), "never twice in a channel");
}

#[test]
fn push_multi_returns_the_channels_no_node_could_take() {
    let (nodes, client) = fakes(2);
    for n in &nodes {
        n.set_capacity(Some(1));
        n.fill("full", &[b"old"]);
    }
    let left = client.push_multi(&["full", "free"], b"new").unwrap();
    assert_eq!(left, vec!["full".to_string()]);
    let free: usize = nodes.iter().map(|n| n.records("free").len()).sum();
    assert_eq!(free, 1);
    // A whole-request 407 (the node-wide limit) also moves on to the next node.
    nodes[0].force_status(Status::OutOfMemory);
    nodes[1].force_status(Status::OutOfMemory);
    assert_eq!(
        client.push_multi(&["x"], b"v").unwrap(),
        vec!["x".to_string()]
    );
}

#[test]
fn push_multi_is_not_retried_when_its_outcome_is_unknown() {
    let (nodes, client) = fakes(2);
    nodes[0].hang_up_next();
    let err = client.push_multi(&["a", "b"], b"v").unwrap_err();
    let ClientError::OutcomeUnknown { node, channels, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(*node, nodes[0].addr());
    assert_eq!(channels, &["a".to_string(), "b".to_string()]);
    assert_eq!(nodes[1].handled("PushMulti2"), 0);
    assert!(err.to_string().contains("not retried"), "{err}");
}

#[test]
fn push_multi_skips_a_dead_node() {
    let node = FakeQueue::start();
    let client = QueueClient::new(&[dead_addr(), node.addr()], config()).unwrap();
    assert!(client.push_multi(&["a", "b"], b"v").unwrap().is_empty());
    assert_eq!(node.records("a"), vec![b"v".to_vec()]);
}

#[test]
fn all_node_requests_combine_every_node() {
    let (nodes, client) = fakes(2);
    nodes[0].fill("a", &[b"12", b"345"]);
    nodes[1].fill("a", &[b"6"]);
    nodes[1].fill("b", &[b"78"]);
    let a = client.channel_size("a").unwrap();
    assert_eq!(
        a,
        QueueSize {
            records: 3,
            bytes: 3 * 8 + 6
        }
    );
    assert_eq!(
        client.size().unwrap(),
        QueueSize {
            records: 4,
            bytes: 4 * 8 + 8
        }
    );
    assert_eq!(client.channels().unwrap(), ["a", "b"]);
    let limits = client.size_limit().unwrap();
    assert_eq!(
        limits,
        vec![(nodes[0].addr(), 1000), (nodes[1].addr(), 1000)]
    );
    let conns = client.num_connections().unwrap();
    assert!(conns.iter().all(|&(_, n)| n >= 1), "{conns:?}");
    client.remove_channel("a").unwrap();
    assert_eq!(client.channels().unwrap(), ["b"]);
    assert_eq!(client.channel_size("a").unwrap(), QueueSize::default());
}

#[test]
fn an_unreachable_node_fails_an_all_node_request() {
    let node = FakeQueue::start();
    let config = config().with_reconnect_timeout(Duration::from_millis(100));
    let client = QueueClient::new(&[node.addr(), dead_addr()], config).unwrap();
    assert!(matches!(client.size(), Err(ClientError::Io { .. })));
    assert!(matches!(
        client.remove_channel("a"),
        Err(ClientError::Io { .. })
    ));
}
