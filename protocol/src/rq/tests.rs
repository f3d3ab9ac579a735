//! `.rq` tests: the fixture bytes, round trips, every torn cut, counts that disagree with the
//! data, and length prefixes too large to allocate.

use super::*;
use proptest::prelude::*;

fn read_all(bytes: &[u8]) -> (Vec<Vec<u8>>, Result<(), RqError>) {
    let mut got = Vec::new();
    let mut r = match RqReader::new(bytes) {
        Ok(r) => r,
        Err(e) => return (got, Err(e)),
    };
    loop {
        match r.next_record() {
            Ok(Some(rec)) => got.push(rec.to_vec()),
            Ok(None) => return (got, Ok(())),
            Err(e) => return (got, Err(e)),
        }
    }
}

#[test]
fn dmqnode_fixture_ch2() {
    let mut expect = vec![
        1, 0, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0,
    ];
    expect.extend_from_slice(b"Hello ch2!");
    let mut out = Vec::new();
    assert_eq!(write_rq(&mut out, &[b"Hello ch2!"]).unwrap(), 30);
    assert_eq!(out, expect);
    let (got, end) = read_all(&expect);
    assert!(end.is_ok());
    assert_eq!(got, vec![b"Hello ch2!".to_vec()]);
}

#[test]
fn empty_file_is_a_header_only() {
    let mut out = Vec::new();
    write_rq(&mut out, &[]).unwrap();
    assert_eq!(out, [0u8; 12]);
    assert_eq!(read_all(&out).0.len(), 0);
    assert!(read_all(&out).1.is_ok());
}

#[test]
fn torn_at_every_cut_stops_at_the_last_complete_record() {
    let records: [&[u8]; 3] = [b"a", b"bcd", b"efghij"];
    let mut out = Vec::new();
    write_rq(&mut out, &records).unwrap();
    let ends = [12u64, 12 + 9, 12 + 9 + 11, 12 + 9 + 11 + 14];
    for cut in 0..out.len() {
        let (got, end) = read_all(&out[..cut]);
        let complete = ends.iter().rposition(|&e| e <= cut as u64).unwrap_or(0);
        let bytes = if cut < 12 { 0 } else { ends[complete] };
        match end {
            Err(RqError::Truncated { records, bytes: b }) => {
                assert_eq!(records as usize, got.len(), "cut {cut}");
                assert_eq!(got.len(), if cut < 12 { 0 } else { complete });
                assert_eq!(b, bytes, "cut {cut}");
            }
            other => panic!("cut {cut}: {other:?}"),
        }
    }
}

fn header(count: u32, data_len: u64) -> Vec<u8> {
    let mut out = count.to_le_bytes().to_vec();
    out.extend_from_slice(&data_len.to_le_bytes());
    out
}

fn record(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

#[test]
fn count_that_disagrees_with_the_records() {
    // Count 1, but the data holds two records.
    let mut more = header(1, 18);
    more.extend(record(b"x"));
    more.extend(record(b"y"));
    let (got, end) = read_all(&more);
    assert_eq!(got.len(), 1);
    assert!(matches!(
        end,
        Err(RqError::CountMismatch {
            count: 1,
            records: 1,
            left: 9
        })
    ));
    // Count 3, but the data ends after two.
    let mut fewer = header(3, 18);
    fewer.extend(record(b"x"));
    fewer.extend(record(b"y"));
    let (got, end) = read_all(&fewer);
    assert_eq!(got.len(), 2);
    assert!(matches!(
        end,
        Err(RqError::CountMismatch {
            count: 3,
            records: 2,
            left: 0
        })
    ));
    // Data length not tiled by the headers: 3 bytes left, no room for a header.
    let mut odd = header(2, 12);
    odd.extend(record(b"x"));
    odd.extend([0, 0, 0]);
    assert!(matches!(
        read_all(&odd).1,
        Err(RqError::CountMismatch { left: 3, .. })
    ));
}

#[test]
fn oversized_length_prefix_is_refused_without_allocating() {
    for len in [MAX_RECORD_LEN + 1, u64::MAX, u64::MAX - 7] {
        let mut bad = header(1, u64::MAX);
        bad.extend(len.to_le_bytes());
        assert!(matches!(
            read_all(&bad).1,
            Err(RqError::Corrupt { offset: 12, len: l }) if l == len
        ));
    }
    // Within the limit but past the data length.
    let mut past = header(1, 9);
    past.extend(record(b"xy"));
    assert!(matches!(
        read_all(&past).1,
        Err(RqError::Corrupt { offset: 12, len: 2 })
    ));
    // Within both limits, but the file ends: torn, with a small buffer only.
    let mut torn = header(1, MAX_RECORD_LEN + 8);
    torn.extend(MAX_RECORD_LEN.to_le_bytes());
    torn.extend(b"abc");
    let mut r = RqReader::new(&torn[..]).unwrap();
    assert!(matches!(
        r.next_record(),
        Err(RqError::Truncated {
            records: 0,
            bytes: 12
        })
    ));
    assert!(
        r.buf.capacity() < 1024 * 1024,
        "no allocation of the announced length"
    );
}

#[test]
fn writer_refuses_what_the_header_did_not_announce() {
    let mut out = Vec::new();
    let mut w = RqWriter::new(&mut out, 1, 9).unwrap();
    assert!(w.write_record(b"ab").is_err(), "past the data length");
    w.write_record(b"a").unwrap();
    assert!(w.write_record(b"b").is_err(), "past the count");
    assert_eq!(w.finish().unwrap().1, 21);
    let w = RqWriter::new(Vec::new(), 2, 18).unwrap();
    assert!(w.finish().is_err(), "records missing");
}

#[test]
fn encoded_bytes_are_written_as_they_are_and_counted() {
    let (a, b) = (record(b"Hello"), record(b"ch2!"));
    let mut two = a.clone();
    two.extend(&b);
    let mut expect = Vec::new();
    write_rq(&mut expect, &[b"Hello", b"ch2!", b""]).unwrap();
    let mut out = Vec::new();
    let mut w = RqWriter::new(&mut out, 3, expect.len() as u64 - HEADER_LEN).unwrap();
    assert_eq!(w.write_encoded(&two).unwrap(), 2);
    assert_eq!(w.write_encoded(&[]).unwrap(), 0);
    assert_eq!(w.write_encoded(&record(b"")).unwrap(), 1);
    assert_eq!(w.finish().unwrap().1, expect.len() as u64);
    assert_eq!(out, expect);
}

#[test]
fn encoded_bytes_that_are_not_whole_records_are_refused_unwritten() {
    let whole = record(b"abc");
    for cut in 1..whole.len() {
        let mut out = Vec::new();
        let mut w = RqWriter::new(&mut out, 1, whole.len() as u64).unwrap();
        assert!(w.write_encoded(&whole[..cut]).is_err(), "cut {cut}");
        assert_eq!(
            w.write_encoded(&whole).unwrap(),
            1,
            "nothing of the cut went out"
        );
        w.finish().unwrap();
        assert_eq!(out[12..], whole[..]);
    }
    let mut w = RqWriter::new(Vec::new(), 1, 100).unwrap();
    let mut two = whole.clone();
    two.extend(&whole);
    assert!(w.write_encoded(&two).is_err(), "past the count");
    let mut w = RqWriter::new(Vec::new(), 5, 12).unwrap();
    assert!(w.write_encoded(&two).is_err(), "past the data length");
    let huge = u64::MAX.to_le_bytes();
    assert!(w.write_encoded(&huge).is_err(), "length beyond the bytes");
}

#[test]
fn trailing_bytes_after_the_data_are_not_read() {
    let mut out = Vec::new();
    write_rq(&mut out, &[b"a"]).unwrap();
    out.extend(b"junk");
    let (got, end) = read_all(&out);
    assert!(end.is_ok());
    assert_eq!(got, vec![b"a".to_vec()]);
}

proptest! {
    #[test]
    fn roundtrip(records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..20)) {
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut out = Vec::new();
        let len = write_rq(&mut out, &refs).unwrap();
        prop_assert_eq!(len, out.len() as u64);
        let (got, end) = read_all(&out);
        prop_assert!(end.is_ok());
        prop_assert_eq!(got, records);
    }

    #[test]
    fn encoded_split_anywhere_between_records_writes_the_same_file(
        records in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..50), 0..20),
        split in any::<proptest::sample::Index>(),
    ) {
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut expect = Vec::new();
        write_rq(&mut expect, &refs).unwrap();
        let data = &expect[HEADER_LEN as usize..];
        // Cut the data at a record boundary, as a wrapped ring's two slices are.
        let at = split.index(records.len() + 1);
        let cut: usize = records[..at].iter().map(|r| 8 + r.len()).sum();
        let mut out = Vec::new();
        let mut w = RqWriter::new(&mut out, records.len() as u32, data.len() as u64).unwrap();
        let n = w.write_encoded(&data[..cut]).unwrap() + w.write_encoded(&data[cut..]).unwrap();
        prop_assert_eq!(n, records.len() as u64);
        w.finish().unwrap();
        prop_assert_eq!(out, expect);
    }
}
