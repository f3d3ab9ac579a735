//! Bad input against the real `dhtnode`: each case gets the spec's status or a closed
//! connection with one warning in root.log, every other connection keeps being served, and no
//! stored record changes.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::format_key;
use swarm_protocol::wire::{put_array, put_i32, put_u64};

/// A node with a few records and a connection that must keep working throughout.
fn setup() -> (Node, Conn) {
    let node = start_node(&[("Performance", "write_timeout_ms", "1000")]);
    let mut c = node.connect();
    for k in 0..100 {
        c.put(b"keep", k, format!("value {k}").as_bytes());
    }
    (node, c)
}

/// The survivor connection still works and the records are untouched.
fn check_intact(c: &mut Conn, node: &Node) {
    c.exchange(
        &DhtRequest::Get {
            channel: b"keep",
            key: &format_key(42),
        },
        &[&OK[..], &arr(b"value 42")].concat(),
    );
    let port = node.addr().port().to_le_bytes();
    let bytes = (0..100u64)
        .map(|k| 8 + format!("value {k}").len() as u64)
        .sum::<u64>();
    let size = [
        &OK[..],
        &arr(b"127.0.0.1"),
        &port,
        &100u64.to_le_bytes(),
        &bytes.to_le_bytes(),
    ]
    .concat();
    c.exchange(&DhtRequest::GetChannelSize { channel: b"keep" }, &size);
    // A new connection is served too.
    node.connect().exchange(
        &DhtRequest::GetVersion,
        &[&OK[..], &arr(b"20110401")].concat(),
    );
}

fn warnings_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn unknown_command_codes_close_the_connection() {
    let (node, mut c) = setup();
    for code in [0i32, 2, 26, 32, 99, -7] {
        let mut bad = node.connect();
        bad.send_raw(&code.to_le_bytes());
        assert!(bad.is_closed(), "code {code}");
    }
    let log = node.log_after("unknown command code -7", LOG_WAIT);
    assert_eq!(warnings_with(&log, "unknown command code 99"), 1, "{log}");
    assert!(
        log.contains("127.0.0.1:"),
        "the warning names the peer: {log}"
    );
    check_intact(&mut c, &node);
}

#[test]
fn malformed_keys_close_the_connection() {
    let (node, mut c) = setup();
    for key in [
        &b"zzzzzzzzzzzzzzzz"[..],
        b"0x000000000000ab",
        b"abc",
        b"00000000000000ab0",
    ] {
        let mut bad = node.connect();
        bad.send(&DhtRequest::Put {
            channel: b"keep",
            key,
            value: b"overwrite",
        });
        assert!(bad.is_closed(), "{key:?}");
        let mut bad = node.connect();
        bad.send(&DhtRequest::Remove {
            channel: b"keep",
            key,
        });
        assert!(bad.is_closed());
    }
    assert!(
        node.wait_log("malformed key", 8, LOG_WAIT),
        "{}",
        node.root_log()
    );
    let log = node.root_log();
    assert!(warnings_with(&log, "malformed key") >= 8, "{log}");
    check_intact(&mut c, &node);
}

fn vm_hwm_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn oversized_arrays_close_without_allocating() {
    let (node, mut c) = setup();
    let before = vm_hwm_kb(node.pid());
    for len in [10 * 1024 * 1024 + 1, 1 << 40, u64::MAX] {
        // Channel array too long, announced but never sent.
        let mut bad = node.connect();
        let mut bytes = Vec::new();
        put_i32(&mut bytes, 1);
        put_u64(&mut bytes, len);
        bad.send_raw(&bytes);
        assert!(bad.is_closed(), "len {len}");
        // Value array too long after a valid channel and key.
        let mut bad = node.connect();
        let mut bytes = Vec::new();
        put_i32(&mut bytes, 1);
        put_array(&mut bytes, b"keep");
        put_array(&mut bytes, &format_key(1));
        put_u64(&mut bytes, len);
        bad.send_raw(&bytes);
        assert!(bad.is_closed());
    }
    let grown = vm_hwm_kb(node.pid()).saturating_sub(before);
    assert!(grown < 4096, "peak memory grew by {grown} KiB");
    assert!(
        node.wait_log("exceeds the limit", 6, LOG_WAIT),
        "{}",
        node.root_log()
    );
    let log = node.root_log();
    assert!(warnings_with(&log, "exceeds the limit") >= 6, "{log}");
    check_intact(&mut c, &node);
}

#[test]
fn garbage_and_cut_off_requests() {
    let (node, mut c) = setup();
    // Garbage: not a command code the node knows.
    let mut bad = node.connect();
    bad.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(bad.is_closed());
    // A Put cut off mid-way, then the client goes away: nothing stored, no warning needed.
    let mut bytes = Vec::new();
    DhtRequest::Put {
        channel: b"keep",
        key: &format_key(7),
        value: b"should never be stored",
    }
    .encode(&mut bytes);
    let mut cut = node.connect();
    cut.send_raw(&bytes[..bytes.len() - 5]);
    drop(cut);
    // A request cut off and left hanging does not block anyone.
    let mut hanging = node.connect();
    hanging.send_raw(&bytes[..10]);
    check_intact(&mut c, &node);
    c.exchange(
        &DhtRequest::Get {
            channel: b"keep",
            key: &format_key(7),
        },
        &[&OK[..], &arr(b"value 7")].concat(),
    );
    drop(hanging);
    let log = node.log_after("unknown command code", LOG_WAIT);
    assert_eq!(warnings_with(&log, "unknown command code"), 1, "{log}");
}

#[test]
fn a_client_that_stops_reading_a_get_all_is_closed_and_others_are_served() {
    let (node, mut c) = setup();
    // About 24 MB of incompressible values: more than the socket buffers hold.
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut bytes = Vec::new();
    for k in 0..200_000u64 {
        let value: Vec<u8> = (0..120)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed as u8
            })
            .collect();
        DhtRequest::Put {
            channel: b"big",
            key: &format_key(k),
            value: &value,
        }
        .encode(&mut bytes);
    }
    let mut filler = node.connect();
    filler.send_raw(&bytes);
    for _ in 0..200_000 {
        assert_eq!(filler.read_n(4), OK);
    }
    let mut stalled = node.connect();
    stalled.send(&DhtRequest::GetAll { channel: b"big" });
    // While it is stalled, others are served promptly.
    let start = Instant::now();
    for _ in 0..20 {
        check_intact(&mut c, &node);
    }
    assert!(start.elapsed() < Duration::from_secs(5));
    // After write_timeout_ms the node gives up on the stalled reader, with one warning.
    let log = node.log_after("stopped reading", LOG_WAIT);
    assert_eq!(warnings_with(&log, "stopped reading"), 1, "{log}");
    let mut drained = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        use std::io::Read;
        match stalled.s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
    assert!(
        drained < 24_000_000,
        "the stream was cut, not completed ({drained} bytes)"
    );
    check_intact(&mut c, &node);
}

#[test]
fn at_the_connection_limit_the_idle_longest_connection_makes_room() {
    let node = start_node(&[("Server", "connection_limit", "2")]);
    let version = [&OK[..], &arr(b"20110401")].concat();
    let mut a = node.connect();
    a.exchange(&DhtRequest::GetVersion, &version);
    std::thread::sleep(Duration::from_millis(50));
    let mut b = node.connect();
    b.exchange(&DhtRequest::GetVersion, &version);
    // A third client is served: `a`, idle longest, is closed to make room (and it is logged).
    let mut extra = node.connect();
    extra.exchange(&DhtRequest::GetVersion, &version);
    assert!(a.is_closed());
    b.exchange(&DhtRequest::GetVersion, &version);
    assert!(node.wait_log("connection limit (2) reached: closing", 1, LOG_WAIT));
    // Two Listens are busy, not idle: a new client is refused and both keep listening.
    drop(b);
    drop(extra);
    std::thread::sleep(Duration::from_millis(100));
    let mut l1 = node.connect();
    l1.send(&DhtRequest::Listen { channel: b"ch" });
    assert_eq!(l1.read_n(4), OK);
    let mut l2 = node.connect();
    l2.send(&DhtRequest::Listen { channel: b"ch" });
    assert_eq!(l2.read_n(4), OK);
    let mut refused = node.connect();
    assert!(refused.is_closed());
    drop(l2);
    std::thread::sleep(Duration::from_millis(100));
    node.connect().put(b"ch", 7, b"seen");
    assert_eq!(l1.read_array(), format_key(7).to_vec());
    assert_eq!(l1.read_array(), b"seen".to_vec());
}
