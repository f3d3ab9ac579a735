//! Checks of the file readers: `.tcm` (dht dumps), `.rq` (queue dumps), logfiles bucket files
//! and `checkpoint.dat`. Each reads any bytes to records, a clean end or a typed error, and a
//! file that reads to its end is written back to the same bytes by the matching writer.

use swarm_logfiles::checkpoint;
use swarm_protocol::bucket::{
    encode_header, encode_record, BucketFormat, BucketReader, EndReason, MAX_VALUE_LEN,
};
use swarm_protocol::rq::{write_rq, RqReader, RqWriter, HEADER_LEN, MAX_RECORD_LEN};
use swarm_protocol::tcm::{padding_len, TcmReader, TcmWriter, END_MARKER_LEN};
use swarm_protocol::{format_key, parse_key};

/// `.tcm` reader: any bytes end in records, `Ok(None)` or a typed error; a file that reads
/// completely is written back identically up to its end marker when its keys are the writer's
/// 16 lowercase digits.
pub fn tcm_reader(data: &[u8]) {
    let Ok(mut reader) = TcmReader::new(data) else {
        return;
    };
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
    tcm_appended_agrees(data, &records, used);
    let canonical = records
        .iter()
        .all(|(k, _)| parse_key(k).is_ok_and(|key| format_key(key) == k[..]));
    if canonical {
        let mut w = TcmWriter::new(Vec::new()).expect("a Vec takes the header");
        for (k, v) in &records {
            let key = parse_key(k).expect("checked canonical");
            w.write_record(key, v)
                .expect("a record that was read re-writes");
        }
        let (bytes, len) = w.finish().expect("a Vec takes the end marker");
        assert_eq!(len, used + padding_len(used));
        assert_eq!(&bytes[..used as usize], &data[..used as usize]);
        assert!(used >= END_MARKER_LEN);
    }
}

/// `TcmReader::append_record` (the dht load's reader) reads the records `next_record` read
/// from a file that reads to its end, consuming the same bytes.
fn tcm_appended_agrees(data: &[u8], records: &[(Vec<u8>, Vec<u8>)], used: u64) {
    let mut reader = TcmReader::new(data).expect("the header read before");
    let mut buf = Vec::new();
    let mut at = 0;
    for (k, v) in records {
        let lens = reader.append_record(&mut buf).expect("next_record read it");
        assert_eq!(lens, Some((k.len(), v.len())));
        assert_eq!(&buf[at..at + k.len()], &k[..]);
        assert_eq!(&buf[at + k.len()..], &v[..]);
        at = buf.len();
    }
    assert!(matches!(reader.append_record(&mut buf), Ok(None)));
    assert_eq!(reader.bytes_read(), used);
}

/// `.rq` reader: never a record over the limit or past the data length, and a file that reads
/// to its end re-writes to the same bytes (up to its data), record by record and as encoded data
/// (`RqWriter::write_encoded`, as the queue node's dump writes a ring's memory); encoded bytes
/// that are not whole records are refused, not written.
pub fn rq_reader(data: &[u8]) {
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
}

/// Bucket file reader: never a value over the limit, an end offset that is the sum of the
/// records read, and a file that reads to its end re-writes to the same bytes in its own format
/// (v1 with the header and parity, legacy without). The first byte picks a file length that
/// lies (longer than the bytes) to cover a stream that ends early.
pub fn bucket_reader(data: &[u8]) {
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
}

/// `checkpoint.dat` parser (the logfiles node reads it at start to cut buckets): any bytes give
/// entries or an error naming a line of the input; parsed entries encode to a file that parses
/// to the same entries, and that encoding is stable.
pub fn checkpoint_reader(data: &[u8]) {
    match checkpoint::parse(data) {
        Ok(entries) => {
            let lines = data
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count();
            assert_eq!(entries.len(), lines);
            let text = checkpoint::encode(&entries);
            let again = checkpoint::parse(&text).expect("an encoded checkpoint parses");
            assert_eq!(again, entries);
            assert_eq!(checkpoint::encode(&again), text);
        }
        Err(e) => {
            let lines = data.split(|&b| b == b'\n').count();
            assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}", e.line);
            assert!(e.text.len() <= 200 * 3, "the quoted line is bounded");
            assert!(!e.to_string().is_empty());
        }
    }
}
