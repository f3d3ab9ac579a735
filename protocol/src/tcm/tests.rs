//! Golden-bytes and property tests of the `.tcm` reader and writer.

use super::*;
use proptest::prelude::*;

fn write_file(records: &[(u64, &[u8])]) -> Vec<u8> {
    let mut w = TcmWriter::new(Vec::new()).unwrap();
    for (k, v) in records {
        w.write_record(*k, v).unwrap();
    }
    let (bytes, len) = w.finish().unwrap();
    assert_eq!(bytes.len() as u64, len);
    bytes
}

/// A record read back: key bytes, value.
type Owned = (Vec<u8>, Vec<u8>);

/// Every record through [`TcmReader::next_record`], checked against what
/// [`TcmReader::append_record`] reads from the same bytes, whole and a few bytes a read.
fn read_all(bytes: &[u8]) -> Result<Vec<Owned>, TcmError> {
    let by_record = read_records(bytes);
    for appended in [append_all(bytes), append_all(Trickle(bytes))] {
        assert_eq!(format!("{appended:?}"), format!("{by_record:?}"));
    }
    by_record
}

fn read_records(bytes: &[u8]) -> Result<Vec<Owned>, TcmError> {
    let mut r = TcmReader::new(bytes)?;
    let mut out = Vec::new();
    while let Some(rec) = r.next_record()? {
        out.push((rec.key.to_vec(), rec.value.to_vec()));
    }
    Ok(out)
}

/// The records [`TcmReader::append_record`] appends to one buffer, split at their lengths.
fn append_all(src: impl Read) -> Result<Vec<Owned>, TcmError> {
    let mut r = TcmReader::new(src)?;
    let mut buf = b"kept".to_vec();
    let mut lens = Vec::new();
    while let Some(l) = r.append_record(&mut buf)? {
        lens.push(l);
    }
    assert_eq!(&buf[..4], b"kept", "appends after what the buffer held");
    let mut at = 4;
    let mut out = Vec::new();
    for (k, v) in lens {
        out.push((buf[at..at + k].to_vec(), buf[at + k..at + k + v].to_vec()));
        at += k + v;
    }
    assert_eq!(at, buf.len());
    Ok(out)
}

/// A stream that hands out at most 7 bytes a read: fields and values span buffer refills.
struct Trickle<'a>(&'a [u8]);

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out.len().min(7).min(self.0.len());
        out[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// The one-record file, byte by byte.
fn one_record_golden() -> Vec<u8> {
    let mut g = Vec::new();
    g.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // version 0
    g.extend_from_slice(&[16, 0, 0, 0, 0, 0, 0, 0]); // key length
    g.extend_from_slice(b"0123456789abcdef"); // key
    g.extend_from_slice(&[5, 0, 0, 0, 0, 0, 0, 0]); // value length
    g.extend_from_slice(b"hello"); // value
    g.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]); // end marker
    assert_eq!(g.len(), 53);
    g.resize(512, 0); // padding
    g
}

#[test]
fn empty_channel_file_is_512_zero_bytes() {
    let bytes = write_file(&[]);
    assert_eq!(bytes, vec![0u8; 512]);
    assert_eq!(read_all(&bytes).unwrap(), vec![]);
}

#[test]
fn one_record_file_exact_bytes() {
    let bytes = write_file(&[(0x0123_4567_89ab_cdef, b"hello")]);
    assert_eq!(bytes, one_record_golden());
    assert_eq!(
        read_all(&bytes).unwrap(),
        vec![(b"0123456789abcdef".to_vec(), b"hello".to_vec())]
    );
}

#[test]
fn padding_reaches_the_next_block_exactly() {
    // 8 + 32 + 456 + 8 = 504 -> 8 bytes of padding; 8 + 32 + 464 + 8 = 512 -> none.
    assert_eq!(write_file(&[(1, &[7; 456])]).len(), 512);
    assert_eq!(write_file(&[(1, &[7; 464])]).len(), 512);
    assert_eq!(write_file(&[(1, &[7; 465])]).len(), 1024);
    assert_eq!(padding_len(512), 0);
    assert_eq!(padding_len(513), 511);
}

#[test]
fn encoded_chunks_equal_written_records() {
    let mut chunk = Vec::new();
    encode_record(&mut chunk, 0x0123_4567_89ab_cdef, b"hello");
    assert_eq!(chunk.len(), record_len(5));
    let mut w = TcmWriter::new(Vec::new()).unwrap();
    w.write_encoded(&chunk, 1).unwrap();
    assert_eq!((w.records(), w.bytes_written()), (1, 45));
    assert_eq!(w.finish().unwrap().0, one_record_golden());
}

#[test]
fn unsupported_versions_are_refused() {
    let mut bytes = one_record_golden();
    bytes[0] = 1;
    assert!(matches!(
        TcmReader::new(&bytes[..]),
        Err(TcmError::UnsupportedVersion(1))
    ));
    // The pre-versioning format began with a record count.
    let old = [3u8, 0, 0, 0, 0, 0, 0, 0, 16];
    let e = TcmReader::new(&old[..]).unwrap_err();
    assert!(matches!(e, TcmError::UnsupportedVersion(3)));
    assert!(
        e.to_string()
            .contains("unsupported dump file format version 3"),
        "{e}"
    );
    let foreign = TcmError::UnsupportedVersion(u64::from_le_bytes(*b"#!/bin/s"));
    assert!(
        foreign.to_string().starts_with("not a .tcm dump file"),
        "{foreign}"
    );
    assert!(e.to_string().contains("version 3"), "{e}");
}

#[test]
fn truncated_at_every_offset_before_the_end_marker() {
    let full = write_file(&[(1, b"a"), (2, b""), (3, b"ccc")]);
    let marker_end = 8 + record_len(1) + record_len(0) + record_len(3) + 8;
    for cut in 0..marker_end {
        let e = read_all(&full[..cut]).unwrap_err();
        assert!(
            matches!(e, TcmError::Truncated { offset } if offset == cut as u64),
            "cut at {cut}: {e:?}"
        );
    }
    // Padding is not needed: a file cut anywhere after the marker reads completely.
    for cut in marker_end..=full.len() {
        assert_eq!(read_all(&full[..cut]).unwrap().len(), 3, "cut at {cut}");
    }
}

#[test]
fn absurd_lengths_are_corrupt_not_allocations() {
    let mut bytes = vec![0u8; 8];
    bytes.extend_from_slice(&2000u64.to_le_bytes());
    let e = read_all(&bytes).unwrap_err();
    assert!(
        matches!(
            e,
            TcmError::Corrupt {
                offset: 8,
                field: "key length",
                len: 2000
            }
        ),
        "{e:?}"
    );

    let mut bytes = vec![0u8; 8];
    bytes.extend_from_slice(&16u64.to_le_bytes());
    bytes.extend_from_slice(b"0000000000000001");
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(
        read_all(&bytes),
        Err(TcmError::Corrupt { offset: 32, .. })
    ));

    // A plausible but unbacked length is a torn file, found without allocating it up front.
    let mut bytes = vec![0u8; 8];
    bytes.extend_from_slice(&16u64.to_le_bytes());
    bytes.extend_from_slice(b"0000000000000001");
    bytes.extend_from_slice(&MAX_VALUE_LEN.to_le_bytes());
    bytes.extend_from_slice(b"short");
    assert!(matches!(
        read_all(&bytes),
        Err(TcmError::Truncated { offset: 45 })
    ));
}

#[test]
fn reader_stops_at_the_marker_and_stays_there() {
    let mut bytes = write_file(&[(5, b"v")]);
    bytes.extend_from_slice(b"garbage after the padding is never read");
    let mut r = TcmReader::new(&bytes[..]).unwrap();
    assert!(r.next_record().unwrap().is_some());
    assert!(r.next_record().unwrap().is_none());
    assert!(r.next_record().unwrap().is_none());
    assert_eq!((r.records_read(), r.bytes_read()), (1, 8 + 33 + 8));
}

#[test]
fn dump_keys_hex_or_eight_binary_bytes() {
    assert_eq!(parse_dump_key(b"00000000000000ab"), Some(0xab));
    assert_eq!(parse_dump_key(b"00000000000000AB"), Some(0xab));
    assert_eq!(parse_dump_key(&0xabu64.to_le_bytes()), Some(0xab));
    assert_eq!(
        parse_dump_key(b"12345678"),
        Some(u64::from_le_bytes(*b"12345678"))
    );
    for bad in [&b""[..], b"0", b"000000000000000g", b"00000000000000abc"] {
        assert_eq!(parse_dump_key(bad), None, "{bad:?}");
    }
}

#[test]
fn errors_display_what_happened() {
    let t = TcmError::Truncated { offset: 77 }.to_string();
    assert!(t.contains("77") && t.contains("end marker"), "{t}");
    let io = TcmError::Io(io::Error::other("disk on fire")).to_string();
    assert!(io.contains("disk on fire"), "{io}");
}

proptest! {
    #[test]
    fn write_then_read_roundtrip(records in prop::collection::vec(
        (any::<u64>(), prop::collection::vec(any::<u8>(), 0..600)), 0..40)
    ) {
        let refs: Vec<(u64, &[u8])> = records.iter().map(|(k, v)| (*k, &v[..])).collect();
        let bytes = write_file(&refs);
        prop_assert_eq!(bytes.len() % 512, 0);
        let back = read_all(&bytes).unwrap();
        prop_assert_eq!(back.len(), records.len());
        for ((k, v), (rk, rv)) in records.iter().zip(back) {
            prop_assert_eq!(parse_dump_key(&rk), Some(*k));
            prop_assert_eq!(&rk[..], &format_key(*k)[..]);
            prop_assert_eq!(&rv, v);
        }
    }
}

proptest! {
    #[test]
    fn dump_keys_agree_with_wire_keys(
        raw in prop::collection::vec(
            prop::sample::select(b"0123456789abcdefABCDEFgx/:@`G ".to_vec()), 16),
    ) {
        prop_assert_eq!(parse_dump_key(&raw), crate::parse_key(&raw).ok());
    }
}
