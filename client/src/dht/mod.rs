//! [`DhtClient`]: the blocking dht client. This file owns the handshake (GetVersion and
//! GetResponsibleRange on every node), the node table and key routing; the request calls live
//! beside it, one file per kind of request; `plan` computes the ranges of a grown cluster (the
//! Redistribute driver's planning, exported as `swarm_client::redistribute_plan`).

mod all_nodes;
mod get_all;
mod listen;
mod pipeline;
pub mod plan;
mod redistribute;
mod single;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stream;

pub use all_nodes::{total_bytes, total_records, NodeSize};
pub use get_all::{GetAll, GetAllKeys};
pub use listen::{ListenEvent, Listener};
pub use pipeline::PIPELINE_DEPTH;

use crate::config::ClientConfig;
use crate::conn::ConnError;
use crate::error::{check_channel, ClientError};
use crate::nodes_file::read_nodes_file;
use crate::pool::{get_version, NodePool, Retry};
use crate::ranges::{route, HandshakeReport};
use std::net::SocketAddr;
use std::path::Path;
use std::thread;
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest, API_VERSION};
use swarm_protocol::{HashRange, ProtocolError};

/// A client for a set of dht nodes. Share it between threads by reference (or in an `Arc`):
/// every call takes `&self` and uses its own pooled connection.
#[derive(Debug)]
pub struct DhtClient {
    /// The usable nodes, in nodes-file order; `report.nodes` has their ranges in the same order.
    pools: Vec<NodePool>,
    report: HandshakeReport,
}

impl DhtClient {
    /// Runs the handshake on `nodes` (in parallel) and returns a client for the usable ones.
    ///
    /// A node announcing another API version than "20110401" fails the call with
    /// [`ClientError::VersionMismatch`]. Unreachable nodes (after the reconnect timeout) and
    /// gaps or overlaps in the ranges fail it with [`ClientError::Handshake`] when
    /// `config.require_full_coverage` is set; otherwise they are listed in
    /// [`DhtClient::handshake_report`] and requests for keys nobody covers fail with
    /// [`ClientError::NoResponsibleNode`].
    pub fn connect(nodes: &[SocketAddr], config: ClientConfig) -> Result<DhtClient, ClientError> {
        if nodes.is_empty() {
            return Err(ClientError::Handshake("no node given".into()));
        }
        for (i, n) in nodes.iter().enumerate() {
            if nodes[..i].contains(n) {
                return Err(ClientError::Handshake(format!("node {n} is listed twice")));
            }
        }
        let results: Vec<Result<(NodePool, HashRange), ClientError>> = thread::scope(|s| {
            let handles: Vec<_> = nodes
                .iter()
                .map(|&addr| {
                    let config = config.clone();
                    s.spawn(move || handshake_node(NodePool::new(addr, config)))
                })
                .collect();
            handles
                .into_iter()
                .zip(nodes)
                .map(|(h, &addr)| {
                    h.join().unwrap_or_else(|_| {
                        Err(ClientError::Handshake(format!(
                            "handshake with {addr} panicked"
                        )))
                    })
                })
                .collect()
        });
        let mut pools = Vec::new();
        let mut ranges = Vec::new();
        let mut unreachable = Vec::new();
        for (result, &addr) in results.into_iter().zip(nodes) {
            match result {
                Ok((pool, range)) => {
                    pools.push(pool);
                    ranges.push((addr, range));
                }
                Err(e @ ClientError::VersionMismatch { .. }) => return Err(e),
                Err(e) => unreachable.push((addr, e.to_string())),
            }
        }
        let report = HandshakeReport::new(ranges, unreachable);
        if pools.is_empty() || (config.require_full_coverage && !report.is_complete()) {
            return Err(ClientError::Handshake(report.to_string()));
        }
        if !report.is_complete() {
            log::warn!("dht handshake: {report}");
        }
        Ok(DhtClient { pools, report })
    }

    /// Reads a nodes file ([`crate::read_nodes_file`]) and connects to its nodes.
    pub fn from_nodes_file(
        path: impl AsRef<Path>,
        config: ClientConfig,
    ) -> Result<DhtClient, ClientError> {
        DhtClient::connect(&read_nodes_file(path)?, config)
    }

    /// What the handshake found: usable nodes with their ranges, unreachable nodes, gaps and
    /// overlaps.
    pub fn handshake_report(&self) -> &HandshakeReport {
        &self.report
    }

    /// The usable nodes, in nodes-file order.
    pub fn nodes(&self) -> Vec<SocketAddr> {
        self.pools.iter().map(NodePool::addr).collect()
    }

    /// The node a key is routed to: the one whose range (as of the handshake) contains
    /// `key.reverse_bits()`.
    pub fn responsible_node(&self, key: u64) -> Result<SocketAddr, ClientError> {
        Ok(self.pools[self.route(key)?].addr())
    }

    fn route(&self, key: u64) -> Result<usize, ClientError> {
        route(&self.report.nodes, key).ok_or(ClientError::NoResponsibleNode { key })
    }

    fn pool_for_key(&self, key: u64) -> Result<&NodePool, ClientError> {
        Ok(&self.pools[self.route(key)?])
    }

    fn pool(&self, node: SocketAddr) -> Result<&NodePool, ClientError> {
        self.pools
            .iter()
            .find(|p| p.addr() == node)
            .ok_or(ClientError::UnknownNode(node))
    }

    #[cfg(test)]
    fn pools(&self) -> &[NodePool] {
        &self.pools
    }
}

/// GetVersion then GetResponsibleRange on one node.
fn handshake_node(pool: NodePool) -> Result<(NodePool, HashRange), ClientError> {
    let version = pool.request(DhtCommand::GetVersion, Retry::Yes, get_version)?;
    if version != API_VERSION {
        return Err(pool.error(DhtCommand::GetVersion, ConnError::WrongVersion(version)));
    }
    let range = pool.request(DhtCommand::GetResponsibleRange, Retry::Yes, |c| {
        c.send(&encode(&DhtRequest::GetResponsibleRange))?;
        c.read_reply(DhtCommand::GetResponsibleRange, |reply| match reply {
            DhtReply::Range { min, max } => Ok(HashRange { min, max }),
            _ => Err(ProtocolError::Malformed("unexpected reply")),
        })
    })?;
    Ok((pool, range))
}

/// A request's wire bytes.
fn encode(req: &DhtRequest<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    req.encode(&mut out);
    out
}
