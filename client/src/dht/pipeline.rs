//! Calls for throughput: `get_many` and `put_many` group keys by node and pipeline up to
//! [`PIPELINE_DEPTH`] requests on one connection (written back to back, replies read in order,
//! as the legacy protocol answers them); `put_batch` sends LZO record batches to one node.
//!
//! None of them is atomic: when one record fails, others (before and after it) may be written.
//! All are retried across a node restart, since re-sending a Get or a Put is harmless.

use super::single::{check_put, read_get};
use super::{check_channel, DhtClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::pool::{NodePool, Retry};
use std::net::SocketAddr;
use swarm_protocol::batch::{pair_size, BatchBuilder, DEFAULT_BATCH_SIZE};
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::format_key;
use swarm_protocol::wire::{put_array, put_i32};

/// Requests sent back to back on one connection before their replies are read.
pub const PIPELINE_DEPTH: usize = 16;

impl DhtClient {
    /// Gets many keys; the result has one entry per key, in order (`None`: no record).
    pub fn get_many(
        &self,
        channel: &str,
        keys: &[u64],
    ) -> Result<Vec<Option<Vec<u8>>>, ClientError> {
        check_channel(channel)?;
        let mut out = vec![None; keys.len()];
        for (pool, indices) in self.group_by_node(keys.iter().copied())? {
            for chunk in indices.chunks(PIPELINE_DEPTH) {
                let mut req = Vec::new();
                for &i in chunk {
                    let hex = format_key(keys[i]);
                    DhtRequest::Get {
                        channel: channel.as_bytes(),
                        key: &hex,
                    }
                    .encode(&mut req);
                }
                let values = pipelined(pool, DhtCommand::Get, &req, chunk.len(), read_get)?;
                for (&i, v) in chunk.iter().zip(values) {
                    out[i] = v;
                }
            }
        }
        Ok(out)
    }

    /// Puts many records (empty values are refused before anything is sent).
    pub fn put_many(&self, channel: &str, records: &[(u64, &[u8])]) -> Result<(), ClientError> {
        for &(key, value) in records {
            check_put(channel, key, value)?;
        }
        for (pool, indices) in self.group_by_node(records.iter().map(|r| r.0))? {
            for chunk in indices.chunks(PIPELINE_DEPTH) {
                let mut req = Vec::new();
                for &i in chunk {
                    let (key, value) = records[i];
                    let hex = format_key(key);
                    DhtRequest::Put {
                        channel: channel.as_bytes(),
                        key: &hex,
                        value,
                    }
                    .encode(&mut req);
                }
                pipelined(pool, DhtCommand::Put, &req, chunk.len(), |c| {
                    c.read_status(DhtCommand::Put)
                })?;
            }
        }
        Ok(())
    }

    /// Sends records to one explicit node as PutBatch requests, one per LZO batch of at most
    /// [`DEFAULT_BATCH_SIZE`] uncompressed bytes. The node does not check the keys against
    /// the client's routing, only against its own range (`WrongNode`). A record too large for
    /// a batch is refused ([`ClientError::ValueTooBig`]) before anything is sent.
    pub fn put_batch(
        &self,
        node: SocketAddr,
        channel: &str,
        records: &[(u64, &[u8])],
    ) -> Result<(), ClientError> {
        check_channel(channel)?;
        let pool = self.pool(node)?;
        let mut builder = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        for &(key, value) in records {
            if value.is_empty() {
                return Err(ClientError::EmptyValue);
            }
            if builder.too_large(pair_size(16, value.len())) {
                return Err(ClientError::ValueTooBig {
                    key,
                    len: value.len(),
                    limit: builder.capacity() - pair_size(16, 0),
                });
            }
        }
        for &(key, value) in records {
            let hex = format_key(key);
            if !builder.try_push_pair(&hex, value) {
                send_batch(pool, channel, &mut builder)?;
                builder.try_push_pair(&hex, value);
            }
        }
        if !builder.is_empty() {
            send_batch(pool, channel, &mut builder)?;
        }
        Ok(())
    }

    /// The indices of `keys`, grouped by responsible node.
    fn group_by_node(
        &self,
        keys: impl Iterator<Item = u64>,
    ) -> Result<Vec<(&NodePool, Vec<usize>)>, ClientError> {
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); self.pools.len()];
        for (i, key) in keys.enumerate() {
            groups[self.route(key)?].push(i);
        }
        Ok(self
            .pools
            .iter()
            .zip(groups)
            .filter(|(_, g)| !g.is_empty())
            .collect())
    }
}

/// Sends `count` requests in one write and reads their replies in order. Every reply is read
/// even after a non-fatal status, so the connection stays in sync; the first such status is
/// then returned.
fn pipelined<T>(
    pool: &NodePool,
    cmd: DhtCommand,
    req: &[u8],
    count: usize,
    mut read: impl FnMut(&mut Conn) -> Result<T, ConnError>,
) -> Result<Vec<T>, ClientError> {
    pool.request(cmd, Retry::Yes, |c| {
        c.send(req)?;
        let mut values = Vec::with_capacity(count);
        let mut first_status = None;
        for _ in 0..count {
            match read(c) {
                Ok(v) => values.push(v),
                Err(ConnError::Status(s)) if !s.is_fatal() => {
                    first_status.get_or_insert(s);
                }
                Err(e) => return Err(e),
            }
        }
        match first_status {
            Some(s) => Err(ConnError::Status(s)),
            None => Ok(values),
        }
    })
}

/// Compresses the builder's records into one PutBatch request and sends it.
fn send_batch(
    pool: &NodePool,
    channel: &str,
    builder: &mut BatchBuilder,
) -> Result<(), ClientError> {
    // The same bytes as `DhtRequest::PutBatch::encode`, but the batch is compressed straight
    // into the request buffer.
    let mut req = Vec::with_capacity(builder.raw_len() / 2 + 64);
    put_i32(&mut req, DhtCommand::PutBatch.code());
    put_array(&mut req, channel.as_bytes());
    builder.finish_into(&mut req);
    pool.request(DhtCommand::PutBatch, Retry::Yes, |c| {
        c.send(&req)?;
        c.read_status(DhtCommand::PutBatch)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_protocol::Reader;

    #[test]
    fn put_batch_request_bytes_match_the_codec() {
        let mut builder = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        assert!(builder.try_push_pair(&format_key(0xab), b"hi"));
        let mut ours = Vec::new();
        put_i32(&mut ours, DhtCommand::PutBatch.code());
        put_array(&mut ours, b"ch");
        builder.finish_into(&mut ours);
        let (decoded, used) = DhtRequest::decode(&ours).unwrap();
        assert_eq!(used, ours.len());
        let DhtRequest::PutBatch { channel, batch } = decoded else {
            panic!("not a PutBatch: {decoded:?}");
        };
        assert_eq!(channel, b"ch");
        let raw = swarm_protocol::batch::decompress(batch).unwrap();
        let mut r = Reader::new(&raw);
        assert_eq!(r.read_array().unwrap(), b"00000000000000ab");
        assert_eq!(r.read_array().unwrap(), b"hi");
    }
}
