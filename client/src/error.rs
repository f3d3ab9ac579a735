//! The client's typed error, [`ClientError`]: every failure names the node it came from, and a
//! node's status keeps its code and the request it answered ([`Command`], dht or queue).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use swarm_protocol::dht::DhtCommand;
use swarm_protocol::queue::QueueCommand;
use swarm_protocol::{ProtocolError, Status};

/// The request a node answered, of either protocol. `#[non_exhaustive]`: the logfiles protocol
/// will add a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Command {
    /// A dht request.
    Dht(DhtCommand),
    /// A queue request.
    Queue(QueueCommand),
}

impl Command {
    /// The request's name as in the original's logs.
    pub fn name(self) -> &'static str {
        match self {
            Command::Dht(c) => c.name(),
            Command::Queue(c) => c.name(),
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

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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
    /// The handshake found the node set unusable (gaps, overlaps, unreachable nodes).
    Handshake(String),
    /// The channel name is not valid (letters, digits, `_`, `-`); refused before sending.
    BadChannelName {
        /// The name.
        channel: String,
    },
    /// An empty value; the client refuses it before sending, as the original does.
    EmptyValue,
    /// A value that can never be stored (over the wire array limit, or too large for a batch).
    ValueTooBig {
        /// The record's key.
        key: u64,
        /// The value's length.
        len: usize,
    },
    /// A request for a node this client does not know (or that failed its handshake).
    UnknownNode(SocketAddr),
    /// The nodes file cannot be read or has a bad line.
    NodesFile {
        /// The file.
        path: PathBuf,
        /// The 1-based line, when the problem is on a line.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },
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
            ClientError::Handshake(why) => write!(f, "handshake failed: {why}"),
            ClientError::BadChannelName { channel } => {
                write!(f, "invalid channel name {channel:?}")
            }
            ClientError::EmptyValue => f.write_str("empty values cannot be stored"),
            ClientError::ValueTooBig { key, len } => {
                write!(f, "value of {len} bytes for key {key:016x} is too big")
            }
            ClientError::UnknownNode(node) => write!(f, "node {node} is not a usable node"),
            ClientError::NodesFile { path, line, reason } => match line {
                Some(line) => write!(f, "{}:{line}: {reason}", path.display()),
                None => write!(f, "{}: {reason}", path.display()),
            },
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Io { source, .. } => Some(source),
            ClientError::Protocol { error, .. } => Some(error),
            _ => None,
        }
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
            | ClientError::UnknownNode(node) => Some(*node),
            _ => None,
        }
    }

    /// The node's status, for [`ClientError::Status`].
    pub fn status(&self) -> Option<Status> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 10000))
    }

    #[test]
    fn display_names_node_command_and_status() {
        let e = ClientError::Status {
            node: addr(),
            command: DhtCommand::Put.into(),
            status: Status::WrongNode,
        };
        assert_eq!(
            e.to_string(),
            "node 127.0.0.1:10000: Put answered WrongNode (404)"
        );
        assert_eq!(e.status(), Some(Status::WrongNode));
        assert_eq!(e.node(), Some(addr()));
    }

    #[test]
    fn display_of_other_variants() {
        let io = ClientError::Io {
            node: addr(),
            source: io::Error::new(io::ErrorKind::ConnectionReset, "reset"),
        };
        assert_eq!(io.to_string(), "node 127.0.0.1:10000: I/O error: reset");
        assert!(io.source().is_some());
        assert_eq!(
            ClientError::NoResponsibleNode { key: 0xab }.to_string(),
            "no node is responsible for key 00000000000000ab"
        );
        let v = ClientError::VersionMismatch {
            node: addr(),
            version: "1".into(),
        };
        assert!(v.to_string().contains("\"1\""));
        let nf = ClientError::NodesFile {
            path: "nodes.txt".into(),
            line: Some(3),
            reason: "bad".into(),
        };
        assert_eq!(nf.to_string(), "nodes.txt:3: bad");
        let p = ClientError::Protocol {
            node: addr(),
            error: ProtocolError::BadKey,
        };
        assert!(p.to_string().contains("malformed key"));
        assert_eq!(ClientError::EmptyValue.node(), None);
    }
}
