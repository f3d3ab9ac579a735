//! [`DhtClient::redistribute`]: Redistribute (33) to one node, the request the `dhtredist`
//! driver sends to every node of a changing cluster. This file owns how it is sent: on a
//! connection of its own, never pooled, with no read timeout, and never retried.
//!
//! Why its own connection: the node answers one status only when every record it must give
//! away has moved, which can take minutes; a pooled connection would be handed to other calls
//! (or time out under the pool's I/O timeout) meanwhile. Why no retry: a second Redistribute
//! while the first runs gets 500, and a broken connection says nothing about how far the node
//! got (it keeps what it did not send, so the operator runs the same plan again).

use super::DhtClient;
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use std::net::SocketAddr;
use swarm_protocol::dht::{DhtCommand, DhtRequest, RedistributeNode};
use swarm_protocol::{HashRange, Status};

impl DhtClient {
    /// Asks `node` to take `new_range` as its hash range and to forward every record outside
    /// it to the node of `others` whose (new) range holds it; waits for the node's single
    /// status, however long the move takes (no read timeout: TCP keep-alive notices a dead
    /// node).
    ///
    /// `others` lists every other node of the cluster with its new range (an empty range is
    /// sent as [`HashRange::EMPTY`]). Addresses must be IPv4: the protocol carries them as
    /// dotted text. `node` need not be one of the client's nodes; the client's connect
    /// timeout applies.
    ///
    /// Ok when the node answers Ok (200). Otherwise [`ClientError::Status`] with the node and
    /// its status (500: refused, for example a Redistribute already running, or failed: the
    /// node's root.log says why), [`ClientError::NotSupported`] for 406, or the I/O error.
    /// Never retried.
    pub fn redistribute(
        &self,
        node: SocketAddr,
        new_range: HashRange,
        others: &[(SocketAddr, HashRange)],
    ) -> Result<(), ClientError> {
        let cmd = DhtCommand::Redistribute;
        let req = encode_redistribute(new_range, others).ok_or_else(|| {
            ClientError::NodeList(format!(
                "Redistribute to {node}: every node address must be IPv4"
            ))
        })?;
        let connect_timeout = self
            .pools
            .first()
            .map(|p| p.config().connect_timeout)
            .unwrap_or(crate::DEFAULT_CONNECT_TIMEOUT);
        let mut conn = Conn::connect(node, connect_timeout, None)
            .map_err(|source| ClientError::Io { node, source })?;
        let result = conn.send(&req).and_then(|()| conn.read_status(cmd));
        match result {
            Ok(()) => Ok(()),
            Err(ConnError::Status(Status::NotSupported)) => Err(ClientError::NotSupported {
                node,
                command: cmd.into(),
            }),
            Err(e) => Err(e.at(node, cmd)),
        }
    }
}

/// The request's bytes; `None` when an address is not IPv4.
pub(super) fn encode_redistribute(
    new_range: HashRange,
    others: &[(SocketAddr, HashRange)],
) -> Option<Vec<u8>> {
    let wire = |r: HashRange| if r.is_empty() { HashRange::EMPTY } else { r };
    let addresses: Vec<(String, u16, HashRange)> = others
        .iter()
        .map(|(a, r)| match a {
            SocketAddr::V4(v4) => Some((v4.ip().to_string(), v4.port(), wire(*r))),
            SocketAddr::V6(_) => None,
        })
        .collect::<Option<_>>()?;
    let new_range = wire(new_range);
    let req = DhtRequest::Redistribute {
        min: new_range.min,
        max: new_range.max,
        nodes: addresses
            .iter()
            .map(|(ip, port, r)| RedistributeNode {
                address: ip.as_bytes(),
                port: *port,
                min: r.min,
                max: r.max,
            })
            .collect(),
    };
    let mut out = Vec::new();
    req.encode(&mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_dht::FakeNode;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::thread;
    use std::time::Duration;

    /// What the one-shot node decoded: new min, new max, and (address, port, min, max) each.
    type Seen = (u64, u64, Vec<(String, u16, u64, u64)>);

    /// A one-shot node: reads one whole Redistribute, waits `delay`, answers `status`; the
    /// decoded request comes back through the join handle.
    fn one_shot(status: Status, delay: Duration) -> (SocketAddr, thread::JoinHandle<Seen>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let h = thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            loop {
                let n = s.read(&mut chunk).unwrap();
                assert!(n > 0, "closed before the request was whole");
                buf.extend_from_slice(&chunk[..n]);
                if let Ok((DhtRequest::Redistribute { min, max, nodes }, _)) =
                    DhtRequest::decode(&buf)
                {
                    thread::sleep(delay);
                    s.write_all(&status.to_bytes()).unwrap();
                    let nodes = nodes
                        .iter()
                        .map(|n| {
                            let a = String::from_utf8_lossy(n.address).into_owned();
                            (a, n.port, n.min, n.max)
                        })
                        .collect();
                    return (min, max, nodes);
                }
            }
        });
        (addr, h)
    }

    fn client() -> (FakeNode, DhtClient) {
        let fake = FakeNode::start(HashRange::FULL);
        let config = crate::ClientConfig::default()
            .with_io_timeout(Some(Duration::from_millis(100)))
            .with_connect_timeout(Duration::from_secs(1));
        let client = DhtClient::connect(&[fake.addr()], config).unwrap();
        (fake, client)
    }

    #[test]
    fn waits_past_the_io_timeout_and_sends_every_node_with_the_empty_range_canonical() {
        let (_fake, client) = client();
        let (addr, h) = one_shot(Status::Ok, Duration::from_millis(400));
        let other: SocketAddr = "10.0.0.7:4242".parse().unwrap();
        let drained: SocketAddr = "10.0.0.8:4243".parse().unwrap();
        let weird_empty = HashRange { min: 9, max: 3 };
        let new = HashRange { min: 0, max: 99 };
        let others = [
            (
                other,
                HashRange {
                    min: 100,
                    max: u64::MAX,
                },
            ),
            (drained, weird_empty),
        ];
        client.redistribute(addr, new, &others).unwrap();
        let (min, max, nodes) = h.join().unwrap();
        assert_eq!((min, max), (0, 99));
        assert_eq!(
            nodes,
            [
                ("10.0.0.7".to_string(), 4242, 100, u64::MAX),
                ("10.0.0.8".to_string(), 4243, u64::MAX, 0),
            ]
        );
    }

    #[test]
    fn a_refusal_names_the_node_and_its_status() {
        let (_fake, client) = client();
        let (addr, h) = one_shot(Status::Error, Duration::ZERO);
        let e = client
            .redistribute(addr, HashRange::EMPTY, &[])
            .unwrap_err();
        assert_eq!(e.node(), Some(addr));
        assert_eq!(e.status(), Some(Status::Error));
        assert_eq!(h.join().unwrap().0, u64::MAX);
        let (addr, _h) = one_shot(Status::NotSupported, Duration::ZERO);
        let e = client.redistribute(addr, HashRange::FULL, &[]).unwrap_err();
        assert!(matches!(e, ClientError::NotSupported { node, .. } if node == addr));
    }

    #[test]
    fn ipv6_addresses_are_refused_before_connecting() {
        let (_fake, client) = client();
        let v6: SocketAddr = "[::1]:1".parse().unwrap();
        let e = client
            .redistribute(
                "127.0.0.1:1".parse().unwrap(),
                HashRange::FULL,
                &[(v6, HashRange::EMPTY)],
            )
            .unwrap_err();
        assert!(e.to_string().contains("IPv4"), "{e}");
    }
}
