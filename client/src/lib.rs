//! Blocking client library for the legacy swarm dht protocol (wire-compatible with
//! sociomantic's dhtnode): nodes file, handshake, routing by bit-reversed hash range, a
//! connection pool per node, automatic reconnect with backoff, typed errors.
//!
//! Every byte on the wire comes from the `swarm-protocol` codec; this crate only adds sockets.
//!
//! ```no_run
//! use swarm_client::{ClientConfig, DhtClient};
//! let client = DhtClient::from_nodes_file("nodes.txt", ClientConfig::default())?;
//! client.put("test", 0xab, b"hello")?;
//! assert_eq!(client.get("test", 0xab)?, Some(b"hello".to_vec()));
//! for record in client.get_all("test")? {
//!     let (key, value) = record?;
//!     println!("{key:016x}: {}", String::from_utf8_lossy(&value));
//! }
//! # Ok::<(), swarm_client::ClientError>(())
//! ```

mod config;
mod conn;
mod dht;
mod error;
mod nodes_file;
mod pool;
mod ranges;

#[cfg(test)]
mod fake_dht;

pub use config::{
    ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IO_TIMEOUT, DEFAULT_MAX_CONNECTIONS_PER_NODE,
    DEFAULT_RECONNECT_BACKOFF_MAX, DEFAULT_RECONNECT_BACKOFF_START, DEFAULT_RECONNECT_TIMEOUT,
};
pub use dht::{
    total_bytes, total_records, DhtClient, GetAll, GetAllKeys, ListenEvent, Listener, NodeSize,
    PIPELINE_DEPTH,
};
pub use error::{ClientError, Command};
pub use nodes_file::{parse_nodes, read_nodes_file};
pub use ranges::{find_gaps, find_overlaps, HandshakeReport, Overlap};
// The protocol types the public API carries (in `ClientError`, `DhtClient`'s results), so
// callers can name and match them without depending on swarm-protocol themselves.
pub use swarm_protocol::dht::DhtCommand;
pub use swarm_protocol::queue::QueueCommand;
pub use swarm_protocol::{HashRange, ProtocolError, Status};
