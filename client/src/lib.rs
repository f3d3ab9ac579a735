//! Blocking client library for the legacy swarm protocols, wire-compatible with sociomantic's
//! nodes: a nodes file, a connection pool per node, automatic reconnect with backoff, and typed
//! errors that name the node and its status, for three kinds of node:
//!
//! - **dht** ([`DhtClient`]): handshake (GetVersion, GetResponsibleRange), records routed by the
//!   bit-reversed key's hash range, which the client follows when it changes (a refresh
//!   periodically and on WrongNode; a miss also asks the key's previous owners), GetAll and
//!   Listen streams.
//! - **queue** ([`QueueClient`]): Push and Pop round-robin over the nodes, moving on to the
//!   next node when one is full, empty or down; PushMulti that retries only the channels that
//!   were full; Produce streams ([`Producer`]) and Consume on every node at once ([`Consumer`]).
//! - **logfiles** ([`LogfilesClient`]): the GetVersion handshake on every new connection; Put
//!   and PutBatch round-robin over the nodes whatever the key, moving on to the next node when
//!   one is down; range, "all" and filtered reads ([`Filter`]) from every node at once
//!   ([`Records`]).
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
//!
//! The queue side:
//!
//! ```no_run
//! use swarm_client::{ClientConfig, QueueClient};
//! let queue = QueueClient::from_nodes_file("queue-nodes.txt", ClientConfig::default())?;
//! queue.push("jobs", b"job 1")?;
//! assert_eq!(queue.pop("jobs")?, Some(b"job 1".to_vec()));
//! let mut producer = queue.produce("jobs")?;
//! producer.send(b"job 2")?;
//! producer.finish()?; // written, ended, and handled by every node
//! for record in queue.consume("jobs")? {
//!     println!("{}", String::from_utf8_lossy(&record?));
//!     # break;
//! }
//! # Ok::<(), swarm_client::ClientError>(())
//! ```
//!
//! The logfiles side (keys are by convention Unix times in seconds):
//!
//! ```no_run
//! use swarm_client::{ClientConfig, Filter, LogfilesClient};
//! let logs = LogfilesClient::from_nodes_file("logfiles-nodes.txt", ClientConfig::default())?;
//! logs.put("clicks", 1_700_000_000, b"aid=google&vw=1")?;
//! logs.put_batch("clicks", &[(1_700_000_001, b"aid=other"), (1_700_000_002, b"aid=google")])?;
//! for record in logs.get_range("clicks", 1_700_000_000, 1_700_000_059)? {
//!     let (key, value) = record?;
//!     println!("{key}: {}", String::from_utf8_lossy(&value));
//! }
//! let google = Filter::regex("aid=goo+gle");
//! let hits = logs.get_all_filter("clicks", &google)?.count();
//! println!("{hits} records, {} channels", logs.channels()?.len());
//! # Ok::<(), swarm_client::ClientError>(())
//! ```

mod config;
mod conn;
mod dht;
mod error;
mod failover;
mod logfiles;
mod nodes_file;
mod pool;
mod queue;
mod ranges;
mod stop;

#[cfg(test)]
mod fake_dht;
#[cfg(test)]
mod fake_logfiles;
#[cfg(test)]
mod fake_queue;

pub use config::{
    ClientConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IO_TIMEOUT, DEFAULT_MAX_CONNECTIONS_PER_NODE,
    DEFAULT_MOVED_KEY_WINDOW, DEFAULT_RANGE_REFRESH, DEFAULT_RECONNECT_BACKOFF_MAX,
    DEFAULT_RECONNECT_BACKOFF_START, DEFAULT_RECONNECT_TIMEOUT,
};
pub use dht::plan as redistribute_plan;
pub use dht::{
    total_bytes, total_records, DhtClient, GetAll, GetAllBatches, GetAllKeys, ListenEvent,
    Listener, NodeSize, RawBatch, PIPELINE_DEPTH,
};
pub use error::{ClientError, Command, NodeFailure};
pub use logfiles::{
    Filter, LogfilesClient, LogfilesSize, Records, LOGFILES_MAX_VALUE_LEN, READ_AHEAD,
};
pub use nodes_file::{parse_nodes, read_nodes_file};
pub use queue::{Consumer, Producer, QueueClient, QueueSize, CONSUME_AHEAD, PRODUCE_BUFFER};
pub use ranges::{find_gaps, find_overlaps, HandshakeReport, Overlap};
// The protocol types the public API carries (in `ClientError`, `DhtClient`'s results), so
// callers can name and match them without depending on swarm-protocol themselves.
pub use swarm_protocol::dht::DhtCommand;
pub use swarm_protocol::logfiles::LogfilesCommand;
pub use swarm_protocol::queue::QueueCommand;
pub use swarm_protocol::{HashRange, ProtocolError, Status};
