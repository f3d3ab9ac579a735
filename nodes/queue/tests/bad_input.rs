//! Bad input against the real `queuenode`: each case gets the spec's status or a closed
//! connection with a warning in root.log naming the peer, every other connection keeps being
//! served, and no stored record changes.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};

/// A node with records in two channels and a connection that must keep working throughout.
fn setup(overrides: &[(&str, &str, &str)]) -> (QueueNode, Conn) {
    let node = start(overrides);
    let mut c = node.connect();
    c.push_all(b"keep", &numbered(100, 20));
    c.push_all(b"also", &numbered(10, 5));
    (node, c)
}

/// The survivor connection still works and the records are untouched.
fn check_intact(c: &mut Conn) {
    assert_eq!(c.channel_size(b"keep"), (100, 100 * 28));
    assert_eq!(c.channel_size(b"also"), (10, 10 * 17));
    let mut names = c.channels();
    names.sort();
    assert_eq!(names, vec![b"also".to_vec(), b"keep".to_vec()]);
}

/// Sends `bytes` on a new connection, which the node must close.
fn closes(node: &QueueNode, bytes: &[u8]) {
    let mut bad = node.connect();
    bad.send_raw(bytes);
    assert!(
        bad.is_closed(),
        "the node must close after {:02x?}",
        &bytes[..bytes.len().min(16)]
    );
}

#[test]
fn unknown_codes_close_the_connection_with_a_warning() {
    let (node, mut c) = setup(&[]);
    for code in [0i32, 14, -1, 99, 0x7fff_ffff] {
        closes(&node, &req(code, &[&arr(b"keep")]));
    }
    assert!(
        node.wait_log("unknown", 5, Duration::from_secs(5)),
        "{}",
        node.root_log()
    );
    check_intact(&mut c);
}

#[test]
fn a_2_pow_40_length_prefix_closes_without_allocating() {
    let (node, mut c) = setup(&[]);
    let rss = node.rss();
    let huge = (1u64 << 40).to_le_bytes();
    // In the channel name, the value, a list, a Produce record.
    closes(&node, &[&1i32.to_le_bytes()[..], &huge].concat());
    closes(
        &node,
        &[&1i32.to_le_bytes()[..], &arr(b"keep"), &huge].concat(),
    );
    closes(
        &node,
        &[&13i32.to_le_bytes()[..], &arr(b"keep"), &huge].concat(),
    );
    let mut p = node.connect();
    p.exchange_raw(&req(10, &[&arr(b"keep")]), &OK);
    p.send_raw(&[&arr(b"kept record")[..], &huge].concat());
    assert!(p.is_closed());
    assert!(
        node.rss() < rss + (64 << 20),
        "RSS grew from {rss} to {}",
        node.rss()
    );
    // The Produce record before the bad prefix was stored.
    assert_eq!(c.channel_size(b"keep").0, 101);
    let all = c.pop_all(b"keep");
    assert_eq!(all.last().unwrap(), b"kept record");
    c.push_all(b"keep", &all[..100]);
    check_intact(&mut c);
}

#[test]
fn garbage_closes_the_connection() {
    let (node, mut c) = setup(&[]);
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    closes(&node, &garbage);
    closes(&node, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    check_intact(&mut c);
}

#[test]
fn cut_requests_store_nothing() {
    let (node, mut c) = setup(&[]);
    let full = push(b"keep", b"never stored");
    for cut in [1, 4, 5, 12, 16, full.len() - 1] {
        let mut bad = node.connect();
        bad.send_raw(&full[..cut]);
        drop(bad);
    }
    let pm = req(9, &[&list(&[b"keep", b"also"]), &arr(b"never")]);
    let mut bad = node.connect();
    bad.send_raw(&pm[..pm.len() - 2]);
    drop(bad);
    std::thread::sleep(Duration::from_millis(200));
    check_intact(&mut c);
}

#[test]
fn bad_channel_names_answer_409_and_store_nothing() {
    let (node, mut c) = setup(&[]);
    let long = vec![b'a'; 231];
    for name in [
        &b""[..],
        b"with space",
        b"slash/",
        b"dot.",
        b"at@",
        b"\xff",
        &long,
    ] {
        c.exchange_raw(&push(name, b"v"), &BAD_CHANNEL);
        c.exchange_raw(&pop(name), &BAD_CHANNEL);
        c.exchange_raw(&req(4, &[&arr(name)]), &BAD_CHANNEL);
        c.exchange_raw(&req(12, &[&arr(name)]), &BAD_CHANNEL);
        if !name.is_empty() {
            // An empty name in a list would end it.
            c.exchange_raw(
                &req(9, &[&list(&[b"keep", name]), &arr(b"v")]),
                &BAD_CHANNEL,
            );
            c.exchange_raw(
                &req(13, &[&list(&[name, b"keep"]), &arr(b"v")]),
                &BAD_CHANNEL,
            );
            c.exchange_raw(&req(11, &[&list(&[b"also", name])]), &BAD_CHANNEL);
        }
        c.exchange_raw(&req(6, &[&arr(name)]), &BAD_CHANNEL);
        c.exchange_raw(&req(10, &[&arr(name)]), &BAD_CHANNEL);
    }
    check_intact(&mut c);
    drop(node);
}

#[test]
fn a_request_that_stalls_half_way_is_cut_after_the_request_timeout() {
    let (node, mut c) = setup(&[("Server", "request_timeout_ms", "300")]);
    let mut stalled = node.connect();
    let full = push(b"keep", b"never stored");
    stalled.send_raw(&full[..10]);
    let t = Instant::now();
    assert!(stalled.is_closed());
    assert!(t.elapsed() < Duration::from_secs(10));
    check_intact(&mut c);
}
