//! [`QueueClient`]: the blocking client of the legacy queue protocol (sociomantic's queuenode).
//! This file owns the node table and the checks every request makes before sending; the calls
//! live beside it, one file per kind:
//!
//! | file | what it owns |
//! |---|---|
//! | `single.rs` | Push, Pop, PushMulti (through PushMulti2) |
//! | `all_nodes.rs` | RemoveChannel, the sizes, GetChannels, GetSizeLimit, GetNumConnections |
//! | `produce.rs` | [`Producer`]: Produce and ProduceMulti streams, one per node, records round-robin, re-sent when a stream fails |
//! | `produce_stream.rs` | one Produce stream: open, buffer, write counting what left, end and confirm |
//! | `consume.rs` | [`Consumer`]: Consume on every node, read in parallel |
//!
//! Each node's health (down, reconnect backoff) and the round-robin loop Push, Pop and
//! PushMulti run through live in the crate's `failover.rs`.
//!
//! Queue nodes are independent: only the client knows the node list, and no node knows what the
//! others hold (spec/queue.md section 3). The protocol has no handshake, so a client is made
//! without contacting any node; connections are opened on first use.

mod all_nodes;
mod consume;
mod produce;
mod produce_stream;
mod single;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_stream;

pub use all_nodes::QueueSize;
pub use consume::{Consumer, CONSUME_AHEAD};
pub use produce::{Producer, PRODUCE_BUFFER};

use crate::config::ClientConfig;
use crate::error::{check_channel, ClientError};
use crate::failover::FailoverNode;
use crate::nodes_file::read_nodes_file;
use crate::pool::Handshake;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use swarm_protocol::queue::QueueRequest;
use swarm_protocol::MAX_ARRAY_LEN;

/// A client for a set of queue nodes. Share it between threads by reference (or in an `Arc`):
/// every call takes `&self` and uses its own pooled connection.
///
/// Push, Pop and PushMulti go to one node, round-robin, and move on to the next node when a
/// node is full, unreachable or restarting; a node that failed is skipped until its next
/// reconnect attempt is due (exponential backoff from `reconnect_backoff_start` to
/// `reconnect_backoff_max`), and no failure is ever reported as success. Requests about every
/// node (sizes, channels, RemoveChannel) ask each node and fail if one cannot be reached within
/// `reconnect_timeout`.
#[derive(Debug)]
pub struct QueueClient {
    nodes: Vec<FailoverNode>,
    config: ClientConfig,
    /// Round-robin position of Push and PushMulti (the original's `push_node`).
    push_next: AtomicUsize,
    /// Round-robin position of Pop (the original's `pop_node`, a counter of its own).
    pop_next: AtomicUsize,
}

impl QueueClient {
    /// A client for `nodes` (at least one, none twice). No node is contacted yet.
    pub fn new(nodes: &[SocketAddr], config: ClientConfig) -> Result<QueueClient, ClientError> {
        let nodes = crate::failover::failover_nodes(nodes, &config, Handshake::None)?;
        Ok(QueueClient {
            nodes,
            config,
            push_next: AtomicUsize::new(0),
            pop_next: AtomicUsize::new(0),
        })
    }

    /// Reads a nodes file ([`crate::read_nodes_file`]) and makes a client for its nodes.
    pub fn from_nodes_file(
        path: impl AsRef<Path>,
        config: ClientConfig,
    ) -> Result<QueueClient, ClientError> {
        QueueClient::new(&read_nodes_file(path)?, config)
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

/// Refuses a record no node can take: empty (as the original client) or over the array limit.
fn check_record(record: &[u8]) -> Result<(), ClientError> {
    if record.is_empty() {
        Err(ClientError::EmptyValue)
    } else if record.len() as u64 > MAX_ARRAY_LEN {
        Err(ClientError::RecordTooBig { len: record.len() })
    } else {
        Ok(())
    }
}

/// A request's wire bytes.
fn encode(req: &QueueRequest<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    req.encode(&mut out);
    out
}
