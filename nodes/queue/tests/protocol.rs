//! Every request of the queue protocol against the real `queuenode`, byte for byte: request
//! bytes built by hand, replies compared with what spec/queue.md section 2 says (the original
//! memory-only node's statuses and payloads).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;

#[test]
fn push_and_pop_as_in_the_spec_example() {
    let node = start(&[]);
    let mut c = node.connect();
    // The spec's example, literally.
    let bytes = [
        &[0x01, 0, 0, 0][..],
        &[4, 0, 0, 0, 0, 0, 0, 0],
        b"test",
        &[3, 0, 0, 0, 0, 0, 0, 0],
        b"foo",
    ]
    .concat();
    c.exchange_raw(&bytes, &[0xC8, 0, 0, 0]);
    c.exchange_raw(&push(b"test", b"bar"), &OK);
    c.exchange_raw(&pop(b"test"), &popped(b"foo"));
    c.exchange_raw(&pop(b"test"), &popped(b"bar"));
    // Empty: Ok and 8 zero bytes.
    c.exchange_raw(&pop(b"test"), &[0xC8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn push_checks_in_the_original_order() {
    let node = start(&[("Server", "channel_size_limit", "100")]);
    let mut c = node.connect();
    // Bad name before empty value; empty value before size.
    c.exchange_raw(&push(b"bad name", b""), &BAD_CHANNEL);
    c.exchange_raw(&push(b"", b"v"), &BAD_CHANNEL);
    c.exchange_raw(&push(b"ch", b""), &EMPTY_VALUE);
    // 8 + 93 > 100: larger than the ring.
    c.exchange_raw(&push(b"ch", &[b'x'; 93]), &OUT_OF_MEMORY);
    // A refused push creates no channel.
    assert!(c.channels().is_empty());
    // 8 + 92 = 100 fits exactly, then nothing more does.
    c.exchange_raw(&push(b"ch", &[b'x'; 92]), &OK);
    c.exchange_raw(&push(b"ch", b"y"), &OUT_OF_MEMORY);
    c.exchange_raw(&pop(b"ch"), &popped(&[b'x'; 92]));
    c.exchange_raw(&pop(b"ch"), &popped(b""));
}

#[test]
fn pop_of_a_missing_channel_is_empty_and_creates_nothing() {
    let node = start(&[]);
    let mut c = node.connect();
    c.exchange_raw(&pop(b"nothing_here"), &popped(b""));
    c.exchange_raw(&pop(b"bad/name"), &BAD_CHANNEL);
    assert!(c.channels().is_empty());
}

#[test]
fn info_requests() {
    let node = start(&[("Server", "channel_size_limit", "4096")]);
    let mut c = node.connect();
    c.exchange_raw(&push(b"b", b"12345"), &OK);
    c.exchange_raw(&push(b"b", b"1"), &OK);
    c.exchange_raw(&push(b"a", b"xy"), &OK);
    // GetChannels 3: the list, ended by an empty array.
    c.exchange_raw(&req(3, &[]), &[&OK[..], &list(&[b"a", b"b"])].concat());
    // GetChannelSize 4: records, bytes with the 8-byte headers.
    c.exchange_raw(&req(4, &[&arr(b"b")]), &info_reply(&node, &[2, 13 + 9]));
    c.exchange_raw(&req(4, &[&arr(b"none")]), &info_reply(&node, &[0, 0]));
    c.exchange_raw(&req(4, &[&arr(b"b@d")]), &BAD_CHANNEL);
    // GetSize 5: over every channel.
    c.exchange_raw(&req(5, &[]), &info_reply(&node, &[3, 22 + 10]));
    // GetSizeLimit 7: channel_size_limit.
    c.exchange_raw(&req(7, &[]), &info_reply(&node, &[4096]));
    // GetNumConnections 8: this one and another.
    let _other = node.connect();
    std::thread::sleep(std::time::Duration::from_millis(100));
    c.exchange_raw(&req(8, &[]), &info_reply(&node, &[2]));
}

#[test]
fn push_multi_partial_full_answers_407_and_keeps_the_record_where_it_fitted() {
    let node = start(&[
        ("Server", "channel_size_limit", "1000"),
        ("ChannelSizeById", "small", "20"),
    ]);
    let mut c = node.connect();
    let pm = |names: &[&[u8]], v: &[u8]| req(9, &[&list(names), &arr(v)]);
    c.exchange_raw(&pm(&[b"big", b"small"], b"0123456789"), &OK);
    // small (20 bytes) holds one 18-byte record: the second goes to big only.
    c.exchange_raw(&pm(&[b"big", b"small"], b"abcdefghij"), &OUT_OF_MEMORY);
    c.exchange_raw(&pop(b"big"), &popped(b"0123456789"));
    c.exchange_raw(&pop(b"big"), &popped(b"abcdefghij"));
    c.exchange_raw(&pop(b"small"), &popped(b"0123456789"));
    c.exchange_raw(&pop(b"small"), &popped(b""));
    // Empty value: 408, nothing pushed; a bad name: 409, nothing pushed.
    c.exchange_raw(&pm(&[b"big"], b""), &EMPTY_VALUE);
    c.exchange_raw(&pm(&[b"big", b"bad name"], b"v"), &BAD_CHANNEL);
    c.exchange_raw(&pop(b"big"), &popped(b""));
    // An empty list: Ok, nothing pushed.
    c.exchange_raw(&pm(&[], b"v"), &OK);
}

#[test]
fn push_multi2_lists_the_channels_the_record_did_not_fit() {
    let node = start(&[
        ("Server", "channel_size_limit", "1000"),
        ("ChannelSizeById", "tiny", "20"),
    ]);
    let mut c = node.connect();
    let pm2 = |names: &[&[u8]], v: &[u8]| req(13, &[&list(names), &arr(v)]);
    // Full success: Ok and an empty list.
    c.exchange_raw(
        &pm2(&[b"one", b"tiny1", b"tiny2"], b"0123456789"),
        &[&OK[..], &arr(b"")].concat(),
    );
    // The tiny rings are full now: both are listed, in request order.
    c.exchange_raw(
        &pm2(&[b"tiny1", b"one", b"tiny2"], b"abcdefghij"),
        &[&OK[..], &list(&[b"tiny1", b"tiny2"])].concat(),
    );
    c.exchange_raw(&pop(b"one"), &popped(b"0123456789"));
    c.exchange_raw(&pop(b"one"), &popped(b"abcdefghij"));
    c.exchange_raw(&pop(b"tiny2"), &popped(b"0123456789"));
    c.exchange_raw(&pop(b"tiny2"), &popped(b""));
    c.exchange_raw(&pm2(&[b"one"], b""), &EMPTY_VALUE);
    c.exchange_raw(&pm2(&[b"one", b"b:d"], b"v"), &BAD_CHANNEL);
    c.exchange_raw(&pop(b"one"), &popped(b""));
}

#[test]
fn node_size_limit_refuses_with_407() {
    let node = start(&[("Server", "size_limit", "50")]);
    let mut c = node.connect();
    c.exchange_raw(&push(b"a", &[b'1'; 22]), &OK); // 30 bytes
    c.exchange_raw(&push(b"b", &[b'2'; 12]), &OK); // 50 bytes: at the limit
    c.exchange_raw(&push(b"b", b"3"), &OUT_OF_MEMORY);
    c.exchange_raw(&req(9, &[&list(&[b"a"]), &arr(b"4")]), &OUT_OF_MEMORY);
    c.exchange_raw(&req(13, &[&list(&[b"a"]), &arr(b"4")]), &OUT_OF_MEMORY);
    c.exchange_raw(&pop(b"a"), &popped(&[b'1'; 22]));
    c.exchange_raw(&push(b"b", b"3"), &OK);
}

#[test]
fn remove_channel_answers_ok_also_for_a_missing_channel() {
    let node = start(&[]);
    let mut c = node.connect();
    c.exchange_raw(&push(b"gone", b"x"), &OK);
    c.exchange_raw(&req(12, &[&arr(b"gone")]), &OK);
    c.exchange_raw(&req(12, &[&arr(b"gone")]), &OK);
    c.exchange_raw(&req(12, &[&arr(b"no pe")]), &BAD_CHANNEL);
    c.exchange_raw(&pop(b"gone"), &popped(b""));
    assert!(c.channels().is_empty());
}

#[test]
fn fifo_of_100000_records() {
    let node = start(&[("Server", "channel_size_limit", "8000000")]);
    let mut c = node.connect();
    let records = numbered(100_000, 20);
    c.push_all(b"fifo", &records);
    assert_eq!(c.channel_size(b"fifo"), (100_000, 100_000 * 28));
    assert_eq!(c.pop_all(b"fifo"), records);
}

#[test]
fn a_full_ring_refuses_and_loses_nothing_across_its_wrap() {
    // 10 records of 92 + 8 bytes fill a 1000-byte ring exactly.
    let node = start(&[("Server", "channel_size_limit", "1000")]);
    let mut c = node.connect();
    let records = numbered(3000, 92);
    let mut expected = std::collections::VecDeque::new();
    let mut next = 0;
    let mut refused = 0;
    // Push until full, pop a few, push again: the write position wraps many times.
    for round in 0..400 {
        loop {
            c.send_raw(&push(b"wrap", &records[next]));
            let reply = c.read_n(4);
            if reply == OUT_OF_MEMORY {
                refused += 1;
                break;
            }
            assert_eq!(reply, OK);
            expected.push_back(records[next].clone());
            next += 1;
        }
        for _ in 0..(1 + round % 4) {
            let want = expected.pop_front().unwrap();
            c.exchange_raw(&pop(b"wrap"), &popped(&want));
        }
    }
    assert_eq!(refused, 400);
    while let Some(want) = expected.pop_front() {
        c.exchange_raw(&pop(b"wrap"), &popped(&want));
    }
    c.exchange_raw(&pop(b"wrap"), &popped(b""));
}

#[test]
fn requests_pipelined_in_one_write_are_answered_in_order() {
    let node = start(&[]);
    let mut c = node.connect();
    let bytes = [
        push(b"p", b"1"),
        push(b"p", b"2"),
        pop(b"p"),
        pop(b"p"),
        pop(b"p"),
    ]
    .concat();
    let expect = [
        OK.to_vec(),
        OK.to_vec(),
        popped(b"1"),
        popped(b"2"),
        popped(b""),
    ]
    .concat();
    c.exchange_raw(&bytes, &expect);
}
