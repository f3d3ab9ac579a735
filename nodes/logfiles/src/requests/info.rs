//! The node-information requests: GetChannels (17), GetChannelSize (18), GetSize (19),
//! GetNumConnections (23) and GetVersion (24). The size replies echo the node's address and
//! port and give real counts: records and value bytes (the original answered NotSupported,
//! DECISIONS), kept current as records are written and counted once at start.

use super::channel_ok;
use crate::storage::channels::ChannelSize;
use crate::storage::Storage;
use swarm_protocol::logfiles::{LogfilesReply, NodeInfo, API_VERSION};

/// The address and port echoed in replies.
#[derive(Debug, Clone)]
pub struct Echo {
    /// `[Server] address`.
    pub address: String,
    /// The bound port.
    pub port: u16,
}

impl Echo {
    fn node(&self) -> NodeInfo<'_> {
        NodeInfo {
            address: self.address.as_bytes(),
            port: self.port,
        }
    }
}

/// Ok, then the names of all channels, sorted, then an empty array.
pub(crate) fn get_channels(storage: &Storage, out: &mut Vec<u8>) {
    let names: Vec<&[u8]> = storage.channel_names().map(str::as_bytes).collect();
    LogfilesReply::Channels(names).encode(out);
}

fn size_reply(echo: &Echo, size: ChannelSize, out: &mut Vec<u8>) {
    LogfilesReply::Size {
        node: echo.node(),
        records: size.records,
        bytes: size.bytes,
    }
    .encode(out);
}

/// 409 for a bad name; otherwise Ok, address, port, records, bytes (zeros for a channel that
/// does not exist).
pub(crate) fn get_channel_size(storage: &Storage, echo: &Echo, channel: &[u8], out: &mut Vec<u8>) {
    if channel_ok(channel, out) {
        let name = std::str::from_utf8(channel).unwrap_or_default();
        size_reply(echo, storage.size(name), out);
    }
}

/// Ok, address, port, records and bytes of every channel together.
pub(crate) fn get_size(storage: &Storage, echo: &Echo, out: &mut Vec<u8>) {
    size_reply(echo, storage.total(), out);
}

/// Ok, address, port, open client connections.
pub(crate) fn get_num_connections(echo: &Echo, connections: usize, out: &mut Vec<u8>) {
    LogfilesReply::NumConnections {
        node: echo.node(),
        count: connections as u64,
    }
    .encode(out);
}

/// Ok, "20110401".
pub(crate) fn get_version(out: &mut Vec<u8>) {
    LogfilesReply::Version(API_VERSION).encode(out);
}
