//! [`DhtEvent`]: the events the dht node posts through the loop's mailbox, in a module of its
//! own so the request files (Listen, Put, RemoveChannel) and the periodic dump need nothing
//! from `service`.

use crate::dump::periodic::DumpEvent;
use crate::redist::RedistEvent;
use crate::requests::listen::ListenEvent;

/// What reaches the dht service or one of its connections from elsewhere.
#[derive(Debug)]
pub enum DhtEvent {
    /// For a Listen connection: a key was Put, or its channel was removed.
    Listen(ListenEvent),
    /// For the service: the periodic dump's writer reported, or its next step is due.
    Dump(DumpEvent),
    /// For the service: a Redistribute's forwarder reported, or its next step is due; for the
    /// requesting connection: the move is over.
    Redist(RedistEvent),
}
