//! Single-key requests (Put, Get, Exists, Remove): routed to the responsible node and retried
//! transparently across a node restart, since they are idempotent. A write answered WrongNode
//! refreshes the ranges and is sent once more to the key's new owner (waiting, within the
//! reconnect timeout, while no node claims the key); a read that misses
//! takes the moved-key path (`moved.rs`). The reply readers are shared with the pipelined
//! calls.

use super::moved::Lookup;
use super::{check_channel, encode, DhtClient};
use crate::config::Backoff;
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::pool::Retry;
use std::time::Instant;
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest};
use swarm_protocol::{format_key, ProtocolError, Status, MAX_ARRAY_LEN};

impl DhtClient {
    /// Stores `value` under `key`, overwriting any previous value. Empty values are refused
    /// ([`ClientError::EmptyValue`]), as the original client does.
    pub fn put(&self, channel: &str, key: u64, value: &[u8]) -> Result<(), ClientError> {
        check_put(channel, key, value)?;
        let hex = format_key(key);
        let req = encode(&DhtRequest::Put {
            channel: channel.as_bytes(),
            key: &hex,
            value,
        });
        self.write(key, DhtCommand::Put, &req)
    }

    /// The value stored under `key`, `None` if there is none (the node answers an empty value).
    pub fn get(&self, channel: &str, key: u64) -> Result<Option<Vec<u8>>, ClientError> {
        check_channel(channel)?;
        let hex = format_key(key);
        let req = encode(&DhtRequest::Get {
            channel: channel.as_bytes(),
            key: &hex,
        });
        self.lookup(&Lookup {
            key,
            cmd: DhtCommand::Get,
            req: &req,
            read: read_get,
        })
    }

    /// Whether a record is stored under `key`.
    pub fn exists(&self, channel: &str, key: u64) -> Result<bool, ClientError> {
        check_channel(channel)?;
        let hex = format_key(key);
        let req = encode(&DhtRequest::Exists {
            channel: channel.as_bytes(),
            key: &hex,
        });
        self.lookup(&Lookup {
            key,
            cmd: DhtCommand::Exists,
            req: &req,
            read: read_exists,
        })
    }

    /// Removes the record under `key` (no error if there is none).
    pub fn remove(&self, channel: &str, key: u64) -> Result<(), ClientError> {
        check_channel(channel)?;
        let hex = format_key(key);
        let req = encode(&DhtRequest::Remove {
            channel: channel.as_bytes(),
            key: &hex,
        });
        self.write(key, DhtCommand::Remove, &req)
    }

    /// Sends a write (its reply is a status) to the key's owner; on WrongNode, refreshes the
    /// ranges and sends it once more to the owner the new table names.
    fn write(&self, key: u64, cmd: DhtCommand, req: &[u8]) -> Result<(), ClientError> {
        self.maybe_refresh();
        let table = self.table();
        let send = |node: usize| {
            self.pools[node].request(cmd, Retry::Yes, |c| {
                c.send(req)?;
                c.read_status(cmd)
            })
        };
        match send(self.route(&table, key)?) {
            Err(e) if is_wrong_node(&e) => {
                log::debug!("{e}: refreshing the ranges");
                self.refresh_after(table.generation);
                send(self.owner_after_wrong_node(key)?)
            }
            done => done,
        }
    }

    /// The owner of `key` after the refresh that followed a WrongNode. While the table leaves
    /// the key in a gap (its old owner gave it away, its new owner has not taken it yet: the
    /// nodes of a Redistribute change their ranges one after the other), the ranges are read
    /// again with the reconnect backoff until `reconnect_timeout`; then the key's previous
    /// owner is named, and the caller gets that node's WrongNode.
    pub(super) fn owner_after_wrong_node(&self, key: u64) -> Result<usize, ClientError> {
        let deadline = Instant::now() + self.config.reconnect_timeout;
        let mut backoff = Backoff::new(&self.config);
        loop {
            let table = self.table();
            if let Some(owner) = table.owner(key) {
                return Ok(owner);
            }
            if !backoff.wait(deadline) {
                return self.route(&table, key);
            }
            self.refresh_after(table.generation);
        }
    }
}

/// Whether a node answered WrongNode: the client's table is older than the node's range.
fn is_wrong_node(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Status {
            status: Status::WrongNode,
            ..
        }
    )
}

/// Checks what the client refuses to send in a Put: bad channel, empty or oversized value.
pub(super) fn check_put(channel: &str, key: u64, value: &[u8]) -> Result<(), ClientError> {
    check_channel(channel)?;
    if value.is_empty() {
        return Err(ClientError::EmptyValue);
    }
    if value.len() as u64 > MAX_ARRAY_LEN {
        // The node would close the connection on such an array.
        return Err(ClientError::ValueTooBig {
            key,
            len: value.len(),
            limit: MAX_ARRAY_LEN as usize,
        });
    }
    Ok(())
}

/// Reads an Exists reply.
pub(super) fn read_exists(conn: &mut Conn) -> Result<bool, ConnError> {
    conn.read_reply(DhtCommand::Exists, |reply| match reply {
        DhtReply::Exists(e) => Ok(e),
        _ => Err(ProtocolError::Malformed("unexpected reply")),
    })
}

/// Reads a Get reply: an empty value means "not found".
pub(super) fn read_get(conn: &mut Conn) -> Result<Option<Vec<u8>>, ConnError> {
    conn.read_reply(DhtCommand::Get, |reply| match reply {
        DhtReply::Value([]) => Ok(None),
        DhtReply::Value(v) => Ok(Some(v.to_vec())),
        _ => Err(ProtocolError::Malformed("unexpected reply")),
    })
}
