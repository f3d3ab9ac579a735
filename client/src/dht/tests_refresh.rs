//! Client tests against fake nodes whose ranges change while the client runs: refresh, the
//! WrongNode retry of writes, the periodic refresh, and reads that miss during a move.

use super::tests::config;
use super::*;
use crate::fake_dht::FakeNode;
use std::time::Duration;
use swarm_protocol::Status;

const HALF: u64 = 0x7fff_ffff_ffff_ffff;
const LOWER: HashRange = HashRange { min: 0, max: HALF };
const UPPER: HashRange = HashRange {
    min: HALF + 1,
    max: u64::MAX,
};
/// An odd key: in the upper half once bit-reversed.
const ODD: u64 = 7;
const RANGE: DhtCommand = DhtCommand::GetResponsibleRange;

fn no_periodic() -> ClientConfig {
    config().with_range_refresh(None)
}

/// A owns every key, B none; a client that saw that (no periodic refresh unless `cfg` says).
fn full_and_empty(cfg: ClientConfig) -> (FakeNode, FakeNode, DhtClient) {
    let a = FakeNode::start(HashRange::FULL);
    let b = FakeNode::start(HashRange::EMPTY);
    let client = DhtClient::connect(&[a.addr(), b.addr()], cfg).unwrap();
    (a, b, client)
}

/// B takes over the upper half of A's keys, as a Redistribute would.
fn split(a: &FakeNode, b: &FakeNode) {
    a.set_range(LOWER);
    b.set_range(UPPER);
}

#[test]
fn refresh_reports_the_new_ranges() {
    let (a, b, client) = full_and_empty(no_periodic());
    assert_eq!(client.responsible_node(ODD).unwrap(), a.addr());
    split(&a, &b);
    assert_eq!(
        client.responsible_node(ODD).unwrap(),
        a.addr(),
        "no refresh yet"
    );
    client.refresh().unwrap();
    let report = client.handshake_report();
    assert_eq!(report.nodes, vec![(a.addr(), LOWER), (b.addr(), UPPER)]);
    assert!(report.is_complete(), "{report}");
    assert_eq!(client.responsible_node(ODD).unwrap(), b.addr());
    assert_eq!(client.responsible_node(2).unwrap(), a.addr());
}

#[test]
fn a_write_answered_wrong_node_refreshes_and_goes_to_the_new_owner_once() {
    let (a, b, client) = full_and_empty(no_periodic());
    split(&a, &b);
    let ranges_asked = a.served(RANGE);
    client.put("ch", ODD, b"moved").unwrap();
    assert_eq!(a.served(DhtCommand::Put), 1, "refused once by A");
    assert_eq!(b.records("ch").get(&ODD), Some(&b"moved".to_vec()));
    assert!(a.records("ch").is_empty());
    assert_eq!(a.served(RANGE), ranges_asked + 1, "one refresh");
    client.remove("ch", ODD).unwrap();
    assert!(b.records("ch").is_empty());

    // Remove follows a change the same way.
    a.set_range(HashRange::FULL);
    b.set_range(HashRange::EMPTY);
    a.insert("ch", ODD, b"back");
    client.remove("ch", ODD).unwrap();
    assert!(a.records("ch").is_empty());
    assert_eq!(client.responsible_node(ODD).unwrap(), a.addr());

    // A write that every node refuses fails after one retry.
    a.set_range(LOWER);
    let puts = (a.served(DhtCommand::Put), b.served(DhtCommand::Put));
    let e = client.put("ch", ODD, b"nowhere").unwrap_err();
    assert_eq!(e.status(), Some(Status::WrongNode), "{e}");
    assert_eq!(
        (a.served(DhtCommand::Put), b.served(DhtCommand::Put)),
        (puts.0 + 2, puts.1),
        "sent to A, refreshed (nobody owns the key: A as the previous owner), sent again"
    );
}

#[test]
fn put_many_resends_only_the_refused_records() {
    let (a, b, client) = full_and_empty(no_periodic());
    split(&a, &b);
    let values: Vec<Vec<u8>> = (0..40u64).map(|k| k.to_le_bytes().to_vec()).collect();
    let records: Vec<(u64, &[u8])> = (0..40u64).map(|k| (k, &values[k as usize][..])).collect();
    client.put_many("ch", &records).unwrap();
    assert_eq!(a.served(DhtCommand::Put), 40, "all sent to A first");
    assert_eq!(b.served(DhtCommand::Put), 20, "only the odd keys again");
    assert!(a.records("ch").keys().all(|k| k % 2 == 0));
    assert_eq!(b.records("ch").len(), 20);
    assert!(b.records("ch").keys().all(|k| k % 2 == 1));
}

#[test]
fn threads_that_hit_wrong_node_together_refresh_once() {
    let (a, b, client) = full_and_empty(no_periodic());
    split(&a, &b);
    let ranges_asked = a.served(RANGE);
    thread::scope(|s| {
        for t in 0..8u64 {
            let client = &client;
            s.spawn(move || {
                for i in 0..20u64 {
                    let key = (t * 1000 + i) * 2 + 1;
                    client.put("ch", key, b"x").unwrap();
                }
            });
        }
    });
    assert_eq!(b.records("ch").len(), 160);
    assert_eq!(a.served(RANGE), ranges_asked + 1);
}

#[test]
fn the_periodic_refresh_runs_once_when_due() {
    let every = Duration::from_millis(500);
    let (a, b, client) = full_and_empty(config().with_range_refresh(Some(every)));
    let (lazy_a, lazy_b, lazy) = full_and_empty(no_periodic());
    split(&a, &b);
    split(&lazy_a, &lazy_b);
    let ranges_asked = a.served(RANGE);
    thread::sleep(every + Duration::from_millis(50));
    assert_eq!(a.served(RANGE), ranges_asked, "no background thread");
    thread::scope(|s| {
        for t in 0..8u64 {
            let client = &client;
            s.spawn(move || client.put("ch", t * 2, b"even").unwrap());
        }
    });
    assert_eq!(a.served(RANGE), ranges_asked + 1, "one thread refreshed");
    assert_eq!(client.responsible_node(ODD).unwrap(), b.addr());
    lazy.put("ch", 2, b"even").unwrap();
    assert_eq!(lazy.responsible_node(ODD).unwrap(), lazy_a.addr());
}

#[test]
fn a_stale_client_asks_the_node_it_missed_at_for_its_range() {
    for verify in [true, false] {
        let (a, b, client) = full_and_empty(no_periodic().with_verify_misses(verify));
        // The record moved from A to B, and the client has not refreshed.
        split(&a, &b);
        b.insert("ch", ODD, b"moved");
        let found = client.get("ch", ODD).unwrap();
        let exists = client.exists("ch", ODD).unwrap();
        if verify {
            assert_eq!(found, Some(b"moved".to_vec()));
            assert!(exists);
            assert_eq!(client.responsible_node(ODD).unwrap(), b.addr());
        } else {
            assert_eq!(found, None, "the miss the check exists for");
            assert!(!exists);
        }
    }
}

#[test]
fn a_miss_at_the_new_owner_asks_the_previous_owner() {
    for window in [DEFAULT_WINDOW, Duration::ZERO] {
        let (a, b, client) = full_and_empty(no_periodic().with_moved_key_window(window));
        // A still holds the record it no longer owns: not forwarded yet.
        a.insert("ch", ODD, b"on A");
        split(&a, &b);
        client.refresh().unwrap();
        let found = client.get("ch", ODD).unwrap();
        if window.is_zero() {
            assert_eq!(found, None, "the previous table has expired");
        } else {
            assert_eq!(found, Some(b"on A".to_vec()));
            assert!(client.exists("ch", ODD).unwrap());
            assert_eq!(client.get("ch", ODD + 2).unwrap(), None, "a true miss");
        }
    }
}

const DEFAULT_WINDOW: Duration = crate::config::DEFAULT_MOVED_KEY_WINDOW;

#[test]
fn a_record_that_moves_between_the_two_misses_is_found_at_the_new_owner() {
    let (a, b, client) = full_and_empty(no_periodic());
    a.insert("ch", ODD, b"moving");
    split(&a, &b);
    client.refresh().unwrap();
    // B misses, then the record moves from A to B before A is asked.
    b.move_on_miss(ODD, &a);
    assert_eq!(client.get("ch", ODD).unwrap(), Some(b"moving".to_vec()));
    assert!(a.records("ch").is_empty());
    assert_eq!(b.served(DhtCommand::Get), 2, "B, A, then B once more");
    assert_eq!(a.served(DhtCommand::Get), 1);
}

#[test]
fn get_many_misses_take_the_single_key_path() {
    let (a, b, client) = full_and_empty(no_periodic());
    for k in 0..20u64 {
        a.insert("ch", k, &k.to_le_bytes());
    }
    split(&a, &b);
    for k in (1..10u64).step_by(2) {
        let v = a.take("ch", k).unwrap();
        b.insert("ch", k, &v);
    }
    let ranges_asked = a.served(RANGE);
    let keys: Vec<u64> = (0..24u64).collect();
    let got = client.get_many("ch", &keys).unwrap();
    for (k, v) in keys.iter().zip(&got) {
        let want = (*k < 20).then(|| k.to_le_bytes().to_vec());
        assert_eq!(v, &want, "key {k}");
    }
    // A is asked for its range once for all its misses, then once by the refresh.
    assert_eq!(a.served(RANGE), ranges_asked + 2);
}

#[test]
fn a_node_unreachable_at_connect_joins_on_refresh() {
    let a = FakeNode::start(HashRange::FULL);
    let b = FakeNode::start(HashRange::EMPTY);
    b.set_refuse(true);
    let cfg = no_periodic()
        .with_require_full_coverage(false)
        .with_reconnect_timeout(Duration::from_millis(100));
    let client = DhtClient::connect(&[a.addr(), b.addr()], cfg).unwrap();
    assert_eq!(client.nodes(), vec![a.addr()]);
    assert_eq!(client.handshake_report().unreachable[0].0, b.addr());
    client.refresh().unwrap();
    assert_eq!(client.nodes(), vec![a.addr()], "still refusing");
    b.set_refuse(false);
    split(&a, &b);
    client.refresh().unwrap();
    assert_eq!(client.nodes(), vec![a.addr(), b.addr()]);
    assert!(client.handshake_report().is_complete());
    client.put("ch", ODD, b"on B").unwrap();
    assert_eq!(b.records("ch").len(), 1);
    client
        .put_batch(b.addr(), "ch", &[(ODD + 2, b"batch")])
        .unwrap();
    assert_eq!(b.records("ch").len(), 2);
}

#[test]
fn a_usable_node_that_does_not_answer_keeps_its_range() {
    let a = FakeNode::start(LOWER);
    let b = FakeNode::start(UPPER);
    let cfg = no_periodic().with_reconnect_timeout(Duration::from_millis(100));
    let client = DhtClient::connect(&[a.addr(), b.addr()], cfg).unwrap();
    b.set_refuse(true);
    b.drop_connections();
    a.set_range(HashRange::FULL);
    let e = client.refresh().unwrap_err();
    assert_eq!(e.node(), Some(b.addr()), "{e}");
    let report = client.handshake_report();
    assert_eq!(
        report.nodes,
        vec![(a.addr(), HashRange::FULL), (b.addr(), UPPER)]
    );
    assert_eq!(
        client.responsible_node(ODD).unwrap(),
        a.addr(),
        "overlap: first wins"
    );
}

#[test]
fn a_move_seen_half_done_still_asks_the_node_that_held_the_keys() {
    let (a, b, client) = full_and_empty(no_periodic());
    a.insert("ch", ODD, b"not forwarded yet");
    // A refresh sees A give up the upper half before B takes it (a gap), the next one the end.
    a.set_range(LOWER);
    client.refresh().unwrap();
    assert_eq!(client.handshake_report().gaps, vec![UPPER]);
    b.set_range(UPPER);
    client.refresh().unwrap();
    assert_eq!(
        client.get("ch", ODD).unwrap(),
        Some(b"not forwarded yet".to_vec())
    );
    assert_eq!(a.served(DhtCommand::Get), 1);
}

#[test]
fn a_write_waits_while_a_move_leaves_its_key_without_an_owner() {
    let (a, b, client) = full_and_empty(no_periodic());
    a.set_range(LOWER);
    thread::scope(|s| {
        s.spawn(|| {
            thread::sleep(Duration::from_millis(200));
            b.set_range(UPPER);
        });
        client.put("ch", ODD, b"after the gap").unwrap();
    });
    assert_eq!(b.records("ch").get(&ODD), Some(&b"after the gap".to_vec()));
    assert_eq!(a.served(DhtCommand::Put), 1, "sent once to each node");
}
