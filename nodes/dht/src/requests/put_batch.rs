//! PutBatch (34): store a compressed batch of (key, value) pairs, as nodes do among themselves
//! during redistribution. The channel is created if needed.
//!
//! The whole batch is decompressed and every key parsed before anything is written, so a corrupt
//! batch or a malformed key closes the connection with nothing stored (the original could have
//! written part of it first). Records are then applied in order; the first one refused ends the
//! request with its status and the records before it stay written, as in the original:
//! EmptyValue, WrongNode, ValueTooBig (ours: a value Put would refuse, so everything stored can be
//! read back by GetAll), OutOfMemory (the node's size limit, or while this node runs a
//! Redistribute the guard: its bytes at the start times `redist_memory_limit_mulitplier`).
//! PutBatch does not notify Listen requests. In ranges this node gained by its last
//! Redistribute, a record it already holds or a client removed is left as it is
//! (`crate::redist::gain`).

use super::{key, status, ChannelCheck};
use crate::event::DhtEvent;
use crate::redist::gain::Gained;
use crate::settings::DhtSettings;
use crate::stats::{Action, Stats};
use crate::storage::{record_bytes, Storage};
use swarm_core::{Context, Step};
use swarm_protocol::batch::{announced_len, Inflater, Pairs};
use swarm_protocol::Status;

/// What a Redistribute changes about PutBatch.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Moving<'a> {
    /// The memory guard while this node runs a Redistribute: its bytes may not go above.
    pub guard: Option<u64>,
    /// The ranges this node gained, while records may still arrive for them: a record there
    /// is not applied over one this node holds or a client removed (`redist::gain`).
    pub gained: Option<&'a Gained>,
}

/// PutBatch: everything decoded first, then the records written until the first refusal.
#[expect(
    clippy::too_many_arguments,
    reason = "the handler takes exactly what it touches, as every request file"
)]
pub(crate) fn put_batch(
    storage: &mut Storage,
    stats: &mut Stats,
    names: &mut ChannelCheck,
    settings: &DhtSettings,
    moving: Moving<'_>,
    inflater: &mut Inflater,
    cx: &mut Context<'_, DhtEvent>,
    channel: &[u8],
    batch: &[u8],
    out: &mut Vec<u8>,
) -> Result<Step, String> {
    if !names.ok(channel, out) {
        return Ok(Step::Done);
    }
    // What inflating costs the loop, counted before: a batch that fails half way cost as much.
    cx.spend(announced_len(batch).map_err(|e| e.to_string())?);
    let raw = inflater.inflate(batch).map_err(|e| e.to_string())?;
    let mut records = Vec::new();
    for pair in Pairs::new(raw) {
        let (hex, value) = pair.map_err(|e| e.to_string())?;
        records.push((key(hex)?, value));
    }
    storage.channel_or_create(channel);
    let mut result = Status::Ok;
    for (k, value) in records {
        // In a gained range a record this node holds is the same one sent again or a newer
        // one from a client, and one a client removed must stay removed: the old owner's
        // copy is older, so it is stored only where there is none.
        let gained = moving.gained.filter(|g| g.covers(k));
        if gained.is_some_and(|g| g.was_removed(channel, k)) && !value.is_empty() {
            continue;
        }
        result = if value.is_empty() {
            Status::EmptyValue
        } else if !settings.range.contains(k) {
            Status::WrongNode
        } else if value.len() > settings.value_limit() {
            Status::ValueTooBig
        } else if moving
            .guard
            .is_some_and(|limit| storage.bytes() + record_bytes(value.len()) > limit)
        {
            Status::OutOfMemory
        } else {
            match storage.put_with(channel, k, value, gained.is_none()) {
                Err(_) => Status::OutOfMemory,
                Ok(stored) => {
                    if stored {
                        stats.action(Action::Written, 1, record_bytes(value.len()));
                    }
                    continue;
                }
            }
        };
        break;
    }
    status(out, result);
    Ok(Step::Done)
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use swarm_protocol::batch::{BatchBuilder, DEFAULT_BATCH_SIZE};
    use swarm_protocol::dht::DhtRequest;
    use swarm_protocol::{format_key, HashRange, Reader};

    fn batch(records: &[(u64, &[u8])]) -> Vec<u8> {
        let mut b = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        for (k, v) in records {
            assert!(b.try_push_pair(&format_key(*k), v));
        }
        let mut out = Vec::new();
        b.finish_into(&mut out);
        Reader::new(&out).read_array().unwrap().to_vec()
    }

    #[test]
    fn spec_lzo_example_is_accepted() {
        // spec/logfiles.md 1.2: key 0000000057275806, value "Hello", compressed by liblzo2.
        let mut payload = 37u64.to_le_bytes().to_vec();
        payload.extend_from_slice(&[
            0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x30, 0xc0, 0x00, 0x00, 0x03, b'5', b'7', b'2', b'7',
            b'5', b'8', b'0', b'6', 0x05, 0, 0, 0, 0, 0, 0, 0, b'H', b'e', b'l', b'l', b'o', 0x11,
            0x00, 0x00,
        ]);
        let mut t = Node::new();
        assert_eq!(
            t.request(&DhtRequest::PutBatch {
                channel: b"c",
                batch: &payload
            }),
            OK
        );
        assert_eq!(
            t.service.storage().get(b"c", 0x5727_5806),
            Some(&b"Hello"[..])
        );
    }

    #[test]
    fn partial_application_stops_at_first_refusal() {
        let mut t = Node::with_range(HashRange::new(0, 0x7fff_ffff_ffff_ffff).unwrap());
        let b = batch(&[(2, b"a"), (4, b"b"), (1, b"wrong node"), (6, b"c")]);
        assert_eq!(
            t.request(&DhtRequest::PutBatch {
                channel: b"c",
                batch: &b
            }),
            status(404)
        );
        assert_eq!(t.service.storage().records(), 2);
        let b = batch(&[(8, b"a"), (10, b"")]);
        assert_eq!(
            t.request(&DhtRequest::PutBatch {
                channel: b"c",
                batch: &b
            }),
            status(408)
        );
        assert_eq!(t.service.storage().records(), 3);
    }

    #[test]
    fn corrupt_batch_closes_and_writes_nothing() {
        let mut t = Node::new();
        let mut b = batch(&[(2, b"a"), (4, b"b")]);
        let last = b.len() - 1;
        b[last] ^= 0xff;
        b[10] ^= 0x55;
        assert!(t.request_closes(&DhtRequest::PutBatch {
            channel: b"c",
            batch: &b
        }));
        let mut raw = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        assert!(raw.try_push_pair(b"not-a-hex-key!!!", b"v"));
        let mut out = Vec::new();
        raw.finish_into(&mut out);
        let payload = Reader::new(&out).read_array().unwrap().to_vec();
        assert!(t.request_closes(&DhtRequest::PutBatch {
            channel: b"c",
            batch: &payload
        }));
        assert_eq!(t.service.storage().records(), 0);
    }
}
