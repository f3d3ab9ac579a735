//! A dht connection's state: the request in progress (a GetAll iteration, a Listen with its
//! queue of changed keys, a Redistribute waiting for its move) and what `prepare` found in its input.

use crate::requests::get_all::Iteration;
use crate::requests::listen::ListenState;
use std::net::SocketAddr;
use swarm_core::{ConnRef, Step};
use swarm_protocol::dht::DhtCommand;

/// A multi-reply request in progress on a connection.
#[derive(Debug)]
pub enum Ongoing {
    /// Nothing: the connection reads its next request.
    Idle,
    /// GetAll, GetAllKeys or GetAllFilter sending batches.
    Iteration(Iteration),
    /// Listen waiting for Puts.
    Listen(Box<ListenState>),
    /// Redistribute waiting for the move to finish (the service holds its state).
    Redistribute,
}

impl Ongoing {
    /// The request in progress.
    pub fn command(&self) -> Option<DhtCommand> {
        match self {
            Ongoing::Idle => None,
            Ongoing::Iteration(it) => Some(it.command()),
            Ongoing::Listen(_) => Some(DhtCommand::Listen),
            Ongoing::Redistribute => Some(DhtCommand::Redistribute),
        }
    }

    /// The loop state that matches: what a call that changed nothing returns.
    pub fn step(&self) -> Step {
        match self {
            Ongoing::Idle => Step::Done,
            Ongoing::Iteration(_) => Step::More,
            Ongoing::Listen(_) | Ongoing::Redistribute => Step::Wait,
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
    /// What `prepare` found in the input.
    pub(crate) hints: Hints,
}

impl Session {
    /// A fresh connection's state.
    pub fn new(conn: ConnRef, peer: SocketAddr) -> Self {
        Session {
            conn,
            peer,
            ongoing: Ongoing::Idle,
            hints: Hints::default(),
        }
    }
}

/// Most requests of one connection's input that `prepare` looks at.
pub(crate) const MAX_HINTS: usize = 16;

/// The records the buffered requests of a connection will touch: (channel slot, key), found
/// by the first prefetch round and used by the later ones of the same turn.
#[derive(Debug, Default)]
pub(crate) struct Hints {
    pub(crate) len: usize,
    /// Channel slot, key, and (after the second round) the record's slot number.
    pub(crate) at: [(usize, u64, Option<u32>); MAX_HINTS],
}
