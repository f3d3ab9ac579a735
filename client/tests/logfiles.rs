//! The logfiles client against two real logfilesnode binaries: Put and PutBatch spread
//! round-robin whatever the key, every read sees both nodes, filters and regexes run on the
//! nodes (a bad pattern is an error naming each node), sizes and channels summed, RemoveChannel
//! on every node, the value limit agreed with the node, a killed node skipped by puts and
//! reported by reads, and an early-dropped read that closes its connections.
#![allow(clippy::unwrap_used)]

mod common;

use common::logfiles::*;
use std::thread;
use std::time::{Duration, Instant};
use swarm_client::{
    ClientError, Command, Filter, LogfilesClient, LogfilesCommand, LogfilesSize, Records, Status,
    LOGFILES_MAX_VALUE_LEN,
};
use swarm_protocol::format_key;
use swarm_protocol::logfiles::LogfilesRequest;

fn sorted(records: Records) -> Vec<Record> {
    let mut all: Vec<Record> = records.map(Result::unwrap).collect();
    all.sort();
    all
}

fn keys(records: Records) -> Vec<u64> {
    sorted(records).into_iter().map(|r| r.0).collect()
}

/// Waits up to 5 s for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn puts_go_round_robin_whatever_the_key_and_reads_see_every_node() {
    let ns = nodes(2);
    let client = client(&ns);
    let recs: Vec<Record> = (0..100u64)
        .map(|i| (0x5727_5000 + i / 4, format!("record {i}").into_bytes()))
        .collect();
    for (key, value) in &recs {
        client.put("logs", *key, value).unwrap();
    }
    for (i, n) in ns.iter().enumerate() {
        let got = n.connect().get_all(b"logs");
        let want: Vec<Record> = recs.iter().skip(i).step_by(2).cloned().collect();
        assert_eq!(got, want, "node {i}: every other record, in order");
    }
    let mut want = recs.clone();
    want.sort();
    assert_eq!(sorted(client.get_all("logs").unwrap()), want);
    let (lo, hi) = (0x5727_5002, 0x5727_5005);
    let in_range: Vec<Record> = want
        .iter()
        .filter(|r| (lo..=hi).contains(&r.0))
        .cloned()
        .collect();
    assert_eq!(in_range.len(), 16);
    assert_eq!(sorted(client.get_range("logs", lo, hi).unwrap()), in_range);
    assert!(client.get_range("logs", hi, lo).unwrap().next().is_none());
}

#[test]
fn put_batch_spreads_its_64k_batches_over_the_nodes() {
    let ns = nodes(2);
    let client = client(&ns);
    let recs: Vec<Record> = (0..1000u64)
        .map(|i| (1_700_000_000 + i, vec![b'a' + (i % 26) as u8; 200]))
        .collect();
    let refs: Vec<(u64, &[u8])> = recs.iter().map(|(k, v)| (*k, &v[..])).collect();
    client.put_batch("batch", &refs).unwrap();
    // 232 bytes a record: 282 in a 64 KiB batch, so 4 requests, two on each node.
    let counts: Vec<u64> = ns
        .iter()
        .map(|n| n.connect().channel_size(b"batch").0)
        .collect();
    assert_eq!(counts, [282 + 282, 282 + 154]);
    assert_eq!(sorted(client.get_all("batch").unwrap()), recs);
    assert_eq!(
        client.channel_size("batch").unwrap(),
        LogfilesSize {
            records: 1000,
            bytes: 200_000
        }
    );
}

#[test]
fn filters_and_regexes_run_on_the_nodes() {
    let ns = nodes(2);
    let client = client(&ns);
    let lines = [
        (1, "GET /click?aid=google&vw=1"),
        (2, "GET /click?aid=other&vw=2"),
        (3, "GET /click?AID=GOOGLE&vw=3"),
        (4, "GET /view?aid=google"),
        (5, "POST /click?aid=bing"),
    ];
    for (key, line) in lines {
        client.put("urls", key, line.as_bytes()).unwrap();
    }
    let google = Filter::substring("aid=google");
    assert_eq!(
        keys(client.get_all_filter("urls", &google).unwrap()),
        [1, 4]
    );
    let click = Filter::substring("click");
    assert_eq!(
        keys(client.get_range_filter("urls", 2, 5, &click).unwrap()),
        [2, 3, 5]
    );
    let re = Filter::regex("(aid=google)");
    assert_eq!(keys(client.get_all_filter("urls", &re).unwrap()), [1, 4]);
    let anchored = Filter::regex("^GET /click.*vw=[13]$");
    assert_eq!(
        keys(client.get_all_filter("urls", &anchored).unwrap()),
        [1, 3]
    );
    let caseless = Filter::Regex {
        pattern: "aid=google".into(),
        case_insensitive: true,
    };
    assert_eq!(
        keys(client.get_range_filter("urls", 0, 3, &caseless).unwrap()),
        [1, 3]
    );
    // A pattern the nodes cannot compile (the dlstest case): an error from each node, by name.
    let bad = Filter::regex("*vw=1&");
    let items: Vec<_> = client.get_all_filter("urls", &bad).unwrap().collect();
    let mut failed: Vec<_> = items
        .iter()
        .map(|item| match item {
            Err(ClientError::Status {
                node,
                command,
                status: Status::Error,
            }) => {
                assert_eq!(*command, Command::from(LogfilesCommand::GetRangeRegex));
                *node
            }
            other => panic!("{other:?}"),
        })
        .collect();
    failed.sort();
    let mut want = addrs(&ns);
    want.sort();
    assert_eq!(failed, want);
    // The nodes are fine afterwards.
    assert_eq!(keys(client.get_all("urls").unwrap()), [1, 2, 3, 4, 5]);
}

#[test]
fn channels_sizes_connections_and_remove_cover_every_node() {
    let ns = nodes(2);
    let client = client(&ns);
    client.put("a", 1, b"12345").unwrap(); // node 0
    client.put("b", 2, b"123").unwrap(); // node 1
    client.put("b", 3, b"1").unwrap(); // node 0
    assert_eq!(client.channels().unwrap(), ["a", "b"]);
    assert_eq!(ns[1].connect().channels(), vec![b"b".to_vec()]);
    assert_eq!(
        client.channel_size("b").unwrap(),
        LogfilesSize {
            records: 2,
            bytes: 4
        }
    );
    assert_eq!(
        client.size().unwrap(),
        LogfilesSize {
            records: 3,
            bytes: 9
        }
    );
    let conns = client.num_connections().unwrap();
    assert_eq!(
        conns.iter().map(|c| c.0).collect::<Vec<_>>(),
        addrs(&ns),
        "one entry per node, in order"
    );
    assert!(conns.iter().all(|&(_, n)| n >= 1), "{conns:?}");
    client.remove_channel("b").unwrap();
    assert_eq!(client.channels().unwrap(), ["a"]);
    assert!(client.get_all("b").unwrap().next().is_none());
    assert_eq!(client.size().unwrap().records, 1);
    client.remove_channel("never-made").unwrap();
}

#[test]
fn the_value_limit_is_the_nodes() {
    let ns = nodes(2);
    let client = client(&ns);
    let big = vec![b'v'; LOGFILES_MAX_VALUE_LEN];
    client.put("big", 7, &big).unwrap();
    client.put("big", 8, &big).unwrap();
    client
        .put_batch("big", &[(9, &big[..]), (10, &big[..])])
        .unwrap();
    let got = sorted(client.get_all("big").unwrap());
    assert_eq!(got.iter().map(|r| r.0).collect::<Vec<_>>(), [7, 8, 9, 10]);
    assert!(
        got.iter().all(|r| r.1 == big),
        "every value read back whole"
    );
    let over = vec![b'v'; LOGFILES_MAX_VALUE_LEN + 1];
    assert!(matches!(
        client.put("big", 11, &over),
        Err(ClientError::ValueTooBig { .. })
    ));
    // The node draws the line at the same length.
    let key = format_key(11);
    let put = LogfilesRequest::Put {
        channel: b"big",
        key: &key,
        value: &over,
    };
    let mut c = ns[0].connect();
    c.exchange_logfiles(&put, &Status::OutOfMemory.to_bytes());
}

#[test]
fn a_killed_node_is_skipped_by_puts_reported_by_reads_and_used_again_after_its_restart() {
    // Group sync: an acknowledged Put is on disk, so the kill loses nothing.
    let group = [("Options_Dls", "sync_mode", "group")];
    let mut ns = vec![node(&group), node(&group)];
    let config = common::config().with_reconnect_timeout(Duration::from_secs(1));
    let client = LogfilesClient::new(&addrs(&ns), config).unwrap();
    for i in 0..10 {
        client.put("ch", i, b"before").unwrap();
    }
    ns[1].kill9();
    for i in 10..30 {
        client.put("ch", i, b"while down").unwrap();
    }
    let (mut records, mut errors) = (0, Vec::new());
    for item in client.get_all("ch").unwrap() {
        match item {
            Ok(_) => records += 1,
            Err(e) => errors.push(e),
        }
    }
    assert_eq!(records, 5 + 20, "node 0's records");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].node(), Some(ns[1].addr()));
    assert_eq!(client.size().unwrap_err().node(), Some(ns[1].addr()));

    ns[1].start();
    thread::sleep(Duration::from_millis(300)); // past the longest backoff
    for i in 30..40 {
        client.put("ch", i, b"after").unwrap();
    }
    assert!(ns[1].connect().get_all(b"ch").len() > 5, "used again");
    assert_eq!(
        keys(client.get_all("ch").unwrap()),
        (0..40).collect::<Vec<_>>()
    );
}

#[test]
fn dropping_a_read_early_closes_its_connections() {
    let ns = nodes(2);
    let client = client(&ns);
    let value = vec![b'x'; 1000];
    let recs: Vec<(u64, &[u8])> = (0..4000).map(|i| (1_700_000_000 + i, &value[..])).collect();
    client.put_batch("big", &recs).unwrap();
    let open = || -> Vec<u64> {
        let per_node = client.num_connections().unwrap();
        per_node.into_iter().map(|(_, n)| n).collect()
    };
    let before = open();
    let mut read = client.get_all("big").unwrap();
    read.next().unwrap().unwrap();
    let started = Instant::now();
    drop(read);
    assert!(started.elapsed() < Duration::from_secs(1), "the drop hung");
    eventually("the nodes to see the streams closed", || open() == before);
    // The client reads everything afterwards.
    assert_eq!(client.get_all("big").unwrap().count(), 4000);
}
