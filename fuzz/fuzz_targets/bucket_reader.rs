//! Fuzzes the bucket file reader: never a panic, never a value over the limit, an end offset
//! that is the sum of the records read, and a file that reads to its end re-writes to the same
//! bytes in its own format (v1 with the header and parity, legacy without). The first byte picks
//! a file length that lies (longer than the bytes) to cover a stream that ends early.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::bucket::{
    encode_header, encode_record, BucketFormat, BucketReader, EndReason, MAX_VALUE_LEN,
};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, file)) = data.split_first() else {
        return;
    };
    let file_len = if pick & 1 == 0 {
        file.len() as u64
    } else {
        u64::MAX
    };
    let Ok(mut reader) = BucketReader::open(file, file_len) else {
        return;
    };
    let format = reader.format();
    let mut out = Vec::new();
    if format != BucketFormat::Legacy {
        // The header as it was (version 0 or 1).
        out.extend_from_slice(&file[..16]);
    }
    let mut records = 0u64;
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                assert!(rec.value.len() as u64 <= MAX_VALUE_LEN);
                encode_record(format, rec.key, rec.value, &mut out);
                records += 1;
            }
            Ok(None) => break,
            Err(e) => panic!("a slice never fails to read: {e}"),
        }
    }
    let end = reader.end().expect("an end after None");
    assert_eq!(end.records, records);
    assert_eq!(end.offset, out.len() as u64);
    assert_eq!(&out[..], &file[..out.len()]);
    if end.reason == EndReason::Complete {
        assert_eq!(out.len(), file.len());
    }
    if format == BucketFormat::V1 {
        let mut head = Vec::new();
        encode_header(&mut head);
        assert_eq!(&head[..], &file[..16]);
    }
});
