//! The connection pool of one node and the retry loop every request runs through, for either
//! protocol.
//!
//! Idle connections are kept for reuse (up to `max_connections_per_node`). When a request hits
//! an I/O error the node has probably restarted: the connection and every idle one are dropped,
//! and the next connection is made anew with exponential backoff until `reconnect_timeout`.
//! The broken connection is reset, not closed ([`Conn::abort`]), so that a request it carried
//! cannot reach the node later.
//! For a dht node ([`Handshake::DhtVersion`]) the first connection made after such a loss
//! re-checks the node's API version; a logfiles node ([`Handshake::LogfilesVersion`]) has every
//! new connection checked; the queue protocol has no handshake. Idempotent requests
//! ([`Retry::Yes`]) are then retried transparently. [`Retry::Failover`] requests (queue Push,
//! Pop, PushMulti2, logfiles Put and PutBatch, the opening of a logfiles read) make one attempt
//! and return the error, so the caller tries the next node (or, for a read, waits itself).

use crate::config::{Backoff, ClientConfig};
use crate::conn::{Conn, ConnError};
use crate::error::{ClientError, Command};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest, API_VERSION};
use swarm_protocol::logfiles::{self, LogfilesCommand, LogfilesReply, LogfilesRequest};
use swarm_protocol::{ProtocolError, Status};

/// Whether a request may be sent again after its connection broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Retry {
    /// Idempotent: reconnect and send it again until the reconnect timeout.
    Yes,
    /// One attempt for a caller that tries another node next: connect once without waiting,
    /// check that a pooled connection is still open before sending on it (a fresh one replaces
    /// it if not), and return any I/O error at once.
    Failover,
}

/// What a new connection does before its first request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handshake {
    /// dht: after a lost connection, GetVersion must answer "20110401" again.
    DhtVersion,
    /// logfiles: every new connection sends GetVersion before its first request and is
    /// refused unless the answer is "20110401" (the original refuses every request to a node
    /// whose handshake did not match). One round trip per connection, not per request, and no
    /// window in which a connection opened beside the first check skips it.
    LogfilesVersion,
    /// queue: the protocol has none.
    None,
}

impl Handshake {
    /// The request the handshake sends, for its errors.
    fn command(self) -> Command {
        match self {
            Handshake::LogfilesVersion => LogfilesCommand::GetVersion.into(),
            Handshake::DhtVersion | Handshake::None => DhtCommand::GetVersion.into(),
        }
    }
}

/// The connections to one node.
#[derive(Debug)]
pub(crate) struct NodePool {
    addr: SocketAddr,
    config: ClientConfig,
    handshake: Handshake,
    idle: Mutex<Vec<Conn>>,
    /// Set when a connection was lost: the next new connection checks the version first.
    reverify: AtomicBool,
}

impl NodePool {
    /// The pool of a dht node.
    pub(crate) fn new(addr: SocketAddr, config: ClientConfig) -> Self {
        NodePool::with_handshake(addr, config, Handshake::DhtVersion)
    }

    pub(crate) fn with_handshake(
        addr: SocketAddr,
        config: ClientConfig,
        handshake: Handshake,
    ) -> Self {
        NodePool {
            addr,
            config,
            handshake,
            idle: Mutex::new(Vec::new()),
            reverify: AtomicBool::new(false),
        }
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs a request whose reply fits in `exchange`, returning the connection to the pool.
    pub(crate) fn request<T>(
        &self,
        cmd: impl Into<Command>,
        retry: Retry,
        exchange: impl FnMut(&mut Conn) -> Result<T, ConnError>,
    ) -> Result<T, ClientError> {
        let (value, conn) = self.run(cmd, retry, exchange)?;
        self.checkin(conn);
        Ok(value)
    }

    /// Runs `exchange` on a pooled or new connection and hands the connection to the caller
    /// (streams return it with [`NodePool::checkin`] once complete, or drop it).
    pub(crate) fn run<T>(
        &self,
        cmd: impl Into<Command>,
        retry: Retry,
        mut exchange: impl FnMut(&mut Conn) -> Result<T, ConnError>,
    ) -> Result<(T, Conn), ClientError> {
        let cmd = cmd.into();
        let deadline = match retry {
            Retry::Failover => Instant::now(), // connect() then tries exactly once
            Retry::Yes => Instant::now() + self.config.reconnect_timeout,
        };
        let mut backoff = Backoff::new(&self.config);
        loop {
            let (mut conn, fresh) = match self.checkout(retry) {
                Some(conn) => (conn, false),
                None => (self.connect(&mut backoff, deadline)?, true),
            };
            match exchange(&mut conn) {
                Ok(value) => return Ok((value, conn)),
                Err(ConnError::Io(e)) => {
                    conn.abort();
                    self.connection_lost();
                    let give_up = retry != Retry::Yes
                        || Instant::now() >= deadline
                        || (fresh && !backoff.wait(deadline));
                    if give_up {
                        return Err(self.error(cmd, ConnError::Io(e)));
                    }
                    log::debug!("{}: {cmd} failed ({e}), retrying", self.addr);
                }
                Err(e) => {
                    if e.keeps_connection() {
                        self.checkin(conn);
                    }
                    return Err(self.error(cmd, e));
                }
            }
        }
    }

    /// A pooled connection; for [`Retry::Failover`] only one that is still open (finding a
    /// stale one means the node restarted: every idle connection is dropped).
    fn checkout(&self, retry: Retry) -> Option<Conn> {
        let conn = self.idle().pop()?;
        if retry == Retry::Failover && conn.is_stale() {
            self.connection_lost();
            return None;
        }
        Some(conn)
    }

    /// Opens a new connection (not from the pool), with backoff until `deadline` (one attempt
    /// when the deadline is now).
    pub(crate) fn connect(
        &self,
        backoff: &mut Backoff,
        deadline: Instant,
    ) -> Result<Conn, ClientError> {
        loop {
            let err = match Conn::connect(
                self.addr,
                self.config.connect_timeout,
                self.config.io_timeout,
            ) {
                Ok(mut conn) => match self.verify(&mut conn) {
                    Ok(()) => return Ok(conn),
                    Err(ConnError::Io(e)) => e,
                    Err(e) => return Err(self.error(self.handshake.command(), e)),
                },
                Err(e) => e,
            };
            if !backoff.wait(deadline) {
                return Err(self.error(self.handshake.command(), ConnError::Io(err)));
            }
            log::debug!("{}: reconnecting ({err})", self.addr);
        }
    }

    /// Keeps a connection that finished its request cleanly for reuse.
    pub(crate) fn checkin(&self, conn: Conn) {
        let mut idle = self.idle();
        if idle.len() < self.config.max_connections_per_node {
            idle.push(conn);
        }
    }

    /// A connection broke: the node probably restarted, so the idle ones are stale too.
    pub(crate) fn connection_lost(&self) {
        self.idle().clear();
        self.reverify.store(true, Ordering::SeqCst);
    }

    /// Turns a connection error into the client's error for this node.
    pub(crate) fn error(&self, command: impl Into<Command>, e: ConnError) -> ClientError {
        e.at(self.addr, command)
    }

    /// The handshake of a new connection (see [`Handshake`]).
    fn verify(&self, conn: &mut Conn) -> Result<(), ConnError> {
        match self.handshake {
            Handshake::None => Ok(()),
            Handshake::LogfilesVersion => {
                check_version(logfiles_version(conn)?, logfiles::API_VERSION)
            }
            Handshake::DhtVersion => {
                if !self.reverify.swap(false, Ordering::SeqCst) {
                    return Ok(());
                }
                let result = get_version(conn).and_then(|v| check_version(v, API_VERSION));
                if result.is_err() {
                    self.reverify.store(true, Ordering::SeqCst);
                }
                result
            }
        }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Conn>> {
        // A panic while holding the lock cannot leave the Vec inconsistent.
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    pub(crate) fn idle_count(&self) -> usize {
        self.idle().len()
    }
}

/// Whether a node announced the version the client speaks.
fn check_version(version: Vec<u8>, expected: &[u8]) -> Result<(), ConnError> {
    if version == expected {
        Ok(())
    } else {
        Err(ConnError::WrongVersion(version))
    }
}

/// Sends the logfiles GetVersion and returns the node's version string.
fn logfiles_version(conn: &mut Conn) -> Result<Vec<u8>, ConnError> {
    let cmd = LogfilesCommand::GetVersion;
    let mut req = Vec::with_capacity(4);
    LogfilesRequest::GetVersion.encode(&mut req);
    conn.send(&req)?;
    conn.decode(|b| {
        let (reply, used) = LogfilesReply::decode(cmd, b)?;
        let version = match reply {
            LogfilesReply::Version(v) => Ok(v.to_vec()),
            LogfilesReply::Status(s) if s != Status::Ok => Err(ConnError::Status(s)),
            _ => Err(ConnError::Protocol(ProtocolError::Malformed(
                "unexpected reply to GetVersion",
            ))),
        };
        Ok((version, used))
    })?
}

/// Sends GetVersion and returns the node's version string.
pub(crate) fn get_version(conn: &mut Conn) -> Result<Vec<u8>, ConnError> {
    let mut req = Vec::with_capacity(4);
    DhtRequest::GetVersion.encode(&mut req);
    conn.send(&req)?;
    conn.read_reply(DhtCommand::GetVersion, |reply| match reply {
        DhtReply::Version(v) => Ok(v.to_vec()),
        _ => Err(ProtocolError::Malformed("unexpected reply to GetVersion")),
    })
}
