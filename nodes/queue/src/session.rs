//! A queue connection's state: the stream in progress, if any (a Consume sending records, a
//! Produce or ProduceMulti taking them).

use crate::requests::consume::ConsumeState;
use crate::requests::produce::ProduceState;
use std::net::SocketAddr;
use swarm_core::{ConnRef, Step};
use swarm_protocol::queue::QueueCommand;

/// A stream in progress on a connection.
#[derive(Debug)]
pub enum Ongoing {
    /// Nothing: the connection reads its next request.
    Idle,
    /// Consume: records of a channel are sent as they come.
    Consume(ConsumeState),
    /// Produce or ProduceMulti: every array the client sends is a record, until an empty one.
    Produce(ProduceState),
}

impl Ongoing {
    /// The request in progress.
    pub fn command(&self) -> Option<QueueCommand> {
        match self {
            Ongoing::Idle => None,
            Ongoing::Consume(_) => Some(QueueCommand::Consume),
            Ongoing::Produce(p) => Some(p.command()),
        }
    }

    /// The loop state that matches: a Consume waits for records; a Produce stream takes its
    /// records as requests of their own, so the loop sees an idle connection.
    pub fn step(&self) -> Step {
        match self {
            Ongoing::Consume(_) => Step::Wait,
            Ongoing::Idle | Ongoing::Produce(_) => Step::Done,
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
    /// The stream in progress.
    pub ongoing: Ongoing,
}

impl Session {
    /// A fresh connection's state.
    pub fn new(conn: ConnRef, peer: SocketAddr) -> Self {
        Session {
            conn,
            peer,
            ongoing: Ongoing::Idle,
        }
    }
}
