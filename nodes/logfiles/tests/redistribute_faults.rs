//! Redistribute (35) when something goes wrong: the source killed (-9) in the middle of a move
//! puts back at its restart what was not acknowledged (every record then exactly once), and a
//! destination that goes away makes the move answer Error after the retry window with nothing
//! lost (a batch the destination stored as it died may be on both); in both cases a second
//! Redistribute completes and changes nothing over all nodes.
#![allow(clippy::unwrap_used)]

mod redist_support;

use redist_support::*;
use std::time::{Duration, Instant};

/// Sources and a destination filled with `n` records per channel, the sources restarted so
/// their records are on disk (a kill -9 of a node in sync mode `checkpoint` cuts to the
/// checkpoint).
fn filled(source: &mut LogfilesNode, n: usize) -> Vec<(Vec<u8>, u64, Vec<u8>)> {
    source.start();
    let a = records(n, 3);
    let b = records(n, 4);
    fill(source, CHANNELS[0], &a);
    fill(source, CHANNELS[1], &b);
    source.restart();
    expected(&[(CHANNELS[0], &a), (CHANNELS[1], &b)])
}

/// Waits until `node` holds at least one record.
fn wait_some(node: &LogfilesNode) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.connect().size().0 == 0 {
        assert!(
            Instant::now() < deadline,
            "nothing arrived at the destination"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until a `.tmp.sent` marker of `data` changes to a new acknowledged offset with no
/// batch in flight: the move then pauses (`redistribute_delay_ms`).
fn wait_marker_moves(data: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let first = markers(data);
    loop {
        let now = markers(data);
        if !now.is_empty()
            && now != first
            && now
                .iter()
                .all(|m| !m.starts_with("00000000000000000000:") && in_flight_to(m).is_none())
        {
            return;
        }
        assert!(Instant::now() < deadline, "no batch was acknowledged");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_source_killed_mid_move_puts_back_what_was_not_sent() {
    let mut source = node(&[("Testing", "redistribute_delay_ms", "100")]);
    let mut dest = node(&[]);
    dest.start();
    let want = filled(&mut source, 5_000);
    let mut c = source.connect();
    c.send_raw(&redistribute_req(0.7, &[dest.addr()]));
    wait_some(&dest);
    // Killed right after a batch's marker was written: no batch is in flight (a kill while one
    // is: redistribute_indoubt.rs).
    wait_marker_moves(&source.data());
    source.kill9();
    assert!(
        !leftovers(&source.data()).is_empty(),
        "the kill landed mid-move"
    );
    source.start();
    assert!(source.wait_log("put back", 1, Duration::from_secs(5)));
    no_leftovers(&source.data());
    assert_same(&everything(&[&source, &dest]), &want);
    assert_eq!(total_size(&[&source, &dest]), size_of(&want));
    // A second move completes; still every record once.
    assert_eq!(redistribute(&source, 0.7, &[dest.addr()]), 200);
    assert_same(&everything(&[&source, &dest]), &want);
    assert_eq!(total_size(&[&source, &dest]), size_of(&want));
    no_leftovers(&source.data());
}

#[test]
fn a_destination_that_goes_away_fails_the_move_after_the_retry_window_and_loses_nothing() {
    let mut source = node(&[
        ("Testing", "redistribute_delay_ms", "20"),
        ("Options_Dls", "redistribute_retry_s", "2"),
    ]);
    let mut dest = node(&[("Options_Dls", "sync_mode", "group")]).with_sticky_port();
    dest.start();
    let want = filled(&mut source, 3_000);
    let mut c = source.connect();
    c.send_raw(&redistribute_req(1.0, &[dest.addr()]));
    wait_some(&dest);
    dest.kill9();
    let t = Instant::now();
    assert_eq!(c.read_n(4), status(500), "the move fails");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(20),
        "answered after {waited:?}"
    );
    assert!(source.wait_log("no destination took a batch", 1, Duration::from_secs(5)));
    assert!(source.wait_log(".tmp: put back (", 1, Duration::from_secs(5)));
    no_leftovers(&source.data());
    dest.start();
    // The kill may land while the destination stores a batch: then it may keep that batch
    // unanswered, and the source keeps it too (stored twice, never lost).
    let got = everything(&[&source, &dest]);
    assert_nothing_lost(&got, &want);
    assert_eq!(total_size(&[&source, &dest]), size_of(&got));
    // The destination is back: the rest moves.
    assert_eq!(redistribute(&source, 1.0, &[dest.addr()]), 200);
    assert_same(&everything(&[&source, &dest]), &got);
    assert_eq!(source.connect().size(), (0, 0));
    no_leftovers(&source.data());
}
