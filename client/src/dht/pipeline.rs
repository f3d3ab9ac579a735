//! Calls for throughput: `get_many` and `put_many` group keys by node and pipeline up to
//! [`PIPELINE_DEPTH`] requests on one connection (written back to back, replies read in order,
//! as the legacy protocol answers them); `put_batch` sends LZO record batches to one node.
//!
//! None of them is atomic: when one record fails, others (before and after it) may be written.
//! All are retried across a node restart, since re-sending a Get or a Put is harmless. As the
//! single-key calls, `put_many` refreshes the ranges when a node answers WrongNode and sends
//! the records it refused once more, and the keys `get_many` misses take the single-key
//! moved-key path (`moved.rs`), one by one.

use super::moved::Lookup;
use super::refresh::Table;
use super::single::{check_put, read_get};
use super::{check_channel, DhtClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::pool::{NodePool, Retry};
use std::net::SocketAddr;
use std::sync::Arc;
use swarm_protocol::batch::{pair_size, BatchBuilder, DEFAULT_BATCH_SIZE};
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::wire::{put_array, put_i32};
use swarm_protocol::{format_key, HashRange, Status};

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
        self.maybe_refresh();
        let table = self.table();
        let mut out = vec![None; keys.len()];
        let mut misses = Vec::new();
        for (node, indices) in self.group_by_node(&table, keys.iter().copied())? {
            let pool = &self.pools[node];
            for chunk in indices.chunks(PIPELINE_DEPTH) {
                let mut req = Vec::new();
                for &i in chunk {
                    encode_get(channel, keys[i], &mut req);
                }
                let values = pipelined(pool, DhtCommand::Get, &req, chunk.len(), read_get)?;
                for (&i, v) in chunk.iter().zip(values) {
                    match v.map_err(|s| pool.error(DhtCommand::Get, ConnError::Status(s)))? {
                        None => misses.push((i, node)),
                        found => out[i] = found,
                    }
                }
            }
        }
        self.get_misses(channel, keys, &table, &misses, &mut out)?;
        Ok(out)
    }

    /// The moved-key path for the keys `get_many` missed: `(index in keys, node asked)`. Each
    /// node that missed is asked for its range once, not once per key.
    fn get_misses(
        &self,
        channel: &str,
        keys: &[u64],
        table: &Arc<Table>,
        misses: &[(usize, usize)],
        out: &mut [Option<Vec<u8>>],
    ) -> Result<(), ClientError> {
        let mut ranges: Vec<Option<HashRange>> = vec![None; self.pools.len()];
        for &(i, node) in misses {
            let range = match (self.config.verify_misses, ranges[node]) {
                (false, _) => None,
                (true, Some(r)) => Some(r),
                (true, None) => Some(*ranges[node].insert(self.range_of(node)?)),
            };
            let mut req = Vec::new();
            encode_get(channel, keys[i], &mut req);
            let lookup = Lookup {
                key: keys[i],
                cmd: DhtCommand::Get,
                req: &req,
                read: read_get,
            };
            out[i] = self.after_miss(&lookup, Arc::clone(table), node, range, None)?;
        }
        Ok(())
    }

    /// Puts many records (empty values are refused before anything is sent).
    pub fn put_many(&self, channel: &str, records: &[(u64, &[u8])]) -> Result<(), ClientError> {
        for &(key, value) in records {
            check_put(channel, key, value)?;
        }
        self.maybe_refresh();
        let table = self.table();
        let all: Vec<usize> = (0..records.len()).collect();
        let refused = self.put_pipelined(&table, channel, records, &all)?;
        if refused.is_empty() {
            return Ok(());
        }
        self.refresh_after(table.generation);
        for &(i, _) in &refused {
            self.owner_after_wrong_node(records[i].0)?;
        }
        let indices: Vec<usize> = refused.iter().map(|&(i, _)| i).collect();
        match self
            .put_pipelined(&self.table(), channel, records, &indices)?
            .first()
        {
            None => Ok(()),
            Some(&(_, node)) => {
                Err(self.pools[node].error(DhtCommand::Put, ConnError::Status(Status::WrongNode)))
            }
        }
    }

    /// Puts `records[i]` for every `i` in `indices`, grouped by the node `table` names, and
    /// returns those a node answered WrongNode, with that node's pool index. Any other status
    /// fails the call once its chunk's replies are read.
    fn put_pipelined(
        &self,
        table: &Table,
        channel: &str,
        records: &[(u64, &[u8])],
        indices: &[usize],
    ) -> Result<Vec<(usize, usize)>, ClientError> {
        let mut refused = Vec::new();
        let keys = indices.iter().map(|&i| records[i].0);
        for (node, group) in self.group_by_node(table, keys)? {
            let pool = &self.pools[node];
            for chunk in group.chunks(PIPELINE_DEPTH) {
                let mut req = Vec::new();
                for &p in chunk {
                    let (key, value) = records[indices[p]];
                    let hex = format_key(key);
                    DhtRequest::Put {
                        channel: channel.as_bytes(),
                        key: &hex,
                        value,
                    }
                    .encode(&mut req);
                }
                let statuses = pipelined(pool, DhtCommand::Put, &req, chunk.len(), |c| {
                    c.read_status(DhtCommand::Put)
                })?;
                let mut first_status = None;
                for (&p, status) in chunk.iter().zip(statuses) {
                    match status {
                        Ok(()) => {}
                        Err(Status::WrongNode) => refused.push((indices[p], node)),
                        Err(s) => {
                            first_status.get_or_insert(s);
                        }
                    }
                }
                if let Some(s) = first_status {
                    return Err(pool.error(DhtCommand::Put, ConnError::Status(s)));
                }
            }
        }
        Ok(refused)
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

    /// The indices of `keys`, grouped by the pool index of the node `table` routes them to.
    fn group_by_node(
        &self,
        table: &Table,
        keys: impl Iterator<Item = u64>,
    ) -> Result<Vec<(usize, Vec<usize>)>, ClientError> {
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); self.pools.len()];
        for (i, key) in keys.enumerate() {
            groups[self.route(table, key)?].push(i);
        }
        Ok(groups
            .into_iter()
            .enumerate()
            .filter(|(_, g)| !g.is_empty())
            .collect())
    }
}

/// Appends a Get request to `out`.
fn encode_get(channel: &str, key: u64, out: &mut Vec<u8>) {
    DhtRequest::Get {
        channel: channel.as_bytes(),
        key: &format_key(key),
    }
    .encode(out);
}

/// Sends `count` requests in one write and reads their replies in order, each a value or the
/// non-fatal status the node answered instead. Every reply is read, so the connection stays
/// in sync; a fatal status or an I/O error fails the whole call.
fn pipelined<T>(
    pool: &NodePool,
    cmd: DhtCommand,
    req: &[u8],
    count: usize,
    mut read: impl FnMut(&mut Conn) -> Result<T, ConnError>,
) -> Result<Vec<Result<T, Status>>, ClientError> {
    pool.request(cmd, Retry::Yes, |c| {
        c.send(req)?;
        let mut replies = Vec::with_capacity(count);
        for _ in 0..count {
            match read(c) {
                Ok(v) => replies.push(Ok(v)),
                Err(ConnError::Status(s)) if !s.is_fatal() => replies.push(Err(s)),
                Err(e) => return Err(e),
            }
        }
        Ok(replies)
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
