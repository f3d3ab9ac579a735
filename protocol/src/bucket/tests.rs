//! Bucket file tests: byte layouts written by hand from the spec (legacy file, legacy append,
//! v1 append, parity fine and broken), empty and under-header files, a record cut at every
//! byte, lengths too large to allocate, and a round trip.

use super::*;
use proptest::prelude::*;

/// A v1 record by hand: key, length, parity, value.
fn v1_record(key: u64, value: &[u8], parity: u8) -> Vec<u8> {
    let mut b = key.to_le_bytes().to_vec();
    b.extend_from_slice(&(value.len() as u64).to_le_bytes());
    b.push(parity);
    b.extend_from_slice(value);
    b
}

/// A legacy record by hand: key, length, value.
fn legacy_record(key: u64, value: &[u8]) -> Vec<u8> {
    let mut b = key.to_le_bytes().to_vec();
    b.extend_from_slice(&(value.len() as u64).to_le_bytes());
    b.extend_from_slice(value);
    b
}

const V1_HEADER: [u8; 16] = [
    0x01, 0, 0, 0, 0, 0, 0, 0, 0x44, 0x4c, 0x53, 0x42, 0x55, 0x43, 0x4b, 0x54,
];

/// The records of a file, as (key, value) pairs.
type Records = Vec<(u64, Vec<u8>)>;

fn read_all(bytes: &[u8]) -> Result<(Records, BucketEnd), BucketError> {
    let mut r = BucketReader::open(bytes, bytes.len() as u64)?;
    let mut got = Vec::new();
    while let Some(rec) = r.next_record()? {
        got.push((rec.key, rec.value.to_vec()));
    }
    let end = r.end().expect("an end after None");
    assert_eq!(r.next_record().unwrap(), None, "stays ended");
    Ok((got, end))
}

#[test]
fn parity_of_the_spec_example() {
    // Test data parity-fine: key 0x5727545c, length 11 -> 's'.
    assert_eq!(parity(0x5727_545c, 11), 0x73);
    assert!(parity_ok(0x5727_545c, 11, 0x73));
    assert!(!parity_ok(0x5727_545c, 11, 0x72));
}

#[test]
fn v1_file_with_parity_fine() {
    let mut file = V1_HEADER.to_vec();
    file.extend(v1_record(0x5727_545c, b"hello world", 0x73));
    file.extend(v1_record(0x5727_545d, b"x", parity(0x5727_545d, 1)));
    let (got, end) = read_all(&file).unwrap();
    assert_eq!(
        got,
        vec![
            (0x5727_545c, b"hello world".to_vec()),
            (0x5727_545d, b"x".to_vec())
        ]
    );
    assert_eq!(end.reason, EndReason::Complete);
    assert_eq!((end.offset, end.records), (file.len() as u64, 2));
}

#[test]
fn v1_parity_broken_ends_the_file_at_the_last_good_record() {
    let mut file = V1_HEADER.to_vec();
    file.extend(v1_record(1, b"good", parity(1, 4)));
    let good_end = file.len() as u64;
    file.extend(v1_record(2, b"bad!", parity(2, 4) ^ 0x01));
    file.extend(v1_record(3, b"unseen", parity(3, 6)));
    let (got, end) = read_all(&file).unwrap();
    assert_eq!(got, vec![(1, b"good".to_vec())]);
    assert_eq!(
        end.reason,
        EndReason::Parity {
            key: 2,
            len: 4,
            parity: parity(2, 4) ^ 0x01
        }
    );
    assert_eq!((end.offset, end.records), (good_end, 1));
}

#[test]
fn legacy_file_reads_from_byte_zero() {
    let mut file = legacy_record(0x5727_5806, b"first");
    file.extend(legacy_record(0x5727_5000, b"second, out of key order"));
    let (got, end) = read_all(&file).unwrap();
    assert_eq!(
        got,
        vec![
            (0x5727_5806, b"first".to_vec()),
            (0x5727_5000, b"second, out of key order".to_vec())
        ]
    );
    assert_eq!(end.reason, EndReason::Complete);
    assert_eq!(end.offset, file.len() as u64);
    let r = BucketReader::open(&file[..], file.len() as u64).unwrap();
    assert_eq!(r.format(), BucketFormat::Legacy);
    assert_eq!(r.offset(), 0);
}

#[test]
fn legacy_append_stays_legacy() {
    let mut file = legacy_record(7, b"old");
    let mut head = [0u8; 16];
    head.copy_from_slice(&file[..16]);
    let format = BucketFormat::detect(&head).unwrap();
    assert_eq!(format, BucketFormat::Legacy);
    let mut w = BucketWriter::append(&mut file, format);
    assert_eq!(w.write_record(8, b"new").unwrap(), 19);
    let mut expect = legacy_record(7, b"old");
    expect.extend(legacy_record(8, b"new"));
    assert_eq!(file, expect);
    let (got, _) = read_all(&file).unwrap();
    assert_eq!(got, vec![(7, b"old".to_vec()), (8, b"new".to_vec())]);
}

#[test]
fn v1_create_and_append() {
    let mut file = Vec::new();
    let mut w = BucketWriter::create(&mut file).unwrap();
    assert_eq!(w.write_record(0x5727_545c, b"hello world").unwrap(), 28);
    let mut expect = V1_HEADER.to_vec();
    expect.extend(v1_record(0x5727_545c, b"hello world", 0x73));
    assert_eq!(file, expect);
    let mut head = [0u8; 16];
    head.copy_from_slice(&file[..16]);
    let format = BucketFormat::detect(&head).unwrap();
    assert_eq!(format, BucketFormat::V1);
    BucketWriter::append(&mut file, format)
        .write_record(u64::MAX, b"z")
        .unwrap();
    expect.extend(v1_record(u64::MAX, b"z", parity(u64::MAX, 1)));
    assert_eq!(file, expect);
}

#[test]
fn version_0_has_the_header_and_legacy_records() {
    let mut file = V1_HEADER.to_vec();
    file[0] = 0;
    file.extend(legacy_record(5, b"v0"));
    let (got, end) = read_all(&file).unwrap();
    assert_eq!(got, vec![(5, b"v0".to_vec())]);
    assert_eq!(end.offset, file.len() as u64);
}

#[test]
fn unknown_version_is_refused() {
    let mut head = V1_HEADER;
    head[0] = 2;
    assert!(matches!(
        BucketFormat::detect(&head),
        Err(BucketError::UnknownVersion(2))
    ));
    assert!(matches!(
        read_all(&head),
        Err(BucketError::UnknownVersion(2))
    ));
}

#[test]
fn empty_and_under_header_files_are_absent() {
    for len in 0..HEADER_LEN as usize {
        assert!(
            matches!(read_all(&V1_HEADER[..len]), Err(BucketError::TooShort { len: l }) if l == len as u64),
            "{len}"
        );
    }
    // A header alone is an empty, complete file.
    let (got, end) = read_all(&V1_HEADER).unwrap();
    assert!(got.is_empty());
    assert_eq!((end.reason, end.offset), (EndReason::Complete, 16));
}

/// Every cut of a file ends after the last whole record before the cut, never panicking.
fn check_every_cut(file: &[u8], record_ends: &[u64], start: u64) {
    for cut in 0..=file.len() {
        let part = &file[..cut];
        let Ok((got, end)) = read_all(part) else {
            assert!(cut < 16, "cut {cut}");
            continue;
        };
        let whole = record_ends.iter().filter(|&&e| e <= cut as u64).count();
        assert_eq!(got.len(), whole, "cut {cut}");
        let expect_off = record_ends[..whole].last().copied().unwrap_or(start);
        assert_eq!(end.offset, expect_off, "cut {cut}");
        assert_eq!(end.reason == EndReason::Complete, expect_off == cut as u64);
        if end.reason != EndReason::Complete {
            assert!(matches!(
                end.reason,
                EndReason::TornHeader { .. } | EndReason::TornValue { .. }
            ));
        }
    }
}

#[test]
fn v1_record_cut_at_every_byte() {
    let mut file = V1_HEADER.to_vec();
    let mut ends = Vec::new();
    for (k, v) in [(1u64, &b"abc"[..]), (2, b"defgh"), (3, b"i")] {
        file.extend(v1_record(k, v, parity(k, v.len() as u64)));
        ends.push(file.len() as u64);
    }
    check_every_cut(&file, &ends, 16);
}

#[test]
fn legacy_record_cut_at_every_byte() {
    let mut file = Vec::new();
    let mut ends = Vec::new();
    for (k, v) in [(1u64, &b"abc"[..]), (2, b"defgh"), (3, b"i")] {
        file.extend(legacy_record(k, v));
        ends.push(file.len() as u64);
    }
    check_every_cut(&file, &ends, 0);
}

#[test]
fn huge_length_is_torn_without_allocating() {
    let mut file = V1_HEADER.to_vec();
    file.extend(v1_record(1, b"", parity(1, u64::MAX)));
    file[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    let (got, end) = read_all(&file).unwrap();
    assert!(got.is_empty());
    assert_eq!(
        end.reason,
        EndReason::TornValue {
            key: 1,
            len: u64::MAX
        }
    );
    // A file length that lies (the stream is shorter): a length over the limit is refused
    // before any allocation, and one under it is torn at the bytes that arrived.
    let len = 1u64 << 40;
    let mut file = V1_HEADER.to_vec();
    file.extend(v1_record(1, b"", parity(1, len)));
    file[24..32].copy_from_slice(&len.to_le_bytes());
    let mut r = BucketReader::open(&file[..], u64::MAX).unwrap();
    assert_eq!(r.next_record().unwrap(), None);
    assert_eq!(r.end().unwrap().reason, EndReason::TooLong { key: 1, len });
    file[24..32].copy_from_slice(&100u64.to_le_bytes());
    file[32] = parity(1, 100);
    file.extend_from_slice(b"only a few bytes");
    let mut r = BucketReader::open(&file[..], u64::MAX).unwrap();
    assert_eq!(r.next_record().unwrap(), None);
    assert_eq!(
        r.end().unwrap().reason,
        EndReason::TornValue { key: 1, len: 100 }
    );
    let mut one = V1_HEADER.to_vec();
    one.extend(v1_record(1, b"abc", parity(1, 3)));
    let mut r = BucketReader::open(&one[..], 1 << 40).unwrap();
    assert!(r.next_record().unwrap().is_some());
    assert_eq!(r.next_record().unwrap(), None);
    assert!(matches!(
        r.end().unwrap().reason,
        EndReason::TornHeader { .. }
    ));
}

#[test]
fn over_the_value_limit_is_too_long() {
    let len = MAX_VALUE_LEN + 1;
    let mut file = legacy_record(9, b"");
    file[8..16].copy_from_slice(&len.to_le_bytes());
    file.resize(16 + len as usize, 0);
    let (got, end) = read_all(&file).unwrap();
    assert!(got.is_empty());
    assert_eq!(end.reason, EndReason::TooLong { key: 9, len });
    assert_eq!(end.offset, 0);
}

#[test]
fn empty_value_at_the_end_is_not_read() {
    let mut file = V1_HEADER.to_vec();
    file.extend(v1_record(4, b"", parity(4, 0)));
    file.extend(v1_record(5, b"last", parity(5, 4)));
    file.extend(v1_record(6, b"", parity(6, 0)));
    let (got, end) = read_all(&file).unwrap();
    assert_eq!(got, vec![(4, vec![]), (5, b"last".to_vec())]);
    assert_eq!(end.reason, EndReason::EmptyAtEnd { key: 6 });
    assert_eq!(end.offset, file.len() as u64 - 17);
}

#[test]
fn writer_refuses_empty_and_oversized_values() {
    let mut file = Vec::new();
    let mut w = BucketWriter::create(&mut file).unwrap();
    assert!(w.write_record(1, b"").is_err());
    let big = vec![0u8; MAX_VALUE_LEN as usize + 1];
    assert!(w.write_record(1, &big).is_err());
    assert_eq!(file, V1_HEADER);
}

proptest! {
    #[test]
    fn round_trip(
        legacy: bool,
        records in proptest::collection::vec(
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 1..40)),
            0..20
        ),
    ) {
        let mut file = Vec::new();
        let mut w = if legacy {
            BucketWriter::append(&mut file, BucketFormat::Legacy)
        } else {
            BucketWriter::create(&mut file).unwrap()
        };
        for (k, v) in &records {
            w.write_record(*k, v).unwrap();
        }
        if file.len() < 16 {
            // An empty legacy file: nothing to read.
            prop_assert!(records.is_empty());
            return Ok(());
        }
        let (got, end) = read_all(&file).unwrap();
        prop_assert_eq!(got, records);
        prop_assert_eq!(end.reason, EndReason::Complete);
        prop_assert_eq!(end.offset, file.len() as u64);
    }
}

#[test]
fn format_for_append() {
    assert_eq!(BucketFormat::for_append(b"").unwrap(), None);
    for len in 1..16 {
        assert!(matches!(
            BucketFormat::for_append(&V1_HEADER[..len]),
            Err(BucketError::TooShort { .. })
        ));
    }
    let mut file = V1_HEADER.to_vec();
    assert_eq!(
        BucketFormat::for_append(&file).unwrap(),
        Some(BucketFormat::V1)
    );
    file.extend(v1_record(1, b"a", parity(1, 1)));
    assert_eq!(
        BucketFormat::for_append(&file).unwrap(),
        Some(BucketFormat::V1)
    );
    let legacy = legacy_record(1, b"a");
    assert_eq!(
        BucketFormat::for_append(&legacy).unwrap(),
        Some(BucketFormat::Legacy)
    );
}
