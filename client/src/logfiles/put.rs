//! Put and PutBatch: one node per request, round-robin over the nodes whatever the key (the
//! original's `DlsNodeRegistry`), moving on to the next node through [`failover`] when a node
//! cannot be reached, its connection breaks, or it answers Error (500: the node could not
//! create the channel). Any other status (OutOfMemory 407, EmptyValue 408, BadChannelName 409)
//! would be the same on every node and is returned at once.
//!
//! A connection that breaks after a request was sent leaves it unknown whether that node stored
//! the records; they are sent to the next node, as the original client's resent batches, so
//! they may be stored twice (a logfiles channel keeps duplicates, "PutDup"), never lost.

use super::{check_channel, check_value, encode, LogfilesClient, LOGFILES_MAX_VALUE_LEN};
use crate::error::ClientError;
use crate::failover::{failover, Attempt};
use crate::pool::Retry;
use std::sync::atomic::Ordering;
use swarm_protocol::batch::{BatchBuilder, DEFAULT_BATCH_SIZE};
use swarm_protocol::format_key;
use swarm_protocol::logfiles::{LogfilesCommand, LogfilesRequest};
use swarm_protocol::Status;

/// The statuses that send a Put or PutBatch on to the next node: the node failed internally.
const NEXT_ON: &[Status] = &[Status::Error];

impl LogfilesClient {
    /// Appends the record (`key`, `value`) to `channel` on one node: the next one in
    /// round-robin order, or the one after it when a node is down or answers Error. Ok means a
    /// node answered Ok: the record is in its write buffer (on disk by its next checkpoint, or
    /// already, with `sync_mode = group`). Several records may share a key.
    ///
    /// Refused before sending: an invalid channel name ([`ClientError::BadChannelName`]), an
    /// empty value ([`ClientError::EmptyValue`]) and a value longer than [`LOGFILES_MAX_VALUE_LEN`]
    /// ([`ClientError::ValueTooBig`]). A node's OutOfMemory, EmptyValue or BadChannelName is
    /// [`ClientError::Status`]; a node with another API version is
    /// [`ClientError::VersionMismatch`]; when no node took the record,
    /// [`ClientError::AllNodesFailed`] lists what each did (when none could be reached, only
    /// after `reconnect_timeout`).
    pub fn put(&self, channel: &str, key: u64, value: &[u8]) -> Result<(), ClientError> {
        check_channel(channel)?;
        check_value(key, value)?;
        let hex = format_key(key);
        let req = encode(&LogfilesRequest::Put {
            channel: channel.as_bytes(),
            key: &hex,
            value,
        });
        self.to_one_node(LogfilesCommand::Put, &req)
    }

    /// Appends `records` to `channel` in order, as PutBatch requests of one LZO batch each (at
    /// most 64 KiB uncompressed): each request goes to the next node in round-robin order, and
    /// on to the one after it as [`LogfilesClient::put`] does. Nothing is sent for no records.
    ///
    /// Every record is checked as `put` checks it before anything is sent. Not atomic: when a
    /// request fails, the batches before it are stored and the ones after it are not sent.
    pub fn put_batch(&self, channel: &str, records: &[(u64, &[u8])]) -> Result<(), ClientError> {
        check_channel(channel)?;
        for &(key, value) in records {
            check_value(key, value)?;
        }
        let mut builder = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        for &(key, value) in records {
            let hex = format_key(key);
            if !builder.try_push_pair(&hex, value) {
                self.send_batch(channel, &mut builder)?;
                let fits = builder.try_push_pair(&hex, value);
                // check_value keeps every value within LOGFILES_MAX_VALUE_LEN, which fits an empty batch.
                debug_assert!(
                    fits,
                    "a value of at most {LOGFILES_MAX_VALUE_LEN} bytes fits a batch"
                );
            }
        }
        if !builder.is_empty() {
            self.send_batch(channel, &mut builder)?;
        }
        Ok(())
    }

    /// Sends the builder's batch as one PutBatch and starts a new batch.
    fn send_batch(&self, channel: &str, builder: &mut BatchBuilder) -> Result<(), ClientError> {
        let mut array = Vec::with_capacity(builder.raw_len());
        builder.finish_into(&mut array);
        // finish_into writes a whole wire array; the request's field is its content.
        let req = encode(&LogfilesRequest::PutBatch {
            channel: channel.as_bytes(),
            batch: &array[8..],
        });
        self.to_one_node(LogfilesCommand::PutBatch, &req)
    }

    /// Sends `req`, a request answered by a bare status, to the next node in round-robin order
    /// and on to the following ones until one answers Ok.
    fn to_one_node(&self, cmd: LogfilesCommand, req: &[u8]) -> Result<(), ClientError> {
        let start = self.put_next.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
        failover(&self.nodes, start, cmd, &self.config, |node| {
            let sent = node.pool.request(cmd, Retry::Failover, |c| {
                c.send(req)?;
                c.read_status(cmd)
            });
            match sent {
                Ok(()) => Attempt::Done(()),
                Err(e) => Attempt::from_error(e, NEXT_ON),
            }
        })
    }
}
