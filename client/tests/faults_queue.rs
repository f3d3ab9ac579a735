//! A real `queuenode` stopped and killed under load while [`QueueClient`] pushes through it from
//! a thread the whole time, every outcome recorded (issue 13, faults):
//!
//! * a graceful restart (SIGTERM: the `.rq` shutdown dump, then a start that loads it): every
//!   acknowledged Push is popped afterwards exactly once, in order per channel, and nothing is
//!   popped that was never pushed;
//! * a kill -9: the node keeps records in memory only and writes its dump at a graceful
//!   shutdown alone (and deletes the `.rq` files it loaded, so that a crash does not hand out
//!   popped records again), so everything it held is lost, the records loaded from an earlier
//!   dump too. Asserted: the node starts cleanly on what the kill left (no torn or temp file,
//!   no record from before), and serves again.
//!
//! In both, while the node is down every Push fails with an error, and the client pushes
//! again on its own within [`RESUME_BOUND`] of the node listening again.
#![allow(clippy::unwrap_used)]

mod common;

use common::load::{bounce, figure, resumed_after, tally, Bounce, Down, Load, Outcome};
use common::{node, pop_all, QueueNode};
use std::time::{Duration, Instant};
use swarm_client::{ClientConfig, QueueClient};

const CHANNELS: [&str; 2] = ["jobs", "mail"];
const RESUME_BOUND: Duration = Duration::from_secs(1);
const DOWN: Duration = Duration::from_millis(700);

/// As the dht fault tests: a Push to a node that is down fails after 300 ms.
fn config() -> ClientConfig {
    ClientConfig::default()
        .with_connect_timeout(Duration::from_millis(200))
        .with_io_timeout(Some(Duration::from_secs(2)))
        .with_reconnect_backoff_start(Duration::from_millis(10))
        .with_reconnect_backoff_max(Duration::from_millis(100))
        .with_reconnect_timeout(Duration::from_millis(300))
}

fn record(i: u64) -> Vec<u8> {
    format!("push {i:09}").into_bytes()
}

/// Push `i` goes to channel `i % 2`.
fn channel(i: u64) -> &'static str {
    CHANNELS[(i % 2) as usize]
}

/// Pushes `record(i)` to `channel(i)` one after another.
fn load(node: &QueueNode) -> Load {
    let client = QueueClient::new(&[node.addr()], config()).unwrap();
    Load::start(Duration::from_millis(1), move |i| {
        client.push(channel(i), &record(i))
    })
}

/// The push numbers of what a channel holds, popped to the end.
fn drain(node: &QueueNode, ch: &str) -> Vec<u64> {
    let client = QueueClient::new(&[node.addr()], config()).unwrap();
    pop_all(&client, ch)
        .iter()
        .map(|r| {
            let text = String::from_utf8_lossy(r);
            let n = text.strip_prefix("push ").and_then(|n| n.parse().ok());
            n.unwrap_or_else(|| panic!("popped a record never pushed: {text:?}"))
        })
        .collect()
}

/// Each channel's records, popped: in push order, each once, each pushed to that channel,
/// every acknowledged one there. How many were popped and how many of the failed pushes
/// were among them (a failed Push may have been stored: the error then is the reply's).
fn check_drained(node: &QueueNode, outcomes: &[Outcome]) -> (usize, usize) {
    let (mut popped, mut failed_there) = (0, 0);
    for (c, ch) in CHANNELS.iter().enumerate() {
        let got = drain(node, ch);
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "{ch}: out of order or twice"
        );
        for n in &got {
            let o = outcomes
                .get(*n as usize)
                .unwrap_or_else(|| panic!("{n} never pushed"));
            assert_eq!(channel(o.i), *ch, "{n} popped from the wrong channel");
            failed_there += usize::from(!o.ok());
        }
        for o in outcomes.iter().filter(|o| o.ok() && o.i % 2 == c as u64) {
            assert!(
                got.binary_search(&o.i).is_ok(),
                "Push {} acknowledged and lost",
                o.i
            );
        }
        popped += got.len();
    }
    (popped, failed_there)
}

#[test]
fn a_graceful_restart_under_load_pops_every_acknowledged_push_once_in_order() {
    let mut node = node(&[]);
    let load = load(&node);
    load.wait_acked_after(Instant::now(), 300, Duration::from_secs(20));
    let Bounce {
        outcomes,
        stopping,
        down,
        starting,
        up,
    } = bounce(&mut node, load, Down::Stop, DOWN, 300, |_| {});
    let (popped, failed_there) = check_drained(&node, &outcomes);
    let resumed = resumed_after(&outcomes, up);
    let t = tally(&outcomes);
    figure(
        "queue graceful restart",
        &format!(
            "{} Pushes acknowledged, {} failed with an error; {popped} popped afterwards, each \
             once and in order ({failed_there} of them failed Pushes); stop (dump) {:?}, start \
             (load) {:?}, client pushed again {resumed:?} after the node listened",
            t.acked,
            t.failed,
            down - stopping,
            up - starting
        ),
    );
    assert!(resumed < RESUME_BOUND, "resumed after {resumed:?}");
}

#[test]
fn a_kill_9_loses_what_the_node_held_and_it_starts_clean() {
    let mut node = node(&[]);
    // Records that went through a graceful dump and were loaded again: the load deletes the
    // file, so the kill loses them as well.
    let client = QueueClient::new(&[node.addr()], config()).unwrap();
    client.push("old", b"dumped once").unwrap();
    node.restart();
    assert!(node.files().is_empty(), "the loaded dump is deleted");
    let load = load(&node);
    load.wait_acked_after(Instant::now(), 300, Duration::from_secs(20));
    let Bounce {
        outcomes,
        down,
        starting,
        up,
        ..
    } = bounce(&mut node, load, Down::Kill9, DOWN, 100, |node| {
        assert!(
            node.files().is_empty(),
            "a kill leaves no file: {:?}",
            node.files()
        )
    });
    let log = node.root_log();
    assert!(!log.contains("torn"), "{log}");
    // Nothing from before the kill: only Pushes made after the restart.
    assert_eq!(pop_all(&client, "old"), Vec::<Vec<u8>>::new());
    let before_kill = outcomes.iter().filter(|o| o.ended < down).count() as u64;
    for ch in CHANNELS {
        let got = drain(&node, ch);
        assert!(got.iter().all(|n| *n >= before_kill), "{ch}: {got:?}");
        assert!(got.windows(2).all(|w| w[0] < w[1]), "{ch}: {got:?}");
    }
    let resumed = resumed_after(&outcomes, up);
    let lost = outcomes.iter().filter(|o| o.ok() && o.ended < down).count();
    figure(
        "queue kill -9",
        &format!(
            "{lost} acknowledged Pushes held in memory lost by the kill (and the record loaded \
             from an earlier dump), as promised; {} Pushes failed with an error while down; \
             start {:?} on an empty data dir, client pushed again {resumed:?} after the node \
             listened",
            tally(&outcomes).failed,
            up - starting
        ),
    );
    assert!(resumed < RESUME_BOUND, "resumed after {resumed:?}");
}
