//! Redistribute (33): not served yet (a later issue moves records between nodes). The request
//! is read completely and answered NotSupported (406), a status the original client treats as
//! a failed request on a connection that stays usable; nothing changes on the node.

use super::status;
use std::net::SocketAddr;
use swarm_core::Step;
use swarm_protocol::Status;

/// Redistribute: NotSupported, with a warning naming the peer.
pub(crate) fn redistribute(peer: SocketAddr, out: &mut Vec<u8>) -> Step {
    log::warn!("{peer}: Redistribute is not supported by this node yet");
    status(out, Status::NotSupported);
    Step::Done
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use swarm_protocol::dht::{DhtRequest, RedistributeNode};

    #[test]
    fn answers_not_supported_and_keeps_the_range() {
        let mut t = Node::new();
        let nodes = vec![RedistributeNode {
            address: b"127.0.0.1",
            port: 1,
            min: 0,
            max: 5,
        }];
        let r = DhtRequest::Redistribute {
            min: 6,
            max: 9,
            nodes,
        };
        assert_eq!(t.request(&r), status(406));
        assert!(t.service.settings().range.contains(1));
    }
}
