//! Client tests against fake nodes: handshake, single-key requests, status handling and
//! reconnects. Streaming and all-node requests are in `tests_stream.rs`.

use super::*;
use crate::config::DEFAULT_MAX_CONNECTIONS_PER_NODE;
use crate::fake_dht::FakeNode;
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};
use swarm_protocol::Status;

const HALF: u64 = 0x7fff_ffff_ffff_ffff;

pub(super) fn config() -> ClientConfig {
    ClientConfig {
        connect_timeout: Duration::from_secs(1),
        io_timeout: Some(Duration::from_secs(5)),
        reconnect_timeout: Duration::from_secs(3),
        ..ClientConfig::default()
    }
}

/// Two fake nodes splitting the key space (even keys on the first) and a client for them.
pub(super) fn two_nodes() -> (FakeNode, FakeNode, DhtClient) {
    let a = FakeNode::start(HashRange { min: 0, max: HALF });
    let b = FakeNode::start(HashRange {
        min: HALF + 1,
        max: u64::MAX,
    });
    let client = DhtClient::connect(&[a.addr(), b.addr()], config()).unwrap();
    (a, b, client)
}

/// An address nothing listens on.
fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

#[test]
fn handshake_learns_ranges_and_routes_even_keys_to_the_first_node() {
    let (a, b, client) = two_nodes();
    let report = client.handshake_report();
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.nodes[0], (a.addr(), HashRange { min: 0, max: HALF }));
    assert_eq!(client.nodes(), vec![a.addr(), b.addr()]);
    for key in 0..20u64 {
        client.put("ch", key, format!("v{key}").as_bytes()).unwrap();
        let expect = if key % 2 == 0 { a.addr() } else { b.addr() };
        assert_eq!(client.responsible_node(key).unwrap(), expect);
    }
    assert_eq!(a.records("ch").len(), 10);
    assert!(a.records("ch").keys().all(|k| k % 2 == 0));
    assert!(b.records("ch").keys().all(|k| k % 2 == 1));
}

#[test]
fn handshake_refuses_a_wrong_version() {
    let good = FakeNode::start(HashRange { min: 0, max: HALF });
    let bad = FakeNode::with_version(
        HashRange {
            min: HALF + 1,
            max: u64::MAX,
        },
        b"20100101",
    );
    let mut relaxed = config();
    relaxed.require_full_coverage = false;
    for cfg in [config(), relaxed] {
        match DhtClient::connect(&[good.addr(), bad.addr()], cfg) {
            Err(ClientError::VersionMismatch { node, version }) => {
                assert_eq!(node, bad.addr());
                assert_eq!(version, "20100101");
            }
            other => panic!("expected VersionMismatch, got {other:?}"),
        }
    }
}

#[test]
fn gaps_fail_the_handshake_unless_coverage_is_optional() {
    let a = FakeNode::start(HashRange { min: 0, max: HALF });
    let e = DhtClient::connect(&[a.addr()], config()).unwrap_err();
    assert!(matches!(e, ClientError::Handshake(_)), "{e}");
    assert!(
        e.to_string()
            .contains("gap 8000000000000000..=ffffffffffffffff"),
        "{e}"
    );

    let mut cfg = config();
    cfg.require_full_coverage = false;
    let client = DhtClient::connect(&[a.addr()], cfg).unwrap();
    assert_eq!(client.handshake_report().gaps.len(), 1);
    client.put("ch", 2, b"x").unwrap();
    assert!(matches!(
        client.put("ch", 1, b"x"),
        Err(ClientError::NoResponsibleNode { key: 1 })
    ));
}

#[test]
fn unreachable_nodes_are_reported_or_fatal() {
    let a = FakeNode::start(HashRange::FULL);
    let dead = closed_port();
    let mut cfg = config();
    cfg.reconnect_timeout = Duration::from_millis(100);
    let e = DhtClient::connect(&[a.addr(), dead], cfg.clone()).unwrap_err();
    assert!(e.to_string().contains("unreachable"), "{e}");
    cfg.require_full_coverage = false;
    let client = DhtClient::connect(&[a.addr(), dead], cfg.clone()).unwrap();
    assert_eq!(client.handshake_report().unreachable[0].0, dead);
    assert_eq!(client.nodes(), vec![a.addr()]);
    assert!(matches!(
        client.put_batch(dead, "ch", &[(1, b"x")]),
        Err(ClientError::UnknownNode(n)) if n == dead
    ));
    // No node at all is an error even when coverage is optional.
    assert!(DhtClient::connect(&[dead], cfg).is_err());
    assert!(DhtClient::connect(&[], config()).is_err());
    assert!(DhtClient::connect(&[a.addr(), a.addr()], config()).is_err());
}

#[test]
fn single_key_requests_roundtrip() {
    let (_a, _b, client) = two_nodes();
    assert_eq!(client.get("ch", 7).unwrap(), None);
    assert!(!client.exists("ch", 7).unwrap());
    client.put("ch", 7, b"seven").unwrap();
    assert_eq!(client.get("ch", 7).unwrap(), Some(b"seven".to_vec()));
    assert!(client.exists("ch", 7).unwrap());
    client.remove("ch", 7).unwrap();
    assert_eq!(client.get("ch", 7).unwrap(), None);
    client.remove("ch", 7).unwrap();
}

#[test]
fn the_client_refuses_empty_values_and_bad_channels_itself() {
    let (a, _b, client) = two_nodes();
    let before = a.accepted();
    assert!(matches!(
        client.put("ch", 0, b""),
        Err(ClientError::EmptyValue)
    ));
    assert!(matches!(
        client.get("bad.name", 0),
        Err(ClientError::BadChannelName { channel }) if channel == "bad.name"
    ));
    assert!(matches!(
        client.put_many("ch", &[(0, b"x"), (2, b"")]),
        Err(ClientError::EmptyValue)
    ));
    assert!(a.records("ch").is_empty());
    assert_eq!(a.accepted(), before);
}

#[test]
fn a_non_fatal_status_keeps_the_connection_and_error_drops_it() {
    let a = FakeNode::start(HashRange::FULL);
    let client = DhtClient::connect(&[a.addr()], config()).unwrap();
    client.put("ch", 1, b"x").unwrap();
    let accepted = a.accepted();

    a.force_status(Status::OutOfMemory);
    match client.put("ch", 2, b"y") {
        Err(ClientError::Status {
            node,
            command,
            status,
        }) => {
            assert_eq!(
                (node, command, status),
                (a.addr(), DhtCommand::Put.into(), Status::OutOfMemory)
            );
        }
        other => panic!("expected a status error, got {other:?}"),
    }
    assert_eq!(client.pools()[0].idle_count(), 1, "connection kept");
    client.put("ch", 3, b"z").unwrap();
    assert_eq!(a.accepted(), accepted, "same connection reused");

    a.force_status(Status::Error);
    let e = client.get("ch", 3).unwrap_err();
    assert_eq!(e.status(), Some(Status::Error));
    assert_eq!(client.pools()[0].idle_count(), 0, "connection dropped");
    assert_eq!(client.get("ch", 3).unwrap(), Some(b"z".to_vec()));
    assert_eq!(a.accepted(), accepted + 1, "a new connection was made");
}

#[test]
fn requests_survive_a_node_restart_and_reverify_the_version() {
    let (a, _b, client) = two_nodes();
    client.put("ch", 0, b"before").unwrap();
    let (accepted, versions) = (a.accepted(), a.version_requests());
    a.drop_connections();
    assert_eq!(client.get("ch", 0).unwrap(), Some(b"before".to_vec()));
    client.put("ch", 2, b"after").unwrap();
    assert_eq!(a.accepted(), accepted + 1);
    assert_eq!(a.version_requests(), versions + 1, "version checked once");
    assert_eq!(client.get_channels().unwrap(), vec!["ch".to_string()]);
}

#[test]
fn requests_wait_for_a_starting_node_with_backoff() {
    let a = FakeNode::start(HashRange::FULL);
    let client = DhtClient::connect(&[a.addr()], config()).unwrap();
    a.set_refuse(true);
    a.drop_connections();
    let started = Instant::now();
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(300));
            a.set_refuse(false);
        });
        client.put("ch", 5, b"late").unwrap();
    });
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(a.records("ch").get(&5), Some(&b"late".to_vec()));
}

#[test]
fn a_node_that_stays_down_fails_after_the_reconnect_timeout() {
    let a = FakeNode::start(HashRange::FULL);
    let mut cfg = config();
    cfg.reconnect_timeout = Duration::from_millis(200);
    let client = DhtClient::connect(&[a.addr()], cfg).unwrap();
    a.set_refuse(true);
    a.drop_connections();
    let started = Instant::now();
    let e = client.get("ch", 1).unwrap_err();
    assert!(
        matches!(e, ClientError::Io { node, .. } if node == a.addr()),
        "{e}"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn the_client_is_shared_between_threads() {
    let (a, b, client) = two_nodes();
    thread::scope(|s| {
        for t in 0..8u64 {
            let client = &client;
            s.spawn(move || {
                for i in 0..50u64 {
                    let key = t * 1000 + i;
                    client.put("ch", key, &key.to_le_bytes()).unwrap();
                    assert_eq!(
                        client.get("ch", key).unwrap(),
                        Some(key.to_le_bytes().to_vec())
                    );
                }
            });
        }
    });
    assert_eq!(a.records("ch").len() + b.records("ch").len(), 400);
    assert!(client.pools()[0].idle_count() <= DEFAULT_MAX_CONNECTIONS_PER_NODE);
}

#[test]
fn client_is_send_and_sync_and_listener_is_send() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<DhtClient>();
    send_sync::<ClientError>();
    send::<Listener>();
}
