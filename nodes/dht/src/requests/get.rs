//! Get (7) and Exists (11): read one record. No hash-range check (reads keep working on the old
//! node during a redistribution); a missing channel or record is an empty value / false. Neither
//! creates the channel.

use super::{status, ChannelCheck};
use crate::stats::{Action, Stats};
use crate::storage::{record_bytes, Storage};
use swarm_core::Step;
use swarm_protocol::wire::{put_array, put_u8};
use swarm_protocol::Status;

/// Get: Ok and the value (empty when missing).
#[inline]
pub(crate) fn get(
    storage: &Storage,
    stats: &mut Stats,
    names: &mut ChannelCheck,
    channel: &[u8],
    hex: &[u8],
    out: &mut Vec<u8>,
) -> Result<Step, String> {
    let Some(k) = names.and_key(channel, hex, out)? else {
        return Ok(Step::Done);
    };
    status(out, Status::Ok);
    let value = storage.get(channel, k).unwrap_or_default();
    put_array(out, value);
    if !value.is_empty() {
        stats.action(Action::Read, 1, record_bytes(value.len()));
    }
    Ok(Step::Done)
}

/// Exists: Ok and 1 or 0.
#[inline]
pub(crate) fn exists(
    storage: &Storage,
    names: &mut ChannelCheck,
    channel: &[u8],
    hex: &[u8],
    out: &mut Vec<u8>,
) -> Result<Step, String> {
    let Some(k) = names.and_key(channel, hex, out)? else {
        return Ok(Step::Done);
    };
    status(out, Status::Ok);
    let found = storage.channel(channel).is_some_and(|c| c.data.contains(k));
    put_u8(out, u8::from(found));
    Ok(Step::Done)
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use swarm_protocol::dht::DhtRequest;
    use swarm_protocol::HashRange;

    #[test]
    fn missing_is_empty_and_false_and_creates_nothing() {
        let mut t = Node::new();
        let get = DhtRequest::Get {
            channel: b"nochan",
            key: b"00000000000000ab",
        };
        assert_eq!(t.request(&get), [&OK[..], &arr(b"")].concat());
        let ex = DhtRequest::Exists {
            channel: b"nochan",
            key: b"00000000000000ab",
        };
        assert_eq!(t.request(&ex), [&OK[..], &[0u8][..]].concat());
        assert!(t.service.storage().channel(b"nochan").is_none());
    }

    #[test]
    fn no_range_check_on_reads() {
        let mut t = Node::with_range(HashRange::EMPTY);
        let get = DhtRequest::Get {
            channel: b"c",
            key: b"0000000000000001",
        };
        assert_eq!(t.request(&get), [&OK[..], &arr(b"")].concat());
    }

    #[test]
    fn bad_channel_and_bad_key() {
        let mut t = Node::new();
        assert_eq!(
            t.request(&DhtRequest::Exists {
                channel: b"",
                key: b"x"
            }),
            status(409)
        );
        assert!(t.request_closes(&DhtRequest::Get {
            channel: b"c",
            key: b"0x00000000000001"
        }));
    }
}
