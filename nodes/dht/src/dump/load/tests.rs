//! Unit tests of the load rules and the directory scan, on files written by hand.

use super::scan::load_data_dir;
use super::*;
use crate::storage::Storage;
use std::fs;
use swarm_protocol::tcm::TcmWriter;

fn rules() -> LoadRules {
    LoadRules {
        range: HashRange::FULL,
        batch_size: 100,
        out_of_range: OutOfRange::Load,
        abort_after_all_out_of_range: 10_000,
    }
}

/// A file of raw records (key bytes as given), complete (with padding) unless `torn`.
use swarm_testkit::raw_tcm as raw_file;

fn good_file(records: &[(u64, &[u8])]) -> Vec<u8> {
    let mut w = TcmWriter::new(Vec::new()).unwrap();
    for (k, v) in records {
        w.write_record(*k, v).unwrap();
    }
    w.finish().unwrap().0
}

fn load_bytes(bytes: &[u8], rules: &LoadRules) -> (Result<Counts, LoadError>, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.tcm");
    fs::write(&path, bytes).unwrap();
    let mut s = Storage::new(0);
    let r = load_channel(&path, b"c", rules, &mut s);
    (r, s)
}

#[test]
fn keys_hex_or_binary_bad_ones_counted() {
    let bin = 0x1234u64.to_le_bytes();
    let file = raw_file(
        &[
            (b"0000000000000001", b"a"),
            (b"00000000000000FF", b"b"),
            (&bin, b"c"),
            (b"0000000000000001x", b"d"),
            (b"/000000000000001", b"e"),
            (b"1", b"f"),
        ],
        false,
    );
    let (r, s) = load_bytes(&file, &rules());
    let c = r.unwrap();
    assert_eq!((c.read, c.loaded, c.invalid_keys), (6, 3, 3));
    assert_eq!(s.get(b"c", 1), Some(&b"a"[..]));
    assert_eq!(s.get(b"c", 0xff), Some(&b"b"[..]));
    assert_eq!(s.get(b"c", 0x1234), Some(&b"c"[..]));
}

#[test]
fn empty_and_too_large_values_skipped() {
    let big = [7u8; 101];
    let max = [7u8; 100];
    let file = good_file(&[(1, b""), (2, &big), (3, &max), (4, b"x")]);
    let (r, s) = load_bytes(&file, &rules());
    let c = r.unwrap();
    assert_eq!((c.empty_values, c.too_large_values, c.loaded), (1, 1, 2));
    assert_eq!(s.get(b"c", 3), Some(&max[..]));
    assert_eq!(s.get(b"c", 2), None);
}

#[test]
fn out_of_range_per_mode() {
    // Range of bit-reversed keys [0, 1]: only key 0 and key 1<<63 are in it.
    let file = good_file(&[(0, b"in"), (1, b"out"), (2, b"out")]);
    let mut r = rules();
    r.range = HashRange::new(0, 1).unwrap();
    let (res, s) = load_bytes(&file, &r);
    assert_eq!(res.unwrap().out_of_range, 2);
    assert_eq!(
        s.channel(b"c").unwrap().data.records(),
        3,
        "load mode loads them"
    );

    r.out_of_range = OutOfRange::Ignore;
    let (res, s) = load_bytes(&file, &r);
    let c = res.unwrap();
    assert_eq!((c.out_of_range, c.loaded), (2, 1));
    assert_eq!(s.get(b"c", 1), None);

    r.out_of_range = OutOfRange::Fatal;
    let (res, _) = load_bytes(&file, &r);
    match res {
        Err(LoadError::Fatal(why)) => assert!(why.contains("0000000000000001"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn all_out_of_range_aborts_only_when_every_record_was() {
    let mut r = rules();
    r.range = HashRange::new(0, 1).unwrap();
    r.abort_after_all_out_of_range = 2;
    let all_out = good_file(&[(1, b"a"), (2, b"b"), (3, b"c")]);
    match load_bytes(&all_out, &r).0 {
        Err(LoadError::Fatal(why)) => {
            assert!(why.contains("All records appear to be out-of-range"))
        }
        other => panic!("{other:?}"),
    }
    // Exactly the limit is not "more than" it.
    let two = good_file(&[(1, b"a"), (2, b"b")]);
    assert!(load_bytes(&two, &r).0.is_ok());
    let first_in = good_file(&[(0, b"in"), (1, b"a"), (2, b"b"), (3, b"c")]);
    assert!(load_bytes(&first_in, &r).0.is_ok());
    r.abort_after_all_out_of_range = 0;
    assert!(load_bytes(&all_out, &r).0.is_ok(), "0 disables the guard");
}

#[test]
fn torn_and_other_version_files_are_file_errors() {
    let (r, _) = load_bytes(&raw_file(&[(b"0000000000000001", b"a")], true), &rules());
    assert!(matches!(
        r,
        Err(LoadError::File(TcmError::Truncated { .. }))
    ));
    let (r, _) = load_bytes(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &rules());
    assert!(matches!(
        r,
        Err(LoadError::File(TcmError::UnsupportedVersion(1)))
    ));
}

fn names(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn scan_falls_back_to_the_backup_and_keeps_the_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("a.tcm"),
        raw_file(&[(b"0000000000000001", b"new")], true),
    )
    .unwrap();
    fs::write(
        d.join("a.tcm.backup"),
        good_file(&[(1, b"old"), (2, b"old")]),
    )
    .unwrap();
    fs::write(d.join("b.tcm"), good_file(&[(5, b"b")])).unwrap();
    fs::write(d.join("b.tcm.backup"), good_file(&[(6, b"stale")])).unwrap();
    fs::write(d.join("c.tcm.backup"), good_file(&[(7, b"lone")])).unwrap();
    fs::write(d.join("d.tcm"), raw_file(&[], true)).unwrap();
    fs::write(d.join("e.tcm"), b"").unwrap();
    fs::write(
        d.join("f.tcm.ABCDEF.dumping"),
        good_file(&[(8, b"unfinished")]),
    )
    .unwrap();
    fs::write(d.join("notes.txt"), b"hello").unwrap();
    fs::create_dir(d.join("deleted")).unwrap();
    fs::write(d.join("deleted").join("g.tcm"), good_file(&[(9, b"gone")])).unwrap();
    fs::create_dir(d.join("h.tcm")).unwrap();

    let mut s = Storage::new(0);
    load_data_dir(d, &rules(), &mut s).unwrap();
    assert_eq!(s.channel_names(), [&b"a"[..], b"b", b"c", b"d"]);
    assert_eq!(
        s.get(b"a", 1),
        Some(&b"old"[..]),
        "torn a.tcm: backup loaded"
    );
    assert_eq!(s.get(b"b", 5), Some(&b"b"[..]));
    assert_eq!(s.get(b"b", 6), None, "a good .tcm wins over its backup");
    assert_eq!(
        s.get(b"c", 7),
        Some(&b"lone"[..]),
        "a backup without .tcm is loaded"
    );
    assert_eq!(
        s.channel(b"d").unwrap().data.records(),
        0,
        "torn, no backup: empty"
    );
    let after = names(d);
    assert!(
        after.iter().any(|n| n.starts_with("a.tcm.torn-")),
        "{after:?}"
    );
    assert!(
        after.iter().any(|n| n.starts_with("d.tcm.torn-")),
        "{after:?}"
    );
    assert!(
        after.contains(&"a.tcm.backup".to_string()),
        "the good backup stays"
    );
    assert!(
        after.contains(&"e.tcm".to_string()),
        "a lone empty file stays"
    );
    assert!(!after.contains(&"a.tcm".to_string()));
    assert!(
        !after.contains(&"f.tcm.ABCDEF.dumping".to_string()),
        "a crashed dump's temp file is deleted"
    );
}

#[test]
fn scan_sets_an_empty_tcm_aside_when_its_backup_loads() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(d.join("a.tcm"), b"").unwrap();
    fs::write(d.join("a.tcm.backup"), good_file(&[(1, b"old")])).unwrap();
    let mut s = Storage::new(0);
    load_data_dir(d, &rules(), &mut s).unwrap();
    assert_eq!(s.get(b"a", 1), Some(&b"old"[..]));
    let after = names(d);
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(after[1].starts_with("a.tcm.torn-"), "{after:?}");
}

#[test]
fn scan_refuses_to_start_on_fatal_records() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a.tcm"), good_file(&[(1, b"x")])).unwrap();
    let mut r = rules();
    r.range = HashRange::new(0, 0).unwrap();
    r.out_of_range = OutOfRange::Fatal;
    let e = load_data_dir(dir.path(), &r, &mut Storage::new(0)).unwrap_err();
    assert!(e.to_string().contains("out-of-range"), "{e}");
}

/// Files whose length is a poor guess of their record count load exactly as any other, and
/// the index ends sized for what was loaded.
mod poor_guesses {
    use super::*;
    use crate::storage::index::Index;

    fn big_rules() -> LoadRules {
        LoadRules {
            batch_size: 4 << 20,
            ..rules()
        }
    }

    fn index_capacity(s: &Storage) -> usize {
        s.channel(b"c").unwrap().data.index_capacity()
    }

    /// A complete file of `records` (key bytes as given).
    fn owned_file(records: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let refs: Vec<(&[u8], &[u8])> = records
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_slice()))
            .collect();
        raw_file(&refs, false)
    }

    fn hex_key(k: u64) -> Vec<u8> {
        format!("{k:016x}").into_bytes()
    }

    #[test]
    fn small_records_then_a_few_huge_values() {
        // The sample sees 33-byte records: the guess is ~30x too many; the index shrinks back.
        let huge = vec![7u8; 3 << 20];
        let mut records: Vec<(Vec<u8>, Vec<u8>)> = (0..5000u64)
            .map(|k| (hex_key(k), vec![k as u8 | 1]))
            .collect();
        for k in 5000..5003u64 {
            records.push((hex_key(k), huge.clone()));
        }
        let (r, s) = load_bytes(&owned_file(&records), &big_rules());
        let c = r.unwrap();
        assert_eq!((c.read, c.loaded), (5003, 5003));
        for k in 0..5000u64 {
            assert_eq!(s.get(b"c", k), Some(&[k as u8 | 1][..]));
        }
        assert_eq!(s.get(b"c", 5002), Some(&huge[..]));
        assert_eq!(index_capacity(&s), Index::capacity_for(5003));
    }

    #[test]
    fn a_few_huge_values_then_many_small_records() {
        // The sample's mean is huge: far too few guessed; the index grows as usual.
        let huge = vec![9u8; 1 << 20];
        let mut records: Vec<(Vec<u8>, Vec<u8>)> =
            (0..8u64).map(|k| (hex_key(k), huge.clone())).collect();
        records.extend((8..200_000u64).map(|k| (hex_key(k), k.to_le_bytes().to_vec())));
        let (r, s) = load_bytes(&owned_file(&records), &big_rules());
        assert_eq!(r.unwrap().loaded, 200_000);
        assert_eq!(s.get(b"c", 3), Some(&huge[..]));
        for k in 8..200_000u64 {
            assert_eq!(s.get(b"c", k), Some(&k.to_le_bytes()[..]), "key {k}");
        }
    }

    #[test]
    fn millions_of_empty_values_are_dropped_and_reserve_nothing_lasting() {
        // 2 M empty values (24 bytes each with 8-byte keys) around 10 real records.
        let mut records: Vec<(Vec<u8>, Vec<u8>)> = (0..2_000_000u64)
            .map(|k| (k.to_le_bytes().to_vec(), Vec::new()))
            .collect();
        for k in 0..10u64 {
            records.push((((1u64 << 40) + k).to_le_bytes().to_vec(), b"v".to_vec()));
        }
        let (r, s) = load_bytes(&owned_file(&records), &big_rules());
        let c = r.unwrap();
        assert_eq!(
            (c.read, c.loaded, c.empty_values),
            (2_000_010, 10, 2_000_000)
        );
        assert_eq!(s.get(b"c", (1 << 40) + 9), Some(&b"v"[..]));
        assert_eq!(s.get(b"c", 5), None);
        assert_eq!(index_capacity(&s), Index::capacity_for(10));
    }

    #[test]
    fn a_million_tiny_values_load_exactly_into_an_index_of_their_size() {
        // 34 to 36 bytes a record: the smallest non-empty values a hex-keyed file can hold.
        let value = |k: u64| -> Vec<u8> { k.to_le_bytes()[..1 + (k % 3) as usize].to_vec() };
        let records: Vec<(Vec<u8>, Vec<u8>)> = (0..1_000_000u64)
            .map(|k| (hex_key(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)), value(k)))
            .collect();
        let (r, s) = load_bytes(&owned_file(&records), &big_rules());
        let c = r.unwrap();
        assert_eq!((c.read, c.loaded), (1_000_000, 1_000_000));
        assert_eq!(s.channel(b"c").unwrap().data.records(), 1_000_000);
        for k in 0..1_000_000u64 {
            let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(s.get(b"c", key), Some(&value(k)[..]), "key {k}");
        }
        assert_eq!(index_capacity(&s), Index::capacity_for(1_000_000));
    }

    #[test]
    fn binary_keys_of_eight_bytes() {
        let records: Vec<(Vec<u8>, Vec<u8>)> = (0..50_000u64)
            .map(|k| {
                let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                (
                    key.to_le_bytes().to_vec(),
                    vec![b'x'; 1 + (k % 64) as usize],
                )
            })
            .collect();
        let (r, s) = load_bytes(&owned_file(&records), &big_rules());
        assert_eq!(r.unwrap().loaded, 50_000);
        for k in 0..50_000u64 {
            let key = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(
                s.get(b"c", key).map(<[u8]>::len),
                Some(1 + (k % 64) as usize)
            );
        }
        // The guess was right: no doubling beyond the capacity growth would have reached.
        assert_eq!(index_capacity(&s), Index::capacity_for(50_000));
    }
}

#[test]
fn a_file_large_enough_for_the_prefault_helper_loads_every_value() {
    // 560,000 records of 120 bytes: a 75 MB file, so the values land in chunks the helper
    // thread faulted in (files of 64 MiB and more).
    let value = |k: u64| -> Vec<u8> { (0..120u64).map(|i| (k ^ i) as u8).collect() };
    let records: Vec<(u64, Vec<u8>)> = (0..560_000u64).map(|k| (k, value(k))).collect();
    let refs: Vec<(u64, &[u8])> = records.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let file = good_file(&refs);
    assert!(file.len() >= 64 << 20);
    let big = LoadRules {
        batch_size: 1024,
        ..rules()
    };
    let (r, s) = load_bytes(&file, &big);
    assert_eq!(r.unwrap().loaded, 560_000);
    for (k, v) in &records {
        assert_eq!(s.get(b"c", *k), Some(v.as_slice()), "key {k}");
    }
}
