//! Queue replies: the status, then (after `Ok` only) the command's fields, and the record batches
//! of a Consume stream as the client reads them.
//!
//! Layouts (spec/queue.md section 2, Era A `queuenode/request/*Request.d` @5c660a8):
//!
//! | command | after `i32(200)` |
//! |---|---|
//! | Push, RemoveChannel, PushMulti, Produce, ProduceMulti, Consume | nothing (Consume and Produce streams follow) |
//! | Pop | `arr(value)`, empty when there was no record |
//! | GetChannels | `list(channel)` |
//! | GetChannelSize, GetSize | `arr(address) u16(port) u64(records) u64(bytes)` |
//! | GetSizeLimit | `arr(address) u16(port) u64(limit)` |
//! | GetNumConnections | `arr(address) u16(port) u64(connections)` |
//! | PushMulti2 | `list(channel)`: the channels that were full; empty list = full success |
//!
//! After any other status nothing more is sent for the request.

use super::{decode_stream_record, NodeInfo, QueueCommand, StreamRecord};
use crate::error::DecodeError;
use crate::status::Status;
use crate::wire::{put_array, put_i32, put_list, put_u64, Reader};

/// A queue reply (the head of it, for the streaming Consume).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueReply<'a> {
    /// A status alone: the whole reply of Push, PushMulti, RemoveChannel, the head of Consume,
    /// Produce and ProduceMulti, or any non-`Ok` status.
    Status(Status),
    /// Pop: `Ok` and the record (empty when there was none).
    Value(&'a [u8]),
    /// GetChannels: `Ok` and the channel names.
    Channels(Vec<&'a [u8]>),
    /// GetChannelSize and GetSize: `Ok`, address, port, records, bytes.
    Size {
        /// Echoed address and port.
        node: NodeInfo<'a>,
        /// Records stored.
        records: u64,
        /// Bytes stored (ring used space: record headers included).
        bytes: u64,
    },
    /// GetSizeLimit: `Ok`, address, port, the per-channel limit in bytes.
    SizeLimit {
        /// Echoed address and port.
        node: NodeInfo<'a>,
        /// Per-channel size limit.
        limit: u64,
    },
    /// GetNumConnections: `Ok`, address, port, count.
    NumConnections {
        /// Echoed address and port.
        node: NodeInfo<'a>,
        /// Open legacy connections.
        count: u64,
    },
    /// PushMulti2: `Ok` and the channels the record did not fit into.
    Failed(Vec<&'a [u8]>),
}

impl<'a> QueueReply<'a> {
    /// Decodes the reply to `cmd` from the front of `buf`, with the bytes it used.
    pub fn decode(
        cmd: QueueCommand,
        buf: &'a [u8],
    ) -> Result<(QueueReply<'a>, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let status = r.read_status()?;
        if status != Status::Ok {
            return Ok((QueueReply::Status(status), r.position()));
        }
        let reply = match cmd {
            QueueCommand::Pop => QueueReply::Value(r.read_array()?),
            QueueCommand::GetChannels => QueueReply::Channels(r.read_list()?),
            QueueCommand::GetChannelSize | QueueCommand::GetSize => {
                let node = NodeInfo::decode(&mut r)?;
                QueueReply::Size {
                    node,
                    records: r.read_u64()?,
                    bytes: r.read_u64()?,
                }
            }
            QueueCommand::GetSizeLimit => {
                let node = NodeInfo::decode(&mut r)?;
                QueueReply::SizeLimit {
                    node,
                    limit: r.read_u64()?,
                }
            }
            QueueCommand::GetNumConnections => {
                let node = NodeInfo::decode(&mut r)?;
                QueueReply::NumConnections {
                    node,
                    count: r.read_u64()?,
                }
            }
            QueueCommand::PushMulti2 => QueueReply::Failed(r.read_list()?),
            QueueCommand::Push
            | QueueCommand::Consume
            | QueueCommand::PushMulti
            | QueueCommand::Produce
            | QueueCommand::ProduceMulti
            | QueueCommand::RemoveChannel => QueueReply::Status(Status::Ok),
        };
        Ok((reply, r.position()))
    }

    /// Appends the reply's wire bytes. Lists must not hold an empty name (it would end them).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ok = Status::Ok.code();
        match self {
            QueueReply::Status(s) => put_i32(out, s.code()),
            QueueReply::Value(v) => {
                put_i32(out, ok);
                put_array(out, v);
            }
            QueueReply::Channels(names) | QueueReply::Failed(names) => {
                put_i32(out, ok);
                put_list(out, names);
            }
            QueueReply::Size {
                node,
                records,
                bytes,
            } => {
                put_i32(out, ok);
                node.encode(out);
                put_u64(out, *records);
                put_u64(out, *bytes);
            }
            QueueReply::SizeLimit { node, limit: n }
            | QueueReply::NumConnections { node, count: n } => {
                put_i32(out, ok);
                node.encode(out);
                put_u64(out, *n);
            }
        }
    }
}

/// The records of a Consume stream that have fully arrived, as the client reads them after the
/// `Ok` head: one array per record, the empty array (sent when the channel is removed) ends it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumeBatch<'a> {
    /// Complete records, in stream order.
    pub records: Vec<&'a [u8]>,
    /// Whether the end-of-stream empty array came (nothing follows it for this request).
    pub ended: bool,
}

impl<'a> ConsumeBatch<'a> {
    /// Decodes every complete record at the front of `buf` (stopping after the end marker),
    /// with the bytes used. `Incomplete` when not even one item is complete; an oversized
    /// prefix is an error only once the records before it were handed out.
    pub fn decode(buf: &'a [u8]) -> Result<(ConsumeBatch<'a>, usize), DecodeError> {
        let mut batch = ConsumeBatch::default();
        let mut used = 0;
        loop {
            match decode_stream_record(&buf[used..]) {
                Ok((StreamRecord::Record(rec), n)) => {
                    batch.records.push(rec);
                    used += n;
                }
                Ok((StreamRecord::End, n)) => {
                    batch.ended = true;
                    return Ok((batch, used + n));
                }
                Err(e) if used == 0 => return Err(e),
                Err(_) => return Ok((batch, used)),
            }
        }
    }
}
