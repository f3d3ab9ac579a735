//! Every logfiles request on the real `logfilesnode`, byte for byte: requests built by hand
//! (the spec's worked examples pasted as hex, checked against the codec too), replies compared
//! whole where the spec fixes them (Put, the GetAll stream of spec 1.2, the empty stream, the
//! information requests), and the statuses 409/408/407 with nothing sent after them (Redistribute
//! is in `redistribute.rs`).
//! Ranges, filters and ordering are in `protocol_reads.rs`.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};
use swarm_protocol::batch::{BatchBuilder, DEFAULT_BATCH_SIZE};
use swarm_protocol::key::format_key;
use swarm_protocol::logfiles::LogfilesRequest;

/// Spec 2.1: Put "test" / 0x57275806 / "Hello".
const PUT_EXAMPLE: &str = "03000000 | 0400000000000000 74657374 |
    1000000000000000 30303030303030303537323735383036 | 0500000000000000 48656c6c6f";

/// Spec 1.2: the GetAll reply of that one record: Ok, one batch array (46 bytes: the raw
/// length 37, then 38 bytes of LZO1X-1), the empty array.
const GET_ALL_EXAMPLE: &str = "c8000000 | 2e00000000000000 | 2500000000000000 |
    06 10 00000000000000 30 c0 00 00 03 35 37 32 37 35 38 30 36 05 00000000000000
    48 65 6c 6c 6f 11 00 00 | 0000000000000000";

#[test]
fn the_spec_worked_example_put_and_get_all_byte_for_byte() {
    let node = start(&[]);
    let mut c = node.connect();
    let put = hex(PUT_EXAMPLE);
    let mut codec = Vec::new();
    LogfilesRequest::Put {
        channel: b"test",
        key: b"0000000057275806",
        value: b"Hello",
    }
    .encode(&mut codec);
    assert_eq!(put, codec, "the hand-built request is the codec's");
    c.exchange_raw(&put, &hex("c8 00 00 00"));
    c.exchange_raw(&all_req(b"test"), &hex(GET_ALL_EXAMPLE));
    // The same record by range, and by a one-key range: the same bytes but the command.
    c.exchange_raw(
        &range_req(b"test", 0x5727_5806, 0x5727_5806),
        &hex(GET_ALL_EXAMPLE),
    );
    // Nothing: a missing channel, a range beside the record.
    c.exchange_raw(&all_req(b"nothing"), &empty_stream());
    c.exchange_raw(&range_req(b"test", 0, 0x5727_5805), &empty_stream());
    // Every filtered read, by hand: the same stream when the filter matches "Hello", the
    // empty one when it does not.
    let (lo, hi) = (key_arr(0x5727_5000), key_arr(0x5727_5fff));
    let ch = arr(b"test");
    for (filter, hit) in [
        (&b"ell"[..], true),
        (b"Hello", true),
        (b"hello", false),
        (b"0000", false),
    ] {
        let want = if hit {
            hex(GET_ALL_EXAMPLE)
        } else {
            empty_stream()
        };
        let f = arr(filter);
        c.exchange_raw(&req(31, &[&ch, &f]), &want);
        c.exchange_raw(&req(32, &[&ch, &lo, &hi, &f]), &want);
        c.exchange_raw(&req(34, &[&ch, &lo, &hi, &[0], &f]), &want);
        c.exchange_raw(&req(34, &[&ch, &lo, &hi, &[1], &f]), &want);
    }
    c.exchange_raw(
        &req(34, &[&ch, &lo, &hi, &[1], &arr(b"^H.l+o$")]),
        &hex(GET_ALL_EXAMPLE),
    );
    c.exchange_raw(
        &req(34, &[&ch, &lo, &hi, &[1], &arr(b"^h.l+o$")]),
        &empty_stream(),
    );
    c.exchange_raw(
        &req(34, &[&ch, &lo, &hi, &[2], &arr(b"^h.L+O$")]),
        &hex(GET_ALL_EXAMPLE),
    );
}

#[test]
fn get_version_get_num_connections_and_get_channels() {
    let node = start(&[]);
    let mut a = node.connect();
    a.exchange_raw(&hex("18000000"), &version_reply());
    let mut b = node.connect();
    version_ok(&mut b);
    let mut c = node.connect();
    let port = node.port().to_le_bytes();
    let conns = |n: u64| [&OK[..], &arr(b"127.0.0.1"), &port, &n.to_le_bytes()].concat();
    c.exchange_raw(&req(23, &[]), &conns(3));
    drop(b);
    // The node sees the close on its next turn.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        c.send_raw(&req(23, &[]));
        let reply = c.read_n(conns(3).len());
        if reply == conns(2) {
            break;
        }
        assert_eq!(reply, conns(3));
        assert!(
            Instant::now() < deadline,
            "the closed connection is still counted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // GetChannels: none, then every channel once, sorted, then an empty array.
    c.exchange_raw(&req(17, &[]), &[&OK[..], &arr(b"")].concat());
    for ch in [&b"zeta"[..], b"alpha", b"mid_dle-9", b"alpha"] {
        c.exchange_raw(&put_req(ch, 1, b"v"), &OK);
    }
    let list = [
        &OK[..],
        &arr(b"alpha"),
        &arr(b"mid_dle-9"),
        &arr(b"zeta"),
        &arr(b""),
    ]
    .concat();
    c.exchange_raw(&req(17, &[]), &list);
    a.exchange_raw(&req(17, &[]), &list);
}

#[test]
fn get_channel_size_get_size_and_remove_channel() {
    let node = start(&[]);
    let mut c = node.connect();
    let port = node.port().to_le_bytes();
    let size = |records: u64, bytes: u64| {
        [
            &OK[..],
            &arr(b"127.0.0.1"),
            &port,
            &records.to_le_bytes(),
            &bytes.to_le_bytes(),
        ]
        .concat()
    };
    c.exchange_raw(&req(19, &[]), &size(0, 0));
    for (ch, key, value) in [
        (&b"one"[..], 0x10u64, &b"abc"[..]),
        (b"one", 0x10, b"de"),
        (b"one", 0x5000_0000, b"fghij"),
        (b"two", 7, b"0123456789"),
    ] {
        c.exchange_raw(&put_req(ch, key, value), &OK);
    }
    c.exchange_raw(&req(18, &[&arr(b"one")]), &size(3, 10));
    c.exchange_raw(&req(18, &[&arr(b"two")]), &size(1, 10));
    c.exchange_raw(&req(18, &[&arr(b"none")]), &size(0, 0));
    c.exchange_raw(&req(19, &[]), &size(4, 20));
    // RemoveChannel: Ok, the channel is empty and gone from the list and the sizes; a missing
    // channel is Ok too.
    c.exchange_raw(&req(22, &[&arr(b"one")]), &OK);
    c.exchange_raw(&all_req(b"one"), &empty_stream());
    c.exchange_raw(&req(18, &[&arr(b"one")]), &size(0, 0));
    c.exchange_raw(&req(19, &[]), &size(1, 10));
    c.exchange_raw(&req(17, &[]), &[&OK[..], &arr(b"two"), &arr(b"")].concat());
    c.exchange_raw(&req(22, &[&arr(b"never")]), &OK);
    // The channel can be written again, from nothing.
    c.exchange_raw(&put_req(b"one", 0x10, b"again"), &OK);
    assert_eq!(c.get_all(b"one"), vec![(0x10, b"again".to_vec())]);
    c.exchange_raw(&req(18, &[&arr(b"one")]), &size(1, 5));
}

#[test]
fn bad_channel_empty_value_and_too_big_value_statuses_then_nothing_more() {
    let node = start(&[]);
    let mut c = node.connect();
    // 409 comes first for every request naming a channel, whatever else is wrong with it.
    for bad in [&b"a.b"[..], b"", b"sp ace", b"slash/x", b"\xc3\xa9"] {
        status_only(&mut c, &put_req(bad, 1, b"v"), 409);
        status_only(&mut c, &put_req(bad, 1, b""), 409);
        status_only(
            &mut c,
            &req(3, &[&arr(bad), &arr(b"bad key"), &arr(b"v")]),
            409,
        );
        status_only(&mut c, &all_req(bad), 409);
        status_only(&mut c, &range_req(bad, 0, 9), 409);
        status_only(&mut c, &req(31, &[&arr(bad), &arr(b"f")]), 409);
        status_only(&mut c, &regex_req(bad, 0, 9, 1, b"("), 409);
        status_only(&mut c, &req(18, &[&arr(bad)]), 409);
        status_only(&mut c, &req(22, &[&arr(bad)]), 409);
        status_only(&mut c, &req(36, &[&arr(bad), &arr(b"garbage")]), 409);
    }
    // 408: an empty value, before the value size and the key are looked at.
    status_only(&mut c, &put_req(b"ch", 1, b""), 408);
    status_only(
        &mut c,
        &req(3, &[&arr(b"ch"), &arr(b"bad key"), &arr(b"")]),
        408,
    );
    // 407 from 65,505 bytes (ours: the largest value a 64 KiB read batch carries is 65,504).
    let limit = vec![b'L'; 65_504];
    c.exchange_raw(&put_req(b"ch", 2, &limit), &OK);
    status_only(&mut c, &put_req(b"ch", 3, &vec![b'X'; 65_505]), 407);
    status_only(&mut c, &put_req(b"ch", 3, &vec![b'X'; 65_536]), 407);
    status_only(&mut c, &put_req(b"ch", 3, &vec![b'X'; 65_537]), 407);
    // Only the value of exactly the limit was stored, and it reads back whole.
    assert_eq!(c.get_all(b"ch"), vec![(2, limit)]);
    assert!(
        c.channels() == vec![b"ch".to_vec()],
        "no bad channel was created"
    );
    // Uppercase hex is a key too (the original's parser took it); replies are lowercase.
    c.exchange_raw(
        &req(3, &[&arr(b"up"), &arr(b"000000005727580A"), &arr(b"x")]),
        &OK,
    );
    assert_eq!(c.get_all(b"up"), vec![(0x5727_580a, b"x".to_vec())]);
}

/// A PutBatch of `records`, its batch made by the protocol's builder.
fn put_batch_req(channel: &[u8], records: &[Record]) -> Vec<u8> {
    let mut builder = BatchBuilder::new(1 << 20);
    for (k, v) in records {
        assert!(builder.try_push_pair(&format_key(*k), v));
    }
    let mut batch = Vec::new();
    builder.finish_into(&mut batch);
    req(36, &[&arr(channel), &batch])
}

fn recs(keys: &[u64], tag: &str) -> Vec<Record> {
    keys.iter()
        .map(|k| (*k, format!("{tag} {k:x}").into_bytes()))
        .collect()
}

#[test]
fn put_batch_stores_in_order_and_keeps_records_before_a_refused_one() {
    let node = start(&[]);
    let mut c = node.connect();
    // One default-size batch (as the original's Redistribute sends), keys across buckets.
    let first = recs(
        &[0x5727_5806, 0x5727_5001, 0x5727_6000, 0x5727_5806, 3],
        "first",
    );
    let mut builder = BatchBuilder::new(DEFAULT_BATCH_SIZE);
    for (k, v) in &first {
        assert!(builder.try_push_pair(&format_key(*k), v));
    }
    let mut batch = Vec::new();
    builder.finish_into(&mut batch);
    c.exchange_raw(&req(36, &[&arr(b"b"), &batch]), &OK);
    let by_bucket = |r: &[Record]| {
        let mut r = r.to_vec();
        r.sort_by_key(|(k, _)| k >> 12); // stable: arrival order within a bucket
        r
    };
    assert_eq!(c.get_all(b"b"), by_bucket(&first));
    // An empty value mid-batch: 408, the records before it stored, the rest not.
    let mut second = recs(&[0x5727_5002, 0x5727_7000], "second");
    let mut batch2 = second.clone();
    batch2.push((0x5727_5003, Vec::new()));
    batch2.extend(recs(&[0x5727_5004], "never"));
    status_only(&mut c, &put_batch_req(b"b", &batch2), 408);
    let mut stored = first.clone();
    stored.append(&mut second);
    assert_eq!(c.get_all(b"b"), by_bucket(&stored));
    // A value over 65,504 bytes mid-batch: 407, the same.
    let mut third = recs(&[0x10], "third");
    let mut batch3 = third.clone();
    batch3.push((0x11, vec![b'X'; 65_505]));
    batch3.extend(recs(&[0x12], "never"));
    status_only(&mut c, &put_batch_req(b"b", &batch3), 407);
    stored.append(&mut third);
    assert_eq!(c.get_all(b"b"), by_bucket(&stored));
    // An empty batch stores nothing and is Ok.
    status_only(&mut c, &put_batch_req(b"b", &[]), 200);
    assert_eq!(c.channel_size(b"b").0, stored.len() as u64);
}
