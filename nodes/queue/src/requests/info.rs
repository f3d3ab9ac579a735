//! The node-information requests of the original memory-only node: GetChannels (3),
//! GetChannelSize (4), GetSize (5), GetSizeLimit (7) and GetNumConnections (8). The size
//! replies echo the node's address and port; bytes are ring used space (each record's 8-byte
//! header included, as the original's `used_space`).

use super::channel_ok;
use crate::settings::QueueSettings;
use crate::storage::{MemoryStore, QueueStore, Size};
use swarm_core::Step;
use swarm_protocol::queue::{NodeInfo, QueueReply};

fn node_info(settings: &QueueSettings) -> NodeInfo<'_> {
    NodeInfo {
        address: settings.address.as_bytes(),
        port: settings.port,
    }
}

/// Ok, then the names of all channels (empty ones too), sorted, then an empty array.
pub(crate) fn get_channels(store: &MemoryStore, out: &mut Vec<u8>) -> Step {
    let mut names = store.channel_names();
    names.sort_unstable();
    QueueReply::Channels(names).encode(out);
    Step::Done
}

fn size_reply(settings: &QueueSettings, size: Size, out: &mut Vec<u8>) {
    QueueReply::Size {
        node: node_info(settings),
        records: size.records,
        bytes: size.bytes,
    }
    .encode(out);
}

/// 409 for a bad name; otherwise Ok, address, port, records, bytes (zeros for a channel that
/// does not exist).
pub(crate) fn get_channel_size(
    store: &MemoryStore,
    settings: &QueueSettings,
    channel: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    if !channel_ok(channel, out) {
        return Step::Done;
    }
    size_reply(
        settings,
        store.channel_size(channel).unwrap_or_default(),
        out,
    );
    Step::Done
}

/// Ok, address, port, records and bytes of every channel together.
pub(crate) fn get_size(store: &MemoryStore, settings: &QueueSettings, out: &mut Vec<u8>) -> Step {
    size_reply(settings, store.total_size(), out);
    Step::Done
}

/// Ok, address, port, `channel_size_limit`.
pub(crate) fn get_size_limit(settings: &QueueSettings, out: &mut Vec<u8>) -> Step {
    QueueReply::SizeLimit {
        node: node_info(settings),
        limit: settings.channel_size_limit,
    }
    .encode(out);
    Step::Done
}

/// Ok, address, port, open client connections.
pub(crate) fn get_num_connections(
    settings: &QueueSettings,
    connections: usize,
    out: &mut Vec<u8>,
) -> Step {
    QueueReply::NumConnections {
        node: node_info(settings),
        count: connections as u64,
    }
    .encode(out);
    Step::Done
}
