//! Logfiles replies: the status, then (after `Ok` only) the command's fields; and the items of
//! the batch streams that answer the range and "all" requests.
//!
//! Layouts (spec/logfiles.md sections 1.2 and 2, `dlsproto/node/request/*.d`):
//!
//! | command | after `i32(200)` |
//! |---|---|
//! | Put, PutBatch, RemoveChannel, Redistribute | nothing |
//! | GetChannels | one `arr(channel)` per channel, then an empty `arr` |
//! | GetChannelSize, GetSize | `arr(address) u16(port) u64(records) u64(bytes)` |
//! | GetNumConnections | `arr(address) u16(port) u64(connections)` |
//! | GetVersion | `arr("20110401")` |
//! | GetRange, GetAll, GetAllFilter, GetRangeFilter, GetRangeRegex | batch stream: `arr(batch)`*, then an empty `arr` |
//!
//! A batch is what [`crate::batch::BatchBuilder::finish_into`] writes and
//! [`crate::batch::decompress`] reads (`u64 raw length` + LZO1X-1), its records (key, value)
//! pairs for [`crate::batch::Pairs`]. The original sends one more batch after its iteration even
//! when it is empty (11 bytes: a zero raw length and LZO's end marker `11 00 00`); it decodes as
//! a batch with no records. After any status other than `Ok` nothing more is sent.

use super::{LogfilesCommand, NodeInfo};
use crate::error::{DecodeError, ProtocolError};
use crate::status::Status;
use crate::wire::{put_array, put_i32, put_list, put_u64, Reader};

/// A logfiles reply (the head of it, for the batch streams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogfilesReply<'a> {
    /// A status alone: the whole reply of Put, PutBatch, RemoveChannel and Redistribute, the
    /// head of a batch stream, or any non-`Ok` status.
    Status(Status),
    /// GetChannels: `Ok` and the channel names.
    Channels(Vec<&'a [u8]>),
    /// GetChannelSize and GetSize: `Ok`, address, port, records, bytes.
    Size {
        /// Echoed address and port.
        node: NodeInfo<'a>,
        /// Records stored.
        records: u64,
        /// Bytes stored.
        bytes: u64,
    },
    /// GetNumConnections: `Ok`, address, port, count.
    NumConnections {
        /// Echoed address and port (the configured address, e.g. `0.0.0.0`).
        node: NodeInfo<'a>,
        /// Open legacy connections.
        count: u64,
    },
    /// GetVersion: `Ok` and the API version string ([`super::API_VERSION`]).
    Version(&'a [u8]),
}

impl<'a> LogfilesReply<'a> {
    /// Decodes the reply to `cmd` (its head, for a batch stream) from the front of `buf`, with
    /// the bytes it used.
    pub fn decode(
        cmd: LogfilesCommand,
        buf: &'a [u8],
    ) -> Result<(LogfilesReply<'a>, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let status = r.read_status()?;
        if status != Status::Ok {
            return Ok((LogfilesReply::Status(status), r.position()));
        }
        let reply = match cmd {
            LogfilesCommand::GetChannels => LogfilesReply::Channels(r.read_list()?),
            LogfilesCommand::GetChannelSize | LogfilesCommand::GetSize => {
                let node = NodeInfo::decode(&mut r)?;
                LogfilesReply::Size {
                    node,
                    records: r.read_u64()?,
                    bytes: r.read_u64()?,
                }
            }
            LogfilesCommand::GetNumConnections => {
                let node = NodeInfo::decode(&mut r)?;
                LogfilesReply::NumConnections {
                    node,
                    count: r.read_u64()?,
                }
            }
            LogfilesCommand::GetVersion => LogfilesReply::Version(r.read_array()?),
            LogfilesCommand::Put
            | LogfilesCommand::RemoveChannel
            | LogfilesCommand::GetRange
            | LogfilesCommand::GetAll
            | LogfilesCommand::GetAllFilter
            | LogfilesCommand::GetRangeFilter
            | LogfilesCommand::GetRangeRegex
            | LogfilesCommand::Redistribute
            | LogfilesCommand::PutBatch => LogfilesReply::Status(Status::Ok),
        };
        Ok((reply, r.position()))
    }

    /// Appends the reply's wire bytes. Channel lists must not hold an empty name (it would end
    /// them).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let ok = Status::Ok.code();
        match self {
            LogfilesReply::Status(s) => put_i32(out, s.code()),
            LogfilesReply::Channels(names) => {
                put_i32(out, ok);
                put_list(out, names);
            }
            LogfilesReply::Size {
                node,
                records,
                bytes,
            } => {
                put_i32(out, ok);
                node.encode(out);
                put_u64(out, *records);
                put_u64(out, *bytes);
            }
            LogfilesReply::NumConnections { node, count } => {
                put_i32(out, ok);
                node.encode(out);
                put_u64(out, *count);
            }
            LogfilesReply::Version(v) => {
                put_i32(out, ok);
                put_array(out, v);
            }
        }
    }
}

/// One item of a batch stream, after its `Ok` head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchItem<'a> {
    /// One compressed batch (`u64 raw length` + LZO1X-1) for [`crate::batch::decompress`].
    Batch(&'a [u8]),
    /// The empty array that ends the stream.
    End,
}

/// Decodes one batch-stream item from the front of `buf`, with the bytes it used. A batch
/// longer than [`crate::MAX_ARRAY_LEN`] is refused on its prefix; a batch shorter than its
/// 8-byte raw length cannot be one.
pub fn decode_batch_item(buf: &[u8]) -> Result<(BatchItem<'_>, usize), DecodeError> {
    let mut r = Reader::new(buf);
    let item = match r.read_array()? {
        [] => BatchItem::End,
        short if short.len() < 8 => {
            return Err(ProtocolError::BadBatch("shorter than its length header").into())
        }
        batch => BatchItem::Batch(batch),
    };
    Ok((item, r.position()))
}

/// Appends the empty array that ends a batch stream (each batch itself is written by
/// [`crate::batch::BatchBuilder::finish_into`]).
pub fn encode_stream_end(out: &mut Vec<u8>) {
    put_array(out, b"");
}
