//! Hostile clients cannot grow the node or hold it forever: output of a stream that is not read
//! is bounded, partial input is held under the node-wide budget (and every request still
//! completes once room frees), discarded input is not buffered, and the request and idle
//! timeouts close what stalls. Memory is read from this process's RSS, so the tests of this
//! binary run one at a time.

mod common;

use std::io::Write;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use common::{local, start};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    swarm_testkit::rss_bytes(std::process::id()).expect("VmRSS of this process")
}

const MIB: u64 = 1024 * 1024;

#[test]
fn a_waiting_stream_that_is_not_read_keeps_its_output_bounded() {
    let _g = serial();
    let server = start(local());
    let mut sub = server.connect();
    sub.send("subscribe\n");
    thread::sleep(Duration::from_millis(50));
    let before = rss();
    let mut p = server.connect();
    // 200 MB for a subscriber that reads nothing.
    for _ in 0..200 {
        assert_eq!(p.ask("publish 1000\n"), "published");
    }
    let grown = rss().saturating_sub(before);
    assert!(grown < 16 * MIB, "node grew by {} MiB", grown / MIB);
    assert_eq!(p.ask("echo alive\n"), "alive");
    // What was sent is whole lines.
    let line = sub.line();
    assert_eq!(line.len(), common::LINE - 1);
    server.stop();
}

#[test]
fn partial_requests_are_held_under_the_input_budget_and_all_complete() {
    let _g = serial();
    let mut cfg = local();
    cfg.input_buffer_limit = 4 * MIB as usize;
    let server = start(cfg);
    const LEN: usize = 1_000_000;
    const CLIENTS: usize = 12;
    let payload = vec![b'p'; LEN];
    let before = rss();
    let mut senders = Vec::new();
    for _ in 0..CLIENTS {
        let mut c = server.connect();
        let payload = payload.clone();
        senders.push(thread::spawn(move || {
            c.send(&format!("big {LEN}\n"));
            c.stream.write_all(&payload).expect("payload");
            c
        }));
    }
    // Those over the budget are not read, so their senders block in write: wait a while.
    thread::sleep(Duration::from_millis(500));
    let grown = rss().saturating_sub(before);
    let mut control = server.connect();
    assert_eq!(control.ask("echo served\n"), "served");
    // 12 MB announced, a 4 MiB budget: the node holds about the budget (plus the test's own
    // copies of the payload, 12 MB).
    assert!(
        grown < 4 * MIB + 12 * MIB + 16 * MIB,
        "grew by {} MiB",
        grown / MIB
    );
    // The last byte of each: every request completes as room frees.
    let mut finishers = Vec::new();
    for s in senders {
        finishers.push(thread::spawn(move || {
            let mut c = s.join().expect("sender");
            c.send("\n");
            c.line()
        }));
    }
    for f in finishers {
        assert_eq!(f.join().expect("finisher"), format!("big {LEN} ok"));
    }
    server.stop();
}

#[test]
fn a_request_larger_than_the_whole_input_budget_closes_its_connection() {
    let _g = serial();
    let mut cfg = local();
    cfg.input_buffer_limit = MIB as usize;
    let server = start(cfg);
    let mut big = server.connect();
    big.send("big 3000000\n");
    // It could never be buffered whole: waiting for budget would hang it for ever.
    let _ = big.stream.write_all(&vec![b'p'; 3_000_000]);
    assert!(big.read_to_close().is_empty());
    let mut fits = server.connect();
    fits.send("big 500000\n");
    fits.stream
        .write_all(&vec![b'p'; 500_000])
        .expect("payload");
    fits.send("\n");
    assert_eq!(fits.line(), "big 500000 ok");
    server.stop();
}

#[test]
fn discarded_input_is_dropped_as_it_arrives() {
    let _g = serial();
    let server = start(local());
    let mut c = server.connect();
    let before = rss();
    let total = 50 * MIB as usize;
    c.send(&format!("skip {total}\n"));
    let chunk = vec![b'z'; 1 << 20];
    for _ in 0..total / chunk.len() {
        c.stream.write_all(&chunk).expect("chunk");
    }
    c.send("echo after\n");
    assert_eq!(c.line(), format!("skipping {total}"));
    assert_eq!(c.line(), "after");
    let grown = rss().saturating_sub(before);
    assert!(grown < 8 * MIB, "grew by {} MiB", grown / MIB);
    server.stop();
}

#[test]
fn a_request_dribbled_slower_than_the_request_timeout_is_closed() {
    let _g = serial();
    let mut cfg = local();
    cfg.request_timeout = Duration::from_millis(400);
    let server = start(cfg);
    // A slow request that completes in time is answered.
    let mut ok = server.connect();
    for b in "echo slow\n".bytes() {
        ok.send(&(b as char).to_string());
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ok.line(), "slow");
    // A waiting request (no partial input) outlives the timeout.
    let mut waiter = server.connect();
    waiter.send("wait\n");
    let mut slow = server.connect();
    let started = Instant::now();
    let mut closed = false;
    for b in "echo never finished because it is far too slow"
        .bytes()
        .cycle()
    {
        if slow.stream.write_all(&[b]).is_err() {
            closed = true;
            break;
        }
        thread::sleep(Duration::from_millis(100));
        if server.closed() > 0 || started.elapsed() > Duration::from_secs(5) {
            break;
        }
    }
    assert!(
        closed || server.closed() == 1,
        "the dribbling client was not closed"
    );
    assert!(slow.read_to_close().is_empty());
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(ok.ask("post still here\n"), "delivered 1");
    assert_eq!(waiter.line(), "still here");
    server.stop();
}

#[test]
fn the_idle_timeout_closes_idle_connections_only() {
    let _g = serial();
    let mut cfg = local();
    cfg.idle_timeout = Some(Duration::from_millis(300));
    let server = start(cfg);
    let mut idle = server.connect();
    assert_eq!(idle.ask("echo hi\n"), "hi");
    let mut waiter = server.connect();
    waiter.send("wait\n");
    let mut busy = server.connect();
    let started = Instant::now();
    // `busy` talks every 100 ms, `waiter` has a request in progress: both stay.
    while server.closed() == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "nothing closed");
        assert_eq!(busy.ask("echo tick\n"), "tick");
        thread::sleep(Duration::from_millis(100));
    }
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert!(idle.read_to_close().is_empty());
    for _ in 0..8 {
        assert_eq!(busy.ask("echo tick\n"), "tick");
        thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(busy.ask("post done\n"), "delivered 1");
    assert_eq!(waiter.line(), "done");
    assert_eq!(server.closed(), 1);
    server.stop();
}

#[test]
fn many_streams_share_a_bounded_number_of_resumes_per_turn_and_all_finish() {
    let _g = serial();
    let server = start(local());
    // 40 streams of 10 MB each, never read until all have started: every turn finds all of
    // them ready. One turn resumes at most 8 of them (plus the head of the ready queue), not
    // 4 each (160 batches before the next poll).
    let mut clients: Vec<_> = (0..40).map(|_| server.connect()).collect();
    for c in &mut clients {
        c.send("stream 10000\n");
    }
    thread::sleep(Duration::from_millis(200));
    let mut control = server.connect();
    assert_eq!(control.ask("echo alive\n"), "alive");
    // Every stream still gets to its end: the queue serves them in turn.
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            thread::spawn(move || {
                let mut lines = 0;
                while c.line() != "end" {
                    lines += 1;
                }
                lines
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().expect("reader"), 10000);
    }
    let max = server.shared.max_turn_resumes.load(Ordering::Relaxed);
    assert!(max <= 9, "{max} resumes in one turn");
    server.stop();
}

#[test]
fn heavy_work_past_the_turn_budget_waits_for_a_later_turn_cheap_requests_do_not() {
    let _g = serial();
    let server = start(local());
    let mut c = server.connect();
    // One write, so all arrive in one read and could all be handled in one turn. Each heavy
    // request spends more than a turn's whole budget (1 MiB); a turn (one poll) may still run
    // two: the first connection's, and the one at the head of its revisits.
    let heavy = 6;
    c.send(&"heavy 2000000\nturn\n".repeat(heavy));
    let turn_of = |line: String, what: &str| -> u64 {
        let n = line
            .strip_prefix(what)
            .unwrap_or_else(|| panic!("{line:?} is not a {what:?} reply"));
        n.trim().parse().expect("turn number")
    };
    let mut turns = Vec::new();
    for _ in 0..heavy {
        let t = turn_of(c.line(), "heavy ");
        assert_eq!(
            turn_of(c.line(), "turn "),
            t,
            "a cheap request waited for a later turn"
        );
        turns.push(t);
    }
    for t in &turns {
        let same = turns.iter().filter(|u| *u == t).count();
        assert!(same <= 2, "{same} heavy requests in turn {t}: {turns:?}");
    }
    assert!(turns.windows(2).all(|w| w[0] <= w[1]), "{turns:?}");
    // Another client is served meanwhile and after.
    let mut other = server.connect();
    other.send("echo still here\n");
    assert_eq!(other.line(), "still here");
    server.stop();
}
