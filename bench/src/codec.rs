//! One request and its reply for each target: the dht and queue legacy protocols through
//! `swarm_protocol` (the logfiles node's in `codec_log`), RESP for Redis, and swarm-echo's fixed
//! sizes (a dht, queue or logfiles request's request and reply sizes, so the echo server moves
//! the same bytes per round trip as the node).

use super::codec_log::{BatchShape, LogCodec};
use super::mix::Op;
use super::opts::{RunArgs, Target};
use super::records::Values;
use super::resp::{self, Reply};
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest};
use swarm_protocol::queue::{QueueCommand, QueueReply, QueueRequest};
use swarm_protocol::{DecodeError, Status};

/// Why a dht codec never sees a queue operation and the reverse.
const WRONG_FAMILY: &str = "RunArgs::validate keeps each operation family to its targets";

/// How a reply ended the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, record present (or stored / removed / popped).
    Hit,
    /// Done, record absent: empty dht value, Redis nil, Exists false, DEL of nothing, and a
    /// Pop of an empty queue (not a real pop: runs must count these).
    Miss,
    /// A non-Ok status or a Redis error; the connection stays usable.
    Error,
}

/// A reply that ends the connection: a fatal status or bytes that are not the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal(pub String);

/// Encoder and reply parser of one target.
#[derive(Debug, Clone)]
pub enum Codec {
    /// Legacy dht requests on this channel.
    Dht {
        /// Channel name.
        channel: Vec<u8>,
    },
    /// RESP commands; queue operations on this list, appends on this stream.
    Redis {
        /// List key of LPUSH and RPOP, stream key of XADD.
        list: Vec<u8>,
    },
    /// Legacy logfiles requests.
    Logfiles(LogCodec),
    /// Legacy queue requests on this channel.
    Queue {
        /// Channel name.
        channel: Vec<u8>,
    },
    /// Fixed-size messages.
    Echo {
        /// Bytes per request.
        request: usize,
        /// Bytes per reply.
        reply: usize,
    },
}

impl Codec {
    /// The codec for a run's options (PutBatch's batches are built from `values`, keys from
    /// `key_base`).
    pub fn new(args: &RunArgs, values: &Values, key_base: u64) -> Codec {
        match args.target {
            Target::Logfiles => {
                let batches = args.mix.used().iter().any(|(op, _)| *op == Op::PutBatch);
                let shape = batches.then_some(BatchShape {
                    value_size: args.value_size,
                    batch_size: args.batch_size,
                    key_base,
                });
                Codec::Logfiles(LogCodec::new(args.channel.as_bytes(), values, shape))
            }
            Target::Dht => Codec::Dht {
                channel: args.channel.as_bytes().to_vec(),
            },
            Target::Redis => Codec::Redis {
                list: args.channel.as_bytes().to_vec(),
            },
            Target::Queue => Codec::Queue {
                channel: args.channel.as_bytes().to_vec(),
            },
            Target::Echo => {
                let (request, reply) = echo_sizes(
                    args.mix.single().unwrap_or(Op::Get),
                    args.channel.len(),
                    args.value_size,
                );
                Codec::Echo { request, reply }
            }
        }
    }

    /// Records a successful request of `op` stores or fetches (a PutBatch's batch; else 1).
    pub fn records_per_request(&self, op: Op) -> u64 {
        match self {
            Codec::Logfiles(log) => log.records_per_request(op),
            _ => 1,
        }
    }

    /// Appends the request for `op` on `key` (16 hex digits; queue operations have none);
    /// `value` is used by Put, Push and Append; `seq` (the connection's count of log requests)
    /// picks a PutBatch's batch. Panics for an operation of another family than the target's,
    /// which `RunArgs::validate` refuses before any socket opens.
    pub fn encode(&self, op: Op, key: &[u8; 16], value: &[u8], seq: u64, out: &mut Vec<u8>) {
        match self {
            Codec::Logfiles(log) => log.encode(op, key, value, seq, out),
            Codec::Dht { channel } => {
                let (channel, key) = (channel.as_slice(), key.as_slice());
                let req = match op {
                    Op::Get => DhtRequest::Get { channel, key },
                    Op::Put => DhtRequest::Put {
                        channel,
                        key,
                        value,
                    },
                    Op::Exists => DhtRequest::Exists { channel, key },
                    Op::Remove => DhtRequest::Remove { channel, key },
                    _ => unreachable!("{}: {WRONG_FAMILY}", op.name()),
                };
                req.encode(out);
            }
            Codec::Queue { channel } => {
                let channel = channel.as_slice();
                let req = match op {
                    Op::Push => QueueRequest::Push { channel, value },
                    Op::Pop => QueueRequest::Pop { channel },
                    _ => unreachable!("{}: {WRONG_FAMILY}", op.name()),
                };
                req.encode(out);
            }
            Codec::Redis { list } => match op {
                Op::Get => resp::encode_command(out, &[b"GET", key]),
                Op::Put => resp::encode_command(out, &[b"SET", key, value]),
                Op::Exists => resp::encode_command(out, &[b"EXISTS", key]),
                Op::Remove => resp::encode_command(out, &[b"DEL", key]),
                Op::Push => resp::encode_command(out, &[b"LPUSH", list, value]),
                Op::Pop => resp::encode_command(out, &[b"RPOP", list]),
                Op::Append => resp::encode_command(out, &[b"XADD", list, b"*", b"v", value]),
                Op::PutBatch => unreachable!("putbatch: RunArgs::validate refuses it for Redis"),
            },
            Codec::Echo { request, .. } => out.resize(out.len() + request, b'e'),
        }
    }

    /// Parses the reply to `op` at the front of `buf`: `Ok(None)` until it is complete.
    pub fn parse(&self, op: Op, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Fatal> {
        match self {
            Codec::Dht { .. } => parse_dht(op, buf),
            Codec::Queue { .. } => parse_queue(op, buf),
            Codec::Logfiles(_) => LogCodec::parse(op, buf),
            Codec::Redis { .. } => parse_redis(op, buf),
            Codec::Echo { reply, .. } => {
                Ok((buf.len() >= *reply).then_some((Outcome::Hit, *reply)))
            }
        }
    }
}

/// Request and reply sizes of the dht, queue or logfiles request `op` with this channel length
/// and value size (a Get or Pop reply carries the value; a Put, Push or Append request does: a
/// logfiles Put has a dht Put's layout). PutBatch has no fixed size; it is given a Put's.
pub fn echo_sizes(op: Op, channel_len: usize, value_size: usize) -> (usize, usize) {
    let head = 4 + 8 + channel_len;
    let keyed = head + 8 + 16;
    match op {
        Op::Get => (keyed, 4 + 8 + value_size),
        Op::Put | Op::Append | Op::PutBatch => (keyed + 8 + value_size, 4),
        Op::Exists => (keyed, 4 + 1),
        Op::Remove => (keyed, 4),
        Op::Push => (head + 8 + value_size, 4),
        Op::Pop => (head, 4 + 8 + value_size),
    }
}

fn command(op: Op) -> DhtCommand {
    match op {
        Op::Get => DhtCommand::Get,
        Op::Put => DhtCommand::Put,
        Op::Exists => DhtCommand::Exists,
        Op::Remove => DhtCommand::Remove,
        _ => unreachable!("{}: {WRONG_FAMILY}", op.name()),
    }
}

fn parse_dht(op: Op, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Fatal> {
    let (reply, used) = match DhtReply::decode(command(op), buf) {
        Ok(r) => r,
        Err(DecodeError::Incomplete) => return Ok(None),
        Err(DecodeError::Invalid(e)) => {
            return Err(Fatal(format!("dht reply to {}: {e}", op.name())))
        }
    };
    let outcome = match reply {
        DhtReply::Value([]) => Outcome::Miss,
        DhtReply::Exists(false) => Outcome::Miss,
        DhtReply::Status(s) if s.is_fatal() => {
            return Err(Fatal(format!(
                "dht status {} to {}: the connection is closed",
                s.code(),
                op.name()
            )))
        }
        DhtReply::Status(s) if s != Status::Ok => Outcome::Error,
        _ => Outcome::Hit,
    };
    Ok(Some((outcome, used)))
}

fn parse_queue(op: Op, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Fatal> {
    let cmd = if op == Op::Pop {
        QueueCommand::Pop
    } else {
        QueueCommand::Push
    };
    let (reply, used) = match QueueReply::decode(cmd, buf) {
        Ok(r) => r,
        Err(DecodeError::Incomplete) => return Ok(None),
        Err(DecodeError::Invalid(e)) => {
            return Err(Fatal(format!("queue reply to {}: {e}", op.name())))
        }
    };
    let outcome = match reply {
        QueueReply::Value([]) => Outcome::Miss,
        QueueReply::Status(s) if s.is_fatal() => {
            return Err(Fatal(format!(
                "queue status {} to {}: the connection is closed",
                s.code(),
                op.name()
            )))
        }
        QueueReply::Status(s) if s != Status::Ok => Outcome::Error,
        _ => Outcome::Hit,
    };
    Ok(Some((outcome, used)))
}

fn parse_redis(op: Op, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Fatal> {
    let Some((reply, used)) = resp::parse_reply(buf).map_err(|e| Fatal(e.to_string()))? else {
        return Ok(None);
    };
    let outcome = match (op, reply) {
        (_, Reply::Error) => Outcome::Error,
        (Op::Get | Op::Pop, Reply::Bulk(_)) | (Op::Put, Reply::Simple) => Outcome::Hit,
        (Op::Push, Reply::Int(_)) | (Op::Append, Reply::Bulk(_)) => Outcome::Hit,
        (Op::Get | Op::Pop, Reply::Nil) => Outcome::Miss,
        (Op::Exists | Op::Remove, Reply::Int(0)) => Outcome::Miss,
        (Op::Exists | Op::Remove, Reply::Int(_)) => Outcome::Hit,
        (op, other) => {
            return Err(Fatal(format!(
                "unexpected RESP reply {other:?} to {}",
                op.name()
            )))
        }
    };
    Ok(Some((outcome, used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_sizes_match_the_dht_encoding() {
        let dht = Codec::Dht {
            channel: b"bench".to_vec(),
        };
        let value = [b'v'; 100];
        for op in [Op::Get, Op::Put, Op::Exists, Op::Remove] {
            let mut out = Vec::new();
            dht.encode(op, b"00000000000000ab", &value, 0, &mut out);
            assert_eq!(echo_sizes(op, 5, 100).0, out.len(), "{}", op.name());
        }
        let mut reply = Vec::new();
        DhtReply::Value(&value).encode(&mut reply);
        assert_eq!(echo_sizes(Op::Get, 5, 100).1, reply.len());
    }

    #[test]
    fn echo_sizes_match_the_queue_encoding() {
        let queue = Codec::Queue {
            channel: b"bench".to_vec(),
        };
        let value = [b'v'; 100];
        for op in [Op::Push, Op::Pop] {
            let mut out = Vec::new();
            queue.encode(op, b"00000000000000ab", &value, 0, &mut out);
            assert_eq!(echo_sizes(op, 5, 100).0, out.len(), "{}", op.name());
        }
        let (mut push, mut pop) = (Vec::new(), Vec::new());
        QueueReply::Status(Status::Ok).encode(&mut push);
        QueueReply::Value(&value).encode(&mut pop);
        assert_eq!(echo_sizes(Op::Push, 5, 100).1, push.len());
        assert_eq!(echo_sizes(Op::Pop, 5, 100).1, pop.len());
    }

    #[test]
    fn queue_requests_are_the_protocol_bytes() {
        let queue = Codec::Queue {
            channel: b"test".to_vec(),
        };
        let mut out = Vec::new();
        queue.encode(Op::Push, b"00000000000000ab", b"foo", 0, &mut out);
        // spec/queue.md section 2, Push example.
        let mut want = vec![1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"test");
        want.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0]);
        want.extend_from_slice(b"foo");
        assert_eq!(out, want);
        out.clear();
        queue.encode(Op::Pop, b"00000000000000ab", b"foo", 0, &mut out);
        let mut want = vec![2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"test");
        assert_eq!(out, want);
    }

    #[test]
    fn queue_outcomes() {
        let ok = 200i32.to_le_bytes();
        assert_eq!(parse_queue(Op::Push, &ok), Ok(Some((Outcome::Hit, 4))));
        // Pop of an empty or missing channel: Ok and an empty array, counted as a miss.
        let mut empty = ok.to_vec();
        empty.extend_from_slice(&[0; 8]);
        assert_eq!(parse_queue(Op::Pop, &empty), Ok(Some((Outcome::Miss, 12))));
        let mut rec = Vec::new();
        QueueReply::Value(b"abc").encode(&mut rec);
        assert_eq!(parse_queue(Op::Pop, &rec), Ok(Some((Outcome::Hit, 15))));
        for cut in 0..rec.len() {
            assert_eq!(parse_queue(Op::Pop, &rec[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(
            parse_queue(Op::Push, &407i32.to_le_bytes()),
            Ok(Some((Outcome::Error, 4)))
        );
        assert_eq!(
            parse_queue(Op::Pop, &409i32.to_le_bytes()),
            Ok(Some((Outcome::Error, 4)))
        );
        assert!(parse_queue(Op::Push, &500i32.to_le_bytes()).is_err());
        assert!(parse_queue(Op::Push, &12345i32.to_le_bytes()).is_err());
    }

    #[test]
    fn redis_list_commands() {
        let redis = Codec::Redis {
            list: b"bench".to_vec(),
        };
        let mut out = Vec::new();
        redis.encode(Op::Push, b"00000000000000ab", b"xy", 0, &mut out);
        redis.encode(Op::Pop, b"00000000000000ab", b"xy", 0, &mut out);
        assert_eq!(
            out,
            b"*3\r\n$5\r\nLPUSH\r\n$5\r\nbench\r\n$2\r\nxy\r\n*2\r\n$4\r\nRPOP\r\n$5\r\nbench\r\n"
        );
        assert_eq!(
            parse_redis(Op::Push, b":7\r\n"),
            Ok(Some((Outcome::Hit, 4)))
        );
        assert_eq!(
            parse_redis(Op::Pop, b"$2\r\nxy\r\n"),
            Ok(Some((Outcome::Hit, 8)))
        );
        assert_eq!(
            parse_redis(Op::Pop, b"$-1\r\n"),
            Ok(Some((Outcome::Miss, 5)))
        );
        assert!(parse_redis(Op::Push, b"+OK\r\n").is_err());
    }

    #[test]
    fn dht_outcomes() {
        let mut buf = Vec::new();
        DhtReply::Value(b"").encode(&mut buf);
        assert_eq!(parse_dht(Op::Get, &buf), Ok(Some((Outcome::Miss, 12))));
        assert_eq!(
            parse_dht(Op::Put, &408i32.to_le_bytes()),
            Ok(Some((Outcome::Error, 4)))
        );
        assert!(parse_dht(Op::Put, &500i32.to_le_bytes()).is_err());
        assert_eq!(parse_dht(Op::Get, &200i32.to_le_bytes()), Ok(None));
    }

    #[test]
    fn redis_outcomes() {
        assert_eq!(
            parse_redis(Op::Get, b"$-1\r\n"),
            Ok(Some((Outcome::Miss, 5)))
        );
        assert_eq!(
            parse_redis(Op::Put, b"-OOM\r\n"),
            Ok(Some((Outcome::Error, 6)))
        );
        assert_eq!(
            parse_redis(Op::Exists, b":1\r\n"),
            Ok(Some((Outcome::Hit, 4)))
        );
        assert!(parse_redis(Op::Get, b":1\r\n").is_err());
    }
}
