//! [`DhtClient`]: the blocking dht client. This file owns the handshake (GetVersion and
//! GetResponsibleRange on every node), the node pools and key routing; `refresh` owns the
//! routing table and how it follows range changes, `moved` the second looks a miss takes
//! during a move; the request calls live beside them, one file per kind of request; `plan`
//! computes the ranges of a grown cluster (the Redistribute driver's planning, exported as
//! `swarm_client::redistribute_plan`) and `redistribute` sends the driver's requests.

mod all_nodes;
mod get_all;
mod listen;
mod moved;
mod pipeline;
pub mod plan;
mod redistribute;
mod refresh;
mod single;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_refresh;
#[cfg(test)]
mod tests_stream;

pub use all_nodes::{total_bytes, total_records, NodeSize};
pub use get_all::{GetAll, GetAllBatches, GetAllKeys, RawBatch};
pub use listen::{ListenEvent, Listener};
pub use pipeline::PIPELINE_DEPTH;

use crate::config::ClientConfig;
use crate::conn::ConnError;
use crate::error::{check_channel, ClientError};
use crate::nodes_file::read_nodes_file;
use crate::pool::{get_version, NodePool, Retry};
use crate::ranges::HandshakeReport;
use refresh::{RefreshClock, Table};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};
use std::thread;
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest, API_VERSION};
use swarm_protocol::{HashRange, ProtocolError};

/// A client for a set of dht nodes. Share it between threads by reference (or in an `Arc`):
/// every call takes `&self` and uses its own pooled connection.
///
/// The client follows hash-range changes (a Redistribute): it re-reads every node's range
/// every [`ClientConfig::range_refresh`] and when a write is answered WrongNode (then retries
/// it once on the key's new owner), and a Get or Exists that misses also asks the key's
/// previous owners (see [`DhtClient::refresh`]).
#[derive(Debug)]
pub struct DhtClient {
    /// One pool per node given at connect, in that order, reachable or not: the node set
    /// never changes, but a node that did not answer the handshake joins when a refresh
    /// reaches it.
    pools: Vec<NodePool>,
    config: ClientConfig,
    /// The routing table; requests clone the `Arc` (a read lock held for nanoseconds) and a
    /// refresh swaps in a new one, so no request waits for a refresh.
    table: RwLock<Arc<Table>>,
    /// Held by the thread that refreshes, so that only one does at a time.
    refreshing: Mutex<()>,
    clock: RefreshClock,
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
        let pools: Vec<NodePool> = nodes
            .iter()
            .map(|&addr| NodePool::new(addr, config.clone()))
            .collect();
        let results = on_pools_in_parallel(&pools, |_, pool| handshake_node(pool, Retry::Yes));
        let mut usable = Vec::new();
        let mut unreachable = Vec::new();
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(range) => usable.push((i, range)),
                Err(e @ ClientError::VersionMismatch { .. }) => return Err(e),
                Err(e) => unreachable.push((pools[i].addr(), e.to_string())),
            }
        }
        let table = Table::new(&pools, usable, unreachable);
        if table.pool_of.is_empty() || (config.require_full_coverage && !table.report.is_complete())
        {
            return Err(ClientError::Handshake(table.report.to_string()));
        }
        if !table.report.is_complete() {
            log::warn!("dht handshake: {}", table.report);
        }
        Ok(DhtClient {
            pools,
            clock: RefreshClock::new(config.refresh_interval()),
            config,
            table: RwLock::new(Arc::new(table)),
            refreshing: Mutex::new(()),
        })
    }

    /// Reads a nodes file ([`crate::read_nodes_file`]) and connects to its nodes.
    pub fn from_nodes_file(
        path: impl AsRef<Path>,
        config: ClientConfig,
    ) -> Result<DhtClient, ClientError> {
        DhtClient::connect(&read_nodes_file(path)?, config)
    }

    /// What the handshake or the last refresh found: usable nodes with their ranges,
    /// unreachable nodes, gaps and overlaps (a copy: the table may change under it).
    pub fn handshake_report(&self) -> HandshakeReport {
        self.table().report.clone()
    }

    /// The usable nodes, in nodes-file order.
    pub fn nodes(&self) -> Vec<SocketAddr> {
        self.usable_pools().iter().map(|p| p.addr()).collect()
    }

    /// The node a key is routed to: the one whose range (as of the handshake or the last
    /// refresh) contains `key.reverse_bits()`.
    pub fn responsible_node(&self, key: u64) -> Result<SocketAddr, ClientError> {
        let table = self.table();
        Ok(self.pools[self.route(&table, key)?].addr())
    }

    /// The index in `pools` of the node `table` routes `key` to. A key the table leaves in a
    /// gap goes to its latest previous owner within the moved-key window: during a move
    /// the node set may pass through a gap, and a write there gets WrongNode and a refresh.
    fn route(&self, table: &Table, key: u64) -> Result<usize, ClientError> {
        table
            .owner(key)
            .or_else(|| {
                let previous = table.previous_owners(key, self.config.moved_key_window);
                previous.first().copied()
            })
            .ok_or(ClientError::NoResponsibleNode { key })
    }

    /// The pool of a usable node (one in the current table).
    fn pool(&self, node: SocketAddr) -> Result<&NodePool, ClientError> {
        self.usable_pools()
            .into_iter()
            .find(|p| p.addr() == node)
            .ok_or(ClientError::UnknownNode(node))
    }

    /// The pools of the usable nodes, in nodes-file order.
    fn usable_pools(&self) -> Vec<&NodePool> {
        let table = self.table();
        table.pool_of.iter().map(|&i| &self.pools[i]).collect()
    }

    #[cfg(test)]
    fn pools(&self) -> &[NodePool] {
        &self.pools
    }
}

/// Runs `f` on every pool, each in its own thread, and returns the results in pool order.
fn on_pools_in_parallel<T: Send>(
    pools: &[NodePool],
    f: impl Fn(usize, &NodePool) -> Result<T, ClientError> + Sync,
) -> Vec<Result<T, ClientError>> {
    thread::scope(|s| {
        let f = &f;
        let handles: Vec<_> = pools
            .iter()
            .enumerate()
            .map(|(i, pool)| s.spawn(move || f(i, pool)))
            .collect();
        handles
            .into_iter()
            .zip(pools)
            .map(|(h, pool)| {
                h.join().unwrap_or_else(|_| {
                    Err(ClientError::Handshake(format!(
                        "handshake with {} panicked",
                        pool.addr()
                    )))
                })
            })
            .collect()
    })
}

/// GetVersion then GetResponsibleRange on one node.
fn handshake_node(pool: &NodePool, retry: Retry) -> Result<HashRange, ClientError> {
    let version = pool.request(DhtCommand::GetVersion, retry, get_version)?;
    if version != API_VERSION {
        return Err(pool.error(DhtCommand::GetVersion, ConnError::WrongVersion(version)));
    }
    pool.request(DhtCommand::GetResponsibleRange, retry, |c| {
        c.send(&encode(&DhtRequest::GetResponsibleRange))?;
        read_range(c)
    })
}

/// Reads a GetResponsibleRange reply.
fn read_range(c: &mut crate::conn::Conn) -> Result<HashRange, ConnError> {
    c.read_reply(DhtCommand::GetResponsibleRange, |reply| match reply {
        DhtReply::Range { min, max } => Ok(HashRange { min, max }),
        _ => Err(ProtocolError::Malformed("unexpected reply")),
    })
}

/// A request's wire bytes.
fn encode(req: &DhtRequest<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    req.encode(&mut out);
    out
}
