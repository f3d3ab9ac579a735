//! The node-information requests: GetChannels (17), GetChannelSize (18), GetSize (19),
//! GetResponsibleRange (20), GetNumConnections (23) and GetVersion (24).

use super::status;
use crate::service::{DhtEvent, DhtService};
use swarm_core::{Context, Step};
use swarm_protocol::dht::{DhtReply, NodeInfo, API_VERSION};
use swarm_protocol::wire::put_array;
use swarm_protocol::Status;

impl DhtService {
    fn node_info(&self) -> NodeInfo<'_> {
        NodeInfo {
            address: self.settings.address.as_bytes(),
            port: self.settings.port,
        }
    }

    /// Ok, one array per channel (empty channels too), then an empty array.
    pub(crate) fn get_channels(&mut self, out: &mut Vec<u8>) -> Step {
        status(out, Status::Ok);
        for name in self.storage.channel_names() {
            put_array(out, name);
        }
        put_array(out, b"");
        Step::Done
    }

    /// Ok, address, port, records, bytes of one channel (zeros when it does not exist).
    pub(crate) fn get_channel_size(&mut self, channel: &[u8], out: &mut Vec<u8>) -> Step {
        if !self.channel_ok(channel, out) {
            return Step::Done;
        }
        let (records, bytes) = self
            .storage
            .channel(channel)
            .map_or((0, 0), |c| (c.data.records(), c.data.bytes()));
        DhtReply::Size {
            node: self.node_info(),
            records,
            bytes,
        }
        .encode(out);
        Step::Done
    }

    /// Ok, address, port, records, bytes of all channels.
    pub(crate) fn get_size(&mut self, out: &mut Vec<u8>) -> Step {
        let (records, bytes) = (self.storage.records(), self.storage.bytes());
        DhtReply::Size {
            node: self.node_info(),
            records,
            bytes,
        }
        .encode(out);
        Step::Done
    }

    /// Ok, min, max.
    pub(crate) fn get_responsible_range(&mut self, out: &mut Vec<u8>) -> Step {
        let r = self.settings.range;
        DhtReply::Range {
            min: r.min,
            max: r.max,
        }
        .encode(out);
        Step::Done
    }

    /// Ok, address, port, open connections.
    pub(crate) fn get_num_connections(
        &mut self,
        cx: &Context<'_, DhtEvent>,
        out: &mut Vec<u8>,
    ) -> Step {
        let count = cx.num_connections() as u64;
        DhtReply::NumConnections {
            node: self.node_info(),
            count,
        }
        .encode(out);
        Step::Done
    }

    /// Ok, "20110401".
    pub(crate) fn get_version(&mut self, out: &mut Vec<u8>) -> Step {
        DhtReply::Version(API_VERSION).encode(out);
        Step::Done
    }
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
