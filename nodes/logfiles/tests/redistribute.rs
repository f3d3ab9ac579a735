//! Redistribute (35) between real `logfilesnode` processes: validation, a move of half the
//! buckets of three nodes to a fourth (every record exactly once afterwards, sizes adding up,
//! the sources keeping only unchosen buckets; the nodes on test hosts of their own), and records
//! that exactly fill batches.
#![allow(clippy::unwrap_used)]

mod redist_support;

use redist_support::*;
use std::collections::BTreeSet;
use std::time::Duration;
use swarm_protocol::logfiles::LogfilesRequest;

/// GetVersion on `c` answers: the connection is still usable.
fn usable(c: &mut Conn) {
    let mut req = Vec::new();
    LogfilesRequest::GetVersion.encode(&mut req);
    c.send_raw(&req);
    assert_eq!(c.read_n(4), OK);
    assert_eq!(c.read_array(), b"20110401");
}

#[test]
fn bad_requests_answer_error_and_a_second_move_is_refused() {
    let mut source = node(&[("Testing", "redistribute_delay_ms", "100")]);
    source.start();
    let mut dest = node(&[]);
    dest.start();
    fill(&source, CHANNELS[0], &records(30, 1));
    let d = [dest.addr()];
    let mut c = source.connect();
    for fraction in [0.0, -0.5, 1.5, f32::NAN] {
        c.send_raw(&redistribute_req(fraction, &d));
        assert_eq!(c.read_n(4), status(500), "fraction {fraction}");
        usable(&mut c);
    }
    c.send_raw(&redistribute_req(0.5, &[]));
    assert_eq!(c.read_n(4), status(500), "no destination");
    usable(&mut c);
    let mut bad = Vec::new();
    LogfilesRequest::Redistribute {
        fraction: 0.5,
        nodes: vec![swarm_protocol::logfiles::RedistributeNode {
            address: b"not-an-address",
            port: 1,
        }],
    }
    .encode(&mut bad);
    c.send_raw(&bad);
    assert_eq!(
        c.read_n(4),
        status(500),
        "a destination that does not parse"
    );
    usable(&mut c);
    assert!(source.wait_log("is not an IP address", 1, Duration::from_secs(5)));

    // A slow move (100 ms per batch): a second one is refused, other connections are served.
    let mut first = source.connect();
    first.send_raw(&redistribute_req(1.0, &d));
    assert!(source.wait_log("moving a fraction", 1, Duration::from_secs(5)));
    let mut second = source.connect();
    second.send_raw(&redistribute_req(1.0, &d));
    assert_eq!(second.read_n(4), status(500), "a second Redistribute");
    usable(&mut second);
    second.put(b"other", 7, b"served meanwhile");
    assert_eq!(
        second.get_all(b"other"),
        vec![(7, b"served meanwhile".to_vec())]
    );
    assert_eq!(first.read_n(4), OK, "the first move finishes");
    usable(&mut first);
    source.stop();
    dest.stop();
}

#[test]
fn half_the_buckets_of_three_nodes_move_to_a_fourth_and_every_record_stays_once() {
    // Each node on a test host of its own (network namespaces, or 127.0.0.x without them).
    let hosts = swarm_testkit::TestHosts::new(4);
    let on = |i: usize| {
        let mut n = node(&[]);
        n.place_on(hosts.host(i));
        n
    };
    let mut sources: Vec<LogfilesNode> = (0..3).map(on).collect();
    let mut dest = on(3);
    dest.start();
    let mut put = Vec::new();
    for (i, s) in sources.iter_mut().enumerate() {
        s.start();
        for (j, ch) in CHANNELS.iter().enumerate() {
            let recs = records(5_000, (i * 2 + j) as u64 + 10);
            fill(s, ch, &recs);
            put.push((*ch, recs));
        }
    }
    let per: Vec<(&[u8], &[Record])> = put.iter().map(|(c, r)| (*c, r.as_slice())).collect();
    let want = expected(&per);
    // Restarted: every buffer is in the files compared below.
    for s in &mut sources {
        s.restart();
    }
    let before: Vec<_> = sources.iter().map(|s| buckets(&s.data())).collect();
    for s in &sources {
        assert_eq!(redistribute(s, 0.5, &[dest.addr()]), 200);
    }
    let mut all: Vec<&LogfilesNode> = sources.iter().collect();
    all.push(&dest);
    assert_same(&everything(&all), &want);
    assert_eq!(total_size(&all), size_of(&want), "GetSize over the nodes");
    let (moved, kept) = (dest.connect().size().0, total_size(&all[..3]).0);
    assert!(moved > 0 && kept > 0, "moved {moved}, kept {kept}");
    for (s, before) in sources.iter().zip(&before) {
        no_leftovers(&s.data());
        let after = buckets(&s.data());
        assert!(after.len() < before.len(), "some buckets moved");
        for (path, bytes) in &after {
            assert!(
                before.get(path) == Some(bytes),
                "{}: kept unchanged",
                path.display()
            );
        }
    }
    // The destination holds the moved buckets' records, in buckets of the same names.
    let names = |m: &std::collections::BTreeMap<std::path::PathBuf, Vec<u8>>| {
        m.keys().cloned().collect::<BTreeSet<_>>()
    };
    let moved_names: BTreeSet<_> = sources
        .iter()
        .zip(&before)
        .flat_map(|(s, b)| {
            names(b)
                .difference(&names(&buckets(&s.data())))
                .cloned()
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(names(&buckets(&dest.data())), moved_names);
    assert!(sources[0].wait_log("Redistribute finished", 1, Duration::from_secs(5)));
    // Restarted, the nodes count the same.
    for s in &mut sources {
        s.restart();
    }
    dest.restart();
    let all: Vec<&LogfilesNode> = sources.iter().chain([&dest]).collect();
    assert_eq!(total_size(&all), size_of(&want));
}

#[test]
fn records_that_exactly_fill_batches_are_all_moved() {
    let mut source = node(&[]);
    source.start();
    let mut dest = node(&[]);
    dest.start();
    // One bucket: full batches of one record, of eight (8 x (32 + 8160) = 65,536), and a
    // tail; all in the bucket of keys 0x10000..=0x10fff.
    let mut recs = Vec::new();
    for i in 0..5u64 {
        recs.push((0x10000 + i, vec![b'f'; FULL]));
    }
    for i in 0..40u64 {
        recs.push((0x10100 + i, vec![(i as u8) | 1; 8160]));
    }
    for i in 0..3u64 {
        recs.push((0x10200 + i, vec![b't'; 100]));
    }
    fill(&source, CHANNELS[0], &recs);
    let want = expected(&[(CHANNELS[0], &recs)]);
    assert_eq!(redistribute(&source, 1.0, &[dest.addr()]), 200);
    assert_same(&everything(&[&dest]), &want);
    assert_eq!(everything(&[&source]), Vec::new());
    assert_eq!(source.connect().size(), (0, 0));
    assert_eq!(dest.connect().size(), size_of(&want));
    assert!(source
        .log_after("Redistribute finished", Duration::from_secs(5))
        .contains(&format!("{} records", recs.len())));
}

#[test]
fn a_put_during_the_move_into_a_bucket_taken_out_stays_on_the_source() {
    // Sync mode group: the bucket's writer is open (its records acknowledged after an fsync)
    // when the move takes it out.
    let mut source = node(&[
        ("Options_Dls", "sync_mode", "group"),
        ("Testing", "redistribute_delay_ms", "200"),
    ]);
    source.start();
    let mut dest = node(&[]);
    dest.start();
    // One bucket (keys 0x20000..=0x20fff) of several batches.
    let recs: Vec<Record> = (0..40u64)
        .map(|i| (0x20000 + i, vec![b'v'; 8000]))
        .collect();
    fill(&source, CHANNELS[0], &recs);
    let mut mover = source.connect();
    mover.send_raw(&redistribute_req(1.0, &[dest.addr()]));
    let tmp = source.data().join("ch_a/0000000000/020.tmp");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !tmp.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the bucket was not taken out"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    source
        .connect()
        .put(CHANNELS[0], 0x20fff, b"new data, after the move began");
    assert_eq!(mover.read_n(4), OK);
    let want = expected(&[(CHANNELS[0], &recs)]);
    assert_same(&everything(&[&dest]), &want);
    assert_eq!(
        source.connect().get_all(CHANNELS[0]),
        vec![(0x20fff, b"new data, after the move began".to_vec())]
    );
    assert_eq!(source.connect().size(), (1, 30));
    no_leftovers(&source.data());
    source.restart();
    assert_eq!(source.connect().size(), (1, 30));
}

/// The move's rate against GetAll's on the same data (one run; `cargo test --release -p
/// swarm-logfiles --test redistribute -- --ignored --nocapture`).
#[test]
#[ignore]
fn move_rate_against_get_all() {
    let mut source = node(&[]);
    source.start();
    let mut dest = node(&[]);
    dest.start();
    let recs = records(200_000, 99);
    fill(&source, CHANNELS[0], &recs);
    let bytes: u64 = recs.iter().map(|(_, v)| v.len() as u64).sum();
    let t = std::time::Instant::now();
    let n = source.connect().get_all(CHANNELS[0]).len();
    let get_all = t.elapsed().as_secs_f64();
    let t = std::time::Instant::now();
    assert_eq!(redistribute(&source, 1.0, &[dest.addr()]), 200);
    let moved = t.elapsed().as_secs_f64();
    let mb = bytes as f64 / 1e6;
    println!(
        "{n} records, {mb:.1} MB of values: GetAll {get_all:.2} s ({:.0} records/s, {:.1} MB/s); \
         Redistribute {moved:.2} s ({:.0} records/s, {:.1} MB/s)",
        n as f64 / get_all,
        mb / get_all,
        n as f64 / moved,
        mb / moved
    );
    assert_eq!(dest.connect().size().0, recs.len() as u64);
}
