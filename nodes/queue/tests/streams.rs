//! The streams of the queue protocol against the real `queuenode`: Consume (records handed
//! out round-robin, each exactly once, a stalled consumer holding back only its own buffer,
//! RemoveChannel ending the stream) and Produce/ProduceMulti (no per-record reply, ended by an
//! empty array, full channels dropping records, a cut stream keeping its complete records).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

fn consume(channel: &[u8]) -> Vec<u8> {
    req(6, &[&arr(channel)])
}

/// Reads a Consume stream's records until the empty array that ends it.
fn read_until_end(c: &mut Conn) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    loop {
        let r = c.read_array();
        if r.is_empty() {
            return got;
        }
        got.push(r);
    }
}

#[test]
fn consume_gets_waiting_and_new_records_and_remove_channel_ends_it() {
    let node = start(&[]);
    let mut p = node.connect();
    p.exchange_raw(&push(b"ch", b"before"), &OK);
    let mut c = node.connect();
    c.exchange_raw(&consume(b"ch"), &OK);
    assert_eq!(c.read_array(), b"before");
    p.exchange_raw(&push(b"ch", b"after"), &OK);
    assert_eq!(c.read_array(), b"after");
    p.exchange_raw(&push(b"other", b"not for ch"), &OK);
    p.exchange_raw(&req(12, &[&arr(b"ch")]), &OK);
    // The empty array ends the stream; the connection goes on with requests.
    assert_eq!(c.read_array(), b"");
    c.exchange_raw(&pop(b"other"), &popped(b"not for ch"));
    // A push into the re-created channel does not reach the ended Consume.
    p.exchange_raw(&push(b"ch", b"new"), &OK);
    c.exchange_raw(&pop(b"ch"), &popped(b"new"));
}

#[test]
fn consume_with_a_bad_name_is_409_and_no_stream() {
    let node = start(&[]);
    let mut c = node.connect();
    c.exchange_raw(&consume(b"b d"), &BAD_CHANNEL);
    c.exchange_raw(&pop(b"x"), &popped(b""));
}

/// `n` consumers of one channel, a producer pushing `total` records while they read; every
/// record must reach exactly one consumer, and each consumer some.
fn consumers_share(n: usize, total: usize) {
    let node = start(&[("Server", "channel_size_limit", "16000000")]);
    let readers: Vec<_> = (0..n)
        .map(|_| {
            let mut c = node.connect();
            c.exchange_raw(&consume(b"jobs"), &OK);
            thread::spawn(move || read_until_end(&mut c))
        })
        .collect();
    let records = numbered(total, 50);
    let mut p = node.connect();
    for chunk in records.chunks(1000) {
        p.push_all(b"jobs", chunk);
        thread::sleep(Duration::from_millis(2));
    }
    // Wait until the ring is drained, then end the streams.
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.channel_size(b"jobs").0 > 0 {
        assert!(
            Instant::now() < deadline,
            "consumers did not drain the channel"
        );
        thread::sleep(Duration::from_millis(20));
    }
    p.remove_channel(b"jobs");
    let got: Vec<Vec<Vec<u8>>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    let mut seen = HashSet::new();
    for (i, g) in got.iter().enumerate() {
        assert!(!g.is_empty(), "consumer {i} of {n} got nothing");
        // Each consumer sees its records in push order.
        assert!(
            g.windows(2).all(|w| w[0] < w[1]),
            "consumer {i} out of order"
        );
        for r in g {
            assert!(seen.insert(r.clone()), "record delivered twice");
        }
    }
    assert_eq!(seen.len(), total, "every record delivered once");
}

#[test]
fn two_consumers_share_a_channel_exactly_once() {
    consumers_share(2, 20_000);
}

#[test]
fn three_consumers_share_a_channel_exactly_once() {
    consumers_share(3, 30_000);
}

#[test]
fn a_consumer_that_stops_reading_holds_back_only_its_own_buffer() {
    let node = start(&[("Server", "channel_size_limit", "64000000")]);
    let mut stalled = node.connect();
    stalled.exchange_raw(&consume(b"ch"), &OK);
    let mut active = node.connect();
    active.exchange_raw(&consume(b"ch"), &OK);
    let total = 200_000;
    let records = numbered(total, 100);
    let reader = thread::spawn(move || {
        let mut got = Vec::new();
        loop {
            let r = active.read_array();
            if r.is_empty() {
                return got;
            }
            got.push(r);
        }
    });
    // 21.6 MB: far more than the stalled consumer's output buffer and socket buffers.
    let mut p = node.connect();
    p.push_all(b"ch", &records);
    let deadline = Instant::now() + Duration::from_secs(30);
    while p.channel_size(b"ch").0 > 0 {
        assert!(
            Instant::now() < deadline,
            "records held back: {:?} left in the channel",
            p.channel_size(b"ch")
        );
        thread::sleep(Duration::from_millis(20));
    }
    p.remove_channel(b"ch");
    let active_got = reader.join().unwrap();
    // The stalled consumer now reads what was written into its buffer before it stalled.
    let stalled_got = read_until_end(&mut stalled);
    // It was given records (the case under test), but no more than its buffers hold.
    assert!(
        !stalled_got.is_empty(),
        "the stalled consumer was never given records"
    );
    let held = stalled_got.len() * 108;
    assert!(
        held < 8 << 20,
        "the stalled consumer held {held} bytes of records"
    );
    let mut all: Vec<_> = active_got.into_iter().chain(stalled_got).collect();
    all.sort();
    assert_eq!(all, records, "every record delivered exactly once");
}

#[test]
fn produce_stores_the_stream_and_the_connection_goes_on() {
    let node = start(&[]);
    let mut c = node.connect();
    c.exchange_raw(&req(10, &[&arr(b"prod")]), &OK);
    let records = numbered(1000, 30);
    let mut stream = Vec::new();
    for r in &records {
        stream.extend(arr(r));
    }
    stream.extend(arr(b""));
    // No reply per record nor at the end: the next bytes are Pop's reply.
    stream.extend(pop(b"prod"));
    c.exchange_raw(&stream, &popped(&records[0]));
    let mut rest = c.pop_all(b"prod");
    rest.insert(0, records[0].clone());
    assert_eq!(rest, records);
    c.exchange_raw(&req(10, &[&arr(b"no good")]), &BAD_CHANNEL);
    c.exchange_raw(&pop(b"prod"), &popped(b""));
}

#[test]
fn produce_multi_drops_what_does_not_fit_and_logs_once() {
    let node = start(&[
        ("Server", "channel_size_limit", "1000000"),
        ("ChannelSizeById", "small", "100"),
    ]);
    let mut c = node.connect();
    c.exchange_raw(&req(11, &[&list(&[b"big", b"small"])]), &OK);
    let records = numbered(50, 20);
    let mut stream = Vec::new();
    for r in &records {
        stream.extend(arr(r));
    }
    stream.extend(arr(b""));
    c.send_raw(&stream);
    assert_eq!(c.pop_all(b"big"), records);
    // 100 bytes hold three records of 28.
    assert_eq!(c.pop_all(b"small"), records[..3].to_vec());
    assert!(node.wait_log("dropped for channel 'small'", 1, Duration::from_secs(5)));
    assert!(node.wait_log("47 of 50 records dropped", 1, Duration::from_secs(5)));
    let log = node.root_log();
    assert_eq!(log.matches("dropped for channel").count(), 1, "{log}");
    c.exchange_raw(&req(11, &[&list(&[b"ok", b"not ok"])]), &BAD_CHANNEL);
}

#[test]
fn a_produce_stream_cut_mid_record_keeps_its_complete_records() {
    let node = start(&[]);
    let records = numbered(100, 40);
    let mut c = node.connect();
    c.exchange_raw(&req(10, &[&arr(b"cut")]), &OK);
    let mut stream = Vec::new();
    for r in &records {
        stream.extend(arr(r));
    }
    let half = arr(b"this record never arrives whole");
    stream.extend_from_slice(&half[..20]);
    c.send_raw(&stream);
    thread::sleep(Duration::from_millis(200));
    drop(c);
    let mut other = node.connect();
    let deadline = Instant::now() + Duration::from_secs(5);
    while other.channel_size(b"cut").0 < 100 {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(other.pop_all(b"cut"), records);
}

#[test]
fn produce_to_consume_streams_records_in_order() {
    let node = start(&[("Server", "channel_size_limit", "4000000")]);
    let mut c = node.connect();
    c.exchange_raw(&consume(b"pipe"), &OK);
    let records = numbered(100_000, 100);
    let expect = records.clone();
    let producer_conn = node.connect();
    let producer = thread::spawn(move || {
        let mut p = producer_conn;
        p.exchange_raw(&req(10, &[&arr(b"pipe")]), &OK);
        for chunk in records.chunks(500) {
            let mut out = Vec::new();
            for r in chunk {
                out.extend(arr(r));
            }
            p.send_raw(&out);
            // A 4 MB ring: give the consumer time so nothing is dropped.
            thread::sleep(Duration::from_millis(1));
        }
        p.send_raw(&arr(b""));
        p
    });
    let mut got = Vec::with_capacity(expect.len());
    while got.len() < expect.len() {
        got.push(c.read_array());
    }
    assert_eq!(got, expect);
    let mut p = producer.join().unwrap();
    p.exchange_raw(&pop(b"pipe"), &popped(b""));
}
