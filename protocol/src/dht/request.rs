//! Dht requests: decode (node side) and encode (client side).
//!
//! Keys stay raw hex bytes here: the node checks the channel name before it parses the key, and
//! answers BadChannelName for a bad channel even when the key is malformed too.

use super::DhtCommand;
use crate::error::{DecodeError, ProtocolError};
use crate::wire::{put_array, put_i32, put_u16, put_u64, Reader};

/// One node of a Redistribute request, with its new range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedistributeNode<'a> {
    /// IPv4 address as text.
    pub address: &'a [u8],
    /// Legacy port.
    pub port: u16,
    /// New range minimum.
    pub min: u64,
    /// New range maximum.
    pub max: u64,
}

/// A decoded dht request, borrowing its arrays from the input buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // the fields are the protocol's, named as in spec/dht.md section 2
pub enum DhtRequest<'a> {
    Put {
        channel: &'a [u8],
        key: &'a [u8],
        value: &'a [u8],
    },
    Get {
        channel: &'a [u8],
        key: &'a [u8],
    },
    Exists {
        channel: &'a [u8],
        key: &'a [u8],
    },
    Remove {
        channel: &'a [u8],
        key: &'a [u8],
    },
    GetChannels,
    GetChannelSize {
        channel: &'a [u8],
    },
    GetSize,
    GetResponsibleRange,
    RemoveChannel {
        channel: &'a [u8],
    },
    GetNumConnections,
    GetVersion,
    Listen {
        channel: &'a [u8],
    },
    GetAll {
        channel: &'a [u8],
    },
    GetAllKeys {
        channel: &'a [u8],
    },
    GetAllFilter {
        channel: &'a [u8],
        filter: &'a [u8],
    },
    Redistribute {
        min: u64,
        max: u64,
        nodes: Vec<RedistributeNode<'a>>,
    },
    PutBatch {
        channel: &'a [u8],
        batch: &'a [u8],
    },
}

/// The head of a Put whose value is announced longer than the node's record limit: the node
/// answers it without buffering the value, whose bytes it drops as they arrive (the
/// original's "read with limit").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OversizedPut<'a> {
    /// The channel name.
    pub channel: &'a [u8],
    /// The key, as sent.
    pub key: &'a [u8],
    /// The announced value length.
    pub value_len: u64,
    /// Bytes of the head: command, channel, key and the value's length prefix.
    pub head_len: usize,
}

/// Array fields that follow the command code, for the commands made of arrays only.
fn array_fields(cmd: DhtCommand) -> Option<usize> {
    Some(match cmd {
        DhtCommand::Put => 3,
        DhtCommand::Get
        | DhtCommand::Exists
        | DhtCommand::Remove
        | DhtCommand::GetAllFilter
        | DhtCommand::PutBatch => 2,
        DhtCommand::GetChannelSize
        | DhtCommand::RemoveChannel
        | DhtCommand::Listen
        | DhtCommand::GetAll
        | DhtCommand::GetAllKeys => 1,
        DhtCommand::GetChannels
        | DhtCommand::GetSize
        | DhtCommand::GetResponsibleRange
        | DhtCommand::GetNumConnections
        | DhtCommand::GetVersion => 0,
        DhtCommand::Redistribute => return None,
    })
}

impl<'a> DhtRequest<'a> {
    /// For a request at the front of `buf` that is not complete: a lower bound on its total
    /// length, from the length prefixes that have arrived (each array still to come counts
    /// its 8-byte prefix). `None` when the command is unknown or not made of arrays only
    /// (Redistribute), or the code has not arrived.
    pub fn needed_len(buf: &[u8]) -> Option<usize> {
        let mut r = Reader::new(buf);
        let cmd = DhtCommand::from_code(r.read_i32().ok()?)?;
        let fields = array_fields(cmd)?;
        let mut need: u64 = 4;
        for i in 0..fields {
            let Some(prefix) = usize::try_from(need)
                .ok()
                .and_then(|at| buf.get(at..at + 8))
            else {
                need += 8 * (fields - i) as u64;
                break;
            };
            let mut p = Reader::new(prefix);
            need = need.saturating_add(8).saturating_add(p.read_u64().ok()?);
        }
        usize::try_from(need).ok()
    }

    /// The head of a Put at the front of `buf` whose value is announced longer than `limit`
    /// (and at most [`crate::MAX_ARRAY_LEN`]), once the channel, the key and the value's
    /// length prefix have arrived; `None` for anything else.
    pub fn oversized_put(buf: &'a [u8], limit: u64) -> Option<OversizedPut<'a>> {
        let mut r = Reader::new(buf);
        if DhtCommand::from_code(r.read_i32().ok()?)? != DhtCommand::Put {
            return None;
        }
        let channel = r.read_array().ok()?;
        let key = r.read_array().ok()?;
        let value_len = r.read_u64().ok()?;
        (value_len > limit && value_len <= crate::MAX_ARRAY_LEN).then_some(OversizedPut {
            channel,
            key,
            value_len,
            head_len: r.position(),
        })
    }

    /// Decodes one request from the front of `buf`, returning it and the bytes it used.
    pub fn decode(buf: &'a [u8]) -> Result<(DhtRequest<'a>, usize), DecodeError> {
        let mut r = Reader::new(buf);
        let code = r.read_i32()?;
        let cmd = DhtCommand::from_code(code).ok_or(ProtocolError::UnknownCommand(code))?;
        let req = match cmd {
            DhtCommand::Put => DhtRequest::Put {
                channel: r.read_array()?,
                key: r.read_array()?,
                value: r.read_array()?,
            },
            DhtCommand::Get => DhtRequest::Get {
                channel: r.read_array()?,
                key: r.read_array()?,
            },
            DhtCommand::Exists => DhtRequest::Exists {
                channel: r.read_array()?,
                key: r.read_array()?,
            },
            DhtCommand::Remove => DhtRequest::Remove {
                channel: r.read_array()?,
                key: r.read_array()?,
            },
            DhtCommand::GetChannels => DhtRequest::GetChannels,
            DhtCommand::GetChannelSize => DhtRequest::GetChannelSize {
                channel: r.read_array()?,
            },
            DhtCommand::GetSize => DhtRequest::GetSize,
            DhtCommand::GetResponsibleRange => DhtRequest::GetResponsibleRange,
            DhtCommand::RemoveChannel => DhtRequest::RemoveChannel {
                channel: r.read_array()?,
            },
            DhtCommand::GetNumConnections => DhtRequest::GetNumConnections,
            DhtCommand::GetVersion => DhtRequest::GetVersion,
            DhtCommand::Listen => DhtRequest::Listen {
                channel: r.read_array()?,
            },
            DhtCommand::GetAll => DhtRequest::GetAll {
                channel: r.read_array()?,
            },
            DhtCommand::GetAllKeys => DhtRequest::GetAllKeys {
                channel: r.read_array()?,
            },
            DhtCommand::GetAllFilter => DhtRequest::GetAllFilter {
                channel: r.read_array()?,
                filter: r.read_array()?,
            },
            DhtCommand::Redistribute => {
                let min = r.read_u64()?;
                let max = r.read_u64()?;
                let mut nodes = Vec::new();
                loop {
                    let address = r.read_array()?;
                    if address.is_empty() {
                        break;
                    }
                    let port = r.read_u16()?;
                    let min = r.read_u64()?;
                    let max = r.read_u64()?;
                    nodes.push(RedistributeNode {
                        address,
                        port,
                        min,
                        max,
                    });
                }
                DhtRequest::Redistribute { min, max, nodes }
            }
            DhtCommand::PutBatch => DhtRequest::PutBatch {
                channel: r.read_array()?,
                batch: r.read_array()?,
            },
        };
        Ok((req, r.position()))
    }

    /// The request's command.
    pub fn command(&self) -> DhtCommand {
        match self {
            DhtRequest::Put { .. } => DhtCommand::Put,
            DhtRequest::Get { .. } => DhtCommand::Get,
            DhtRequest::Exists { .. } => DhtCommand::Exists,
            DhtRequest::Remove { .. } => DhtCommand::Remove,
            DhtRequest::GetChannels => DhtCommand::GetChannels,
            DhtRequest::GetChannelSize { .. } => DhtCommand::GetChannelSize,
            DhtRequest::GetSize => DhtCommand::GetSize,
            DhtRequest::GetResponsibleRange => DhtCommand::GetResponsibleRange,
            DhtRequest::RemoveChannel { .. } => DhtCommand::RemoveChannel,
            DhtRequest::GetNumConnections => DhtCommand::GetNumConnections,
            DhtRequest::GetVersion => DhtCommand::GetVersion,
            DhtRequest::Listen { .. } => DhtCommand::Listen,
            DhtRequest::GetAll { .. } => DhtCommand::GetAll,
            DhtRequest::GetAllKeys { .. } => DhtCommand::GetAllKeys,
            DhtRequest::GetAllFilter { .. } => DhtCommand::GetAllFilter,
            DhtRequest::Redistribute { .. } => DhtCommand::Redistribute,
            DhtRequest::PutBatch { .. } => DhtCommand::PutBatch,
        }
    }

    /// Appends the request's wire bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_i32(out, self.command().code());
        match self {
            DhtRequest::Put {
                channel,
                key,
                value,
            } => {
                put_array(out, channel);
                put_array(out, key);
                put_array(out, value);
            }
            DhtRequest::Get { channel, key }
            | DhtRequest::Exists { channel, key }
            | DhtRequest::Remove { channel, key } => {
                put_array(out, channel);
                put_array(out, key);
            }
            DhtRequest::GetChannels
            | DhtRequest::GetSize
            | DhtRequest::GetResponsibleRange
            | DhtRequest::GetNumConnections
            | DhtRequest::GetVersion => {}
            DhtRequest::GetChannelSize { channel }
            | DhtRequest::RemoveChannel { channel }
            | DhtRequest::Listen { channel }
            | DhtRequest::GetAll { channel }
            | DhtRequest::GetAllKeys { channel } => put_array(out, channel),
            DhtRequest::GetAllFilter { channel, filter } => {
                put_array(out, channel);
                put_array(out, filter);
            }
            DhtRequest::Redistribute { min, max, nodes } => {
                put_u64(out, *min);
                put_u64(out, *max);
                for n in nodes {
                    put_array(out, n.address);
                    put_u16(out, n.port);
                    put_u64(out, n.min);
                    put_u64(out, n.max);
                }
                put_array(out, b"");
            }
            DhtRequest::PutBatch { channel, batch } => {
                put_array(out, channel);
                put_array(out, batch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MAX_ARRAY_LEN;
    use proptest::prelude::*;

    #[test]
    fn needed_len_and_oversized_put_read_the_length_prefixes() {
        let mut out = Vec::new();
        let value = vec![7u8; 1000];
        DhtRequest::Put {
            channel: b"ch",
            key: b"0000000000000001",
            value: &value,
        }
        .encode(&mut out);
        let total = out.len();
        // Code only: three arrays to come, at least their prefixes.
        assert_eq!(DhtRequest::needed_len(&out[..4]), Some(4 + 24));
        assert_eq!(DhtRequest::needed_len(&out[..3]), None);
        // Channel prefix there: its length counts; key and value prefixes to come.
        assert_eq!(DhtRequest::needed_len(&out[..12]), Some(4 + 8 + 2 + 16));
        // All prefixes there: the exact length.
        let head = 4 + 8 + 2 + 8 + 16 + 8;
        assert_eq!(DhtRequest::needed_len(&out[..head]), Some(total));
        assert_eq!(DhtRequest::needed_len(&out[..total - 1]), Some(total));
        let mut redistribute = Vec::new();
        put_i32(&mut redistribute, DhtCommand::Redistribute.code());
        assert_eq!(DhtRequest::needed_len(&redistribute), None);

        let big = DhtRequest::oversized_put(&out[..head], 999).expect("over 999");
        assert_eq!(
            (big.channel, big.key, big.value_len, big.head_len),
            (&b"ch"[..], &b"0000000000000001"[..], 1000, head)
        );
        assert_eq!(DhtRequest::oversized_put(&out[..head], 1000), None);
        assert_eq!(DhtRequest::oversized_put(&out[..head - 1], 10), None);
        let mut huge = out[..head - 8].to_vec();
        put_u64(&mut huge, MAX_ARRAY_LEN + 1);
        assert_eq!(DhtRequest::oversized_put(&huge, 10), None, "closes instead");
    }

    #[test]
    fn spec_put_example() {
        let mut out = Vec::new();
        DhtRequest::Put {
            channel: b"test",
            key: b"00000000000000ab",
            value: b"hi",
        }
        .encode(&mut out);
        let mut expect = vec![1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0];
        expect.extend_from_slice(b"test");
        expect.extend_from_slice(&[16, 0, 0, 0, 0, 0, 0, 0]);
        expect.extend_from_slice(b"00000000000000ab");
        expect.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
        expect.extend_from_slice(b"hi");
        assert_eq!(out, expect);
    }

    #[test]
    fn unknown_and_dead_codes() {
        for code in [0i32, 2, 3, 8, 13, 21, 26, 32, 35, -1, i32::MAX] {
            let buf = code.to_le_bytes();
            assert_eq!(
                DhtRequest::decode(&buf),
                Err(DecodeError::Invalid(ProtocolError::UnknownCommand(code)))
            );
        }
    }

    #[test]
    fn oversized_value_is_refused_before_its_body() {
        let mut out = Vec::new();
        put_i32(&mut out, 1);
        put_array(&mut out, b"c");
        put_array(&mut out, b"00000000000000ab");
        put_u64(&mut out, MAX_ARRAY_LEN + 1);
        assert!(matches!(
            DhtRequest::decode(&out),
            Err(DecodeError::Invalid(ProtocolError::ArrayTooLong { .. }))
        ));
    }

    fn arb_bytes() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..40)
    }

    #[derive(Debug, Clone)]
    struct Owned(
        i32,
        Vec<u8>,
        Vec<u8>,
        Vec<u8>,
        u64,
        u64,
        Vec<(Vec<u8>, u16, u64, u64)>,
    );

    fn arb_owned() -> impl Strategy<Value = Owned> {
        (
            proptest::sample::select(DhtCommand::ALL.map(DhtCommand::code).to_vec()),
            arb_bytes(),
            arb_bytes(),
            arb_bytes(),
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(
                (
                    proptest::collection::vec(any::<u8>(), 1..16),
                    any::<u16>(),
                    any::<u64>(),
                    any::<u64>(),
                ),
                0..4,
            ),
        )
            .prop_map(|(c, a, b, d, x, y, n)| Owned(c, a, b, d, x, y, n))
    }

    fn build(o: &Owned) -> DhtRequest<'_> {
        let (ch, k, v) = (&o.1[..], &o.2[..], &o.3[..]);
        match DhtCommand::from_code(o.0).unwrap() {
            DhtCommand::Put => DhtRequest::Put {
                channel: ch,
                key: k,
                value: v,
            },
            DhtCommand::Get => DhtRequest::Get {
                channel: ch,
                key: k,
            },
            DhtCommand::Exists => DhtRequest::Exists {
                channel: ch,
                key: k,
            },
            DhtCommand::Remove => DhtRequest::Remove {
                channel: ch,
                key: k,
            },
            DhtCommand::GetChannels => DhtRequest::GetChannels,
            DhtCommand::GetChannelSize => DhtRequest::GetChannelSize { channel: ch },
            DhtCommand::GetSize => DhtRequest::GetSize,
            DhtCommand::GetResponsibleRange => DhtRequest::GetResponsibleRange,
            DhtCommand::RemoveChannel => DhtRequest::RemoveChannel { channel: ch },
            DhtCommand::GetNumConnections => DhtRequest::GetNumConnections,
            DhtCommand::GetVersion => DhtRequest::GetVersion,
            DhtCommand::Listen => DhtRequest::Listen { channel: ch },
            DhtCommand::GetAll => DhtRequest::GetAll { channel: ch },
            DhtCommand::GetAllKeys => DhtRequest::GetAllKeys { channel: ch },
            DhtCommand::GetAllFilter => DhtRequest::GetAllFilter {
                channel: ch,
                filter: v,
            },
            DhtCommand::Redistribute => DhtRequest::Redistribute {
                min: o.4,
                max: o.5,
                nodes: o
                    .6
                    .iter()
                    .map(|(a, port, min, max)| RedistributeNode {
                        address: a,
                        port: *port,
                        min: *min,
                        max: *max,
                    })
                    .collect(),
            },
            DhtCommand::PutBatch => DhtRequest::PutBatch {
                channel: ch,
                batch: v,
            },
        }
    }

    proptest! {
        #[test]
        fn request_roundtrip(o in arb_owned(), tail in arb_bytes()) {
            let req = build(&o);
            let mut out = Vec::new();
            req.encode(&mut out);
            let len = out.len();
            let arrays_only = req.command() != DhtCommand::Redistribute;
            for cut in 0..len {
                prop_assert_eq!(DhtRequest::decode(&out[..cut]), Err(DecodeError::Incomplete));
                // The length hint is a lower bound past what has arrived, never past the end.
                if let Some(n) = DhtRequest::needed_len(&out[..cut]) {
                    prop_assert!(n > cut && n <= len, "hint {} at cut {} of {}", n, cut, len);
                } else {
                    prop_assert!(cut < 4 || !arrays_only);
                }
            }
            if arrays_only {
                prop_assert_eq!(DhtRequest::needed_len(&out), Some(len));
            }
            out.extend_from_slice(&tail);
            let (got, used) = DhtRequest::decode(&out).unwrap();
            prop_assert_eq!(used, len);
            prop_assert_eq!(got, req);
        }
    }
}
