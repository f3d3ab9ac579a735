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

/// The moves under `data` paused between two batches of a bucket: for each whole `.tmp.sent`
/// marker with no batch in flight whose `.tmp` is there, its acknowledged offset and the
/// `.tmp`'s length. A marker that is being created (empty), names a bucket not yet renamed to
/// `.tmp`, or outlives its `.tmp` for a moment at a bucket's end is not one: a kill there
/// leaves nothing to put back.
fn paused_moves(data: &std::path::Path) -> Vec<(u64, u64)> {
    files_under(data)
        .into_iter()
        .filter_map(|p| {
            let tmp = p.to_string_lossy().strip_suffix(".sent")?.to_owned();
            let text = std::fs::read_to_string(data.join(&p)).ok()?;
            if text.len() != 111 || in_flight_to(&text).is_some() {
                return None;
            }
            let acked = text.get(..20)?.parse().ok()?;
            let len = std::fs::metadata(data.join(tmp)).ok()?.len();
            Some((acked, len))
        })
        .collect()
}

/// Waits until a move has acknowledged a batch of a bucket and has more of it to send, with
/// no batch in flight: the move then pauses (`redistribute_delay_ms`) with records of that
/// `.tmp` not yet sent, which a kill there must put back.
fn wait_marker_moves(data: &std::path::Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let paused = paused_moves(data);
        if paused.iter().any(|&(acked, len)| acked > 0 && acked < len) {
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
    let left = leftovers(&source.data());
    assert!(!left.is_empty(), "the kill landed mid-move");
    source.start();
    assert!(
        source.wait_log("put back", 1, Duration::from_secs(5)),
        "left at the kill: {left:?}; root.log:\n{}",
        source.root_log()
    );
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
