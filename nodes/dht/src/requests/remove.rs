//! Remove (12): delete one record. Hash-range checked (WrongNode); a missing channel or record
//! is still Ok. Listen requests ignore removals. A key removed in a range this node gained by
//! its last Redistribute is remembered, so its old owner's copy does not bring it back.

use super::{status, ChannelCheck};
use crate::redist::gain::Gained;
use crate::stats::{Action, Stats};
use crate::storage::Storage;
use swarm_core::Step;
use swarm_protocol::{HashRange, Status};

/// Remove: WrongNode outside `range`, else Ok whether or not the record existed.
#[inline]
#[expect(
    clippy::too_many_arguments,
    reason = "the handler takes exactly what it touches, as every request file"
)]
pub(crate) fn remove(
    storage: &mut Storage,
    stats: &mut Stats,
    names: &mut ChannelCheck,
    range: HashRange,
    gained: Option<&mut Gained>,
    channel: &[u8],
    hex: &[u8],
    out: &mut Vec<u8>,
) -> Result<Step, String> {
    let Some(k) = names.and_key(channel, hex, out)? else {
        return Ok(Step::Done);
    };
    if !range.contains(k) {
        status(out, Status::WrongNode);
        return Ok(Step::Done);
    }
    status(out, Status::Ok);
    if let Some(g) = gained {
        if g.covers(k) {
            // Its old owner may still send it: it must stay removed.
            g.removed(channel, k);
        }
    }
    if storage.remove(channel, k) {
        stats.action(Action::Deleted, 1, 0);
    }
    Ok(Step::Done)
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use swarm_protocol::dht::DhtRequest;
    use swarm_protocol::HashRange;

    #[test]
    fn remove_then_get() {
        let mut t = Node::new();
        t.request(&DhtRequest::Put {
            channel: b"c",
            key: b"00000000000000ab",
            value: b"v",
        });
        assert_eq!(
            t.request(&DhtRequest::Remove {
                channel: b"c",
                key: b"00000000000000ab"
            }),
            OK
        );
        assert_eq!(
            t.request(&DhtRequest::Remove {
                channel: b"x",
                key: b"00000000000000ab"
            }),
            OK
        );
        let get = DhtRequest::Get {
            channel: b"c",
            key: b"00000000000000ab",
        };
        assert_eq!(t.request(&get), [&OK[..], &arr(b"")].concat());
        assert_eq!(t.service.storage().records(), 0);
    }

    #[test]
    fn wrong_node() {
        let mut t = Node::with_range(HashRange::new(0, 0x7fff_ffff_ffff_ffff).unwrap());
        let r = DhtRequest::Remove {
            channel: b"c",
            key: b"0000000000000001",
        };
        assert_eq!(t.request(&r), status(404));
    }
}
