//! The logfiles node's requests of a load run, through `swarm_protocol::logfiles`: Put of one
//! record (`--mix append`) and PutBatch of a full batch (`--mix putbatch`), and their replies
//! (a status alone). PutBatch requests are built and compressed once, before the run, so the
//! client's LZO does not compete with the node for the machine's cores: a run cycles through
//! [`PREBUILT_BATCHES`] of them.

use super::codec::{Fatal, Outcome};
use super::mix::Op;
use super::records::{key_of, Values};
use swarm_protocol::batch::{pair_size, BatchBuilder};
use swarm_protocol::logfiles::{LogfilesCommand, LogfilesReply, LogfilesRequest};
use swarm_protocol::{format_key, DecodeError, Status};

/// PutBatch requests built before a run (distinct records, 16 full batches: 1 MiB of raw
/// records at the default batch size).
pub const PREBUILT_BATCHES: usize = 16;
/// Records per key of the timestamp-like counter: "100 records a second".
pub const RECORDS_PER_KEY: u64 = 100;

/// Why a logfiles codec never sees another family's operation.
const LOG_ONLY: &str = "RunArgs::validate keeps the logfiles target to log operations";

/// Encoder and reply parser for a logfiles node.
#[derive(Debug, Clone)]
pub struct LogCodec {
    channel: Vec<u8>,
    /// Whole PutBatch requests (code, channel, batch), empty unless the mix has PutBatch.
    batches: Vec<Vec<u8>>,
    records_per_batch: u64,
}

/// What the prebuilt batches hold.
#[derive(Debug, Clone, Copy)]
pub struct BatchShape {
    /// Bytes of each value.
    pub value_size: usize,
    /// Uncompressed batch capacity.
    pub batch_size: usize,
    /// Key of the first record; record j has key `key_base + j / RECORDS_PER_KEY`.
    pub key_base: u64,
}

impl LogCodec {
    /// A codec for `channel`; with `shape`, the PutBatch requests are built now.
    pub fn new(channel: &[u8], values: &Values, shape: Option<BatchShape>) -> LogCodec {
        let mut codec = LogCodec {
            channel: channel.to_vec(),
            batches: Vec::new(),
            records_per_batch: 0,
        };
        if let Some(shape) = shape {
            codec.records_per_batch = records_per_batch(shape.batch_size, shape.value_size);
            let mut j = 0u64;
            let mut builder = BatchBuilder::new(shape.batch_size);
            for _ in 0..PREBUILT_BATCHES {
                let mut batch = Vec::new();
                fill_batch(&mut builder, &mut batch, values, shape, &mut j);
                let mut request = Vec::with_capacity(batch.len() + channel.len() + 32);
                LogfilesRequest::PutBatch {
                    channel,
                    batch: &batch,
                }
                .encode(&mut request);
                codec.batches.push(request);
            }
        }
        codec
    }

    /// Records a successful request of `op` stored.
    pub fn records_per_request(&self, op: Op) -> u64 {
        match op {
            Op::PutBatch => self.records_per_batch,
            _ => 1,
        }
    }

    /// Appends the request for `op`; `seq` picks the prebuilt batch of a PutBatch.
    pub fn encode(&self, op: Op, key: &[u8; 16], value: &[u8], seq: u64, out: &mut Vec<u8>) {
        match op {
            Op::Append => LogfilesRequest::Put {
                channel: &self.channel,
                key,
                value,
            }
            .encode(out),
            Op::PutBatch => {
                let n = self.batches.len().max(1) as u64;
                let request = self.batches.get((seq % n) as usize);
                out.extend_from_slice(
                    request.expect("LogCodec::new built the batches of a PutBatch mix"),
                );
            }
            other => unreachable!("{}: {LOG_ONLY}", other.name()),
        }
    }

    /// Parses the status that answers a Put or PutBatch.
    pub fn parse(op: Op, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Fatal> {
        let cmd = match op {
            Op::PutBatch => LogfilesCommand::PutBatch,
            _ => LogfilesCommand::Put,
        };
        let (reply, used) = match LogfilesReply::decode(cmd, buf) {
            Ok(r) => r,
            Err(DecodeError::Incomplete) => return Ok(None),
            Err(DecodeError::Invalid(e)) => {
                return Err(Fatal(format!("logfiles reply to {}: {e}", op.name())))
            }
        };
        let outcome = match reply {
            LogfilesReply::Status(Status::Ok) => Outcome::Hit,
            LogfilesReply::Status(s) if s.is_fatal() => {
                return Err(Fatal(format!(
                    "logfiles status {} to {}: the connection is closed",
                    s.code(),
                    op.name()
                )))
            }
            LogfilesReply::Status(_) => Outcome::Error,
            other => {
                return Err(Fatal(format!(
                    "unexpected logfiles reply {other:?} to {}",
                    op.name()
                )))
            }
        };
        Ok(Some((outcome, used)))
    }
}

/// Full records of `value_size` bytes (16-digit keys) one batch of `batch_size` holds.
pub fn records_per_batch(batch_size: usize, value_size: usize) -> u64 {
    (batch_size / pair_size(16, value_size)) as u64
}

/// Fills one batch with records `j..` (as many as fit; record j's value is the load runs' value
/// of key-space index j, so neighbours are unrelated windows of the text), compresses it into `batch` (the
/// content of the wire array: raw length and LZO data), advances `j`.
pub fn fill_batch(
    builder: &mut BatchBuilder,
    batch: &mut Vec<u8>,
    values: &Values,
    shape: BatchShape,
    j: &mut u64,
) {
    let per_batch = records_per_batch(shape.batch_size, shape.value_size);
    for _ in 0..per_batch {
        let key = format_key(shape.key_base + *j / RECORDS_PER_KEY);
        let pushed = builder.try_push_pair(&key, values.of(key_of(*j)));
        debug_assert!(pushed, "records_per_batch counts what fits");
        *j += 1;
    }
    let mut wire = Vec::with_capacity(shape.batch_size);
    builder.finish_into(&mut wire);
    // finish_into writes the wire array; the request encoder adds its own length prefix.
    batch.clear();
    batch.extend_from_slice(&wire[8..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_protocol::batch::{decompress, Pairs};

    #[test]
    fn prebuilt_batches_are_full_putbatch_requests() {
        let values = Values::new(100);
        let shape = BatchShape {
            value_size: 100,
            batch_size: 65_536,
            key_base: 0x5727_5000,
        };
        let codec = LogCodec::new(b"log", &values, Some(shape));
        assert_eq!(codec.records_per_request(Op::PutBatch), 496);
        let mut out = Vec::new();
        codec.encode(Op::PutBatch, &[b'0'; 16], b"", 1, &mut out);
        let (req, used) = LogfilesRequest::decode(&out).expect("a whole request");
        assert_eq!(used, out.len());
        let LogfilesRequest::PutBatch { channel, batch } = req else {
            panic!("not a PutBatch: {req:?}");
        };
        assert_eq!(channel, b"log");
        let raw = decompress(batch).expect("decompresses");
        let pairs: Vec<_> = Pairs::new(&raw).collect::<Result<_, _>>().expect("pairs");
        assert_eq!(pairs.len(), 496);
        // The second batch starts at record 496: key base + 4.
        assert_eq!(pairs[0].0, format_key(0x5727_5004).as_slice());
        assert_eq!(pairs[0].1.len(), 100);
    }

    #[test]
    fn redis_xadd_and_the_echo_sizes_of_a_put() {
        use super::super::codec::{echo_sizes, Codec};
        let redis = Codec::Redis {
            list: b"bench".to_vec(),
        };
        let mut out = Vec::new();
        redis.encode(Op::Append, b"00000000000000ab", b"xy", 0, &mut out);
        assert_eq!(
            out,
            b"*5\r\n$4\r\nXADD\r\n$5\r\nbench\r\n$1\r\n*\r\n$1\r\nv\r\n$2\r\nxy\r\n"
        );
        assert_eq!(
            redis.parse(Op::Append, b"$15\r\n1700000000000-0\r\n"),
            Ok(Some((Outcome::Hit, 22)))
        );
        assert!(redis.parse(Op::Append, b":1\r\n").is_err());
        let log = Codec::Logfiles(LogCodec::new(b"bench", &Values::new(100), None));
        out.clear();
        log.encode(Op::Append, b"0000000057275806", &[b'v'; 100], 0, &mut out);
        assert_eq!(echo_sizes(Op::Append, 5, 100), (out.len(), 4));
    }

    #[test]
    fn put_and_its_statuses() {
        let codec = LogCodec::new(b"log", &Values::new(8), None);
        let mut out = Vec::new();
        codec.encode(Op::Append, b"0000000057275806", b"value", 0, &mut out);
        let (req, _) = LogfilesRequest::decode(&out).expect("a whole request");
        assert_eq!(
            req,
            LogfilesRequest::Put {
                channel: b"log",
                key: b"0000000057275806",
                value: b"value"
            }
        );
        let ok = 200i32.to_le_bytes();
        assert_eq!(
            LogCodec::parse(Op::Append, &ok),
            Ok(Some((Outcome::Hit, 4)))
        );
        assert_eq!(LogCodec::parse(Op::Append, &ok[..3]), Ok(None));
        assert_eq!(
            LogCodec::parse(Op::PutBatch, &407i32.to_le_bytes()),
            Ok(Some((Outcome::Error, 4)))
        );
        assert!(LogCodec::parse(Op::Append, &12345i32.to_le_bytes()).is_err());
    }
}
