//! The client's typed error, [`ClientError`]: every failure names the node it came from, and a
//! node's status keeps its code and the request it answered ([`Command`], dht, queue or
//! logfiles). A request tried on several nodes in turn (queue Push, Pop, PushMulti, logfiles Put
//! and PutBatch) that failed on all of them lists what each node did ([`NodeFailure`]).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use swarm_protocol::channel::MAX_CHANNEL_NAME_LEN;
use swarm_protocol::dht::DhtCommand;
use swarm_protocol::logfiles::LogfilesCommand;
use swarm_protocol::queue::QueueCommand;
use swarm_protocol::{ProtocolError, Status};

/// The request a node answered, of any of the three protocols. `#[non_exhaustive]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// A dht request.
    Dht(DhtCommand),
    /// A queue request.
    Queue(QueueCommand),
    /// A logfiles request.
    Logfiles(LogfilesCommand),
}

impl Command {
    /// The request's name as in the original's logs.
    pub fn name(self) -> &'static str {
        match self {
            Command::Dht(c) => c.name(),
            Command::Queue(c) => c.name(),
            Command::Logfiles(c) => c.name(),
        }
    }
}

impl From<DhtCommand> for Command {
    fn from(c: DhtCommand) -> Self {
        Command::Dht(c)
    }
}

impl From<QueueCommand> for Command {
    fn from(c: QueueCommand) -> Self {
        Command::Queue(c)
    }
}

impl From<LogfilesCommand> for Command {
    fn from(c: LogfilesCommand) -> Self {
        Command::Logfiles(c)
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What one node did with a request that was then tried on the next node
/// ([`ClientError::AllNodesFailed`]). `#[non_exhaustive]`.
#[derive(Debug)]
#[non_exhaustive]
pub enum NodeFailure {
    /// It answered this status (for example OutOfMemory, 407: the channel is full).
    Status(Status),
    /// It could not be reached, or the connection broke.
    Io(io::Error),
    /// It sent bytes that violate the protocol; the connection was dropped.
    Protocol(ProtocolError),
    /// It was not asked: it failed recently and its next reconnect attempt is not due yet.
    Down,
    /// Pop only: it had no record in the channel.
    Empty,
}

impl fmt::Display for NodeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeFailure::Status(s) => write!(f, "answered {s}"),
            NodeFailure::Io(e) => write!(f, "I/O error: {e}"),
            NodeFailure::Protocol(e) => write!(f, "protocol error: {e}"),
            NodeFailure::Down => f.write_str("skipped (down, reconnecting with backoff)"),
            NodeFailure::Empty => f.write_str("was empty"),
        }
    }
}

/// Why a client call failed. `#[non_exhaustive]`: a new kind of failure is not a breaking
/// change, so a `match` outside this crate needs a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// A socket error talking to `node` (connect refused, reset, EOF, timeout). Single-key and
    /// all-node requests only return it once the reconnect timeout is used up.
    Io {
        /// The node.
        node: SocketAddr,
        /// The socket error.
        source: io::Error,
    },
    /// The node answered a status other than `Ok`.
    Status {
        /// The node.
        node: SocketAddr,
        /// The request it answered.
        command: Command,
        /// Its status.
        status: Status,
    },
    /// The node sent bytes that violate the protocol; the connection was dropped.
    Protocol {
        /// The node.
        node: SocketAddr,
        /// What was wrong.
        error: ProtocolError,
    },
    /// No node's hash range contains the key (a gap in the ranges, or the node failed the
    /// handshake).
    NoResponsibleNode {
        /// The key.
        key: u64,
    },
    /// The node speaks another API version than "20110401"; it is not used.
    VersionMismatch {
        /// The node.
        node: SocketAddr,
        /// The version it announced.
        version: String,
    },
    /// The node answered NotSupported (406) to a request it does not implement, as the original
    /// logfiles node did for GetChannelSize and GetSize.
    NotSupported {
        /// The node.
        node: SocketAddr,
        /// The request.
        command: Command,
    },
    /// The handshake found the node set unusable (gaps, overlaps, unreachable nodes).
    Handshake(String),
    /// The channel name is not valid (letters, digits, `_`, `-`); refused before sending.
    BadChannelName {
        /// The name.
        channel: String,
    },
    /// An empty value; the client refuses it before sending, as the original does.
    EmptyValue,
    /// A value that can never be stored (over the wire array limit, or too large for a batch);
    /// refused before sending.
    ValueTooBig {
        /// The record's key.
        key: u64,
        /// The value's length.
        len: usize,
        /// The longest value the request can carry.
        limit: usize,
    },
    /// A request for a node this client does not know (or that failed its handshake).
    UnknownNode(SocketAddr),
    /// A record over the wire array limit ([`swarm_protocol::MAX_ARRAY_LEN`]): no node can take
    /// it. Refused before sending.
    RecordTooBig {
        /// The record's length.
        len: usize,
    },
    /// The node list given to a queue client is empty or names a node twice.
    NodeList(String),
    /// A request tried on one node after the other failed on every one of them (queue Push,
    /// Pop, PushMulti, and the Produce streams when none can be opened). `failures` says what
    /// each node did, in the order they were tried; a node appears once per round when the
    /// request went round again while some node was reconnecting.
    AllNodesFailed {
        /// The request.
        command: Command,
        /// Each node and what it did.
        failures: Vec<(SocketAddr, NodeFailure)>,
    },
    /// The connection to `node` broke after a request that must not be applied twice was sent
    /// (PushMulti2): the node may or may not have stored the record in `channels`, so the
    /// client did not send it anywhere else (that could duplicate it).
    OutcomeUnknown {
        /// The node.
        node: SocketAddr,
        /// The request.
        command: Command,
        /// The channels whose outcome is unknown.
        channels: Vec<String>,
        /// The socket error.
        source: io::Error,
    },
    /// Records were written to these Produce or ProduceMulti streams, which then broke before
    /// their node confirmed them: they may be lost (the protocol has no per-record
    /// acknowledgement). Each stream is listed with the number of records written to it.
    StreamsLost {
        /// The stream's request.
        command: Command,
        /// Each broken stream's node and its unconfirmed records.
        streams: Vec<(SocketAddr, u64)>,
    },
    /// The nodes file cannot be read or has a bad line.
    NodesFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when the problem is on a line.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
    /// A logfiles Redistribute fraction outside (0, 1] (or not a number); refused before
    /// sending.
    BadFraction(f64),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Io { node, source } => write!(f, "node {node}: I/O error: {source}"),
            ClientError::Status {
                node,
                command,
                status,
            } => write!(f, "node {node}: {} answered {status}", command.name()),
            ClientError::Protocol { node, error } => {
                write!(f, "node {node}: protocol error: {error}")
            }
            ClientError::NoResponsibleNode { key } => {
                write!(f, "no node is responsible for key {key:016x}")
            }
            ClientError::VersionMismatch { node, version } => write!(
                f,
                "node {node}: API version {version:?} is not the supported \"20110401\""
            ),
            ClientError::NotSupported { node, command } => write!(
                f,
                "node {node} does not support {command} (it answered NotSupported, 406)"
            ),
            ClientError::Handshake(why) => write!(f, "handshake failed: {why}"),
            ClientError::BadChannelName { channel } => write!(
                f,
                "invalid channel name {channel:?}: a name is 1 to {MAX_CHANNEL_NAME_LEN} ASCII \
                 letters, digits, '_' or '-'"
            ),
            ClientError::EmptyValue => f.write_str("empty values cannot be stored"),
            ClientError::ValueTooBig { key, len, limit } => write!(
                f,
                "value of {len} bytes for key {key:016x} is over the limit of {limit} bytes"
            ),
            ClientError::UnknownNode(node) => write!(f, "node {node} is not a usable node"),
            ClientError::RecordTooBig { len } => {
                write!(f, "a record of {len} bytes is over the array limit")
            }
            ClientError::NodeList(why) => write!(f, "bad node list: {why}"),
            ClientError::AllNodesFailed { command, failures } => {
                write!(f, "{command} failed on every node:")?;
                for (i, (node, failure)) in failures.iter().enumerate() {
                    let sep = if i == 0 { " " } else { "; " };
                    write!(f, "{sep}{node} {failure}")?;
                }
                Ok(())
            }
            ClientError::StreamsLost { command, streams } => {
                write!(
                    f,
                    "{command} streams broke with records unconfirmed, which may be lost:"
                )?;
                for (i, (node, records)) in streams.iter().enumerate() {
                    let sep = if i == 0 { " " } else { ", " };
                    write!(f, "{sep}{node} ({records} records)")?;
                }
                Ok(())
            }
            ClientError::OutcomeUnknown {
                node,
                command,
                channels,
                source,
            } => write!(
                f,
                "node {node}: connection lost during {command} ({source}); whether it stored the \
                 record in {channels:?} is unknown, so it was not retried"
            ),
            ClientError::NodesFile { path, line, reason } => match line {
                Some(line) => write!(f, "{}:{line}: {reason}", path.display()),
                None => write!(f, "{}: {reason}", path.display()),
            },
            ClientError::BadFraction(x) => {
                write!(f, "fraction {x} is not in (0, 1]")
            }
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io { source, .. } | ClientError::OutcomeUnknown { source, .. } => {
                Some(source)
            }
            ClientError::Protocol { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Refuses an invalid channel name before anything is sent (every node kind's rule).
pub(crate) fn check_channel(channel: &str) -> Result<(), ClientError> {
    if swarm_protocol::channel::is_valid_channel_name(channel.as_bytes()) {
        Ok(())
    } else {
        Err(ClientError::BadChannelName {
            channel: channel.to_string(),
        })
    }
}

impl ClientError {
    /// The node the error came from, if it came from one.
    pub fn node(&self) -> Option<SocketAddr> {
        match self {
            ClientError::Io { node, .. }
            | ClientError::Status { node, .. }
            | ClientError::Protocol { node, .. }
            | ClientError::VersionMismatch { node, .. }
            | ClientError::NotSupported { node, .. }
            | ClientError::OutcomeUnknown { node, .. }
            | ClientError::UnknownNode(node) => Some(*node),
            _ => None,
        }
    }

    /// The node's status, for [`ClientError::Status`] (and NotSupported for
    /// [`ClientError::NotSupported`]).
    pub fn status(&self) -> Option<Status> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            ClientError::NotSupported { .. } => Some(Status::NotSupported),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
