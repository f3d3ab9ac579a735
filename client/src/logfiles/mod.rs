//! [`LogfilesClient`]: the blocking client of the legacy logfiles (DLS) protocol (sociomantic's
//! dlsnode). This file owns the node table and the checks every request makes before sending;
//! the calls live beside it, one file per kind:
//!
//! | file | what it owns |
//! |---|---|
//! | `put.rs` | Put and PutBatch: one node per request, round-robin, on to the next node when one is down or fails |
//! | `read.rs` | [`Filter`] and the range and "all" reads: which request each call sends |
//! | `records.rs` | [`Records`]: one reader thread per node, all feeding one bounded queue |
//! | `all_nodes.rs` | GetChannels, the sizes, GetNumConnections, RemoveChannel |
//! | `redistribute.rs` | Redistribute (35) to one node, on a connection of its own |
//!
//! Logfiles nodes have no key ranges (spec/logfiles.md section 5): records go to any node,
//! round-robin whatever their key, and every read asks every node. The handshake is GetVersion:
//! every new connection to a node checks that it answers "20110401" before its first request,
//! so a client is made without contacting any node.

mod all_nodes;
mod put;
mod read;
mod records;
mod redistribute;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_read;

pub use all_nodes::LogfilesSize;
pub use read::Filter;
pub use records::{Records, READ_AHEAD};

use crate::config::ClientConfig;
use crate::error::{check_channel, ClientError};
use crate::failover::FailoverNode;
use crate::nodes_file::read_nodes_file;
use crate::pool::Handshake;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use swarm_protocol::logfiles::LogfilesRequest;

/// The longest value the client sends: the largest a 64 KiB read batch can return (65,504
/// bytes, a record's two length prefixes and its 16-digit key taking the rest). The original
/// stored values up to 65,536 bytes that no read could return; our node answers Put with
/// OutOfMemory (407) above this.
pub const LOGFILES_MAX_VALUE_LEN: usize = swarm_protocol::logfiles::MAX_VALUE_LEN;

/// A client for a set of logfiles nodes. Share it between threads by reference (or in an
/// `Arc`): every call takes `&self` and uses its own pooled connection.
///
/// Put and PutBatch go to one node, round-robin (a rotating index, whatever the key), and move
/// on to the next node when a node cannot be reached, its connection breaks, or it answers
/// Error (500); a node that failed is skipped until its next reconnect attempt is due
/// (exponential backoff from `reconnect_backoff_start` to `reconnect_backoff_max`). Reads ask
/// every node at once ([`Records`]); the requests about every node fail if one cannot be
/// reached within `reconnect_timeout`.
#[derive(Debug)]
pub struct LogfilesClient {
    /// Shared with the reader threads of [`Records`], which may outlive the call that made them.
    nodes: Arc<[FailoverNode]>,
    config: ClientConfig,
    /// Round-robin position of Put and PutBatch (the original's `current_node_index`).
    put_next: AtomicUsize,
}

impl LogfilesClient {
    /// A client for `nodes` (at least one, none twice). No node is contacted yet: each node's
    /// version is checked on its first connection.
    pub fn new(nodes: &[SocketAddr], config: ClientConfig) -> Result<LogfilesClient, ClientError> {
        let nodes = crate::failover::failover_nodes(nodes, &config, Handshake::LogfilesVersion)?;
        Ok(LogfilesClient {
            nodes,
            config,
            put_next: AtomicUsize::new(0),
        })
    }

    /// Reads a nodes file ([`crate::read_nodes_file`]) and makes a client for its nodes.
    pub fn from_nodes_file(
        path: impl AsRef<Path>,
        config: ClientConfig,
    ) -> Result<LogfilesClient, ClientError> {
        LogfilesClient::new(&read_nodes_file(path)?, config)
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.pool.addr()).collect()
    }

    /// The settings the client was made with.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }
}

/// Refuses a value no node stores or no read returns: empty (408 on the node, and the original
/// client refuses it too) or longer than [`LOGFILES_MAX_VALUE_LEN`].
fn check_value(key: u64, value: &[u8]) -> Result<(), ClientError> {
    if value.is_empty() {
        Err(ClientError::EmptyValue)
    } else if value.len() > LOGFILES_MAX_VALUE_LEN {
        Err(ClientError::ValueTooBig {
            key,
            len: value.len(),
            limit: LOGFILES_MAX_VALUE_LEN,
        })
    } else {
        Ok(())
    }
}

/// A request's wire bytes.
fn encode(req: &LogfilesRequest<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    req.encode(&mut out);
    out
}
