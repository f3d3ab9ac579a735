//! [`LogfilesClient::redistribute`]: Redistribute (35) to one source node, the request the
//! `dlsredist` driver sends to every source node. This file owns how it is sent: on a
//! connection of its own (the GetVersion handshake first, as every logfiles connection), never
//! pooled, with no read timeout, and never retried: the node answers only when its chosen
//! buckets have moved, and a second Redistribute while one runs gets 500.

use super::LogfilesClient;
use crate::config::Backoff;
use crate::conn::ConnError;
use crate::error::ClientError;
use crate::pool::{Handshake, NodePool};
use std::net::SocketAddr;
use std::time::Instant;
use swarm_protocol::logfiles::{LogfilesCommand, LogfilesRequest, RedistributeNode};
use swarm_protocol::Status;

impl LogfilesClient {
    /// Asks the logfiles node `node` to send about `fraction` of its bucket files (each chosen
    /// with that probability) to `destinations`, spread round-robin, and waits for its single
    /// status however long that takes (no read timeout: TCP keep-alive notices a dead node).
    ///
    /// `fraction` must be in (0, 1] ([`ClientError::BadFraction`] otherwise, before anything is
    /// sent); it travels as an `f32`. Addresses must be IPv4 (dotted text on the wire) and
    /// `destinations` not empty ([`ClientError::NodeList`]). `node` need not be one of the
    /// client's nodes; the client's connect timeout applies.
    ///
    /// Ok when the node answers Ok (200). Otherwise [`ClientError::Status`] with the node and
    /// its status (500: refused or failed, the node's root.log says why),
    /// [`ClientError::NotSupported`] for 406, or the I/O error. Never retried.
    pub fn redistribute(
        &self,
        node: SocketAddr,
        fraction: f64,
        destinations: &[SocketAddr],
    ) -> Result<(), ClientError> {
        let cmd = LogfilesCommand::Redistribute;
        let req = encode_redistribute(fraction, destinations)?;
        // A pool of its own: its connection is never handed to another call.
        let pool = NodePool::with_handshake(node, self.config.clone(), Handshake::LogfilesVersion);
        let mut backoff = Backoff::new(&self.config);
        let mut conn = pool.connect(&mut backoff, Instant::now())?;
        conn.stream()
            .set_read_timeout(None)
            .map_err(|source| ClientError::Io { node, source })?;
        match conn.send(&req).and_then(|()| conn.read_status(cmd)) {
            Ok(()) => Ok(()),
            Err(ConnError::Status(Status::NotSupported)) => Err(ClientError::NotSupported {
                node,
                command: cmd.into(),
            }),
            Err(e) => Err(e.at(node, cmd)),
        }
    }
}

/// The request's bytes, after the checks the client makes before sending.
fn encode_redistribute(fraction: f64, destinations: &[SocketAddr]) -> Result<Vec<u8>, ClientError> {
    // As f32 on the wire: a positive f64 that rounds to 0 would be refused by the node.
    let wire = fraction as f32;
    if !(fraction > 0.0 && fraction <= 1.0 && wire > 0.0) {
        return Err(ClientError::BadFraction(fraction));
    }
    if destinations.is_empty() {
        return Err(ClientError::NodeList(
            "Redistribute needs at least one destination".into(),
        ));
    }
    let ips: Vec<(String, u16)> = destinations
        .iter()
        .map(|a| match a {
            SocketAddr::V4(v4) => Ok((v4.ip().to_string(), v4.port())),
            SocketAddr::V6(_) => Err(ClientError::NodeList(format!(
                "{a}: Redistribute carries IPv4 addresses only"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let req = LogfilesRequest::Redistribute {
        fraction: wire,
        nodes: ips
            .iter()
            .map(|(ip, port)| RedistributeNode {
                address: ip.as_bytes(),
                port: *port,
            })
            .collect(),
    };
    let mut out = Vec::new();
    req.encode(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_logfiles::FakeLogfiles;
    use crate::ClientConfig;
    use std::time::Duration;

    fn client(node: &FakeLogfiles) -> LogfilesClient {
        let config = ClientConfig::default().with_connect_timeout(Duration::from_secs(1));
        LogfilesClient::new(&[node.addr()], config).unwrap()
    }

    #[test]
    fn bad_fractions_and_destinations_are_refused_before_sending() {
        let node = FakeLogfiles::start();
        let c = client(&node);
        let dst: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for f in [0.0, -0.5, 1.000_001, f64::NAN, 1e-300] {
            let e = c.redistribute(node.addr(), f, &[dst]).unwrap_err();
            assert!(matches!(e, ClientError::BadFraction(_)), "{f}: {e}");
        }
        let e = c.redistribute(node.addr(), 0.5, &[]).unwrap_err();
        assert!(matches!(e, ClientError::NodeList(_)), "{e}");
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let e = c.redistribute(node.addr(), 0.5, &[v6]).unwrap_err();
        assert!(matches!(e, ClientError::NodeList(_)), "{e}");
        assert_eq!(node.accepted(), 0);
    }

    #[test]
    fn the_request_decodes_back_and_a_500_names_the_node() {
        let dst: [SocketAddr; 2] = [
            "10.1.2.3:100".parse().unwrap(),
            "10.1.2.4:101".parse().unwrap(),
        ];
        let bytes = encode_redistribute(0.25, &dst).unwrap();
        let (req, used) = LogfilesRequest::decode(&bytes).unwrap();
        assert_eq!(used, bytes.len());
        let LogfilesRequest::Redistribute { fraction, nodes } = req else {
            panic!("{req:?}");
        };
        assert_eq!(fraction, 0.25);
        assert_eq!(nodes.len(), 2);
        assert_eq!((nodes[1].address, nodes[1].port), (&b"10.1.2.4"[..], 101));
        // The fake answers every Redistribute 500, after the version handshake.
        let node = FakeLogfiles::start();
        let c = client(&node);
        let e = c.redistribute(node.addr(), 1.0, &dst).unwrap_err();
        assert_eq!(e.node(), Some(node.addr()));
        assert_eq!(e.status(), Some(Status::Error));
        assert_eq!(node.handled("GetVersion"), 1);
    }
}
