//! Queue requests: decode (node side) and encode (client side), the length hint the node's
//! input budget reserves, and the records of a Produce/ProduceMulti stream.
//!
//! Layouts (spec/queue.md section 2; `queuenode/request/*Request.d` @5c660a8 read the fields in
//! this order): `arr` is a u64 LE length and that many bytes, `list` is arrays ended by an empty
//! one. Channel names stay raw bytes here: the node validates them and answers 409 itself.
//!
//! | command | after the i32 code |
//! |---|---|
//! | Push 1 | `arr(channel) arr(value)` |
//! | Pop 2, GetChannelSize 4, Consume 6, Produce 10, RemoveChannel 12 | `arr(channel)` |
//! | GetChannels 3, GetSize 5, GetSizeLimit 7, GetNumConnections 8 | nothing |
//! | PushMulti 9, PushMulti2 13 | `list(channel) arr(value)` |
//! | ProduceMulti 11 | `list(channel)` |

use super::QueueCommand;
use crate::error::{DecodeError, ProtocolError};
use crate::wire::{put_array, put_i32, put_list, Reader};

/// A decoded queue request, borrowing its arrays from the input buffer. Exhaustive: the node
/// handles every request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are the protocol's, named as in spec/queue.md section 2
pub enum QueueRequest<'a> {
    Push {
        channel: &'a [u8],
        value: &'a [u8],
    },
    Pop {
        channel: &'a [u8],
    },
    GetChannels,
    GetChannelSize {
        channel: &'a [u8],
    },
    GetSize,
    Consume {
        channel: &'a [u8],
    },
    GetSizeLimit,
    GetNumConnections,
    PushMulti {
        channels: Vec<&'a [u8]>,
        value: &'a [u8],
    },
    Produce {
        channel: &'a [u8],
    },
    ProduceMulti {
        channels: Vec<&'a [u8]>,
    },
    RemoveChannel {
        channel: &'a [u8],
    },
    PushMulti2 {
        channels: Vec<&'a [u8]>,
        value: &'a [u8],
    },
}

/// One field of a request after its code.
#[derive(Clone, Copy)]
enum Field {
    Array,
    List,
}

fn fields(cmd: QueueCommand) -> &'static [Field] {
    use Field::{Array, List};
    match cmd {
        QueueCommand::Push => &[Array, Array],
        QueueCommand::Pop
        | QueueCommand::GetChannelSize
        | QueueCommand::Consume
        | QueueCommand::Produce
        | QueueCommand::RemoveChannel => &[Array],
        QueueCommand::GetChannels
        | QueueCommand::GetSize
        | QueueCommand::GetSizeLimit
        | QueueCommand::GetNumConnections => &[],
        QueueCommand::PushMulti | QueueCommand::PushMulti2 => &[List, Array],
        QueueCommand::ProduceMulti => &[List],
    }
}

/// The u64 length prefix at `at`, if all its bytes are there.
fn prefix_at(buf: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Reader::new(bytes).read_u64().ok()
}

impl<'a> QueueRequest<'a> {
    /// For a request at the front of `buf` that is not complete: a lower bound on its total
    /// length, from the length prefixes that have arrived (each field still to come counts its
    /// 8-byte prefix; a list not yet ended counts one more prefix). Exact once every prefix is
    /// there. `None` when the code has not arrived or is unknown.
    pub fn needed_len(buf: &[u8]) -> Option<usize> {
        let mut r = Reader::new(buf);
        let cmd = QueueCommand::from_code(r.read_i32().ok()?)?;
        let fields = fields(cmd);
        let mut at: u64 = 4;
        for (i, field) in fields.iter().enumerate() {
            let later = 8 * (fields.len() - i - 1) as u64;
            match field {
                Field::Array => match prefix_at(buf, at) {
                    Some(len) => at = at.saturating_add(8).saturating_add(len),
                    None => return usize::try_from(at.saturating_add(8 + later)).ok(),
                },
                Field::List => loop {
                    match prefix_at(buf, at) {
                        Some(0) => {
                            at = at.saturating_add(8);
                            break;
                        }
                        Some(len) => at = at.saturating_add(8).saturating_add(len),
                        None => return usize::try_from(at.saturating_add(8 + later)).ok(),
                    }
                },
            }
        }
        usize::try_from(at).ok()
    }

    /// Decodes one request from the front of `buf`, returning it and the bytes it used. Every
    /// array (channel names included) is refused on its prefix when longer than
    /// [`crate::MAX_ARRAY_LEN`], before its body has arrived.
    pub fn decode(buf: &'a [u8]) -> Result<(QueueRequest<'a>, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let code = r.read_i32()?;
        let cmd = QueueCommand::from_code(code).ok_or(ProtocolError::UnknownCommand(code))?;
        let req = match cmd {
            QueueCommand::Push => QueueRequest::Push {
                channel: r.read_array()?,
                value: r.read_array()?,
            },
            QueueCommand::Pop => QueueRequest::Pop {
                channel: r.read_array()?,
            },
            QueueCommand::GetChannels => QueueRequest::GetChannels,
            QueueCommand::GetChannelSize => QueueRequest::GetChannelSize {
                channel: r.read_array()?,
            },
            QueueCommand::GetSize => QueueRequest::GetSize,
            QueueCommand::Consume => QueueRequest::Consume {
                channel: r.read_array()?,
            },
            QueueCommand::GetSizeLimit => QueueRequest::GetSizeLimit,
            QueueCommand::GetNumConnections => QueueRequest::GetNumConnections,
            QueueCommand::PushMulti => QueueRequest::PushMulti {
                channels: r.read_list()?,
                value: r.read_array()?,
            },
            QueueCommand::Produce => QueueRequest::Produce {
                channel: r.read_array()?,
            },
            QueueCommand::ProduceMulti => QueueRequest::ProduceMulti {
                channels: r.read_list()?,
            },
            QueueCommand::RemoveChannel => QueueRequest::RemoveChannel {
                channel: r.read_array()?,
            },
            QueueCommand::PushMulti2 => QueueRequest::PushMulti2 {
                channels: r.read_list()?,
                value: r.read_array()?,
            },
        };
        Ok((req, r.position()))
    }

    /// The request's command.
    pub fn command(&self) -> QueueCommand {
        match self {
            QueueRequest::Push { .. } => QueueCommand::Push,
            QueueRequest::Pop { .. } => QueueCommand::Pop,
            QueueRequest::GetChannels => QueueCommand::GetChannels,
            QueueRequest::GetChannelSize { .. } => QueueCommand::GetChannelSize,
            QueueRequest::GetSize => QueueCommand::GetSize,
            QueueRequest::Consume { .. } => QueueCommand::Consume,
            QueueRequest::GetSizeLimit => QueueCommand::GetSizeLimit,
            QueueRequest::GetNumConnections => QueueCommand::GetNumConnections,
            QueueRequest::PushMulti { .. } => QueueCommand::PushMulti,
            QueueRequest::Produce { .. } => QueueCommand::Produce,
            QueueRequest::ProduceMulti { .. } => QueueCommand::ProduceMulti,
            QueueRequest::RemoveChannel { .. } => QueueCommand::RemoveChannel,
            QueueRequest::PushMulti2 { .. } => QueueCommand::PushMulti2,
        }
    }

    /// Appends the request's wire bytes to `out`. Channel lists must not hold an empty name:
    /// it would end the list early (the original client never sends one).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_i32(out, self.command().code());
        match self {
            QueueRequest::Push { channel, value } => {
                put_array(out, channel);
                put_array(out, value);
            }
            QueueRequest::Pop { channel }
            | QueueRequest::GetChannelSize { channel }
            | QueueRequest::Consume { channel }
            | QueueRequest::Produce { channel }
            | QueueRequest::RemoveChannel { channel } => put_array(out, channel),
            QueueRequest::GetChannels
            | QueueRequest::GetSize
            | QueueRequest::GetSizeLimit
            | QueueRequest::GetNumConnections => {}
            QueueRequest::PushMulti { channels, value }
            | QueueRequest::PushMulti2 { channels, value } => {
                put_list(out, channels);
                put_array(out, value);
            }
            QueueRequest::ProduceMulti { channels } => put_list(out, channels),
        }
    }
}

/// One item of a record stream: a Produce/ProduceMulti stream from the client, or a Consume
/// stream from the node. Both are plain arrays; an empty array ends the stream (empty records
/// are never stored, so it cannot be mistaken for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamRecord<'a> {
    /// A record.
    Record(&'a [u8]),
    /// The empty array that ends the stream.
    End,
}

/// Decodes one stream item from the front of `buf`, with the bytes it used. A record longer
/// than [`crate::MAX_ARRAY_LEN`] is refused on its prefix.
pub fn decode_stream_record(buf: &[u8]) -> Result<(StreamRecord<'_>, usize), DecodeError> {
    let mut r = Reader::new(buf);
    let item = match r.read_array()? {
        [] => StreamRecord::End,
        bytes => StreamRecord::Record(bytes),
    };
    Ok((item, r.position()))
}

/// Appends the empty array that ends a record stream (each record itself is
/// [`crate::wire::put_array`]).
pub fn encode_stream_end(out: &mut Vec<u8>) {
    put_array(out, b"");
}
