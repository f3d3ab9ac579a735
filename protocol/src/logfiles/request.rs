//! Logfiles requests: decode (node side) and encode (client side), and the length hint the
//! node's input budget reserves.
//!
//! Layouts (spec/logfiles.md section 2; `dlsproto/node/request/*.d` read the fields in this
//! order): `arr` is a u64 LE length and that many bytes; `key` is an `arr` that should hold 16
//! hex digits. Channel names and keys stay raw bytes here, as in [`crate::dht`]: the node checks
//! the channel name (409) and then parses keys with [`crate::parse_key`] itself, closing the
//! connection on a bad one as the original did. A PutBatch body is one compressed batch as
//! [`crate::batch`] reads it (`decompress`, then `Pairs`).
//!
//! | command | after the i32 code |
//! |---|---|
//! | Put 3 | `arr(channel) key arr(value)` |
//! | GetChannels 17, GetSize 19, GetNumConnections 23, GetVersion 24 | nothing |
//! | GetChannelSize 18, RemoveChannel 22, GetAll 29 | `arr(channel)` |
//! | GetRange 28 | `arr(channel) key(lower) key(upper)` |
//! | GetAllFilter 31 | `arr(channel) arr(filter)` |
//! | GetRangeFilter 32 | `arr(channel) key(lower) key(upper) arr(filter)` |
//! | GetRangeRegex 34 | `arr(channel) key(lower) key(upper) u8(mode) arr(pattern)` |
//! | Redistribute 35 | `f32(fraction)`, then `arr(address) u16(port)` per node, then an empty `arr` (no port) |
//! | PutBatch 36 | `arr(channel) arr(u64 raw length, LZO1X-1 data)` |

use super::{FilterMode, LogfilesCommand};
use crate::error::{DecodeError, ProtocolError};
use crate::wire::{put_array, put_f32, put_i32, put_u16, put_u8, Reader};

/// One destination of a Redistribute request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedistributeNode<'a> {
    /// IPv4 address as text (never empty: an empty address ends the list).
    pub address: &'a [u8],
    /// Legacy port.
    pub port: u16,
}

/// A decoded logfiles request, borrowing its arrays from the input buffer. Exhaustive: the node
/// handles every request. `PartialEq` only: Redistribute's fraction is an `f32`.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)] // the fields are the protocol's, named as in spec/logfiles.md section 2
pub enum LogfilesRequest<'a> {
    Put {
        channel: &'a [u8],
        key: &'a [u8],
        value: &'a [u8],
    },
    GetChannels,
    GetChannelSize {
        channel: &'a [u8],
    },
    GetSize,
    RemoveChannel {
        channel: &'a [u8],
    },
    GetNumConnections,
    GetVersion,
    GetRange {
        channel: &'a [u8],
        lower: &'a [u8],
        upper: &'a [u8],
    },
    GetAll {
        channel: &'a [u8],
    },
    GetAllFilter {
        channel: &'a [u8],
        filter: &'a [u8],
    },
    GetRangeFilter {
        channel: &'a [u8],
        lower: &'a [u8],
        upper: &'a [u8],
        filter: &'a [u8],
    },
    GetRangeRegex {
        channel: &'a [u8],
        lower: &'a [u8],
        upper: &'a [u8],
        mode: FilterMode,
        pattern: &'a [u8],
    },
    Redistribute {
        fraction: f32,
        nodes: Vec<RedistributeNode<'a>>,
    },
    PutBatch {
        channel: &'a [u8],
        batch: &'a [u8],
    },
}

/// One field of a request after its code.
#[derive(Clone, Copy)]
enum Field {
    Array,
    Byte,
    Float,
    /// Redistribute's `(arr(address) u16(port))*` ended by an empty array.
    Nodes,
}

impl Field {
    /// Fewest bytes the field can take.
    fn min_len(self) -> u64 {
        match self {
            Field::Array | Field::Nodes => 8,
            Field::Byte => 1,
            Field::Float => 4,
        }
    }
}

fn fields(cmd: LogfilesCommand) -> &'static [Field] {
    use Field::{Array, Byte, Float, Nodes};
    match cmd {
        LogfilesCommand::Put | LogfilesCommand::GetRange => &[Array, Array, Array],
        LogfilesCommand::GetChannels
        | LogfilesCommand::GetSize
        | LogfilesCommand::GetNumConnections
        | LogfilesCommand::GetVersion => &[],
        LogfilesCommand::GetChannelSize
        | LogfilesCommand::RemoveChannel
        | LogfilesCommand::GetAll => &[Array],
        LogfilesCommand::GetAllFilter | LogfilesCommand::PutBatch => &[Array, Array],
        LogfilesCommand::GetRangeFilter => &[Array, Array, Array, Array],
        LogfilesCommand::GetRangeRegex => &[Array, Array, Array, Byte, Array],
        LogfilesCommand::Redistribute => &[Float, Nodes],
    }
}

/// The u64 length prefix at `at`, if all its bytes are there.
fn prefix_at(buf: &[u8], at: u64) -> Option<u64> {
    let at = usize::try_from(at).ok()?;
    let bytes = buf.get(at..at.checked_add(8)?)?;
    Reader::new(bytes).read_u64().ok()
}

/// Where the field at `at` ends, or `Err(lower bound of the request's end)` when its length
/// is not known yet; `later` is the fewest bytes of the fields after it.
fn field_end(buf: &[u8], field: Field, mut at: u64, later: u64) -> Result<u64, u64> {
    let short = |at: u64| at.saturating_add(8).saturating_add(later);
    match field {
        Field::Byte | Field::Float => Ok(at.saturating_add(field.min_len())),
        Field::Array => match prefix_at(buf, at) {
            Some(len) => Ok(at.saturating_add(8).saturating_add(len)),
            None => Err(short(at)),
        },
        Field::Nodes => loop {
            match prefix_at(buf, at) {
                Some(0) => return Ok(at.saturating_add(8)),
                // The address, its port, and at least the empty array that ends the list.
                Some(len) => at = at.saturating_add(8).saturating_add(len).saturating_add(2),
                None => return Err(short(at)),
            }
        },
    }
}

impl<'a> LogfilesRequest<'a> {
    /// For a request at the front of `buf` that is not complete: a lower bound on its total
    /// length, from the length prefixes that have arrived (each field still to come counts its
    /// fewest bytes; a node list not yet ended counts one more prefix). Exact once every prefix
    /// is there. `None` when the code has not arrived or is unknown.
    pub fn needed_len(buf: &[u8]) -> Option<usize> {
        let mut r = Reader::new(buf);
        let cmd = LogfilesCommand::from_code(r.read_i32().ok()?)?;
        let fields = fields(cmd);
        let mut at: u64 = 4;
        for (i, field) in fields.iter().enumerate() {
            let later = fields[i + 1..].iter().map(|f| f.min_len()).sum();
            match field_end(buf, *field, at, later) {
                Ok(end) => at = end,
                Err(need) => return usize::try_from(need).ok(),
            }
        }
        usize::try_from(at).ok()
    }

    /// Decodes one request from the front of `buf`, returning it and the bytes it used. Every
    /// array (channel names and keys included) is refused on its prefix when longer than
    /// [`crate::MAX_ARRAY_LEN`], before its body has arrived; a GetRangeRegex mode byte that is
    /// not a [`FilterMode`] is refused as soon as it arrives.
    pub fn decode(buf: &'a [u8]) -> Result<(LogfilesRequest<'a>, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let code = r.read_i32()?;
        let cmd = LogfilesCommand::from_code(code).ok_or(ProtocolError::UnknownCommand(code))?;
        let req = match cmd {
            LogfilesCommand::Put => LogfilesRequest::Put {
                channel: r.read_array()?,
                key: r.read_array()?,
                value: r.read_array()?,
            },
            LogfilesCommand::GetChannels => LogfilesRequest::GetChannels,
            LogfilesCommand::GetChannelSize => LogfilesRequest::GetChannelSize {
                channel: r.read_array()?,
            },
            LogfilesCommand::GetSize => LogfilesRequest::GetSize,
            LogfilesCommand::RemoveChannel => LogfilesRequest::RemoveChannel {
                channel: r.read_array()?,
            },
            LogfilesCommand::GetNumConnections => LogfilesRequest::GetNumConnections,
            LogfilesCommand::GetVersion => LogfilesRequest::GetVersion,
            LogfilesCommand::GetRange => LogfilesRequest::GetRange {
                channel: r.read_array()?,
                lower: r.read_array()?,
                upper: r.read_array()?,
            },
            LogfilesCommand::GetAll => LogfilesRequest::GetAll {
                channel: r.read_array()?,
            },
            LogfilesCommand::GetAllFilter => LogfilesRequest::GetAllFilter {
                channel: r.read_array()?,
                filter: r.read_array()?,
            },
            LogfilesCommand::GetRangeFilter => LogfilesRequest::GetRangeFilter {
                channel: r.read_array()?,
                lower: r.read_array()?,
                upper: r.read_array()?,
                filter: r.read_array()?,
            },
            LogfilesCommand::GetRangeRegex => LogfilesRequest::GetRangeRegex {
                channel: r.read_array()?,
                lower: r.read_array()?,
                upper: r.read_array()?,
                mode: FilterMode::from_code(r.read_u8()?).ok_or(ProtocolError::Malformed(
                    "GetRangeRegex filter mode not 0, 1 or 2",
                ))?,
                pattern: r.read_array()?,
            },
            LogfilesCommand::Redistribute => LogfilesRequest::Redistribute {
                fraction: r.read_f32()?,
                nodes: read_nodes(&mut r)?,
            },
            LogfilesCommand::PutBatch => LogfilesRequest::PutBatch {
                channel: r.read_array()?,
                batch: r.read_array()?,
            },
        };
        Ok((req, r.position()))
    }

    /// The request's command.
    pub fn command(&self) -> LogfilesCommand {
        match self {
            LogfilesRequest::Put { .. } => LogfilesCommand::Put,
            LogfilesRequest::GetChannels => LogfilesCommand::GetChannels,
            LogfilesRequest::GetChannelSize { .. } => LogfilesCommand::GetChannelSize,
            LogfilesRequest::GetSize => LogfilesCommand::GetSize,
            LogfilesRequest::RemoveChannel { .. } => LogfilesCommand::RemoveChannel,
            LogfilesRequest::GetNumConnections => LogfilesCommand::GetNumConnections,
            LogfilesRequest::GetVersion => LogfilesCommand::GetVersion,
            LogfilesRequest::GetRange { .. } => LogfilesCommand::GetRange,
            LogfilesRequest::GetAll { .. } => LogfilesCommand::GetAll,
            LogfilesRequest::GetAllFilter { .. } => LogfilesCommand::GetAllFilter,
            LogfilesRequest::GetRangeFilter { .. } => LogfilesCommand::GetRangeFilter,
            LogfilesRequest::GetRangeRegex { .. } => LogfilesCommand::GetRangeRegex,
            LogfilesRequest::Redistribute { .. } => LogfilesCommand::Redistribute,
            LogfilesRequest::PutBatch { .. } => LogfilesCommand::PutBatch,
        }
    }

    /// Appends the request's wire bytes to `out`. A Redistribute node must not have an empty
    /// address: it would end the list early (the original client never sends one).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_i32(out, self.command().code());
        let arrays = |out: &mut Vec<u8>, items: &[&[u8]]| {
            for item in items {
                put_array(out, item);
            }
        };
        match self {
            LogfilesRequest::GetChannels
            | LogfilesRequest::GetSize
            | LogfilesRequest::GetNumConnections
            | LogfilesRequest::GetVersion => {}
            LogfilesRequest::GetChannelSize { channel }
            | LogfilesRequest::RemoveChannel { channel }
            | LogfilesRequest::GetAll { channel } => put_array(out, channel),
            LogfilesRequest::Put {
                channel: a,
                key: b,
                value: c,
            }
            | LogfilesRequest::GetRange {
                channel: a,
                lower: b,
                upper: c,
            } => arrays(out, &[a, b, c]),
            LogfilesRequest::GetAllFilter {
                channel: a,
                filter: b,
            }
            | LogfilesRequest::PutBatch {
                channel: a,
                batch: b,
            } => arrays(out, &[a, b]),
            LogfilesRequest::GetRangeFilter {
                channel,
                lower,
                upper,
                filter,
            } => arrays(out, &[channel, lower, upper, filter]),
            LogfilesRequest::GetRangeRegex {
                channel,
                lower,
                upper,
                mode,
                pattern,
            } => {
                arrays(out, &[channel, lower, upper]);
                put_u8(out, mode.code());
                put_array(out, pattern);
            }
            LogfilesRequest::Redistribute { fraction, nodes } => {
                put_f32(out, *fraction);
                for node in nodes {
                    put_array(out, node.address);
                    put_u16(out, node.port);
                }
                put_array(out, b"");
            }
        }
    }
}

/// Redistribute's node list: address and port pairs until an empty address.
fn read_nodes<'a>(r: &mut Reader<'a>) -> Result<Vec<RedistributeNode<'a>>, DecodeError> {
    let mut nodes = Vec::new();
    loop {
        match r.read_array()? {
            [] => return Ok(nodes),
            address => nodes.push(RedistributeNode {
                address,
                port: r.read_u16()?,
            }),
        }
    }
}
