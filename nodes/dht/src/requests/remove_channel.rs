//! RemoveChannel (22): drop every record of a channel, end its Listen requests (they send their
//! end marker) and move its dump file to `<data_dir>/deleted/` so a restart does not reload it.
//! Iterations over the channel end at their next batch. A missing channel is still Ok.

use super::listen::Listens;
use super::{status, ChannelCheck};
use crate::event::DhtEvent;
use crate::stats::{Action, Stats};
use crate::storage::Storage;
use std::path::Path;
use swarm_core::{Context, Step};
use swarm_protocol::Status;

/// RemoveChannel: always Ok after a valid name; `data_dir` holds the dump file to retire.
#[expect(
    clippy::too_many_arguments,
    reason = "RemoveChannel touches this much; bundling it again would rebuild the service"
)]
pub(crate) fn remove_channel(
    storage: &mut Storage,
    stats: &mut Stats,
    names: &mut ChannelCheck,
    listens: &mut Listens,
    cx: &mut Context<'_, DhtEvent>,
    data_dir: &Path,
    channel: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    if !names.ok(channel, out) {
        return Step::Done;
    }
    let records = storage.channel(channel).map_or(0, |c| c.data.records());
    if let Some(id) = storage.remove_channel(channel) {
        stats.action(Action::Deleted, records, 0);
        listens.end_channel(cx, id);
        log::info!(
            "Removed channel '{}' ({records} records)",
            String::from_utf8_lossy(channel)
        );
    }
    if let Err(e) = crate::dump::retire_dump_file(data_dir, channel) {
        log::error!(
            "RemoveChannel '{}': could not move its dump file to deleted/: {e}",
            String::from_utf8_lossy(channel)
        );
    }
    status(out, Status::Ok);
    Step::Done
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use swarm_protocol::dht::DhtRequest;

    #[test]
    fn removes_records_and_is_ok_when_missing() {
        let mut t = Node::new();
        t.request(&DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000001",
            value: b"v",
        });
        assert_eq!(t.request(&DhtRequest::RemoveChannel { channel: b"c" }), OK);
        assert_eq!(t.request(&DhtRequest::RemoveChannel { channel: b"c" }), OK);
        assert_eq!(t.service.storage().records(), 0);
        assert_eq!(
            t.request(&DhtRequest::GetChannels),
            [&OK[..], &arr(b"")].concat()
        );
    }

    #[test]
    fn moves_the_dump_file_to_deleted() {
        let mut t = Node::new();
        let dir = t.service.settings().data_dir.clone();
        std::fs::write(dir.join("c.tcm"), b"dump").unwrap();
        assert_eq!(t.request(&DhtRequest::RemoveChannel { channel: b"c" }), OK);
        assert!(!dir.join("c.tcm").exists());
        assert_eq!(
            std::fs::read(dir.join("deleted").join("c.tcm")).unwrap(),
            b"dump"
        );
    }
}
