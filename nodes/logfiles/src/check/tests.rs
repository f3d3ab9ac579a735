//! Checks and repairs of files with injected faults; the repaired files read to the end.

use super::*;
use crate::storage::scan::RangeScan;
use crate::storage::write::ChannelWriter;
use swarm_protocol::bucket::path::bucket_path;

/// A data dir with one channel and three v1 records in bucket 0x1000.
fn fixture() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let mut w = ChannelWriter::new(4096);
    let ch = dir.path().join("ch");
    for (k, v) in [
        (0x1000u64, &b"one"[..]),
        (0x1001, b"two"),
        (0x1002, b"three"),
    ] {
        w.put_now(dir.path(), &ch, k, v).unwrap();
    }
    w.close_all().unwrap();
    let file = dir.path().join(bucket_path("ch", 0x1000));
    (dir, file)
}

fn check(file: &Path) -> FileReport {
    check_file(file, range_of(file)).unwrap()
}

fn scan_keys(dir: &Path) -> Vec<u64> {
    let mut s = RangeScan::new(&dir.join("ch"), 0, u64::MAX, 0).unwrap();
    let (mut keys, mut v) = (Vec::new(), Vec::new());
    while let Some(k) = s.next_into(&mut v).unwrap() {
        keys.push(k);
    }
    keys
}

/// Offsets in the fixture: header 16, records of 17 + 3, 17 + 3, 17 + 5.
const SECOND: u64 = 16 + 20;
const THIRD: u64 = 16 + 40;

#[test]
fn a_sound_file_is_sound_and_left_alone() {
    let (_dir, file) = fixture();
    let r = check(&file);
    assert_eq!(
        (r.records, r.fault.clone(), r.good_len, r.len),
        (3, None, 78, 78)
    );
    assert_eq!(r.format, Some(BucketFormat::V1));
    assert_eq!(repair(&r).unwrap(), None);
}

#[test]
fn every_injected_fault_is_found_and_the_repair_reads_to_the_end() {
    type Inject = fn(&mut Vec<u8>);
    let cases: [(&str, Inject, u64, u64); 5] = [
        ("parity", |b| b[SECOND as usize + 16] ^= 1, SECOND, 1),
        ("length", |b| b[THIRD as usize + 8] = 0xff, THIRD, 2),
        ("cut", |b| b.truncate(THIRD as usize + 20), THIRD, 2),
        ("key", |b| b[SECOND as usize + 3] = 0x77, SECOND, 1),
        ("header", |b| b.truncate(b.len() - 1), THIRD, 2),
    ];
    for (name, inject, good, records) in cases {
        let (dir, file) = fixture();
        let mut bytes = fs::read(&file).unwrap();
        inject(&mut bytes);
        if name == "key" {
            // A key moved to another bucket, with its parity fixed: only the path check sees it.
            let key = u64::from_le_bytes(bytes[SECOND as usize..][..8].try_into().unwrap());
            bytes[SECOND as usize + 16] = swarm_protocol::bucket::parity(key, 3);
        }
        fs::write(&file, &bytes).unwrap();
        let r = check(&file);
        assert!(r.fault.is_some(), "{name}: not found");
        assert_eq!(
            (r.good_len, r.records),
            (good, records),
            "{name}: {:?}",
            r.fault
        );
        let tail = repair(&r).unwrap().expect("repaired");
        assert_eq!(
            fs::read(&tail).unwrap(),
            bytes[good as usize..],
            "{name}: tail kept"
        );
        assert_eq!(
            fs::read(&file).unwrap(),
            bytes[..good as usize],
            "{name}: cut"
        );
        let again = check(&file);
        assert_eq!(again.fault, None, "{name}: sound after repair");
        assert_eq!(
            scan_keys(dir.path()).len() as u64,
            records,
            "{name}: the node reads it"
        );
        assert_eq!(
            &fs::read(&file).unwrap()[8..16],
            b"DLSBUCKT",
            "{name}: header kept"
        );
    }
}

#[test]
fn unknown_versions_and_short_files_are_never_cut() {
    let (_dir, file) = fixture();
    let mut bytes = fs::read(&file).unwrap();
    bytes[0] = 7;
    fs::write(&file, &bytes).unwrap();
    let r = check(&file);
    assert_eq!(r.fault, Some(Fault::UnknownVersion(7)));
    assert_eq!(repair(&r).unwrap(), None);
    assert_eq!(fs::read(&file).unwrap(), bytes);
    fs::write(&file, b"short").unwrap();
    let r = check(&file);
    assert_eq!((r.fault.clone(), r.format), (None, None));
    assert_eq!(repair(&r).unwrap(), None);
}

#[test]
fn a_file_changed_since_its_check_is_not_repaired() {
    let (_dir, file) = fixture();
    let mut bytes = fs::read(&file).unwrap();
    bytes.truncate(THIRD as usize + 3);
    fs::write(&file, &bytes).unwrap();
    let r = check(&file);
    fs::write(&file, [&bytes[..], b"more"].concat()).unwrap();
    assert!(repair(&r).is_err());
}

#[test]
fn bucket_files_of_a_data_dir_a_channel_and_a_file() {
    let (dir, file) = fixture();
    let mut w = ChannelWriter::new(64);
    w.put_now(dir.path(), &dir.path().join("other"), 0x0100_0000, b"x")
        .unwrap();
    w.close_all().unwrap();
    fs::write(dir.path().join("checkpoint.dat"), b"").unwrap();
    fs::write(format!("{}.cut-1", file.display()), b"tail").unwrap();
    let all = bucket_files(dir.path()).unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(
        bucket_files(&dir.path().join("ch")).unwrap(),
        vec![file.clone()]
    );
    assert_eq!(bucket_files(&file).unwrap(), [file]);
}
