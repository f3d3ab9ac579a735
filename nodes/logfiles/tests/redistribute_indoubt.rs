//! Redistribute (35) killed (-9) while a batch is in flight: the destination answers through a
//! relay that holds its answers back, so the kill, at a random moment once a batch is out,
//! usually finds the batch stored by the destination and its Ok unread. At the restart the
//! source asks that destination which records of the batch it holds and puts back only the
//! others: every record exactly once over all nodes, and again after a second move. With the
//! destination down at the restart the batch is put back, with a warning naming it.
#![allow(clippy::unwrap_used)]

mod redist_support;

use redist_support::relay::Relay;
use redist_support::*;
use std::time::{Duration, Instant};

/// How long the relay holds back each answer of the destination.
const ANSWER_DELAY: Duration = Duration::from_millis(150);

/// A source filled with `n` records per channel and restarted (so its records are on disk: a
/// kill -9 in sync mode `checkpoint` cuts to the checkpoint); the records.
fn filled(source: &mut LogfilesNode, n: usize, seed: u64) -> Vec<(Vec<u8>, u64, Vec<u8>)> {
    source.start();
    let a = records(n, seed);
    let b = records(n, seed + 1);
    fill(source, CHANNELS[0], &a);
    fill(source, CHANNELS[1], &b);
    source.restart();
    expected(&[(CHANNELS[0], &a), (CHANNELS[1], &b)])
}

/// Waits until `dest` holds a record (the source's connection is up, past its handshake),
/// then until a marker of `data` names a new batch in flight, then a random 10 to 130 ms more
/// (within the relay's delay, not right after the marker changed); the destination named.
fn wait_in_flight(data: &std::path::Path, dest: &LogfilesNode) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while dest.connect().size().0 == 0 {
        assert!(Instant::now() < deadline, "nothing arrived");
        std::thread::sleep(Duration::from_millis(1));
    }
    let before = markers(data);
    let named = loop {
        let now = markers(data);
        if now != before {
            if let Some(d) = now.iter().find_map(|m| in_flight_to(m)) {
                break d;
            }
        }
        assert!(Instant::now() < deadline, "no batch went out");
        std::thread::sleep(Duration::from_millis(1));
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    std::thread::sleep(Duration::from_millis(10 + u64::from(nanos % 120)));
    named
}

#[test]
fn a_source_killed_with_a_batch_in_flight_has_every_record_once_after_its_restart() {
    let mut source = node(&[]);
    let mut dest = node(&[]);
    dest.start();
    let relay = Relay::new(dest.addr(), ANSWER_DELAY);
    let want = filled(&mut source, 3_000, 11);
    let mut c = source.connect();
    c.send_raw(&redistribute_req(0.5, &[relay.addr()]));
    let named = wait_in_flight(&source.data(), &dest);
    assert_eq!(named, relay.addr().to_string());
    source.kill9();
    drop(c);
    let left = markers(&source.data());
    assert!(
        left.iter().any(|m| in_flight_to(m).is_some()),
        "killed with a batch in flight: {left:?}"
    );
    source.start();
    assert!(source.wait_log("put back", 1, Duration::from_secs(30)));
    no_leftovers(&source.data());
    assert_same(&everything(&[&source, &dest]), &want);
    assert_eq!(total_size(&[&source, &dest]), size_of(&want));
    // A second move completes; still every record once.
    assert!(
        source.root_log().contains("records are there"),
        "the batch in flight was settled by asking the destination"
    );
    assert_eq!(redistribute(&source, 0.5, &[dest.addr()]), 200);
    assert_same(&everything(&[&source, &dest]), &want);
    assert_eq!(total_size(&[&source, &dest]), size_of(&want));
    no_leftovers(&source.data());
}

#[test]
fn a_destination_down_at_the_restart_gets_the_batch_put_back_with_a_warning() {
    let mut source = node(&[]);
    let mut dest = node(&[("Options_Dls", "sync_mode", "group")]).with_sticky_port();
    dest.start();
    let relay = Relay::new(dest.addr(), ANSWER_DELAY);
    let relay_addr = relay.addr().to_string();
    let want = filled(&mut source, 2_000, 21);
    let mut c = source.connect();
    c.send_raw(&redistribute_req(1.0, &[relay.addr()]));
    wait_in_flight(&source.data(), &dest);
    source.kill9();
    drop(c);
    dest.kill9();
    drop(relay);
    source.start();
    let log = source.log_after("cannot be asked", Duration::from_secs(30));
    let warning = log
        .lines()
        .find(|l| l.contains("cannot be asked"))
        .expect("the warning");
    assert!(
        warning.contains(&relay_addr) && warning.contains(".tmp") && warning.contains("both"),
        "{warning}"
    );
    no_leftovers(&source.data());
    dest.start();
    let got = everything(&[&source, &dest]);
    assert_nothing_lost(&got, &want);
    assert_eq!(total_size(&[&source, &dest]), size_of(&got));
}
