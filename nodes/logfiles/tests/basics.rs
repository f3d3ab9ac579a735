//! The node end to end on the real binary: records written, read back by range and in full,
//! across a restart, in both sync modes; sizes and channels.

use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};

const BIN: &str = env!("CARGO_BIN_EXE_logfilesnode");

fn records(n: u64) -> Vec<Record> {
    (0..n)
        .map(|i| (0x5727_5000 + i * 37, format!("record {i}").into_bytes()))
        .collect()
}

#[test]
fn records_come_back_in_bucket_order_and_survive_a_restart_in_both_modes() {
    for mode in ["checkpoint", "group"] {
        let mut node = LogfilesNode::new(BIN, &[("Options_Dls", "sync_mode", mode)]);
        node.start();
        let mut c = node.connect();
        let recs = records(2000);
        c.put_all(b"logs", &recs);
        assert_eq!(c.get_all(b"logs"), recs, "{mode}");
        let (lo, hi) = (recs[10].0, recs[20].0);
        assert_eq!(c.get_range(b"logs", lo, hi), recs[10..=20].to_vec());
        assert_eq!(c.channel_size(b"logs").0, 2000);
        assert_eq!(c.channels(), vec![b"logs".to_vec()]);
        node.restart();
        let mut c = node.connect();
        assert_eq!(c.get_all(b"logs"), recs, "{mode} after restart");
        assert_eq!(
            c.size(),
            (2000, recs.iter().map(|r| r.1.len() as u64).sum())
        );
        c.remove_channel(b"logs");
        assert!(c.get_all(b"logs").is_empty());
        assert!(c.channels().is_empty());
        node.stop();
    }
}

/// Many connections at once, each record in a bucket of its own: more buckets wanted at the
/// same time than a channel keeps open, so every write waits for an open and installs evict
/// one another; every write must still land, and each connection gets its replies in order.
#[test]
fn concurrent_writers_to_more_buckets_than_stay_open_all_land() {
    for mode in ["checkpoint", "group"] {
        let mut node = LogfilesNode::new(BIN, &[("Options_Dls", "sync_mode", mode)]);
        node.start();
        let addr = node.addr();
        let t0 = std::time::Instant::now();
        let threads: Vec<_> = (0..16u64)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut c =
                        swarm_testkit::Conn::connect(addr, std::time::Duration::from_secs(20));
                    let recs: Vec<Record> = (0..100u64)
                        .map(|i| {
                            let k =
                                swarm_protocol::key::fnv1a64(&(t * 1000 + i).to_le_bytes()) >> 1;
                            (k, format!("{t}/{i}").into_bytes())
                        })
                        .collect();
                    c.put_all(b"spread", &recs);
                    recs
                })
            })
            .collect();
        let mut want: Vec<Record> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        eprintln!("{mode}: 1600 writes in {:?}", t0.elapsed());
        let mut c = node.connect();
        let mut got = c.get_all(b"spread");
        eprintln!("{mode}: read back after {:?}", t0.elapsed());
        assert_eq!(got.len(), 1600, "{mode}");
        want.sort();
        got.sort();
        assert_eq!(got, want, "{mode}");
        node.stop();
    }
}

/// A filtered scan that finds nothing for a long time (a slow disk here) still sends something
/// every second: an empty batch, which every client reads as no records, so a client's read
/// timeout does not cut a long scan.
#[test]
fn a_long_scan_that_matches_nothing_sends_empty_batches_meanwhile() {
    let mut node = LogfilesNode::new(BIN, &[("Testing", "read_delay_ms", "1100")]);
    node.start();
    let mut c = node.connect();
    let value = vec![b'x'; 60_000];
    let recs: Vec<Record> = (0..300u64).map(|i| (i, value.clone())).collect();
    c.put_all(b"big", &recs);
    // 18 MB: three turns of at most 8 MiB, each 1.1 s late.
    let filter = b"not in any value";
    let req = swarm_protocol::logfiles::LogfilesRequest::GetAllFilter {
        channel: b"big",
        filter,
    };
    c.send_logfiles(&req);
    assert_eq!(c.read_n(4), swarm_testkit::OK);
    let mut arrays = Vec::new();
    loop {
        let a = c.read_array();
        if a.is_empty() {
            break;
        }
        arrays.push(a);
    }
    assert!(
        arrays.len() >= 2,
        "a keepalive batch before the last one: {} arrays",
        arrays.len()
    );
    for a in &arrays {
        let raw = swarm_protocol::batch::decompress(a).unwrap();
        assert!(raw.is_empty(), "no record matched");
    }
    node.stop();
}

/// Sync mode `group`: the Puts a client pipelines share fsyncs (the journal counts them), and a
/// read pipelined behind them answers after their replies, seeing them.
#[test]
fn pipelined_group_puts_share_fsyncs_and_replies_stay_in_order() {
    let mut node = LogfilesNode::new(BIN, &[("Options_Dls", "sync_mode", "group")]);
    let journal = node.dir.path().join("journal.txt");
    node.set("Testing", "sync_journal", &journal.display().to_string());
    node.start();
    let mut c = node.connect();
    let recs = records(500);
    let mut bytes = Vec::new();
    for (k, v) in &recs {
        let key = swarm_protocol::key::format_key(*k);
        swarm_protocol::logfiles::LogfilesRequest::Put {
            channel: b"g",
            key: &key,
            value: v,
        }
        .encode(&mut bytes);
    }
    swarm_protocol::logfiles::LogfilesRequest::GetAll { channel: b"g" }.encode(&mut bytes);
    c.send_raw(&bytes);
    let replies = c.read_n(4 * 500);
    assert!(replies.chunks(4).all(|r| r == swarm_testkit::OK));
    assert_eq!(c.read_n(4), swarm_testkit::OK, "the GetAll's status");
    assert_eq!(c.read_stream(), recs, "the GetAll sees every Put before it");
    let syncs = std::fs::read_to_string(&journal)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("sync "))
        .count();
    assert!(
        (1..=50).contains(&syncs),
        "500 pipelined Puts made {syncs} fsyncs"
    );
    node.stop();
}

/// Batches of values LZO cannot shrink by 1/16 (here 1 KB of noise each: the keys and lengths
/// beside them are too little to compress) go out as LZO literal runs (no search), which decode
/// like any other; values that compress stay compressed.
#[test]
fn incompressible_values_are_sent_as_literals_and_text_stays_compressed() {
    let mut node = LogfilesNode::new(BIN, &[]);
    node.start();
    let mut c = node.connect();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let noise: Vec<Record> = (0..600u64)
        .map(|i| {
            let v = (0..1000)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 32) as u8
                })
                .collect();
            (i, v)
        })
        .collect();
    let text: Vec<Record> = (0..3000u64)
        .map(|i| {
            (
                i,
                format!("GET /imp?aid=google&vw={}&ts=1466000000 HTTP/1.1", i % 7).into_bytes(),
            )
        })
        .collect();
    c.put_all(b"noise", &noise);
    c.put_all(b"text", &text);
    for (ch, want, stored_expected) in [(&b"noise"[..], &noise, true), (&b"text"[..], &text, false)]
    {
        let req = swarm_protocol::logfiles::LogfilesRequest::GetAll { channel: ch };
        c.send_logfiles(&req);
        assert_eq!(c.read_n(4), swarm_testkit::OK);
        let (mut got, mut stored, mut batches) = (Vec::new(), 0, 0);
        loop {
            let a = c.read_array();
            if a.is_empty() {
                break;
            }
            let raw_len = u64::from_le_bytes(a[..8].try_into().unwrap()) as usize;
            if raw_len == 0 {
                continue;
            }
            batches += 1;
            // A literal run: its header, the raw bytes, the 3-byte end marker.
            if a.len() - 8 >= raw_len + 4 && a[8] == 0 {
                stored += 1;
            }
            let raw = swarm_protocol::batch::decompress(&a).unwrap();
            for p in swarm_protocol::batch::Pairs::new(&raw) {
                let (k, v) = p.unwrap();
                got.push((swarm_protocol::key::parse_key(k).unwrap(), v.to_vec()));
            }
        }
        assert_eq!(&got, want);
        if stored_expected {
            assert!(
                stored + 1 >= batches,
                "{stored} of {batches} batches stored"
            );
        } else {
            assert_eq!(stored, 0, "text compresses");
        }
    }
    node.stop();
}

/// Sync mode `checkpoint`: the write buffers reach the OS every `write_flush_ms`, so a kill -9
/// (the process, not the machine) a second after the last Put, before any checkpoint, keeps
/// records of a bucket no checkpoint lists.
#[test]
fn a_kill_after_the_flush_period_keeps_buffered_records() {
    let mut node = LogfilesNode::new(BIN, &[("Performance", "write_flush_ms", "100")]);
    node.start();
    let mut c = node.connect();
    let recs = records(100);
    c.put_all(b"flushed", &recs);
    std::thread::sleep(std::time::Duration::from_millis(1000));
    node.kill9();
    node.start();
    let mut c = node.connect();
    assert_eq!(c.get_all(b"flushed"), recs);
    node.stop();
}
