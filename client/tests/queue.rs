//! The queue client against three real queuenode binaries: a full node's pushes go to the
//! others, PushMulti stores each record once per channel across nodes, a node killed under
//! load (SIGKILL) is skipped and used again after its restart, a graceful restart (SIGTERM)
//! under load loses nothing acknowledged, and the all-node requests.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};
use swarm_client::{ClientError, NodeFailure, QueueSize, Status};

#[test]
fn a_full_nodes_pushes_go_to_the_others() {
    let mut ns = nodes(2);
    ns.insert(1, node(&[("Server", "channel_size_limit", "1024")]));
    let client = client(&ns);
    let records = numbered(0, 300, 100);
    for r in &records {
        client.push("ch", r).unwrap();
    }
    let on_full = ns[1].connect().channel_size(b"ch").0;
    assert!((1..=9).contains(&on_full), "{on_full} records in 1 KiB");
    let sizes: Vec<u64> = ns
        .iter()
        .map(|n| n.connect().channel_size(b"ch").0)
        .collect();
    assert_eq!(sizes.iter().sum::<u64>(), 300, "{sizes:?}");
    let mut popped = pop_all(&client, "ch");
    assert_eq!(popped.len(), 300);
    popped.sort();
    assert_eq!(popped, records, "each record once");

    // Once every node is full, the error says what each node answered.
    let tiny: Vec<QueueNode> = (0..2)
        .map(|_| node(&[("Server", "channel_size_limit", "256")]))
        .collect();
    let client = common::client(&tiny);
    let err = loop {
        match client.push("ch", &[b'x'; 100]) {
            Ok(()) => continue,
            Err(e) => break e,
        }
    };
    let ClientError::AllNodesFailed { failures, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(failures
        .iter()
        .all(|(_, f)| matches!(f, NodeFailure::Status(Status::OutOfMemory))));
}

#[test]
fn push_multi_puts_each_record_once_in_each_channel_across_nodes() {
    let mut ns = nodes(2);
    ns.insert(0, node(&[("Server", "channel_size_limit", "1024")]));
    let client = client(&ns);
    let records = numbered(0, 60, 100);
    for r in &records {
        let left = client.push_multi(&["a", "b", "c"], r).unwrap();
        assert!(left.is_empty(), "{left:?}");
    }
    for ch in ["a", "b", "c"] {
        let mut got = pop_all(&client, ch);
        got.sort();
        assert_eq!(got, records, "channel {ch}: every record exactly once");
    }
}

/// Pushes numbered records through `client` until `stop`; the acknowledged ones.
fn push_until(client: &swarm_client::QueueClient, stop: &AtomicBool) -> (Vec<Vec<u8>>, usize) {
    let (mut acked, mut errors) = (Vec::new(), 0);
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let r = numbered(i, 1, 50).remove(0);
        i += 1;
        match client.push("load", &r) {
            Ok(()) => acked.push(r),
            Err(e) => {
                errors += 1;
                eprintln!("push failed: {e}");
            }
        }
    }
    (acked, errors)
}

/// Runs a pusher while `during` acts on the nodes, then stops it: (acknowledged, errors).
fn under_load(
    ns: &Mutex<Vec<QueueNode>>,
    during: impl FnOnce(&Mutex<Vec<QueueNode>>),
) -> (Vec<Vec<u8>>, usize) {
    let client = common::client(&ns.lock().unwrap());
    let stop = AtomicBool::new(false);
    thread::scope(|s| {
        let pusher = s.spawn(|| push_until(&client, &stop));
        thread::sleep(Duration::from_millis(200));
        during(ns);
        thread::sleep(Duration::from_millis(200));
        stop.store(true, Ordering::SeqCst);
        pusher.join().unwrap()
    })
}

/// Waits until the node holds at least one record of "load" again.
fn wait_used(node: &QueueNode, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while node.connect().channel_size(b"load").0 == 0 {
        assert!(
            Instant::now() < deadline,
            "{what}: the client did not resume on the node"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_node_killed_under_load_is_skipped_and_used_again_after_its_restart() {
    let ns = Mutex::new(nodes(3));
    let (acked, errors) = under_load(&ns, |ns| {
        ns.lock().unwrap()[1].kill9();
        thread::sleep(Duration::from_millis(300)); // pushes go on to the other two
        let mut ns = ns.lock().unwrap();
        ns[1].start();
        wait_used(&ns[1], "after SIGKILL");
    });
    assert_eq!(errors, 0, "no push failed while a node was down");
    let ns = ns.into_inner().unwrap();
    let client = common::client(&ns);
    let popped = pop_all(&client, "load");
    let unique: BTreeSet<&Vec<u8>> = popped.iter().collect();
    assert_eq!(unique.len(), popped.len(), "no record twice");
    let acked: BTreeSet<&Vec<u8>> = acked.iter().collect();
    assert!(unique.is_subset(&acked));
    // What is missing is what the killed node held in memory (it is memory-only): at most
    // its share of the records pushed before the kill.
    let missing = acked.len() - unique.len();
    assert!(
        missing < acked.len() / 2,
        "{missing} of {} missing",
        acked.len()
    );
}

#[test]
fn a_graceful_restart_under_load_loses_nothing_acknowledged() {
    let ns = Mutex::new(nodes(3));
    let (acked, errors) = under_load(&ns, |ns| {
        let mut ns = ns.lock().unwrap();
        ns[1].restart(); // SIGTERM: the node dumps its rings and loads them again
        wait_used(&ns[1], "after SIGTERM");
    });
    assert_eq!(errors, 0, "no push failed while a node restarted");
    let ns = ns.into_inner().unwrap();
    let client = common::client(&ns);
    let popped: BTreeSet<Vec<u8>> = pop_all(&client, "load").into_iter().collect();
    let missing: Vec<&Vec<u8>> = acked.iter().filter(|r| !popped.contains(*r)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged records lost, first {:?}",
        missing.len(),
        acked.len(),
        String::from_utf8_lossy(missing[0])
    );
}

#[test]
fn pop_over_empty_nodes_returns_none_and_a_down_node_is_not_empty() {
    let mut ns = nodes(3);
    let client = client(&ns);
    assert_eq!(client.pop("nothing").unwrap(), None);
    ns[2].kill9();
    let err = client.pop("nothing").unwrap_err();
    assert!(matches!(err, ClientError::AllNodesFailed { .. }), "{err}");
    client.push("nothing", b"x").unwrap();
    assert_eq!(client.pop("nothing").unwrap(), Some(b"x".to_vec()));
}

#[test]
fn all_node_requests_on_real_nodes() {
    let ns = nodes(3);
    let client = client(&ns);
    for r in numbered(0, 9, 20) {
        client.push("a", &r).unwrap();
    }
    client.push("b", b"one").unwrap();
    assert_eq!(
        client.channel_size("a").unwrap(),
        QueueSize {
            records: 9,
            bytes: 9 * (8 + 20)
        }
    );
    assert_eq!(client.size().unwrap().records, 10);
    assert_eq!(client.channels().unwrap(), ["a", "b"]);
    let limits = client.size_limit().unwrap();
    assert!(limits.iter().all(|&(_, l)| l == 1 << 20), "{limits:?}");
    let conns = client.num_connections().unwrap();
    assert_eq!(conns.len(), 3);
    assert!(conns.iter().all(|&(_, c)| c >= 1), "{conns:?}");
    client.remove_channel("a").unwrap();
    assert_eq!(client.channels().unwrap(), ["b"]);
    assert_eq!(client.channel_size("a").unwrap(), QueueSize::default());
}
