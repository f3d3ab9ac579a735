//! GetAll, GetAllKeys and GetAllFilter as iterators that stream from every node in turn, one
//! compressed batch at a time (only the current batch is held in memory).
//!
//! Opening the stream on a node (sending the request and reading its `Ok`) is retried across a
//! node restart, since nothing was delivered yet. An error in the middle of a node's stream is
//! yielded once, and the iterator goes on with the next node; stop iterating to abort.
//! Dropping an iterator mid-stream closes that connection (it is out of sync).

use super::{check_channel, encode, DhtClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::pool::{NodePool, Retry};
use std::collections::VecDeque;
use std::fmt;
use swarm_protocol::batch::{decompress, Items, Pairs};
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::{parse_key, ProtocolError};

impl DhtClient {
    /// Every record of `channel`, node after node.
    pub fn get_all(&self, channel: &str) -> Result<GetAll<'_>, ClientError> {
        check_channel(channel)?;
        let req = encode(&DhtRequest::GetAll {
            channel: channel.as_bytes(),
        });
        Ok(GetAll::new(BatchStream::new(self, DhtCommand::GetAll, req)))
    }

    /// Every record of `channel` as whole decompressed batches, node after node: for a caller
    /// that handles millions of records (dhtdump) and would otherwise pay an allocation per
    /// value. [`RawBatch::pairs`] decodes a batch.
    pub fn get_all_batches(&self, channel: &str) -> Result<GetAllBatches<'_>, ClientError> {
        check_channel(channel)?;
        let req = encode(&DhtRequest::GetAll {
            channel: channel.as_bytes(),
        });
        Ok(GetAllBatches(BatchStream::new(
            self,
            DhtCommand::GetAll,
            req,
        )))
    }

    /// Every key of `channel`, node after node.
    pub fn get_all_keys(&self, channel: &str) -> Result<GetAllKeys<'_>, ClientError> {
        check_channel(channel)?;
        let req = encode(&DhtRequest::GetAllKeys {
            channel: channel.as_bytes(),
        });
        Ok(GetAllKeys {
            batches: BatchStream::new(self, DhtCommand::GetAllKeys, req),
            pending: VecDeque::new(),
        })
    }

    /// Every record of `channel` whose value contains `filter` (case-sensitive). An empty
    /// filter is sent as a plain GetAll, as the original client does.
    pub fn get_all_filter(&self, channel: &str, filter: &[u8]) -> Result<GetAll<'_>, ClientError> {
        if filter.is_empty() {
            return self.get_all(channel);
        }
        check_channel(channel)?;
        let req = encode(&DhtRequest::GetAllFilter {
            channel: channel.as_bytes(),
            filter,
        });
        Ok(GetAll::new(BatchStream::new(
            self,
            DhtCommand::GetAllFilter,
            req,
        )))
    }
}

/// The decompressed batches of one request, node after node.
struct BatchStream<'c> {
    /// The usable nodes when the stream started.
    pools: Vec<&'c NodePool>,
    cmd: DhtCommand,
    req: Vec<u8>,
    next_node: usize,
    /// The node being read and its connection.
    current: Option<(&'c NodePool, Conn)>,
}

impl fmt::Debug for BatchStream<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchStream")
            .field("cmd", &self.cmd)
            .field("next_node", &self.next_node)
            .field("reading", &self.current.as_ref().map(|(p, _)| p.addr()))
            .finish()
    }
}

impl<'c> BatchStream<'c> {
    fn new(client: &'c DhtClient, cmd: DhtCommand, req: Vec<u8>) -> Self {
        BatchStream {
            pools: client.usable_pools(),
            cmd,
            req,
            next_node: 0,
            current: None,
        }
    }

    /// The next decompressed batch and the node it came from; `None` when all nodes are done.
    fn next_batch(&mut self) -> Option<Result<(&'c NodePool, Vec<u8>), ClientError>> {
        loop {
            if self.current.is_none() {
                let pool = *self.pools.get(self.next_node)?;
                self.next_node += 1;
                let (cmd, req) = (self.cmd, &self.req);
                match pool.run(cmd, Retry::Yes, |c| {
                    c.send(req)?;
                    c.read_status(cmd)
                }) {
                    Ok(((), conn)) => self.current = Some((pool, conn)),
                    Err(e) => return Some(Err(e)),
                }
            }
            let (pool, conn) = self.current.as_mut()?;
            let pool: &'c NodePool = pool;
            match conn.read_array() {
                Ok(batch) if batch.is_empty() => {
                    if let Some((pool, conn)) = self.current.take() {
                        pool.checkin(conn);
                    }
                }
                Ok(batch) => {
                    let raw = decompress(&batch)
                        .map_err(|e| pool.error(self.cmd, ConnError::Protocol(e)));
                    return Some(raw.map(|raw| (pool, raw)));
                }
                Err(e) => {
                    self.current = None;
                    if matches!(e, ConnError::Io(_)) {
                        pool.connection_lost();
                    }
                    return Some(Err(pool.error(self.cmd, e)));
                }
            }
        }
    }
}

/// Iterator over `(key, value)` records of GetAll and GetAllFilter.
#[derive(Debug)]
pub struct GetAll<'c> {
    batches: BatchStream<'c>,
    pending: VecDeque<Result<(u64, Vec<u8>), ClientError>>,
}

impl<'c> GetAll<'c> {
    fn new(batches: BatchStream<'c>) -> Self {
        GetAll {
            batches,
            pending: VecDeque::new(),
        }
    }
}

impl Iterator for GetAll<'_> {
    type Item = Result<(u64, Vec<u8>), ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        next_decoded(&mut self.batches, &mut self.pending, |raw| {
            Pairs::new(raw)
                .map(|pair| pair.and_then(|(k, v)| Ok((parse_key(k)?, v.to_vec()))))
                .collect()
        })
    }
}

/// Iterator over the decompressed batches of a GetAll ([`DhtClient::get_all_batches`]); errors
/// as [`GetAll`]'s.
#[derive(Debug)]
pub struct GetAllBatches<'c>(BatchStream<'c>);

/// One decompressed GetAll batch and the node it came from.
#[derive(Debug)]
pub struct RawBatch {
    pub(super) node: std::net::SocketAddr,
    pub(super) raw: Vec<u8>,
}

impl RawBatch {
    /// The batch's records, borrowed from it; a malformed pair or key is a
    /// [`ClientError::Protocol`] of the node that sent it.
    pub fn pairs(&self) -> impl Iterator<Item = Result<(u64, &[u8]), ClientError>> + '_ {
        Pairs::new(&self.raw).map(|pair| {
            pair.and_then(|(k, v)| Ok((parse_key(k)?, v)))
                .map_err(|error| ClientError::Protocol {
                    node: self.node,
                    error,
                })
        })
    }
}

impl Iterator for GetAllBatches<'_> {
    type Item = Result<RawBatch, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.0.next_batch()?.map(|(pool, raw)| RawBatch {
            node: pool.addr(),
            raw,
        }))
    }
}

/// Iterator over the keys of GetAllKeys.
#[derive(Debug)]
pub struct GetAllKeys<'c> {
    batches: BatchStream<'c>,
    pending: VecDeque<Result<u64, ClientError>>,
}

impl Iterator for GetAllKeys<'_> {
    type Item = Result<u64, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        next_decoded(&mut self.batches, &mut self.pending, |raw| {
            Items::new(raw)
                .map(|item| item.and_then(parse_key))
                .collect()
        })
    }
}

/// The next item of a batch stream: items of the current batch first, then the next batch
/// decoded with `decode` (a decoding error is yielded in its place, with the node it came from).
fn next_decoded<T>(
    batches: &mut BatchStream<'_>,
    pending: &mut VecDeque<Result<T, ClientError>>,
    decode: impl Fn(&[u8]) -> Vec<Result<T, ProtocolError>>,
) -> Option<Result<T, ClientError>> {
    loop {
        if let Some(item) = pending.pop_front() {
            return Some(item);
        }
        let (pool, raw) = match batches.next_batch()? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        let cmd = batches.cmd;
        pending.extend(
            decode(&raw)
                .into_iter()
                .map(|r| r.map_err(|e| pool.error(cmd, ConnError::Protocol(e)))),
        );
    }
}
