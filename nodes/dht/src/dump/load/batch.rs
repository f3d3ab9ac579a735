//! Records read a batch ahead of their inserts, so that the index lines their puts will probe
//! are fetched from memory together instead of one after another.
//!
//! Each put first looks its key up in the channel's index (the key may already have a record),
//! and in an index larger than the caches that lookup is a miss: the largest single cost of a
//! load (docs/BENCHMARKS.md). Reading [`MAX_RECORDS`] records first, parsing their keys and
//! prefetching the index line of each lets those misses overlap; the records then go through
//! the load rules one by one, in file order, exactly as they would without the batch. A read
//! error met while filling a batch is kept until the records read before it were handled, so a
//! record that stops the node still does so before a torn tail is noticed, as in a plain loop.

use crate::storage::Storage;
use std::io::Read;
use std::ops::Range;
use swarm_protocol::tcm::{parse_dump_key, TcmError, TcmReader};

/// Records in a batch: enough misses in flight to keep the memory busy, few enough that their
/// index lines are still in the cache when the inserts reach them.
pub(super) const MAX_RECORDS: usize = 32;
/// Key and value bytes after which a batch is closed early, so that large values do not make
/// the batch's buffer large (it holds at most this plus one record).
const MAX_BYTES: usize = 256 * 1024;
/// Capacity above which the buffer is given back after a batch of large values.
const KEEP_BYTES: usize = 1024 * 1024;

/// One record of the batch.
#[derive(Debug)]
struct Pending {
    /// The key as [`parse_dump_key`] reads it; `None` for an invalid key.
    key: Option<u64>,
    /// Where the raw key and the value are in the batch's buffer.
    raw_key: Range<usize>,
    value: Range<usize>,
    /// File bytes consumed once this record was read.
    offset: u64,
}

/// One record handed back by [`Batch::records`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Record<'a> {
    /// The parsed key (`None`: invalid) and the raw key bytes, for the log line of a bad one.
    pub key: Option<u64>,
    pub raw_key: &'a [u8],
    pub value: &'a [u8],
    /// File bytes consumed up to the end of this record.
    pub offset: u64,
}

/// How the reading of a batch ended.
#[derive(Debug)]
pub(super) enum Stop {
    /// The batch is full; more records may follow.
    Full,
    /// The file's end marker was read.
    End,
    /// The file cannot be read further; the batch holds the records before the failure.
    Failed(TcmError),
}

/// The reused buffers of a load's batches.
#[derive(Debug, Default)]
pub(super) struct Batch {
    bytes: Vec<u8>,
    records: Vec<Pending>,
}

impl Batch {
    /// Reads the next batch of records from `reader`, replacing the previous one.
    pub(super) fn fill<R: Read>(&mut self, reader: &mut TcmReader<R>) -> Stop {
        if self.bytes.capacity() > KEEP_BYTES {
            self.bytes = Vec::new();
        }
        self.bytes.clear();
        self.records.clear();
        while self.records.len() < MAX_RECORDS && self.bytes.len() < MAX_BYTES {
            let at = self.bytes.len();
            let (key_len, value_len) = match reader.append_record(&mut self.bytes) {
                Ok(Some(lens)) => lens,
                Ok(None) => return Stop::End,
                Err(e) => return Stop::Failed(e),
            };
            let split = at + key_len;
            self.records.push(Pending {
                key: parse_dump_key(&self.bytes[at..split]),
                raw_key: at..split,
                value: split..split + value_len,
                offset: reader.bytes_read(),
            });
        }
        Stop::Full
    }

    /// Asks the CPU to fetch the index lines each valid key of the batch will probe in
    /// `channel` (which exists: the load created it).
    pub(super) fn prefetch(&self, storage: &Storage, channel: &[u8]) {
        let Some(ch) = storage.slot_of(channel).and_then(|s| storage.channel_at(s)) else {
            return;
        };
        for key in self.records.iter().filter_map(|p| p.key) {
            ch.prefetch_insert(key);
        }
    }

    /// The batch's records in file order.
    pub(super) fn records(&self) -> impl Iterator<Item = Record<'_>> {
        self.records.iter().map(|p| Record {
            key: p.key,
            raw_key: &self.bytes[p.raw_key.clone()],
            value: &self.bytes[p.value.clone()],
            offset: p.offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_protocol::tcm::TcmWriter;

    fn reader(bytes: &[u8]) -> TcmReader<&[u8]> {
        TcmReader::new(bytes).unwrap()
    }

    #[test]
    fn batches_hold_every_record_in_order_then_the_end() {
        let mut w = TcmWriter::new(Vec::new()).unwrap();
        let n = MAX_RECORDS as u64 * 2 + 5;
        for k in 0..n {
            w.write_record(k, &k.to_le_bytes()[..1 + k as usize % 8])
                .unwrap();
        }
        let file = w.finish().unwrap().0;
        let mut r = reader(&file);
        let mut b = Batch::default();
        let mut seen = Vec::new();
        let mut stops = Vec::new();
        loop {
            let stop = b.fill(&mut r);
            for rec in b.records() {
                assert_eq!(rec.raw_key, format!("{:016x}", rec.key.unwrap()).as_bytes());
                seen.push((rec.key.unwrap(), rec.value.to_vec(), rec.offset));
            }
            match stop {
                Stop::Full => stops.push(b.records().count()),
                Stop::End => break,
                Stop::Failed(e) => panic!("{e}"),
            }
        }
        assert_eq!(stops, [MAX_RECORDS, MAX_RECORDS]);
        assert_eq!(seen.len() as u64, n);
        let mut offset = 8;
        for (k, (key, value, end)) in seen.into_iter().enumerate() {
            let k = k as u64;
            assert_eq!(
                (key, &value[..]),
                (k, &k.to_le_bytes()[..1 + k as usize % 8])
            );
            offset += 32 + value.len() as u64;
            assert_eq!(end, offset, "record {k}");
        }
    }

    #[test]
    fn large_values_close_a_batch_early_and_a_torn_tail_comes_after_its_records() {
        let mut w = TcmWriter::new(Vec::new()).unwrap();
        let big = vec![5u8; MAX_BYTES / 2];
        for k in 0..3 {
            w.write_record(k, &big).unwrap();
        }
        let mut file = w.finish().unwrap().0;
        file.truncate(file.len() - 600); // into the third value
        let mut r = reader(&file);
        let mut b = Batch::default();
        assert!(matches!(b.fill(&mut r), Stop::Full));
        assert_eq!(b.records().count(), 2, "closed once past MAX_BYTES");
        match b.fill(&mut r) {
            Stop::Failed(TcmError::Truncated { .. }) => {}
            other => panic!("{other:?}"),
        }
        assert_eq!(b.records().count(), 0);
        // Small records cut in the fifth: the four before it come with the failure.
        let mut w = TcmWriter::new(Vec::new()).unwrap();
        for k in 0..5 {
            w.write_record(k, b"value").unwrap();
        }
        let mut file = w.finish().unwrap().0;
        file.truncate(8 + 4 * 37 + 20);
        let mut r = reader(&file);
        assert!(matches!(
            b.fill(&mut r),
            Stop::Failed(TcmError::Truncated { .. })
        ));
        let keys: Vec<_> = b.records().map(|r| r.key).collect();
        assert_eq!(keys, [Some(0), Some(1), Some(2), Some(3)]);
    }

    #[test]
    fn invalid_keys_stay_in_the_batch_unparsed() {
        let file = swarm_testkit::raw_tcm(&[(b"xyz", b"a"), (&7u64.to_le_bytes(), b"b")], false);
        let mut r = reader(&file);
        let mut b = Batch::default();
        assert!(matches!(b.fill(&mut r), Stop::End));
        let recs: Vec<_> = b.records().map(|r| (r.key, r.raw_key, r.value)).collect();
        assert_eq!(
            recs,
            [
                (None, &b"xyz"[..], &b"a"[..]),
                (Some(7), &7u64.to_le_bytes()[..], &b"b"[..])
            ]
        );
    }
}
