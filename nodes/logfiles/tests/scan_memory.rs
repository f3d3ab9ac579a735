//! Regression test of the soak's finding (issue 13): range scans must not leave their read-ahead
//! buffers (`[Performance] file_buffer_size` each) resident on the scan workers after they end.
//! glibc raised its mmap threshold to the buffer's size after the first one was freed, so later
//! buffers came from the worker threads' arenas and stayed: under one GetRange a second the
//! node's RSS grew by a buffer per worker that had scanned (40 to 140 MiB in two minutes, on its
//! way to `number_of_thread_workers` x 10 MiB). `logfilesnode` now fixes the threshold at start.
//!
//! Here: 8 workers with 4 MiB buffers, a 6 MiB bucket, and rounds of 8 concurrent whole-bucket
//! GetRanges (every worker reads through a full buffer in each round). After the scans the
//! node's RSS must be back within two buffers and 4 MiB of where it was before them; the bug
//! kept 8 buffers (32 MiB) resident.
#![allow(clippy::unwrap_used)]

use std::thread;
use std::time::{Duration, Instant};
use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};

const BIN: &str = env!("CARGO_BIN_EXE_logfilesnode");
const WORKERS: usize = 8;
const BUFFER: u64 = 4 << 20;
/// Keys of one bucket (4096 keys from a multiple of 4096).
const FIRST_KEY: u64 = 0x6500_0000;
const RECORDS: usize = 6_000;
const VALUE_LEN: usize = 1_000;
const ROUNDS: usize = 3;

#[test]
fn scans_leave_no_read_ahead_buffer_resident() {
    let mut node = LogfilesNode::new(
        BIN,
        &[
            (
                "Performance",
                "number_of_thread_workers",
                &WORKERS.to_string(),
            ),
            ("Performance", "file_buffer_size", &BUFFER.to_string()),
        ],
    );
    node.start();
    let records: Vec<Record> = (0..RECORDS)
        .map(|i| {
            let key = FIRST_KEY + (i % 4096) as u64;
            (key, vec![b'a' + (i % 26) as u8; VALUE_LEN])
        })
        .collect();
    node.connect().put_all(b"scanned", &records);
    // One scan first: the channel's writers flushed, the loop's buffers at their size.
    let hi = FIRST_KEY + 4095;
    assert_eq!(
        node.connect().get_range(b"scanned", FIRST_KEY, hi).len(),
        RECORDS
    );
    let before = node.rss();

    for _ in 0..ROUNDS {
        thread::scope(|s| {
            for _ in 0..WORKERS {
                let mut conn = node.connect();
                s.spawn(move || {
                    assert_eq!(conn.get_range(b"scanned", FIRST_KEY, hi).len(), RECORDS);
                });
            }
        });
    }
    // The last buffers are freed by the workers as their cursors come back; give them a moment.
    let bound = before + 2 * BUFFER + (4 << 20);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut after = node.rss();
    while after > bound && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
        after = node.rss();
    }
    assert!(
        after <= bound,
        "RSS {} MiB before the scans, {} MiB after (bound {} MiB): read-ahead buffers stayed",
        before >> 20,
        after >> 20,
        bound >> 20
    );
}
