//! Redistribute (35) killed (-9) while a batch is in flight (three sources moving half their
//! buckets to a fourth node, one of them killed): the destination answers through a
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
use swarm_logfiles::redistribute::putback;

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

/// Waits until a marker of `data` shows a batch acknowledged (the source's connection is up,
/// past its handshake), then one naming a batch in flight, then a random 10 to 130 ms more
/// (within the relay's delay, not right after the marker changed); the destination named.
fn wait_in_flight(data: &std::path::Path) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    // Acknowledged past any bucket header; the next batch may be in flight already (the moment
    // with none in flight lasts microseconds: a poll under load can miss it every time).
    let acked = |m: &String| m.get(..20).and_then(|a| a.parse::<u64>().ok()) > Some(1024);
    while !markers(data).iter().any(acked) {
        assert!(Instant::now() < deadline, "no batch was acknowledged");
        std::thread::sleep(Duration::from_millis(1));
    }
    let named = loop {
        if let Some(d) = markers(data).iter().find_map(|m| in_flight_to(m)) {
            break d;
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
fn three_sources_move_half_to_a_fourth_one_killed_with_a_batch_in_flight_every_record_once() {
    let mut dest = node(&[]);
    dest.start();
    let relay = Relay::new(dest.addr(), ANSWER_DELAY);
    let mut sources: Vec<LogfilesNode> = (0..3).map(|_| node(&[])).collect();
    let mut want = Vec::new();
    for (i, s) in sources.iter_mut().enumerate() {
        want.extend(filled(s, 2_000, 11 + 2 * i as u64));
    }
    want.sort();
    let mut conns: Vec<Conn> = sources.iter().map(|s| s.connect()).collect();
    for c in &mut conns {
        c.send_raw(&redistribute_req(0.5, &[relay.addr()]));
    }
    let named = wait_in_flight(&sources[0].data());
    assert_eq!(named, relay.addr().to_string());
    sources[0].kill9();
    let left = markers(&sources[0].data());
    assert!(
        left.iter().any(|m| in_flight_to(m).is_some()),
        "killed with a batch in flight: {left:?}"
    );
    for c in &mut conns[1..] {
        assert_eq!(c.read_n(4), OK, "the other moves complete");
    }
    drop(conns);
    sources[0].start();
    assert!(sources[0].wait_log("put back", 1, Duration::from_secs(30)));
    no_leftovers(&sources[0].data());
    let all: Vec<&LogfilesNode> = sources.iter().chain([&dest]).collect();
    assert_same(&everything(&all), &want);
    assert_eq!(total_size(&all), size_of(&want));
    assert!(
        sources[0].root_log().contains("records are there"),
        "the batch in flight was settled by asking the destination"
    );
    // A second move of the killed source completes; still every record once.
    assert_eq!(redistribute(&sources[0], 0.5, &[dest.addr()]), 200);
    assert_same(&everything(&all), &want);
    assert_eq!(total_size(&all), size_of(&want));
    no_leftovers(&sources[0].data());
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
    wait_in_flight(&source.data());
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

#[test]
fn a_partly_stored_batch_puts_back_only_the_records_after_the_stored_prefix() {
    let mut source = node(&[]);
    let mut dest = node(&[]);
    dest.start();
    source.start();
    // One bucket, with (key, value) pairs that repeat: the prefix counts with multiplicity.
    let recs: Vec<Record> = (0..40u64)
        .map(|i| {
            (
                0x5700_1000 + i % 5,
                format!("value {}", i % 10).into_bytes(),
            )
        })
        .collect();
    fill(&source, CHANNELS[0], &recs);
    source.stop();
    let data = source.data();
    let files: Vec<_> = buckets(&data).into_keys().collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let bucket = data.join(&files[0]);
    let tmp = putback::with_suffix(&bucket, putback::TMP_SUFFIX);
    std::fs::rename(&bucket, &tmp).unwrap();
    let end = std::fs::metadata(&tmp).unwrap().len();
    // The whole bucket was the batch in flight; the destination stored its first 25 records.
    putback::write_in_flight(&tmp, 0, end, dest.addr()).unwrap();
    fill(&dest, CHANNELS[0], &recs[..25]);
    source.start();
    assert!(source.wait_log("25 of 40 records are there", 1, Duration::from_secs(30)));
    no_leftovers(&data);
    assert_same(
        &everything(&[&source, &dest]),
        &expected(&[(CHANNELS[0], &recs)]),
    );
    assert_eq!(source.connect().get_all(CHANNELS[0]), recs[25..].to_vec());
}
