//! One request and its reply for each target: the dht legacy protocol through `swarm_protocol`,
//! RESP for Redis, and swarm-echo's fixed sizes (a dht request's request and reply sizes, so
//! the echo server moves the same bytes per round trip as the dht node).

use super::opts::{Op, RunArgs, Target};
use super::resp::{self, Reply};
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest};
use swarm_protocol::{DecodeError, Status};

/// How a reply ended the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done, record present (or stored / removed).
    Hit,
    /// Done, record absent: empty dht value, Redis nil, Exists false, DEL of nothing.
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
    /// RESP commands.
    Redis,
    /// Fixed-size messages.
    Echo {
        /// Bytes per request.
        request: usize,
        /// Bytes per reply.
        reply: usize,
    },
}

impl Codec {
    /// The codec for a run's options.
    pub fn new(args: &RunArgs) -> Codec {
        match args.target {
            Target::Dht => Codec::Dht {
                channel: args.channel.as_bytes().to_vec(),
            },
            Target::Redis => Codec::Redis,
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

    /// Appends the request for `op` on `key` (16 hex digits); `value` is used by Put.
    pub fn encode(&self, op: Op, key: &[u8; 16], value: &[u8], out: &mut Vec<u8>) {
        match self {
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
                };
                req.encode(out);
            }
            Codec::Redis => match op {
                Op::Get => resp::encode_command(out, &[b"GET", key]),
                Op::Put => resp::encode_command(out, &[b"SET", key, value]),
                Op::Exists => resp::encode_command(out, &[b"EXISTS", key]),
                Op::Remove => resp::encode_command(out, &[b"DEL", key]),
            },
            Codec::Echo { request, .. } => out.resize(out.len() + request, b'e'),
        }
    }

    /// Parses the reply to `op` at the front of `buf`: `Ok(None)` until it is complete.
    pub fn parse(&self, op: Op, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Fatal> {
        match self {
            Codec::Dht { .. } => parse_dht(op, buf),
            Codec::Redis => parse_redis(op, buf),
            Codec::Echo { reply, .. } => {
                Ok((buf.len() >= *reply).then_some((Outcome::Hit, *reply)))
            }
        }
    }
}

/// Request and reply sizes of the dht request `op` with this channel length and value size
/// (a Get reply carries the value; a Put request does).
pub fn echo_sizes(op: Op, channel_len: usize, value_size: usize) -> (usize, usize) {
    let head = 4 + 8 + channel_len + 8 + 16;
    match op {
        Op::Get => (head, 4 + 8 + value_size),
        Op::Put => (head + 8 + value_size, 4),
        Op::Exists => (head, 4 + 1),
        Op::Remove => (head, 4),
    }
}

fn command(op: Op) -> DhtCommand {
    match op {
        Op::Get => DhtCommand::Get,
        Op::Put => DhtCommand::Put,
        Op::Exists => DhtCommand::Exists,
        Op::Remove => DhtCommand::Remove,
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

fn parse_redis(op: Op, buf: &[u8]) -> Result<Option<(Outcome, usize)>, Fatal> {
    let Some((reply, used)) = resp::parse_reply(buf).map_err(|e| Fatal(e.to_string()))? else {
        return Ok(None);
    };
    let outcome = match (op, reply) {
        (_, Reply::Error) => Outcome::Error,
        (Op::Get, Reply::Bulk(_)) | (Op::Put, Reply::Simple) => Outcome::Hit,
        (Op::Get, Reply::Nil) => Outcome::Miss,
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
        for op in Op::ALL {
            let mut out = Vec::new();
            dht.encode(op, b"00000000000000ab", &value, &mut out);
            assert_eq!(echo_sizes(op, 5, 100).0, out.len(), "{}", op.name());
        }
        let mut reply = Vec::new();
        DhtReply::Value(&value).encode(&mut reply);
        assert_eq!(echo_sizes(Op::Get, 5, 100).1, reply.len());
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
