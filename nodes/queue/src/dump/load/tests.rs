//! Load tests: the spec's hand-made file, torn files cut at every byte, inconsistent headers,
//! the names that are loaded, left or deleted, and errors that must stop the start.

use super::*;
use crate::config::ChannelSizes;
use crate::dump::tests::names;
use crate::storage::QueueStore;
use swarm_protocol::rq::write_rq;

fn store(capacity: usize) -> MemoryStore {
    MemoryStore::new(ChannelSizes::new(capacity), 0)
}

fn drain(store: &mut MemoryStore, channel: &[u8]) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| store.pop(channel).map(<[u8]>::to_vec)).collect()
}

fn rq(records: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    write_rq(&mut out, records).unwrap();
    out
}

fn header(count: u32, data_len: u64) -> Vec<u8> {
    let mut out = count.to_le_bytes().to_vec();
    out.extend(data_len.to_le_bytes());
    out
}

fn record(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
    out.extend(bytes);
    out
}

/// Loads `files` (name, content) from a fresh directory into a store of 1000-byte rings.
fn load(files: &[(&str, &[u8])]) -> (tempfile::TempDir, MemoryStore, LoadReport) {
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        fs::write(dir.path().join(name), content).unwrap();
    }
    let mut s = store(1000);
    let report = load_data_dir(dir.path(), &mut s).unwrap();
    (dir, s, report)
}

#[test]
fn a_hand_made_file_in_the_spec_format_loads_and_is_deleted() {
    let mut fixture = vec![1, 0, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0];
    fixture.extend([0x0a, 0, 0, 0, 0, 0, 0, 0]);
    fixture.extend(b"Hello ch2!");
    let (dir, mut s, report) = load(&[("ch2.rq", &fixture)]);
    assert_eq!((report.channels, report.records, report.bytes), (1, 1, 18));
    assert!(report.torn.is_empty());
    assert!(names(dir.path()).is_empty(), "loaded files are deleted");
    assert_eq!(drain(&mut s, b"ch2"), [b"Hello ch2!".to_vec()]);
}

#[test]
fn a_file_torn_at_any_byte_keeps_its_complete_records_and_is_set_aside() {
    let whole = rq(&[b"a", b"bcd", b"efghij"]);
    let ends = [12, 12 + 9, 12 + 9 + 11, 12 + 9 + 11 + 14];
    assert_eq!(whole.len(), ends[3]);
    for cut in 0..whole.len() {
        let (dir, mut s, report) = load(&[("ch.rq", &whole[..cut])]);
        let complete = if cut < 12 {
            0
        } else {
            ends.iter().filter(|&&e| e <= cut).count() - 1
        };
        let expect: Vec<Vec<u8>> = [&b"a"[..], b"bcd", b"efghij"][..complete]
            .iter()
            .map(|r| r.to_vec())
            .collect();
        assert_eq!(report.records, complete as u64, "cut {cut}");
        assert_eq!(report.channels, 1, "cut {cut}: the channel exists");
        assert_eq!(
            s.channel_size(b"ch").map(|z| z.records),
            Some(complete as u64)
        );
        assert_eq!(drain(&mut s, b"ch"), expect, "cut {cut}");
        let left = names(dir.path());
        assert_eq!(left.len(), 1, "cut {cut}: {left:?}");
        assert!(left[0].starts_with("ch.rq.torn-"), "cut {cut}: {left:?}");
        assert_eq!(report.torn, [dir.path().join(&left[0])]);
        assert_eq!(
            fs::read(&report.torn[0]).unwrap(),
            &whole[..cut],
            "kept as it was"
        );
        // Never loaded again.
        let again = load_data_dir(dir.path(), &mut store(1000)).unwrap();
        assert_eq!((again.channels, again.records), (0, 0), "cut {cut}");
    }
    let (dir, mut s, report) = load(&[("ch.rq", &whole)]);
    assert_eq!((report.records, report.torn.len()), (3, 0));
    assert_eq!(drain(&mut s, b"ch").len(), 3);
    assert!(names(dir.path()).is_empty());
}

#[test]
fn counts_and_lengths_that_disagree_keep_the_records_before_the_fault() {
    let two = [record(b"one"), record(b"two")].concat();
    let corrupt = [
        record(b"one"),
        u64::MAX.to_le_bytes().to_vec(),
        b"x".to_vec(),
    ]
    .concat();
    let cases: [(&str, Vec<u8>, usize); 4] = [
        (
            "count above the data",
            [header(5, two.len() as u64), two.clone()].concat(),
            2,
        ),
        (
            "count below the data",
            [header(1, two.len() as u64), two.clone()].concat(),
            1,
        ),
        (
            "length past the data",
            [header(2, corrupt.len() as u64), corrupt].concat(),
            1,
        ),
        // Claims about 9 EB: nothing of that size is allocated.
        (
            "data length past the file",
            [header(2, u64::MAX / 2), two.clone()].concat(),
            2,
        ),
    ];
    for (what, file, records) in cases {
        let (dir, mut s, report) = load(&[("ch.rq", &file)]);
        assert_eq!(report.records, records as u64, "{what}");
        assert_eq!(drain(&mut s, b"ch").len(), records, "{what}");
        assert_eq!(report.torn.len(), 1, "{what}");
        assert_eq!(names(dir.path()).len(), 1, "{what}");
    }
}

#[test]
fn empty_files() {
    // 0 bytes: no header, set aside; the channel exists, empty.
    let (dir, s, report) = load(&[("zero.rq", b"")]);
    assert_eq!(
        (report.channels, report.records, report.torn.len()),
        (1, 0, 1)
    );
    assert_eq!(s.channel_size(b"zero").map(|z| z.records), Some(0));
    assert!(names(dir.path())[0].starts_with("zero.rq.torn-"));
    // A whole header of no records: a valid empty channel, deleted as loaded.
    let (dir, s, report) = load(&[("none.rq", &rq(&[]))]);
    assert_eq!((report.channels, report.torn.len()), (1, 0));
    assert_eq!(s.channel_size(b"none").map(|z| z.records), Some(0));
    assert!(names(dir.path()).is_empty());
}

#[test]
fn bytes_after_the_data_are_ignored() {
    let file = [rq(&[b"a"]), b"junk".to_vec()].concat();
    let (dir, mut s, report) = load(&[("ch.rq", &file)]);
    assert_eq!((report.records, report.torn.len()), (1, 0));
    assert_eq!(drain(&mut s, b"ch"), [b"a".to_vec()]);
    assert!(names(dir.path()).is_empty());
}

#[test]
fn names_that_are_loaded_and_names_that_are_left() {
    let one = rq(&[b"plain"]);
    let legacy = rq(&[b"legacy"]);
    let (dir, mut s, report) = load(&[
        ("both.rq", &one),
        ("@both.rq", &legacy),
        ("@only.rq", &legacy),
        ("sub1@ch1.rq", &one),
        ("a.b.rq", &one),
        (".rq", &one),
        ("ch@.rq", &one),
    ]);
    assert_eq!((report.channels, report.records), (2, 2));
    assert_eq!(drain(&mut s, b"both"), [b"plain".to_vec()]);
    assert_eq!(drain(&mut s, b"only"), [b"legacy".to_vec()]);
    assert_eq!(
        names(dir.path()),
        [".rq", "@both.rq", "a.b.rq", "ch@.rq", "sub1@ch1.rq"],
        "only the loaded files are deleted"
    );
}

#[test]
fn leftover_temp_files_are_deleted_and_other_files_left() {
    let (dir, s, report) = load(&[
        ("ch.rq.aB3dE9.dumping", b"partial"),
        ("ch.tcm.aB3dE9.dumping", b"not ours"),
        ("notes.dumping", b"x"),
        ("ch.rq.torn-1700000000", &rq(&[b"old"])),
        ("overflow.dat", b"QDSKOF01"),
        ("ofchannels.csv", b"ch1 1 10 50 50\n"),
        ("node.lock", b"123\n"),
        ("notes.txt", b""),
    ]);
    fs::create_dir(dir.path().join("sub.rq")).unwrap();
    assert_eq!((report.channels, report.records), (0, 0));
    assert!(s.channel_names().is_empty());
    assert_eq!(
        names(dir.path()),
        [
            "ch.rq.torn-1700000000",
            "ch.tcm.aB3dE9.dumping",
            "node.lock",
            "notes.dumping",
            "notes.txt",
            "ofchannels.csv",
            "overflow.dat",
            "sub.rq"
        ]
    );
    let again = load_data_dir(dir.path(), &mut store(10)).unwrap();
    assert_eq!(again.channels, 0, "a directory named .rq is not loaded");
}

#[test]
fn a_dump_larger_than_the_configured_ring_loads_into_a_ring_of_its_size() {
    let records: Vec<Vec<u8>> = (0..10u8).map(|i| vec![i; 12]).collect();
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("big.rq"), rq(&refs)).unwrap();
    let mut s = store(50);
    let report = load_data_dir(dir.path(), &mut s).unwrap();
    assert_eq!((report.records, report.bytes), (10, 200));
    assert_eq!(s.ring(b"big").map(|r| r.capacity()), Some(200));
    assert_eq!(drain(&mut s, b"big"), records);
    s.push(b"big", &[7; 100]).unwrap();
    assert_eq!(
        drain(&mut s, b"big"),
        [vec![7; 100]],
        "the ring keeps its size"
    );
}

#[test]
fn a_dump_that_cannot_be_read_stops_the_start_and_deletes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.rq"), rq(&[b"a"])).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("b.rq")).unwrap();
    let err = load_data_dir(dir.path(), &mut store(100)).unwrap_err();
    assert!(err.to_string().contains("b.rq"), "{err}");
    assert_eq!(names(dir.path()), ["a.rq", "b.rq"]);
}

#[test]
fn a_channel_the_store_has_already_is_an_error_and_its_file_stays() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.rq"), rq(&[b"a"])).unwrap();
    let mut s = store(100);
    s.push(b"a", b"before").unwrap();
    let err = load_data_dir(dir.path(), &mut s).unwrap_err();
    assert!(err.to_string().contains("a.rq"), "{err}");
    assert_eq!(names(dir.path()), ["a.rq"]);
}

#[test]
fn a_missing_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("nope");
    let err = load_data_dir(&gone, &mut store(100)).unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
