//! The exit codes (`EXIT_CODES` in args.rs has their help text) and the error `swarm` reports:
//! the client library's typed error, with a hint for the errors whose fix is a setting or a
//! rule the user has to know (record size limits and the `batch_size` behind them, the channel
//! capacity, timeouts), or a usage error found before any node was asked.

use std::fmt;
use std::io;
use swarm_client::{ClientError, NodeFailure, Status};

/// Exit code: success.
pub const OK: u8 = 0;
/// Exit code: not found / false / empty.
pub const NOT_FOUND: u8 = 1;
/// Exit code: usage error.
pub const USAGE: u8 = 2;
/// Exit code: a node cannot be reached or timed out.
pub const UNREACHABLE: u8 = 3;
/// Exit code: the request was refused, by a node's status or by the client before sending.
pub const REFUSED: u8 = 4;
/// Exit code: anything else.
pub const OTHER: u8 = 5;

/// The dht node's record size limit rule (spec/dht.md, Put).
const DHT_LIMIT_HINT: &str = "a dht node takes values of at most batch_size - 32 bytes, \
    where batch_size is [Options_Memory] batch_size in the node's config.ini (default 65536, \
    so 65504 bytes; 16 bytes of hex key and two 8-byte length prefixes must fit beside the \
    value in one GetAll batch)";

/// Why `swarm` failed.
#[derive(Debug)]
pub enum CliError {
    /// Bad arguments or input, found before any node was asked.
    Usage(String),
    /// A client call failed.
    Client(ClientError),
    /// A value was refused as too big: the error, and the value's length.
    TooBig(ClientError, usize),
    /// Writing the output failed.
    Output(io::Error),
}

impl From<ClientError> for CliError {
    fn from(e: ClientError) -> Self {
        CliError::Client(e)
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::Output(e)
    }
}

impl CliError {
    /// A client error of a write whose value is `len` bytes long: the size errors get the
    /// value's length and the limit's rule.
    pub fn of_write(e: ClientError, len: usize) -> CliError {
        let too_big = matches!(e.status(), Some(Status::ValueTooBig | Status::OutOfMemory))
            || matches!(
                e,
                ClientError::ValueTooBig { .. } | ClientError::RecordTooBig { .. }
            )
            || all_failed_with(&e, Status::OutOfMemory);
        if too_big {
            CliError::TooBig(e, len)
        } else {
            CliError::Client(e)
        }
    }

    /// The process exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => USAGE,
            CliError::Client(e) | CliError::TooBig(e, _) => client_exit_code(e),
            CliError::Output(_) => OTHER,
        }
    }
}

/// Whether `e` is AllNodesFailed with some node answering `status`.
fn all_failed_with(e: &ClientError, status: Status) -> bool {
    match e {
        ClientError::AllNodesFailed { failures, .. } => failures
            .iter()
            .any(|(_, f)| matches!(f, NodeFailure::Status(s) if *s == status)),
        _ => false,
    }
}

/// The exit code of a client error.
pub fn client_exit_code(e: &ClientError) -> u8 {
    match e {
        ClientError::Io { .. }
        | ClientError::Handshake(_)
        | ClientError::NoResponsibleNode { .. } => UNREACHABLE,
        ClientError::AllNodesFailed { failures, .. } => {
            if failures
                .iter()
                .any(|(_, f)| matches!(f, NodeFailure::Status(_)))
            {
                REFUSED
            } else {
                UNREACHABLE
            }
        }
        ClientError::Status { .. }
        | ClientError::NotSupported { .. }
        | ClientError::BadChannelName { .. }
        | ClientError::EmptyValue
        | ClientError::ValueTooBig { .. }
        | ClientError::RecordTooBig { .. } => REFUSED,
        ClientError::NodesFile { .. } | ClientError::NodeList(_) | ClientError::UnknownNode(_) => {
            USAGE
        }
        _ => OTHER,
    }
}

/// The rule behind a size refusal.
fn size_hint(e: &ClientError) -> String {
    match e {
        ClientError::ValueTooBig { limit, .. } => format!(
            "a logfiles value may be at most {limit} bytes: the largest one a read batch of \
             64 KiB (65536 bytes, the nodes' batch size) returns beside its 16-digit key and \
             two 8-byte length prefixes"
        ),
        ClientError::RecordTooBig { .. } => format!(
            "a queue record may be at most {} bytes, the protocol's array limit",
            swarm_protocol::MAX_ARRAY_LEN
        ),
        e if e.status() == Some(Status::ValueTooBig) => DHT_LIMIT_HINT.to_string(),
        _ => "the channel is full, or the record is larger than the node's ring \
              ([Server] channel_size_limit in its config.ini, or its [ChannelSizeById] entry)"
            .to_string(),
    }
}

/// Whether the I/O error is a timeout (a node that accepted but never answered).
fn is_timeout(e: &ClientError) -> bool {
    let timed_out = |e: &io::Error| {
        matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        )
    };
    match e {
        ClientError::Io { source, .. } => timed_out(source),
        ClientError::AllNodesFailed { failures, .. } => failures
            .iter()
            .any(|(_, f)| matches!(f, NodeFailure::Io(e) if timed_out(e))),
        // The handshake report carries its errors as text: an EAGAIN read timeout reads
        // "Resource temporarily unavailable".
        ClientError::Handshake(why) => ["timed out", "would block", "temporarily unavailable"]
            .iter()
            .any(|t| why.contains(t)),
        _ => false,
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(why) => f.write_str(why),
            CliError::Output(e) => write!(f, "writing the output: {e}"),
            CliError::TooBig(e, len) => {
                write!(f, "value of {len} bytes refused: {e}; {}", size_hint(e))
            }
            CliError::Client(e) => {
                write!(f, "{e}")?;
                if is_timeout(e) {
                    f.write_str(" (no answer within --timeout)")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use swarm_client::{Command, DhtCommand};

    fn node() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 1))
    }

    #[test]
    fn exit_codes_follow_the_kind_of_failure() {
        let refused = ClientError::Io {
            node: node(),
            source: io::ErrorKind::ConnectionRefused.into(),
        };
        assert_eq!(client_exit_code(&refused), UNREACHABLE);
        let status = ClientError::Status {
            node: node(),
            command: Command::Dht(DhtCommand::Put),
            status: Status::ValueTooBig,
        };
        assert_eq!(client_exit_code(&status), REFUSED);
        let bad = ClientError::BadChannelName {
            channel: "a b".into(),
        };
        assert_eq!(client_exit_code(&bad), REFUSED);
        assert_eq!(CliError::Usage("x".into()).exit_code(), USAGE);
    }

    #[test]
    fn size_refusals_name_the_limit_and_its_setting() {
        let status = ClientError::Status {
            node: node(),
            command: Command::Dht(DhtCommand::Put),
            status: Status::ValueTooBig,
        };
        let msg = CliError::of_write(status, 70_000).to_string();
        assert!(
            msg.contains("70000 bytes") && msg.contains("batch_size"),
            "{msg}"
        );
        assert!(msg.contains("65504"), "{msg}");
        let client = ClientError::ValueTooBig {
            key: 1,
            len: 70_000,
            limit: 65_504,
        };
        let msg = CliError::of_write(client, 70_000).to_string();
        assert!(msg.contains("65504") && msg.contains("batch size"), "{msg}");
    }
}
