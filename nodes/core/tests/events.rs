//! Events, wakes and worker results against real sockets: a stale [`swarm_core::ConnRef`]
//! never reaches the next client in the same slot, worker results come back through the
//! mailbox, client-to-node streams are held back by not reading, the shutdown hook runs first.

mod common;

use std::io::{ErrorKind, Write};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::Duration;

use common::{local, start};

#[test]
fn a_posted_event_for_a_closed_connection_never_reaches_the_next_in_its_slot() {
    let server = start(local());
    let mut a = server.connect();
    assert_eq!(a.ask("remember\n"), "remembered");
    drop(a);
    server.wait_until("a to close", |s| s.closed.load(Ordering::SeqCst) == 1);
    // The slab hands the freed slot to the next connection.
    let mut b = server.connect();
    b.send("wait\n");
    thread::sleep(Duration::from_millis(50));
    let mut p = server.connect();
    // Addressed to a's slot with a's generation: dropped (delivering it to b, waiting or
    // not, would show up as the wrong line or a panic of the test service).
    assert_eq!(p.ask("poke stale\n"), "poked 1");
    assert_eq!(p.ask("post fresh\n"), "delivered 1");
    assert_eq!(b.line(), "fresh");
    server.stop();
}

#[test]
fn a_worker_result_for_a_closed_connection_is_dropped() {
    let server = start(local());
    let mut a = server.connect();
    a.send("later 300 stale\n");
    thread::sleep(Duration::from_millis(30)); // the job is running
    drop(a);
    server.wait_until("a to close", |s| s.closed.load(Ordering::SeqCst) == 1);
    let mut b = server.connect();
    b.send("wait\n");
    thread::sleep(Duration::from_millis(500)); // the stale result has come and gone
    let mut p = server.connect();
    assert_eq!(p.ask("post fresh\n"), "delivered 1");
    assert_eq!(b.line(), "fresh");
    server.stop();
}

#[test]
fn worker_results_reach_their_connection() {
    let server = start(local());
    let mut clients: Vec<_> = (0..5).map(|_| server.connect()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&format!("later {} job {i}\n", 50 - i * 10));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.line(), format!("job {i}"));
        assert_eq!(c.ask("echo next\n"), "next");
    }
    server.stop();
}

#[test]
fn a_client_to_node_stream_is_held_back_by_not_reading_then_fully_taken() {
    let server = start(local());
    let mut gate = server.connect();
    assert_eq!(gate.ask("gate shut\n"), "gate shut");
    let mut prod = server.connect();
    prod.send("produce\n");
    prod.stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    // One record per 2 bytes ("r\n"); the node takes none while the gate is shut.
    let chunk = "r\n".repeat(32 * 1024);
    let mut sent = 0usize;
    loop {
        // The stream goes on where the last (maybe partial) write stopped: after an odd count
        // the next byte is a record's newline.
        match prod.stream.write(&chunk.as_bytes()[sent % 2..]) {
            Ok(n) => sent += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
            Err(e) => panic!("write: {e}"),
        }
        assert!(sent < 64 << 20, "the node kept reading ({sent} bytes)");
    }
    assert!(sent > 0);
    assert_eq!(gate.ask("gate open\n"), "gate open");
    prod.stream
        .set_write_timeout(Some(common::TIMEOUT))
        .expect("timeout");
    if sent % 2 == 1 {
        prod.send("\n"); // the cut record's end
        sent += 1;
    }
    prod.send("\n"); // end of stream
    assert_eq!(prod.line(), format!("produced {}", sent / 2));
    assert_eq!(prod.ask("echo after\n"), "after");
    server.stop();
}

#[test]
fn shutdown_hook_runs_before_the_connections_close() {
    let server = start(local());
    let mut a = server.connect();
    a.send("wait\n");
    server.wait_until("a to be open", |s| s.opened.load(Ordering::SeqCst) == 1);
    let shared = std::sync::Arc::clone(&server.shared);
    server.stop();
    assert!(shared.shutdown_called.load(Ordering::SeqCst));
    assert_eq!(shared.closed_at_shutdown.load(Ordering::SeqCst), 0);
    assert_eq!(shared.closed.load(Ordering::SeqCst), 1);
}
