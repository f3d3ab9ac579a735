//! Hostile clients against the real `dhtnode`: the harness's cases at their CI sizes
//! ([`swarm_testkit::hostile`]: connection and idle floods, slowloris, never-reading GetAlls,
//! mutated frames with LZO bombs, held 10 MiB - 1 arrays; each asserting RSS growth, control
//! p99 and the stored records' checksum), and the dht's own: a Listen that never reads, a
//! request dribbled a byte at a time, and Put values over the record limit. One test runs at a
//! time ([`hostile::cases::serial`]), so the control client's latencies compare.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::thread;
use std::time::{Duration, Instant};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::format_key;
use swarm_protocol::wire::{put_array, put_i32, put_u64};
use swarm_testkit::hostile::{self, cases::check_ci, Case, DhtTarget};

const MIB: u64 = 1024 * 1024;

fn dht_case(case: Case) {
    check_ci(case, |limits| {
        DhtTarget::start(env!("CARGO_BIN_EXE_dhtnode"), limits)
    });
}

#[test]
fn a_connection_flood_over_the_limit_leaves_the_control_client_served() {
    dht_case(Case::ConnFlood);
}

#[test]
fn slowloris_connections_are_cut_after_the_request_timeout() {
    dht_case(Case::Slowloris);
}

#[test]
fn an_idle_flood_is_closed_after_the_idle_timeout() {
    dht_case(Case::IdleFlood);
}

#[test]
fn getalls_that_are_never_read_keep_the_node_bounded() {
    dht_case(Case::NeverReading);
}

#[test]
fn mutated_frames_and_lzo_bombs_each_get_a_status_or_a_close() {
    dht_case(Case::MutatedFrames);
}

#[test]
fn connections_holding_10_mib_arrays_stay_under_the_input_budget() {
    dht_case(Case::HeldArrays);
}

fn version_ok(c: &mut Conn) {
    c.exchange(
        &DhtRequest::GetVersion,
        &[&OK[..], &arr(b"20110401")].concat(),
    );
}

#[test]
fn a_listen_that_never_reads_keeps_the_node_from_growing() {
    let _one_at_a_time = hostile::cases::serial();
    let node = start_node(&[]);
    let mut listener = node.connect();
    listener.send(&DhtRequest::Listen { channel: b"hot" });
    assert_eq!(listener.read_n(4), OK);
    let mut writer = node.connect();
    let value = vec![b'v'; 60_000];
    writer.put(b"hot", 1, &value); // the one record's memory is allocated before measuring
    let before = node.rss();
    for _ in 0..4000 {
        writer.put(b"hot", 1, &value);
    }
    let grown = node.rss().saturating_sub(before);
    eprintln!(
        "never-reading Listen, 4000 Puts of 60 KB: RSS grew {} KiB",
        grown / 1024
    );
    assert!(
        grown < 16 * MIB,
        "node grew by {} MiB for a Listen that reads nothing",
        grown / MIB
    );
    version_ok(&mut writer);
    // What the listener was sent is well-formed: (key, value) pairs of the record.
    assert_eq!(listener.read_array(), format_key(1).to_vec());
    assert_eq!(listener.read_array(), value);
}

#[test]
fn a_request_dribbled_a_byte_at_a_time_is_closed_after_the_request_timeout() {
    let _one_at_a_time = hostile::cases::serial();
    let node = start_node(&[("Server", "request_timeout_ms", "1000")]);
    let mut control = node.connect();
    let mut request = Vec::new();
    DhtRequest::Put {
        channel: b"slow",
        key: &format_key(1),
        value: b"a value that never arrives whole",
    }
    .encode(&mut request);
    let mut slow = node.connect();
    let started = Instant::now();
    let mut cut = false;
    for b in &request[..request.len() - 1] {
        if slow.s.write_all(&[*b]).is_err() {
            cut = true;
            break;
        }
        thread::sleep(Duration::from_millis(250));
        let mut probe = [0u8; 1];
        slow.s.set_nonblocking(true).unwrap();
        let closed = matches!(slow.s.read(&mut probe), Ok(0));
        slow.s.set_nonblocking(false).unwrap();
        if closed {
            cut = true;
            break;
        }
        version_ok(&mut control);
    }
    let took = started.elapsed();
    eprintln!("dribbled request closed after {took:?}");
    assert!(cut, "the dribbling client was never closed");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "closed after {took:?}, the timeout is 1 s"
    );
    assert!(node.wait_log("request not complete after 1000 ms", 1, LOG_WAIT));
    version_ok(&mut control);
    assert!(
        !node.root_log().contains("slow"),
        "nothing of it was stored or named"
    );
}

#[test]
fn put_values_over_the_record_limit_are_answered_and_dropped_as_they_arrive() {
    let _one_at_a_time = hostile::cases::serial();
    let node = start_node_range(0, 0x7fff_ffff_ffff_ffff, &[]);
    let mut c = node.connect();
    let before = node.rss();
    let big = vec![b'b'; 8 * MIB as usize];
    // In range: ValueTooBig; out of range: WrongNode; bad channel: BadChannelName - each from
    // the head alone, the value skipped, the connection in sync for the next request.
    for (channel, key, code) in [
        (&b"ok"[..], 2u64, 410),
        (&b"ok"[..], 1, 404),
        (&b"a.b"[..], 2, 409),
    ] {
        let mut head = Vec::new();
        put_i32(&mut head, 1);
        put_array(&mut head, channel);
        put_array(&mut head, &format_key(key));
        put_u64(&mut head, big.len() as u64);
        c.send_raw(&head);
        c.send_raw(&big);
        assert_eq!(c.read_n(4), status(code), "{channel:?} {key}");
        version_ok(&mut c);
    }
    let grown = node.rss().saturating_sub(before);
    eprintln!("three Puts of 8 MiB values: RSS grew {} KiB", grown / 1024);
    assert!(
        grown < 8 * MIB,
        "node buffered the values: grew by {} MiB",
        grown / MIB
    );
    assert!(node.wait_log("is over the limit of 65503, discarded", 1, LOG_WAIT));
    // A value of exactly the limit is stored.
    let exact = vec![b'e'; 65_503];
    c.put(b"ok", 2, &exact);
    c.exchange(
        &DhtRequest::Get {
            channel: b"ok",
            key: &format_key(2),
        },
        &[&OK[..], &arr(&exact)].concat(),
    );
}

/// Regression (issue 13's connection flood against the queue node): at the limit, the idlest
/// connection made room whatever it was, so a served client between two requests was closed
/// once a flood opened `connection_limit` connections within its think time.
#[test]
fn a_flood_of_silent_connections_never_closes_a_served_client() {
    let _one_at_a_time = hostile::cases::serial();
    let node = start_node(&[("Server", "connection_limit", "20")]);
    let mut served = node.connect();
    version_ok(&mut served);
    // Idle longer than any flood connection will be.
    thread::sleep(Duration::from_millis(100));
    let flood: Vec<Conn> = (0..100).map(|_| node.connect()).collect();
    thread::sleep(Duration::from_millis(100));
    version_ok(&mut served);
    let open = flood.into_iter().filter(|c| {
        c.s.set_nonblocking(true).unwrap();
        let mut probe = [0u8; 1];
        matches!((&c.s).read(&mut probe), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
    });
    assert_eq!(
        open.count(),
        19,
        "the flood keeps the limit less the served client"
    );
}
