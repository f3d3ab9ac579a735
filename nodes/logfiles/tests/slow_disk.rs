//! The logfiles node on a slow disk (`[Testing] read_delay_ms = 200`: every scan turn first
//! sleeps on its worker), on the real binary: range scans run on their own worker pool and are
//! parked between turns, so Puts on other connections are answered at their usual speed.
//!
//! * one GetAll of an 8 MiB channel (about 32 turns, so 6 s or more) while another connection
//!   makes 1,000 Puts one at a time to another channel: their p99 stays under 50 ms, and is
//!   printed beside the same Puts made with no scan running;
//! * scans of a cold channel (written before a restart), more of them than there are scan
//!   workers, while 1,000 Puts each need a new bucket opened (on the bucket-open pool).
//!
//! Each test checks that the scans were still running when the last Put was answered, so a
//! scan that ended early cannot make it pass, and that they returned every record.
#![allow(clippy::unwrap_used)]

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};
use swarm_testkit::Conn;

const BIN: &str = env!("CARGO_BIN_EXE_logfilesnode");
/// Generous: a Put to an open bucket is answered in well under a millisecond.
const P99_BOUND: Duration = Duration::from_millis(50);
/// Value bytes of the scanned channel.
const SCANNED_BYTES: usize = 8 << 20;
/// Bytes per scanned value (near the 65,504-byte limit: few records, many bytes).
const VALUE_LEN: usize = 60_000;

fn slow_node() -> LogfilesNode {
    LogfilesNode::new(BIN, &[("Testing", "read_delay_ms", "200")])
}

/// Values LZO cannot shrink (xorshift bytes), so the scan sends as many bytes as it reads.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// [`SCANNED_BYTES`] of records over a few buckets.
fn big_records() -> Vec<Record> {
    (0..(SCANNED_BYTES / VALUE_LEN) as u64)
        .map(|i| (0x5727_0000 + i * 300, noise(i + 1, VALUE_LEN)))
        .collect()
}

/// Puts `keys` to `channel` one at a time (each waits for its Ok); each Put's latency, sorted.
fn put_latencies(c: &mut Conn, channel: &[u8], keys: impl Iterator<Item = u64>) -> Vec<Duration> {
    let mut v: Vec<Duration> = keys
        .map(|k| {
            let t = Instant::now();
            c.put(channel, k, b"a small record of the Put load");
            t.elapsed()
        })
        .collect();
    v.sort();
    v
}

/// The `p`th percentile of sorted latencies.
fn pct(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

/// A GetAll running on its own connection.
struct Scan {
    handle: JoinHandle<(Vec<Record>, Instant)>,
    started: Instant,
}

impl Scan {
    /// Starts a GetAll of `channel` and returns once its first batch arrived.
    fn start(node: &LogfilesNode, channel: &'static [u8]) -> Scan {
        let mut c = node.connect();
        let (tx, rx) = mpsc::channel();
        let started = Instant::now();
        let handle = std::thread::spawn(move || {
            c.send_logfiles(&swarm_protocol::logfiles::LogfilesRequest::GetAll { channel });
            assert_eq!(c.read_n(4), swarm_testkit::OK, "GetAll status");
            let first = c.read_array();
            tx.send(()).unwrap();
            let records = read_stream_after(&mut c, first);
            (records, Instant::now())
        });
        rx.recv_timeout(Duration::from_secs(30))
            .expect("no first batch of the scan");
        Scan { handle, started }
    }

    /// Waits for the scan's end: its records, and when it ended.
    fn join(self) -> (Vec<Record>, Instant, Duration) {
        let (records, ended) = self.handle.join().unwrap();
        (records, ended, ended - self.started)
    }
}

/// The records of a batch stream whose first batch (`first`) was already read.
fn read_stream_after(c: &mut Conn, first: Vec<u8>) -> Vec<Record> {
    let mut records = Vec::new();
    if first.is_empty() {
        return records;
    }
    let raw = swarm_protocol::batch::decompress(&first).unwrap();
    for pair in swarm_protocol::batch::Pairs::new(&raw) {
        let (k, v) = pair.unwrap();
        records.push((swarm_protocol::key::parse_key(k).unwrap(), v.to_vec()));
    }
    records.extend(c.read_stream());
    records
}

fn print(what: &str, sorted: &[Duration]) {
    println!(
        "{what}: p50 {:?}, p99 {:?}, max {:?}",
        pct(sorted, 50),
        pct(sorted, 99),
        sorted[sorted.len() - 1]
    );
}

#[test]
fn puts_stay_fast_while_a_slow_scan_runs() {
    let mut node = slow_node();
    node.start();
    let big = big_records();
    node.connect().put_all(b"big", &big);
    let mut c = node.connect();
    let alone = put_latencies(&mut c, b"small", (0..1000).map(|i| 0x5727_5000 + i));
    print("1,000 Puts, no scan", &alone);

    let scan = Scan::start(&node, b"big");
    let during = put_latencies(&mut c, b"small", (1000..2000).map(|i| 0x5727_5000 + i));
    let puts_done = Instant::now();
    print(
        "1,000 Puts during a GetAll with read_delay_ms = 200",
        &during,
    );
    let (records, ended, took) = scan.join();
    println!(
        "the GetAll: {} records, {} bytes, in {took:?}",
        records.len(),
        records.iter().map(|r| r.1.len()).sum::<usize>()
    );
    assert!(records == big, "the GetAll returned other records");
    assert!(
        ended > puts_done,
        "the scan ended before the Puts: nothing was measured"
    );
    assert!(
        pct(&during, 99) < P99_BOUND,
        "Put p99 {:?} during the scan",
        pct(&during, 99)
    );
    node.stop();
}

#[test]
fn puts_into_new_buckets_keep_going_while_cold_scans_fill_the_scan_workers() {
    let mut node = slow_node();
    node.start();
    let big = big_records();
    node.connect().put_all(b"cold", &big);
    // A restart leaves the channel cold: no writer open, nothing of it in the node.
    node.restart();
    let mut c = node.connect();
    // Every Put a bucket of its own (key >> 12 differs), so every one waits for an open.
    let alone = put_latencies(
        &mut c,
        b"fresh0",
        (0..1000u64).map(|i| (0x58 << 24) | (i << 12)),
    );
    print("1,000 Puts each into a new bucket, no scan", &alone);

    // One more than the test config's 4 scan workers.
    let scans: Vec<Scan> = (0..5).map(|_| Scan::start(&node, b"cold")).collect();
    let during = put_latencies(
        &mut c,
        b"fresh1",
        (0..1000u64).map(|i| (0x58 << 24) | (i << 12)),
    );
    let puts_done = Instant::now();
    print(
        "1,000 Puts each into a new bucket during 5 cold GetAlls",
        &during,
    );
    for scan in scans {
        let (records, ended, took) = scan.join();
        println!("a cold GetAll: {} records in {took:?}", records.len());
        assert!(records == big, "a cold GetAll returned other records");
        assert!(
            ended > puts_done,
            "a scan ended before the Puts: nothing was measured"
        );
    }
    assert!(
        pct(&during, 99) < P99_BOUND,
        "Put p99 {:?} during the scans",
        pct(&during, 99)
    );
    assert_eq!(c.channel_size(b"fresh1").0, 1000);
    node.stop();
}
