//! Single-key requests (Put, Get, Exists, Remove): routed to the responsible node and retried
//! transparently across a node restart, since they are idempotent. The reply readers are shared
//! with the pipelined calls.

use super::{check_channel, encode, DhtClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::pool::Retry;
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest};
use swarm_protocol::{format_key, ProtocolError, MAX_ARRAY_LEN};

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
        self.keyed(key, DhtCommand::Put, &req, |c| {
            c.read_status(DhtCommand::Put)
        })
    }

    /// The value stored under `key`, `None` if there is none (the node answers an empty value).
    pub fn get(&self, channel: &str, key: u64) -> Result<Option<Vec<u8>>, ClientError> {
        check_channel(channel)?;
        let hex = format_key(key);
        let req = encode(&DhtRequest::Get {
            channel: channel.as_bytes(),
            key: &hex,
        });
        self.keyed(key, DhtCommand::Get, &req, read_get)
    }

    /// Whether a record is stored under `key`.
    pub fn exists(&self, channel: &str, key: u64) -> Result<bool, ClientError> {
        check_channel(channel)?;
        let hex = format_key(key);
        let req = encode(&DhtRequest::Exists {
            channel: channel.as_bytes(),
            key: &hex,
        });
        self.keyed(key, DhtCommand::Exists, &req, |c| {
            c.read_reply(DhtCommand::Exists, |reply| match reply {
                DhtReply::Exists(e) => Ok(e),
                _ => Err(ProtocolError::Malformed("unexpected reply")),
            })
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
        self.keyed(key, DhtCommand::Remove, &req, |c| {
            c.read_status(DhtCommand::Remove)
        })
    }

    fn keyed<T>(
        &self,
        key: u64,
        cmd: DhtCommand,
        req: &[u8],
        mut read: impl FnMut(&mut Conn) -> Result<T, ConnError>,
    ) -> Result<T, ClientError> {
        self.pool_for_key(key)?.request(cmd, Retry::Yes, |c| {
            c.send(req)?;
            read(c)
        })
    }
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

/// Reads a Get reply: an empty value means "not found".
pub(super) fn read_get(conn: &mut Conn) -> Result<Option<Vec<u8>>, ConnError> {
    conn.read_reply(DhtCommand::Get, |reply| match reply {
        DhtReply::Value([]) => Ok(None),
        DhtReply::Value(v) => Ok(Some(v.to_vec())),
        _ => Err(ProtocolError::Malformed("unexpected reply")),
    })
}
