//! The node-information requests: GetChannels (17), GetChannelSize (18), GetSize (19),
//! GetResponsibleRange (20), GetNumConnections (23) and GetVersion (24).

use super::{status, ChannelCheck};
use crate::settings::DhtSettings;
use crate::storage::Storage;
use swarm_core::Step;
use swarm_protocol::dht::{DhtReply, NodeInfo, API_VERSION};
use swarm_protocol::wire::put_array;
use swarm_protocol::{HashRange, Status};

fn node_info(settings: &DhtSettings) -> NodeInfo<'_> {
    NodeInfo {
        address: settings.address.as_bytes(),
        port: settings.port,
    }
}

/// Ok, one array per channel (empty channels too), then an empty array.
pub(crate) fn get_channels(storage: &Storage, out: &mut Vec<u8>) -> Step {
    status(out, Status::Ok);
    for name in storage.channel_names() {
        put_array(out, name);
    }
    put_array(out, b"");
    Step::Done
}

/// Ok, address, port, records, bytes of one channel (zeros when it does not exist).
pub(crate) fn get_channel_size(
    storage: &Storage,
    settings: &DhtSettings,
    names: &mut ChannelCheck,
    channel: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    if !names.ok(channel, out) {
        return Step::Done;
    }
    let (records, bytes) = storage
        .channel(channel)
        .map_or((0, 0), |c| (c.data.records(), c.data.bytes()));
    DhtReply::Size {
        node: node_info(settings),
        records,
        bytes,
    }
    .encode(out);
    Step::Done
}

/// Ok, address, port, records, bytes of all channels.
pub(crate) fn get_size(storage: &Storage, settings: &DhtSettings, out: &mut Vec<u8>) -> Step {
    let (records, bytes) = (storage.records(), storage.bytes());
    DhtReply::Size {
        node: node_info(settings),
        records,
        bytes,
    }
    .encode(out);
    Step::Done
}

/// Ok, min, max.
pub(crate) fn get_responsible_range(range: HashRange, out: &mut Vec<u8>) -> Step {
    DhtReply::Range {
        min: range.min,
        max: range.max,
    }
    .encode(out);
    Step::Done
}

/// Ok, address, port, `count` open connections.
pub(crate) fn get_num_connections(settings: &DhtSettings, count: usize, out: &mut Vec<u8>) -> Step {
    DhtReply::NumConnections {
        node: node_info(settings),
        count: count as u64,
    }
    .encode(out);
    Step::Done
}

/// Ok, "20110401".
pub(crate) fn get_version(out: &mut Vec<u8>) -> Step {
    DhtReply::Version(API_VERSION).encode(out);
    Step::Done
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use swarm_protocol::dht::DhtRequest;

    #[test]
    fn spec_get_version_bytes() {
        let mut t = Node::new();
        let mut expect = OK.to_vec();
        expect.extend_from_slice(&arr(b"20110401"));
        assert_eq!(t.request(&DhtRequest::GetVersion), expect);
    }

    #[test]
    fn sizes_and_channels() {
        let mut t = Node::new();
        t.request(&DhtRequest::Put {
            channel: b"b",
            key: b"0000000000000001",
            value: b"xyz",
        });
        t.request(&DhtRequest::Put {
            channel: b"a",
            key: b"0000000000000002",
            value: b"q",
        });
        let mut expect = OK.to_vec();
        expect.extend_from_slice(&arr(b"a"));
        expect.extend_from_slice(&arr(b"b"));
        expect.extend_from_slice(&arr(b""));
        assert_eq!(t.request(&DhtRequest::GetChannels), expect);

        let mut size = OK.to_vec();
        size.extend_from_slice(&arr(b"127.0.0.1"));
        size.extend_from_slice(&10000u16.to_le_bytes());
        size.extend_from_slice(&1u64.to_le_bytes());
        size.extend_from_slice(&11u64.to_le_bytes());
        assert_eq!(
            t.request(&DhtRequest::GetChannelSize { channel: b"b" }),
            size
        );

        let mut total = OK.to_vec();
        total.extend_from_slice(&arr(b"127.0.0.1"));
        total.extend_from_slice(&10000u16.to_le_bytes());
        total.extend_from_slice(&2u64.to_le_bytes());
        total.extend_from_slice(&20u64.to_le_bytes());
        assert_eq!(t.request(&DhtRequest::GetSize), total);
        assert_eq!(
            t.request(&DhtRequest::GetChannelSize { channel: b"/" }),
            status(409)
        );
    }

    #[test]
    fn full_range() {
        let mut t = Node::new();
        let mut expect = OK.to_vec();
        expect.extend_from_slice(&0u64.to_le_bytes());
        expect.extend_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(t.request(&DhtRequest::GetResponsibleRange), expect);
    }
}
