//! Fuzzes the `.tcm` reader: any bytes end in records, `Ok(None)` or a typed error, never a
//! panic or an allocation beyond the sanity limits; a file that reads completely is written
//! back identically up to its end marker when its keys are the writer's 16 lowercase digits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::tcm::{padding_len, TcmReader, TcmWriter, END_MARKER_LEN};
use swarm_protocol::{format_key, parse_key};

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = TcmReader::new(data) else { return };
    let mut records = Vec::new();
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => records.push((rec.key.to_vec(), rec.value.to_vec())),
            Ok(None) => break,
            Err(_) => return,
        }
    }
    let used = reader.bytes_read();
    assert!(used <= data.len() as u64);
    let canonical = records.iter().all(|(k, _)| {
        parse_key(k).is_ok_and(|key| format_key(key) == k[..])
    });
    if canonical {
        let mut w = TcmWriter::new(Vec::new()).unwrap();
        for (k, v) in &records {
            w.write_record(parse_key(k).unwrap(), v).unwrap();
        }
        let (bytes, len) = w.finish().unwrap();
        assert_eq!(len, used + padding_len(used));
        assert_eq!(&bytes[..used as usize], &data[..used as usize]);
        assert!(used >= END_MARKER_LEN);
    }
});
