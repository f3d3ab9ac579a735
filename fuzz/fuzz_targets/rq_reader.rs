//! Fuzzes the `.rq` reader: never a panic, never a record over the limit or past the data
//! length, and a file that reads to its end re-writes to the same bytes (up to its data).
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::rq::{write_rq, RqReader, HEADER_LEN, MAX_RECORD_LEN};

fuzz_target!(|data: &[u8]| {
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
});
