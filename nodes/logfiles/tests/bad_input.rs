//! Bad and hostile input against the real `logfilesnode`, in the style of the dht node's
//! `bad_input.rs` and `hostile.rs`: unknown command codes, malformed keys, arrays announced
//! over 10 MiB, garbage LZO batches, a GetRangeRegex mode byte out of range (each closes the
//! connection, with a warning naming the peer); a request left half sent (closed after
//! `request_timeout_ms`); many connections holding partial 10 MiB requests (memory bounded by
//! `input_buffer_limit`); a client that never reads a 50 MB GetAll (memory bounded, everyone
//! else served). Every case ends with [`control`]: a fresh connection's Put and GetRange are
//! served and channel `keep` is exactly as it was.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use swarm_protocol::batch::BatchBuilder;
use swarm_protocol::key::format_key;

const MIB: u64 = 1024 * 1024;

/// Sends `bytes` on a new connection, which the node must close without a reply, promptly.
fn closes(node: &LogfilesNode, bytes: &[u8], what: &str) {
    let mut bad = node.connect();
    let started = Instant::now();
    bad.send_raw(bytes);
    let mut buf = [0u8; 16];
    match bad.s.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!(
            "{what}: a reply of {n} bytes ({:02x?}) instead of a close",
            &buf[..n]
        ),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{what}: closed only after {:?}",
        started.elapsed()
    );
}

#[test]
fn unknown_command_codes_close_the_connection() {
    let node = node_with_keep(&[]);
    // 2 and 20 are dht codes (20 GetResponsibleRange), 1 the dht Put, 25/30/33 dht only.
    for code in [0i32, 1, 2, 20, 25, 30, 33, 99, -1, i32::MAX] {
        closes(&node, &code.to_le_bytes(), &format!("code {code}"));
        // With a plausible request after it, too: nothing of it is taken as a request.
        closes(
            &node,
            &req(code, &[&arr(b"keep"), &key_arr(1), &arr(b"x")]),
            "code+body",
        );
    }
    let log = node.log_after("unknown command code 2147483647", LOG_WAIT);
    assert_eq!(lines_with(&log, "unknown command code 99,"), 2, "{log}");
    assert!(
        lines_with(&log, "127.0.0.1:") >= 20,
        "the warnings name the peer: {log}"
    );
    // A GetRangeRegex mode other than 0, 1, 2 closes as well.
    closes(
        &node,
        &regex_req(b"keep", 0, u64::MAX, 3, b"keep"),
        "mode 3",
    );
    closes(
        &node,
        &regex_req(b"keep", 0, u64::MAX, 0xff, b"keep"),
        "mode 255",
    );
    control(&node, 1);
}

#[test]
fn malformed_keys_close_the_connection_and_store_nothing() {
    let node = node_with_keep(&[]);
    let good = key_arr(0x5727_5806);
    let bad_keys: [&[u8]; 7] = [
        b"000000005727580",   // 15 digits
        b"00000000572758060", // 17 digits
        b"zzzzzzzzzzzzzzzz",
        b"0x00000057275806",
        b"+000000057275806",
        b"00000000 5727580",
        b"",
    ];
    for key in bad_keys {
        let k = arr(key);
        closes(
            &node,
            &req(3, &[&arr(b"keep"), &k, &arr(b"overwrite")]),
            "Put",
        );
        closes(
            &node,
            &req(28, &[&arr(b"keep"), &k, &good]),
            "GetRange lower",
        );
        closes(
            &node,
            &req(28, &[&arr(b"keep"), &good, &k]),
            "GetRange upper",
        );
        closes(
            &node,
            &req(32, &[&arr(b"keep"), &k, &good, &arr(b"f")]),
            "GetRangeFilter",
        );
        closes(
            &node,
            &req(34, &[&arr(b"keep"), &good, &k, &[1], &arr(b"f")]),
            "GetRangeRegex",
        );
    }
    assert!(
        node.wait_log("malformed key", 5 * bad_keys.len(), LOG_WAIT),
        "{}",
        node.root_log()
    );
    // A bad key inside a PutBatch closes too; the records before it stay (the batch is not
    // atomic, as in the original), the ones after it are not stored.
    let mut b = BatchBuilder::new(1 << 16);
    assert!(b.try_push_pair(&format_key(1), b"before"));
    assert!(b.try_push_pair(b"0x00000000000002", b"bad"));
    assert!(b.try_push_pair(&format_key(3), b"after"));
    let mut batch = Vec::new();
    b.finish_into(&mut batch);
    closes(&node, &req(36, &[&arr(b"batch"), &batch]), "PutBatch");
    assert_eq!(
        node.connect().get_all(b"batch"),
        vec![(1, b"before".to_vec())]
    );
    control(&node, 2);
}

fn vm_hwm(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[test]
fn arrays_announced_over_10_mib_close_at_once_without_allocating() {
    let node = node_with_keep(&[]);
    let before = vm_hwm(node.pid());
    for len in [10 * MIB + 1, 1 << 40, u64::MAX] {
        let big = len.to_le_bytes();
        let (ch, key) = (arr(b"keep"), key_arr(1));
        for (what, bytes) in [
            ("Put channel", req(3, &[&big])),
            ("Put key", req(3, &[&ch, &big])),
            ("Put value", req(3, &[&ch, &key, &big])),
            ("PutBatch batch", req(36, &[&ch, &big])),
            ("GetAllFilter filter", req(31, &[&ch, &big])),
            (
                "GetRangeRegex pattern",
                req(34, &[&ch, &key, &key, &[1], &big]),
            ),
            ("RemoveChannel channel", req(22, &[&big])),
        ] {
            closes(&node, &bytes, what);
        }
    }
    let grown = vm_hwm(node.pid()).saturating_sub(before);
    assert!(grown < 4 * MIB, "peak memory grew by {} KiB", grown / 1024);
    assert!(
        node.wait_log("exceeds the limit", 21, LOG_WAIT),
        "{}",
        node.root_log()
    );
    // Exactly 10 MiB is an array: a Put of it is answered (407: too big a value) in sync.
    let mut c = node.connect();
    status_only(
        &mut c,
        &put_req(b"keep", 1, &vec![b'v'; 10 * MIB as usize]),
        407,
    );
    control(&node, 3);
}

#[test]
fn garbage_lzo_batches_in_put_batch_close() {
    let node = node_with_keep(&[]);
    let junk: Vec<u8> = (0..200u32).map(|i| (i * 7919 % 251) as u8).collect();
    let with_len = |raw_len: u64, data: &[u8]| [&raw_len.to_le_bytes()[..], data].concat();
    for (what, payload) in [
        ("junk", with_len(100, &junk)),
        ("junk, long raw length", with_len(1 << 20, &junk)),
        ("raw length over 10 MiB", with_len(10 * MIB + 1, &junk)),
        ("raw length u64::MAX", with_len(u64::MAX, &junk)),
        ("shorter than its length", vec![1, 2, 3]),
        ("empty", Vec::new()),
        ("LZO end marker, raw length 37", with_len(37, &[0x11, 0, 0])),
    ] {
        closes(&node, &req(36, &[&arr(b"keep"), &arr(&payload)]), what);
    }
    assert!(
        node.wait_log("bad record batch", 7, LOG_WAIT),
        "{}",
        node.root_log()
    );
    control(&node, 4);
}

#[test]
fn a_half_sent_request_is_closed_after_request_timeout_ms() {
    let node = node_with_keep(&[("Server", "request_timeout_ms", "1000")]);
    let put = put_req(
        b"keep",
        0x5727_5807,
        b"never stored: the request never arrives whole",
    );
    let mut halves = Vec::new();
    for cut in [2, 10, put.len() - 1] {
        let mut c = node.connect();
        c.send_raw(&put[..cut]);
        halves.push(c);
    }
    let started = Instant::now();
    let mut control_conn = node.connect();
    for mut c in halves {
        assert!(c.is_closed(), "a stalled request was never closed");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(800) && took < Duration::from_secs(5),
            "closed after {took:?}; the timeout is 1 s"
        );
        version_ok(&mut control_conn);
    }
    assert!(
        node.wait_log("request not complete after 1000 ms", 3, LOG_WAIT),
        "{}",
        node.root_log()
    );
    control(&node, 5);
}

/// The head of a request whose last field is an array of `len` bytes, announced.
fn announce(kind: usize, len: u64) -> Vec<u8> {
    let big = len.to_le_bytes();
    match kind % 3 {
        0 => req(36, &[&arr(b"big"), &big]),
        1 => req(31, &[&arr(b"big"), &big]),
        _ => req(3, &[&arr(b"big"), &key_arr(kind as u64), &big]),
    }
}

#[test]
fn many_connections_holding_partial_10_mib_requests_stay_under_the_input_budget() {
    let limit = 32 * MIB;
    let node = node_with_keep(&[("Server", "input_buffer_limit", &limit.to_string())]);
    let before = node.rss();
    let len = 10 * MIB - 1;
    let body = Arc::new(vec![b'x'; len as usize]);
    let addr = node.addr();
    let holders: Vec<_> = (0..60)
        .map(|i| {
            let body = Arc::clone(&body);
            thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
                s.write_all(&announce(i, len)).unwrap();
                // All but the last byte, as far as the node takes it.
                let _ = s.write_all(&body[..body.len() - 1]);
                s
            })
        })
        .collect();
    let holders: Vec<TcpStream> = holders.into_iter().map(|h| h.join().unwrap()).collect();
    let grown = node.rss().saturating_sub(before);
    eprintln!(
        "60 connections holding 10 MiB - 1 requests: node RSS grew {} MiB",
        grown / MIB
    );
    assert!(
        grown < limit + 32 * MIB,
        "grew by {} MiB with a {} MiB input budget",
        grown / MIB,
        limit / MIB
    );
    control(&node, 6);
    drop(holders);
    control(&node, 7);
}

/// `n` bytes that LZO cannot shrink (xorshift).
fn noise(seed: &mut u64, n: usize) -> Vec<u8> {
    (0..n)
        .map(|_| {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed as u8
        })
        .collect()
}

#[test]
fn a_client_that_never_reads_a_50_mb_get_all_keeps_the_node_small_and_others_served() {
    // A 1 MiB read-ahead: with the default 10 MiB, each scan worker that ran a turn keeps
    // up to 10 MiB resident (16 MiB of growth measured with the default, 7 MiB with 1 MiB,
    // 3 MiB with 64 KiB), which would measure the workers, not the stalled client.
    let node = node_with_keep(&[("Performance", "file_buffer_size", "1048576")]);
    let mut seed = 0x1234_5678_9abc_def0u64;
    let big: Vec<Record> = (0..850u64)
        .map(|i| (0x5727_0000 + i * 64, noise(&mut seed, 60_000)))
        .collect();
    node.connect().put_all(b"big", &big);
    let total: u64 = big.iter().map(|r| r.1.len() as u64).sum();
    assert!(total > 50_000_000);
    let before = node.rss();
    let mut stalled = node.connect();
    stalled.send_raw(&all_req(b"big"));
    // While it does not read, others write and read, promptly.
    let mut other = node.connect();
    let started = Instant::now();
    let mut mine = Vec::new();
    for i in 0..50u64 {
        let rec = (0x6000_0000 + i * 5000, format!("other {i}").into_bytes());
        other.put(b"other", rec.0, &rec.1);
        mine.push(rec);
        assert_eq!(other.get_all(b"other"), mine);
        assert_eq!(
            other.get_range(b"big", big[i as usize].0, big[i as usize].0),
            vec![big[i as usize].clone()]
        );
    }
    let took = started.elapsed();
    thread::sleep(Duration::from_millis(300));
    let grown = node.rss().saturating_sub(before);
    eprintln!(
        "a never-read GetAll of {} MB: node RSS grew {} KiB; 50 Puts, GetAlls and GetRanges of others took {took:?}",
        total / 1_000_000,
        grown / 1024
    );
    assert!(took < Duration::from_secs(10), "others waited: {took:?}");
    assert!(
        grown < 16 * MIB,
        "the node grew by {} MiB for a stalled reader",
        grown / MIB
    );
    control(&node, 8);
    // The stalled client gets its whole stream when it reads at last.
    assert_eq!(stalled.read_n(4), OK);
    let got = stalled.read_stream();
    assert_eq!(got.len(), big.len());
    assert!(got == big, "the stream after the stall is the channel");
    control(&node, 9);
}
