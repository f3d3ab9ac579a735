//! The fixed part of dht replies: the status and, after `Ok`, the request's fields. Streaming
//! replies (GetChannels names, GetAll batches, Listen pairs) continue with plain arrays after an
//! `Ok` head and are read with [`crate::Reader::read_array`].

use super::DhtCommand;
use crate::error::{DecodeError, ProtocolError};
use crate::status::Status;
use crate::wire::{put_array, put_i32, put_u16, put_u64, put_u8, Reader};

/// The address and port a node echoes in size replies (legacy baggage: its configured
/// `[Server] address` and port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo<'a> {
    /// The configured address as text.
    pub address: &'a [u8],
    /// The configured port.
    pub port: u16,
}

impl<'a> NodeInfo<'a> {
    /// Reads the address array and the u16 port.
    pub fn decode(r: &mut Reader<'a>) -> Result<NodeInfo<'a>, DecodeError> {
        Ok(NodeInfo {
            address: r.read_array()?,
            port: r.read_u16()?,
        })
    }

    /// Appends the address array and the u16 port.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_array(out, self.address);
        put_u16(out, self.port);
    }
}

/// The head of a dht reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DhtReply<'a> {
    /// A status alone: the whole reply of Put, Remove, RemoveChannel, PutBatch and Redistribute,
    /// the head of a streaming reply, or any non-`Ok` status.
    Status(Status),
    /// Get: `Ok` and the value (empty when absent).
    Value(&'a [u8]),
    /// Exists: `Ok` and one byte.
    Exists(bool),
    /// GetChannelSize and GetSize: `Ok`, address, port, records, bytes.
    Size {
        /// Echoed address and port.
        node: NodeInfo<'a>,
        /// Records stored.
        records: u64,
        /// Key and value bytes stored.
        bytes: u64,
    },
    /// GetResponsibleRange: `Ok`, min, max (empty range: min = u64::MAX, max = 0).
    Range {
        /// Range minimum.
        min: u64,
        /// Range maximum.
        max: u64,
    },
    /// GetNumConnections: `Ok`, address, port, count.
    NumConnections {
        /// Echoed address and port.
        node: NodeInfo<'a>,
        /// Open legacy connections.
        count: u64,
    },
    /// GetVersion: `Ok` and the API version string.
    Version(&'a [u8]),
}

impl<'a> DhtReply<'a> {
    /// Decodes the head of the reply to `cmd` from the front of `buf`.
    pub fn decode(cmd: DhtCommand, buf: &'a [u8]) -> Result<(DhtReply<'a>, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let status = r.read_status()?;
        if status != Status::Ok {
            return Ok((DhtReply::Status(status), r.position()));
        }
        let reply = match cmd {
            DhtCommand::Get => DhtReply::Value(r.read_array()?),
            DhtCommand::Exists => match r.read_u8()? {
                0 => DhtReply::Exists(false),
                1 => DhtReply::Exists(true),
                _ => return Err(ProtocolError::Malformed("Exists flag not 0 or 1").into()),
            },
            DhtCommand::GetChannelSize | DhtCommand::GetSize => {
                let node = NodeInfo::decode(&mut r)?;
                DhtReply::Size {
                    node,
                    records: r.read_u64()?,
                    bytes: r.read_u64()?,
                }
            }
            DhtCommand::GetResponsibleRange => DhtReply::Range {
                min: r.read_u64()?,
                max: r.read_u64()?,
            },
            DhtCommand::GetNumConnections => {
                let node = NodeInfo::decode(&mut r)?;
                DhtReply::NumConnections {
                    node,
                    count: r.read_u64()?,
                }
            }
            DhtCommand::GetVersion => DhtReply::Version(r.read_array()?),
            _ => DhtReply::Status(Status::Ok),
        };
        Ok((reply, r.position()))
    }

    /// Appends the reply's wire bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ok = Status::Ok.code();
        match self {
            DhtReply::Status(s) => put_i32(out, s.code()),
            DhtReply::Value(v) => {
                put_i32(out, ok);
                put_array(out, v);
            }
            DhtReply::Exists(e) => {
                put_i32(out, ok);
                put_u8(out, u8::from(*e));
            }
            DhtReply::Size {
                node,
                records,
                bytes,
            } => {
                put_i32(out, ok);
                node.encode(out);
                put_u64(out, *records);
                put_u64(out, *bytes);
            }
            DhtReply::Range { min, max } => {
                put_i32(out, ok);
                put_u64(out, *min);
                put_u64(out, *max);
            }
            DhtReply::NumConnections { node, count } => {
                put_i32(out, ok);
                node.encode(out);
                put_u64(out, *count);
            }
            DhtReply::Version(v) => {
                put_i32(out, ok);
                put_array(out, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_get_version_example() {
        let mut out = Vec::new();
        DhtReply::Version(crate::dht::API_VERSION).encode(&mut out);
        assert_eq!(
            out,
            [
                0xc8, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, b'2', b'0', b'1', b'1', b'0', b'4', b'0',
                b'1'
            ]
        );
    }

    #[test]
    fn non_ok_status_has_no_payload() {
        let buf = 404i32.to_le_bytes();
        assert_eq!(
            DhtReply::decode(DhtCommand::Get, &buf),
            Ok((DhtReply::Status(Status::WrongNode), 4))
        );
        let bad = 201i32.to_le_bytes();
        assert_eq!(
            DhtReply::decode(DhtCommand::Get, &bad),
            Err(DecodeError::Invalid(ProtocolError::UnknownStatus(201)))
        );
    }

    fn arb_reply() -> impl Strategy<Value = (DhtCommand, Vec<u8>, u16, u64, u64, bool, usize)> {
        (
            proptest::sample::select(DhtCommand::ALL.to_vec()),
            proptest::collection::vec(any::<u8>(), 0..20),
            any::<u16>(),
            any::<u64>(),
            any::<u64>(),
            any::<bool>(),
            0..Status::ALL.len(),
        )
    }

    proptest! {
        #[test]
        fn reply_roundtrip((cmd, bytes, port, a, b, flag, s) in arb_reply()) {
            let node = NodeInfo { address: &bytes, port };
            let status = Status::ALL[s];
            let reply = if status != Status::Ok {
                DhtReply::Status(status)
            } else {
                match cmd {
                    DhtCommand::Get => DhtReply::Value(&bytes),
                    DhtCommand::Exists => DhtReply::Exists(flag),
                    DhtCommand::GetChannelSize | DhtCommand::GetSize => DhtReply::Size { node, records: a, bytes: b },
                    DhtCommand::GetResponsibleRange => DhtReply::Range { min: a, max: b },
                    DhtCommand::GetNumConnections => DhtReply::NumConnections { node, count: a },
                    DhtCommand::GetVersion => DhtReply::Version(&bytes),
                    _ => DhtReply::Status(Status::Ok),
                }
            };
            let mut out = Vec::new();
            reply.encode(&mut out);
            for cut in 0..out.len() {
                prop_assert_eq!(DhtReply::decode(cmd, &out[..cut]), Err(DecodeError::Incomplete));
            }
            prop_assert_eq!(DhtReply::decode(cmd, &out), Ok((reply, out.len())));
        }
    }
}
