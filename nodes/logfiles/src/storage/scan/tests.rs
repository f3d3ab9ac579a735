//! Range scans over bucket files written by the protocol crate's writer into a temp channel
//! directory, at the paths the spec's mapping gives.

use super::*;
use swarm_protocol::bucket::path::bucket_path;
use swarm_protocol::bucket::{BucketFormat, BucketWriter};

/// Appends `records` (key, value) to their buckets under `root/ch`, creating v1 files (or
/// legacy ones when `legacy`), in the order given.
fn put(root: &Path, records: &[(u64, &[u8])], legacy: bool) {
    for (key, value) in records {
        let path = root.join(bucket_path("ch", *key));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let exists = path.exists();
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut w = if exists {
            let head = fs::read(&path).unwrap();
            let format = BucketFormat::for_append(&head)
                .unwrap()
                .unwrap_or(BucketFormat::V1);
            BucketWriter::append(file, format)
        } else if legacy {
            BucketWriter::append(file, BucketFormat::Legacy)
        } else {
            BucketWriter::create(file).unwrap()
        };
        w.write_record(*key, value).unwrap();
        w.flush().unwrap();
    }
}

fn scan(root: &Path, min: u64, max: u64) -> Vec<(u64, Vec<u8>)> {
    let mut s = RangeScan::new(&root.join("ch"), min, max, 4096).unwrap();
    let mut out = Vec::new();
    let mut v = Vec::new();
    while let Some(k) = s.next_into(&mut v).unwrap() {
        out.push((k, v.clone()));
    }
    out
}

fn keys(records: &[(u64, Vec<u8>)]) -> Vec<u64> {
    records.iter().map(|(k, _)| *k).collect()
}

#[test]
fn buckets_in_key_order_records_in_arrival_order() {
    let dir = tempfile::tempdir().unwrap();
    // Two slots, three buckets, written out of order, with a duplicate key.
    put(
        dir.path(),
        &[
            (0x0100_2005, b"c"),
            (0x0000_1fff, b"b"),
            (0x0000_1000, b"a"),
            (0x0100_2001, b"d"),
            (0x0000_1000, b"a again"),
            (0x0000_0fff, b"first"),
        ],
        false,
    );
    let all = scan(dir.path(), 0, u64::MAX);
    assert_eq!(
        keys(&all),
        vec![0x0fff, 0x1fff, 0x1000, 0x1000, 0x0100_2005, 0x0100_2001]
    );
    assert_eq!(all[3].1, b"a again");
}

#[test]
fn ranges_are_inclusive_and_numeric_at_every_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let ks = [
        0u64,
        1,
        0xfff,
        0x1000,
        0xff_ffff,
        0x100_0000,
        u64::MAX - 1,
        u64::MAX,
    ];
    let recs: Vec<(u64, &[u8])> = ks.iter().map(|k| (*k, &b"v"[..])).collect();
    put(dir.path(), &recs, false);
    assert_eq!(keys(&scan(dir.path(), 0, u64::MAX)), ks);
    assert_eq!(keys(&scan(dir.path(), 0x1000, 0x1000)), [0x1000]);
    assert_eq!(keys(&scan(dir.path(), 0xfff, 0x1000)), [0xfff, 0x1000]);
    assert_eq!(keys(&scan(dir.path(), 0x1, 0xffe)), [1]);
    assert_eq!(
        keys(&scan(dir.path(), 0xff_ffff, 0x100_0000)),
        [0xff_ffff, 0x100_0000]
    );
    assert_eq!(keys(&scan(dir.path(), u64::MAX, u64::MAX)), [u64::MAX]);
    assert_eq!(keys(&scan(dir.path(), 0, 0)), [0]);
    assert!(scan(dir.path(), 5, 4).is_empty(), "lower > upper: nothing");
    assert!(scan(dir.path(), 2, 0xffe).is_empty());
}

#[test]
fn a_missing_channel_and_foreign_files_give_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert!(scan(dir.path(), 0, u64::MAX).is_empty());
    put(dir.path(), &[(0x2000, b"x")], false);
    let slot = dir.path().join("ch/0000000000");
    fs::write(slot.join("001.gz"), b"compressed by cron").unwrap();
    fs::write(slot.join("003"), b"short").unwrap();
    fs::create_dir_all(dir.path().join("ch/notaslot")).unwrap();
    fs::write(dir.path().join("ch/sizeinfo"), [0u8; 16]).unwrap();
    assert_eq!(keys(&scan(dir.path(), 0, u64::MAX)), [0x2000]);
}

#[test]
fn a_broken_parity_ends_its_bucket_and_the_scan_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        &[
            (0x10, b"one"),
            (0x11, b"two"),
            (0x12, b"three"),
            (0x2000, b"next bucket"),
        ],
        false,
    );
    let path = dir.path().join(bucket_path("ch", 0x10));
    let mut bytes = fs::read(&path).unwrap();
    // The second record's parity byte: header 16, first record 17 + 3, then 16 bytes in.
    let at = 16 + 17 + 3 + 16;
    bytes[at] ^= 0xff;
    fs::write(&path, &bytes).unwrap();
    let mut s = RangeScan::new(&dir.path().join("ch"), 0, u64::MAX, 0).unwrap();
    let mut v = Vec::new();
    let mut got = Vec::new();
    while let Some(k) = s.next_into(&mut v).unwrap() {
        got.push(k);
    }
    assert_eq!(got, [0x10, 0x2000]);
    assert_eq!(s.damaged(), 1);
}

#[test]
fn legacy_files_and_a_torn_tail_are_read_as_the_spec_says() {
    let dir = tempfile::tempdir().unwrap();
    put(
        dir.path(),
        &[(0x30, b"legacy a"), (0x31, b"legacy b")],
        true,
    );
    let path = dir.path().join(bucket_path("ch", 0x30));
    assert_ne!(
        &fs::read(&path).unwrap()[8..16],
        b"DLSBUCKT",
        "written as legacy"
    );
    // A record cut while being written: the complete ones are returned.
    let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
    io::Write::write_all(&mut f, &[0x32, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0]).unwrap();
    let got = scan(dir.path(), 0, u64::MAX);
    assert_eq!(keys(&got), [0x30, 0x31]);
    assert_eq!(got[1].1, b"legacy b");
}

#[test]
fn a_scan_parked_after_every_record_returns_the_same_records() {
    let root = tempfile::tempdir().unwrap();
    let mut recs: Vec<(u64, Vec<u8>)> = Vec::new();
    for k in 0..300u64 {
        recs.push((k * 97, format!("v{k}").into_bytes()));
    }
    let refs: Vec<(u64, &[u8])> = recs.iter().map(|(k, v)| (*k, &v[..])).collect();
    put(root.path(), &refs[..150], true);
    put(root.path(), &refs[150..], false);
    let whole = scan(root.path(), 0, u64::MAX);
    let mut s = RangeScan::new(&root.path().join("ch"), 0, u64::MAX, 64).unwrap();
    let (mut parked, mut v) = (Vec::new(), Vec::new());
    while let Some(k) = s.next_into(&mut v).unwrap() {
        parked.push((k, v.clone()));
        s.park();
    }
    assert_eq!(parked, whole);
    assert_eq!(parked.len(), 300);
}

#[test]
fn a_parked_scan_skips_a_bucket_replaced_since_by_a_new_file() {
    let root = tempfile::tempdir().unwrap();
    let first: Vec<(u64, &[u8])> = (0..10u64).map(|k| (0x1000 + k, &b"old"[..])).collect();
    put(root.path(), &first, true);
    put(root.path(), &[(0x2000, b"next")], true);
    let mut s = RangeScan::new(&root.path().join("ch"), 0, u64::MAX, 64).unwrap();
    let mut v = Vec::new();
    assert_eq!(s.next_into(&mut v).unwrap(), Some(0x1000));
    s.park();
    // A Redistribute renames the bucket away; a Put makes a new (legacy, no parity) one of the
    // same name, whose bytes at the parked offset (19) happen to look like a record.
    let path = root.path().join(bucket_path("ch", 0x1000));
    fs::rename(&path, root.path().join("moved")).unwrap();
    let mut value = b"xxx".to_vec();
    value.extend_from_slice(&0x1abcu64.to_le_bytes());
    value.extend_from_slice(&2u64.to_le_bytes());
    value.extend_from_slice(b"zz");
    put(root.path(), &[(0x1fff, &value)], true);
    assert_eq!(
        s.next_into(&mut v).unwrap(),
        Some(0x2000),
        "not a record of another file"
    );
    assert_eq!(s.next_into(&mut v).unwrap(), None);
}
