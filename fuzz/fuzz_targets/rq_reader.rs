//! Fuzzes the `.rq` reader: never a panic, never a record over the limit or past the data
//! length, and a file that reads to its end re-writes to the same bytes (up to its data),
//! record by record and as encoded data (`RqWriter::write_encoded`, as the queue node's dump
//! writes a ring's memory); encoded bytes that are not whole records are refused, not written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::rq::{write_rq, RqReader, RqWriter, HEADER_LEN, MAX_RECORD_LEN};

fuzz_target!(|data: &[u8]| {
    // Any bytes as encoded records: written whole, or refused with nothing written.
    let mut sink = Vec::new();
    let mut w = RqWriter::new(&mut sink, u32::MAX, u64::MAX).expect("a Vec takes the header");
    if w.write_encoded(data).is_err() {
        assert_eq!(sink.len() as u64, HEADER_LEN);
    }
    let Ok(mut reader) = RqReader::new(data) else {
        return;
    };
    let data_len = reader.data_len();
    let mut records = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                assert!(rec.len() as u64 <= MAX_RECORD_LEN);
                records.push(rec.to_vec());
            }
            Ok(None) => break,
            Err(_) => return,
        }
    }
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let mut out = Vec::new();
    let len = write_rq(&mut out, &refs).expect("a read file re-writes");
    assert_eq!(len, HEADER_LEN + data_len);
    assert_eq!(&out[..], &data[..out.len()]);
    let mut encoded = Vec::new();
    let mut w = RqWriter::new(&mut encoded, records.len() as u32, data_len).expect("header");
    let n = w
        .write_encoded(&out[HEADER_LEN as usize..])
        .expect("whole records");
    assert_eq!(n, records.len() as u64);
    w.finish().expect("all announced");
    assert_eq!(encoded, out);
});
