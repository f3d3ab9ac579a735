//! A logfiles connection's state: the request in progress, if any.

use crate::requests::put::Deferred;
use crate::requests::scan::ScanCursor;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;
use swarm_core::ConnRef;
use swarm_protocol::logfiles::LogfilesCommand;

/// A request in progress on a connection.
#[derive(Debug)]
pub enum Ongoing {
    /// Nothing: the connection reads its next request.
    Idle,
    /// A Put or PutBatch waits for a bucket to be opened on a worker (its records are kept
    /// with the open).
    Writing(LogfilesCommand),
    /// A range scan: its cursor is on a worker (`None`) or parked here until the client has
    /// read what was sent (`Some`).
    Scan {
        /// The request.
        command: LogfilesCommand,
        /// The parked cursor.
        parked: Option<Box<ScanCursor>>,
    },
    /// A Redistribute: the move runs on its own thread; nothing more is read until it ends.
    Redistribute,
}

impl Ongoing {
    /// The request in progress.
    pub fn command(&self) -> Option<LogfilesCommand> {
        match self {
            Ongoing::Idle => None,
            Ongoing::Writing(command) | Ongoing::Scan { command, .. } => Some(*command),
            Ongoing::Redistribute => Some(LogfilesCommand::Redistribute),
        }
    }
}

/// Per-connection state.
#[derive(Debug)]
pub struct Session {
    /// The connection.
    pub conn: ConnRef,
    /// The peer, for log lines.
    pub peer: SocketAddr,
    /// The request in progress.
    pub ongoing: Ongoing,
    /// When the last request started (Put's timing in stats.log).
    pub started: Instant,
    /// Sync mode `group`: replies of writes stored but not yet covered by an fsync, oldest
    /// first. While there are any, a request that is not a write waits.
    pub unsynced: VecDeque<Deferred>,
}

impl Session {
    /// A fresh connection's state.
    pub fn new(conn: ConnRef, peer: SocketAddr) -> Self {
        Session {
            conn,
            peer,
            ongoing: Ongoing::Idle,
            started: Instant::now(),
            unsynced: VecDeque::new(),
        }
    }
}
