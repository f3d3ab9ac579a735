//! Reads during a move: a Get or Exists that misses asks further before it reports "no
//! record", so that readers never see a stored record as missing while a Redistribute moves
//! it. The node changes its range at once and then forwards the records of the keys it gave
//! away; the new owner stores each record before the old owner removes it, and both answer
//! reads for whatever they hold.
//!
//! After a miss at the key's owner Y:
//! - with `verify_misses`, Y's own range (GetResponsibleRange on the same connection, one more
//!   round trip on misses only) tells whether the client's table is stale; if Y no longer owns
//!   the key, the client refreshes and asks the new owner;
//! - when a routing a refresh replaced less than `moved_key_window` ago names other owners
//!   X, each X is asked, and if they all miss, Y once more: a record on X when Y was first
//!   asked is on Y by the time X no longer has it.

use super::refresh::Table;
use super::{encode, read_range, DhtClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::pool::Retry;
use std::sync::Arc;
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::HashRange;

/// One Get or Exists, as it is sent to each node it asks.
pub(super) struct Lookup<'a, T> {
    pub(super) key: u64,
    pub(super) cmd: DhtCommand,
    /// The request's wire bytes.
    pub(super) req: &'a [u8],
    pub(super) read: fn(&mut Conn) -> Result<T, ConnError>,
}

/// A read's reply, which may say that the node holds no record.
pub(super) trait Found {
    fn found(&self) -> bool;
}

impl Found for Option<Vec<u8>> {
    fn found(&self) -> bool {
        self.is_some()
    }
}

impl Found for bool {
    fn found(&self) -> bool {
        *self
    }
}

impl DhtClient {
    /// Sends a read to the key's owner and, on a miss, takes the moved-key path.
    pub(super) fn lookup<T: Found>(&self, l: &Lookup<'_, T>) -> Result<T, ClientError> {
        self.maybe_refresh();
        let table = self.table();
        let owner = self.route(&table, l.key)?;
        let verify = self.config.verify_misses;
        let (value, range) = self.pools[owner].request(l.cmd, Retry::Yes, |c| {
            c.send(l.req)?;
            let value = (l.read)(c)?;
            if value.found() || !verify {
                return Ok((value, None));
            }
            c.send(&encode(&DhtRequest::GetResponsibleRange))?;
            Ok((value, Some(read_range(c)?)))
        })?;
        if value.found() {
            return Ok(value);
        }
        self.after_miss(l, table, owner, range, value)
    }

    /// What a read does after `asked` (the owner `table` named) answered `miss`; `range` is
    /// what `asked` said its range is, if the caller already asked it.
    pub(super) fn after_miss<T: Found>(
        &self,
        l: &Lookup<'_, T>,
        mut table: Arc<Table>,
        asked: usize,
        range: Option<HashRange>,
        mut miss: T,
    ) -> Result<T, ClientError> {
        let window = self.config.moved_key_window;
        let mut owner = asked;
        if self.config.verify_misses {
            let range = match range {
                Some(r) => r,
                None => self.range_of(asked)?,
            };
            if !range.contains(l.key) {
                self.refresh_after(table.generation);
                table = self.table();
                owner = self.route(&table, l.key)?;
                if owner != asked {
                    let value = self.ask(l, owner)?;
                    // `asked` missed before the new owner did, and a move stores on the new
                    // owner before it removes from the old: if `asked` is the only former
                    // owner, there is nothing more to ask.
                    if value.found() || table.previous_owners(l.key, window) == [asked] {
                        return Ok(value);
                    }
                    miss = value;
                }
            }
        }
        let previous: Vec<usize> = table
            .previous_owners(l.key, window)
            .into_iter()
            .filter(|&p| p != owner)
            .collect();
        if previous.is_empty() {
            return Ok(miss);
        }
        for node in previous {
            if let Some(value) = self.ask_previous(l, node)? {
                if value.found() {
                    return Ok(value);
                }
            }
        }
        // The record may have moved from a previous owner to `owner` since `owner` missed.
        self.ask(l, owner)
    }

    /// Sends the read to one node (retried across a restart).
    fn ask<T>(&self, l: &Lookup<'_, T>, node: usize) -> Result<T, ClientError> {
        self.pools[node].request(l.cmd, Retry::Yes, |c| {
            c.send(l.req)?;
            (l.read)(c)
        })
    }

    /// Sends the read to a key's previous owner, once: `None` if the node cannot be reached
    /// (a node taken out of the cluster after a move is normal; waiting for it on every miss
    /// for `moved_key_window` is not).
    fn ask_previous<T>(&self, l: &Lookup<'_, T>, node: usize) -> Result<Option<T>, ClientError> {
        let pool = &self.pools[node];
        match pool.request(l.cmd, Retry::Failover, |c| {
            c.send(l.req)?;
            (l.read)(c)
        }) {
            Ok(value) => Ok(Some(value)),
            Err(e @ ClientError::Io { .. }) => {
                log::debug!("previous owner of key {:016x}: {e}", l.key);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// A node's current range (GetResponsibleRange).
    pub(super) fn range_of(&self, node: usize) -> Result<HashRange, ClientError> {
        self.pools[node].request(DhtCommand::GetResponsibleRange, Retry::Yes, |c| {
            c.send(&encode(&DhtRequest::GetResponsibleRange))?;
            read_range(c)
        })
    }
}
