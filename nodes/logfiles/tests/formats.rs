//! The bucket file formats (spec section 3) against the real `logfilesnode`: data
//! directories written by hand, byte by byte (no code of the node or the protocol crate
//! writes them), then read over the wire; and the files the node writes, read back by a parser
//! of this file (not `swarm_protocol::bucket`). The cases are the original's
//! `integrationtest/versioning` ones, rebuilt: legacy, legacy append, v1 append, parity fine
//! and broken, mixed buckets, empty buckets; and torn last records.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::path::PathBuf;

/// The v1 header: version 1 (u64 LE), then the magic `DLSBUCKT`.
const V1_HEADER: &str = "0100000000000000 444c5342 55434b54";

fn v1_header() -> Vec<u8> {
    let h = [&1u64.to_le_bytes()[..], b"DLSBUCKT"].concat();
    assert_eq!(h, hex(V1_HEADER));
    h
}

/// Spec 3.4: the low byte of `key ^ len` folded down to 8 bits.
fn parity(key: u64, len: u64) -> u8 {
    let mut x = key ^ len;
    x ^= x >> 32;
    x ^= x >> 16;
    x ^= x >> 8;
    x as u8
}

/// A v1 record: key, length, parity, value.
fn v1_rec(key: u64, value: &[u8]) -> Vec<u8> {
    let len = value.len() as u64;
    let mut r = key.to_le_bytes().to_vec();
    r.extend_from_slice(&len.to_le_bytes());
    r.push(parity(key, len));
    r.extend_from_slice(value);
    r
}

/// A legacy record: key, length, value.
fn legacy_rec(key: u64, value: &[u8]) -> Vec<u8> {
    let mut r = key.to_le_bytes().to_vec();
    r.extend_from_slice(&(value.len() as u64).to_le_bytes());
    r.extend_from_slice(value);
    r
}

fn recs(keys: impl IntoIterator<Item = u64>, tag: &str) -> Vec<Record> {
    keys.into_iter()
        .map(|k| (k, format!("{tag} {k:08x}").into_bytes()))
        .collect()
}

fn v1_file(records: &[Record]) -> Vec<u8> {
    let mut f = v1_header();
    for (k, v) in records {
        f.extend(v1_rec(*k, v));
    }
    f
}

fn legacy_file(records: &[Record]) -> Vec<u8> {
    records
        .iter()
        .flat_map(|(k, v)| legacy_rec(*k, v))
        .collect()
}

/// `<data>/<channel>/<slot>/<bucket>`, written (directories made).
fn write_bucket(
    node: &LogfilesNode,
    channel: &str,
    slot: &str,
    bucket: &str,
    bytes: &[u8],
) -> PathBuf {
    let dir = node.data().join(channel).join(slot);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(bucket);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn put(c: &mut Conn, channel: &[u8], records: &[Record]) {
    c.put_all(channel, records);
}

#[test]
fn parity_of_the_spec_example() {
    // integrationtest/versioning/data/parity-fine/0000000057/275: key 0x5727545c, length 11.
    assert_eq!(parity(0x5727_545c, 11), 0x73);
    assert_eq!(
        &v1_rec(0x5727_545c, b"hello world")[..17],
        &hex("5c54275700000000 0b00000000000000 73")[..]
    );
}

#[test]
fn a_legacy_file_is_read_and_appended_as_legacy() {
    let mut node = new_node(&[]);
    let old = recs((0..4).map(|i| 0x5727_5806 + i * 3), "legacy");
    let bytes = legacy_file(&old);
    let path = write_bucket(&node, "legacy", "0000000057", "275", &bytes);
    // Not channels: a plain file, a directory whose name is not a channel name.
    std::fs::write(node.data().join("notes.txt"), b"x").unwrap();
    write_bucket(&node, "bad.name", "0000000057", "275", &bytes);
    node.start();
    let mut c = node.connect();
    assert_eq!(c.get_all(b"legacy"), old, "TestLegacy");
    assert_eq!(c.channel_size(b"legacy").0, 4);
    assert_eq!(c.channels(), vec![b"legacy".to_vec()]);
    assert_eq!(c.size().0, 4);
    // TestLegacyWrite: 4 more into the same bucket, all 8 back, the file still headerless.
    let new = recs((0..4).map(|i| 0x5727_5000 + i), "appended");
    put(&mut c, b"legacy", &new);
    let all = [old.clone(), new.clone()].concat();
    assert_eq!(c.get_all(b"legacy"), all);
    let expected = [bytes, legacy_file(&new)].concat();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        expected,
        "appended in legacy format"
    );
    node.restart();
    assert_eq!(node.connect().get_all(b"legacy"), all);
    assert_eq!(std::fs::read(&path).unwrap(), expected);
}

#[test]
fn a_v1_file_is_appended_as_v1() {
    let mut node = new_node(&[]);
    let old = recs((0..8).map(|i| 0x5727_5800 + i), "v1");
    let bytes = v1_file(&old);
    let path = write_bucket(&node, "v1", "0000000057", "275", &bytes);
    node.start();
    let mut c = node.connect();
    assert_eq!(c.get_all(b"v1"), old);
    let new = recs((0..4).map(|i| 0x5727_5fff - i), "appended");
    put(&mut c, b"v1", &new);
    assert_eq!(
        c.get_all(b"v1"),
        [old, new.clone()].concat(),
        "TestVersionOneWrite"
    );
    let tail: Vec<u8> = new.iter().flat_map(|(k, v)| v1_rec(*k, v)).collect();
    assert_eq!(std::fs::read(&path).unwrap(), [bytes, tail].concat());
}

/// Eight 11-byte records from key 0x5727545c, as the fixture `parity-fine`.
fn parity_records() -> Vec<Record> {
    (0..8u64)
        .map(|i| (0x5727_545c + i, format!("value {i:05}").into_bytes()))
        .collect()
}

#[test]
fn parity_fine_and_parity_broken() {
    let mut node = new_node(&[]);
    let fine = parity_records();
    let bytes = v1_file(&fine);
    assert_eq!(bytes[16 + 16], 0x73, "the first record's parity byte");
    write_bucket(&node, "fine", "0000000057", "275", &bytes);
    // TestParityBroken: one byte of record 5's length field 00 -> a0.
    let mut broken = bytes.clone();
    let len_at = 16 + 4 * (17 + 11) + 8;
    assert_eq!(broken[len_at + 1], 0);
    broken[len_at + 1] = 0xa0;
    let path = write_bucket(&node, "broken", "0000000057", "275", &broken);
    // The next bucket, whose records must still come.
    let next = recs((0..3).map(|i| 0x5727_6000 + i), "next");
    write_bucket(&node, "broken", "0000000057", "276", &v1_file(&next));
    node.start();
    let mut c = node.connect();
    assert_eq!(c.get_all(b"fine"), fine, "TestParityFine");
    assert_eq!(
        c.get_all(b"broken"),
        [&fine[..4], &next[..]].concat(),
        "TestParityBroken"
    );
    assert_eq!(
        c.get_range(b"broken", 0x5727_545c + 2, 0x5727_6001),
        [&fine[2..4], &next[..2]].concat()
    );
    // The sizes count what can be read.
    assert_eq!(c.channel_size(b"broken").0, 7);
    let log = node.log_after("Parity", LOG_WAIT);
    let name = path.display().to_string();
    assert!(
        log.lines()
            .any(|l| l.contains(&name) && l.contains("Parity")),
        "{log}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        broken,
        "reading repairs nothing"
    );
}

#[test]
fn mixed_buckets_legacy_and_v1_with_keys_of_another_slot() {
    let mut node = new_node(&[]);
    let legacy = recs((0..4).map(|i| 0x5727_5806 + i), "legacy");
    write_bucket(&node, "mixed", "0000000057", "275", &legacy_file(&legacy));
    // TestMixedBuckets: a v1 bucket copied into slot 58, still holding keys of slot 57.
    let v1 = parity_records();
    write_bucket(&node, "mixed", "0000000058", "275", &v1_file(&v1));
    node.start();
    let mut c = node.connect();
    let all = [legacy.clone(), v1.clone()].concat();
    assert_eq!(c.get_all(b"mixed"), all, "12 records, slot 57 first");
    assert_eq!(c.get_range(b"mixed", 0, u64::MAX), all);
    // A range picks buckets by their path and records by their key: slot 57's range reads
    // only slot 57's file; slot 58's reads slot 58's file, whose keys are all outside.
    assert_eq!(c.get_range(b"mixed", 0x5700_0000, 0x57ff_ffff), legacy);
    assert_eq!(c.get_range(b"mixed", 0x5800_0000, 0x58ff_ffff), vec![]);
}

#[test]
fn empty_and_short_files_are_no_buckets() {
    let mut node = new_node(&[]);
    // TestEmptyBuckets: 7 bucket files: 4 empty, 1 of 15 bytes, a v1 file whose 7th header
    // fails parity, a legacy file: 8 distinct keys.
    for b in ["270", "271", "273", "277"] {
        write_bucket(&node, "empty", "0000000057", b, b"");
    }
    let short = write_bucket(&node, "empty", "0000000057", "272", &v1_header()[..15]);
    let v1 = recs((0..6).map(|i| 0x5727_4000 + i), "v1");
    let mut file = v1_file(&v1);
    let mut bad = v1_rec(0x5727_4006, b"bad parity");
    bad[16] ^= 1;
    file.extend(bad);
    file.extend(v1_rec(0x5727_4007, b"after the bad one"));
    write_bucket(&node, "empty", "0000000057", "274", &file);
    let legacy = recs([0x5727_6001, 0x5727_6002], "legacy");
    write_bucket(&node, "empty", "0000000057", "276", &legacy_file(&legacy));
    node.start();
    let mut c = node.connect();
    let got = c.get_all(b"empty");
    assert_eq!(got, [v1.clone(), legacy.clone()].concat());
    let mut keys: Vec<u64> = got.iter().map(|r| r.0).collect();
    keys.dedup();
    assert_eq!(keys.len(), 8);
    // A write into the short file's bucket starts it afresh as v1.
    put(&mut c, b"empty", &recs([0x5727_2abc], "fresh"));
    assert_eq!(
        c.get_range(b"empty", 0x5727_2000, 0x5727_2fff),
        recs([0x5727_2abc], "fresh")
    );
    let fresh = [v1_header(), v1_rec(0x5727_2abc, b"fresh 57272abc")].concat();
    assert_eq!(std::fs::read(&short).unwrap(), fresh);
}

#[test]
fn a_torn_last_record_ends_its_bucket_with_a_warning_naming_the_file() {
    let mut node = new_node(&[]);
    let first = recs((0..3).map(|i| 0x5727_5000 + i), "whole");
    // A v1 file whose last value is cut short, a legacy one whose last header is.
    let torn_value = {
        let mut f = v1_file(&first);
        let last = v1_rec(0x5727_5003, b"this value is cut");
        f.extend_from_slice(&last[..last.len() - 4]);
        f
    };
    let p1 = write_bucket(&node, "torn", "0000000057", "275", &torn_value);
    let second = recs((0..2).map(|i| 0x5727_6000 + i), "legacy");
    let mut torn_header = legacy_file(&second);
    torn_header.extend_from_slice(&legacy_rec(0x5727_6002, b"cut")[..10]);
    let p2 = write_bucket(&node, "torn", "0000000057", "276", &torn_header);
    let third = recs([0x5727_7000], "after");
    write_bucket(&node, "torn", "0000000057", "277", &v1_file(&third));
    node.start();
    let mut c = node.connect();
    assert_eq!(c.get_all(b"torn"), [first, second, third].concat());
    for (p, bytes) in [(&p1, &torn_value), (&p2, &torn_header)] {
        let name = p.display().to_string();
        assert!(
            node.wait_log(&name, 1, LOG_WAIT),
            "no warning names {name}: {}",
            node.root_log()
        );
        assert_eq!(&std::fs::read(p).unwrap(), bytes, "reading repairs nothing");
    }
    let log = node.root_log();
    assert!(
        log.lines()
            .any(|l| l.contains(" Warn ") && l.contains(&p1.display().to_string())),
        "{log}"
    );
    assert_eq!(
        c.channel_size(b"torn").0,
        6,
        "the sizes count what can be read"
    );
}

/// A torn tail with no crash behind it (no checkpoint.dat: a file copied in, a write cut by a
/// full disk): a record written after it must still be readable, and the torn one must not
/// come back completed with the new record's bytes.
#[test]
fn a_put_into_a_bucket_with_a_torn_tail_can_be_read_back() {
    let mut node = new_node(&[]);
    let first = recs((0..3).map(|i| 0x5727_5000 + i), "whole");
    let mut torn = v1_file(&first);
    let last = v1_rec(0x5727_5003, b"this value is cut");
    torn.extend_from_slice(&last[..last.len() - 4]);
    write_bucket(&node, "torn", "0000000057", "275", &torn);
    node.start();
    let mut c = node.connect();
    let new = recs([0x5727_5004], "acknowledged");
    put(&mut c, b"torn", &new);
    assert_eq!(c.get_all(b"torn"), [first.clone(), new.clone()].concat());
    // The cut bytes are kept beside the bucket, and the bucket is whole v1 records now.
    let slot = node.data().join("torn/0000000057");
    let kept: Vec<String> = std::fs::read_dir(&slot)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("275.cut-"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::read(slot.join(&kept[0])).unwrap(),
        &last[..last.len() - 4]
    );
    assert_eq!(
        parse_v1(&std::fs::read(slot.join("275")).unwrap()),
        [first, new].concat()
    );
}

/// A bucket whose parity fails in the middle: reads end there (the original's rule), and a
/// record written after the start is still read: the bucket is cut after its good records
/// first, the rest kept beside it.
#[test]
fn a_put_into_a_bucket_with_a_parity_failure_can_be_read_back() {
    let mut node = new_node(&[]);
    let good = recs((0..4).map(|i| 0x5727_5000 + i), "good");
    let after = recs((4..8).map(|i| 0x5727_5000 + i), "unreadable");
    let mut bytes = v1_file(&good);
    let broken_at = bytes.len();
    bytes.extend(v1_file(&after)[16..].iter());
    bytes[broken_at + 9] ^= 0xa0; // a length byte: the parity fails
    write_bucket(&node, "parity", "0000000057", "275", &bytes);
    node.start();
    let mut c = node.connect();
    assert_eq!(c.get_all(b"parity"), good, "reads end at the damage");
    let new = recs([0x5727_5010], "new");
    put(&mut c, b"parity", &new);
    assert_eq!(c.get_all(b"parity"), [good, new].concat());
    let slot = node.data().join("parity/0000000057");
    let kept = std::fs::read_dir(&slot)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("275.cut-")
        })
        .count();
    assert_eq!(kept, 1);
}

/// This file's own reader of a v1 bucket: the exact header, then records whose 17 header
/// bytes XOR to zero (the parity rule, said differently from [`parity`]), to the end.
fn parse_v1(bytes: &[u8]) -> Vec<Record> {
    assert_eq!(&bytes[..16], &hex(V1_HEADER)[..], "the v1 header");
    let mut out = Vec::new();
    let mut at = 16;
    while at < bytes.len() {
        let head = &bytes[at..at + 17];
        assert_eq!(head.iter().fold(0, |x, b| x ^ b), 0, "parity at {at}");
        let key = u64::from_le_bytes(head[..8].try_into().unwrap());
        let len = u64::from_le_bytes(head[8..16].try_into().unwrap()) as usize;
        assert_eq!(head[16], parity(key, len as u64));
        out.push((key, bytes[at + 17..at + 17 + len].to_vec()));
        at += 17 + len;
    }
    assert_eq!(at, bytes.len(), "no bytes after the last record");
    out
}

#[test]
fn files_the_node_writes_are_v1_with_a_parity_byte_per_record() {
    let mut node = start(&[]);
    let mut c = node.connect();
    let a = recs([0x5727_5806, 0x5727_5000, 0x5727_5806], "a");
    let b = recs([0x5727_6fff], "b");
    let far = recs([0x7fff_ffff_ffff_f123, u64::MAX], "far");
    let mut all = vec![a[0].clone(), b[0].clone(), far[0].clone(), a[1].clone()];
    all.extend([far[1].clone(), a[2].clone()]);
    put(&mut c, b"written", &all);
    node.stop();
    let ch = node.data().join("written");
    assert_eq!(
        parse_v1(&std::fs::read(ch.join("0000000057/275")).unwrap()),
        a
    );
    assert_eq!(
        parse_v1(&std::fs::read(ch.join("0000000057/276")).unwrap()),
        b
    );
    assert_eq!(
        parse_v1(&std::fs::read(ch.join("7fffffffff/fff")).unwrap()),
        far[..1].to_vec()
    );
    assert_eq!(
        parse_v1(&std::fs::read(ch.join("ffffffffff/fff")).unwrap()),
        far[1..].to_vec()
    );
    let mut slots = swarm_testkit::names(&ch);
    slots.retain(|n| !n.starts_with('.'));
    assert_eq!(slots, ["0000000057", "7fffffffff", "ffffffffff"]);
    assert_eq!(swarm_testkit::names(&ch.join("0000000057")), ["275", "276"]);
    assert!(
        !node.data().join("checkpoint.dat").exists(),
        "a clean stop removes it"
    );
}
