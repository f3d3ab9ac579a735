//! Push, Pop and PushMulti: one node per request, round-robin, moving on to the next node
//! through [`failover`] when a node is full, empty (Pop), unreachable or restarting.
//!
//! PushMulti goes through PushMulti2 (code 13), whose reply lists the channels that were full
//! on that node: only those are sent to the next node, so a record never lands twice in a
//! channel, and a multi-node queue needs no "single node" restriction (spec/queue.md section
//! 10). When its connection breaks after the request was sent, whether the node stored the
//! record is unknown: it is not sent elsewhere ([`ClientError::OutcomeUnknown`]).

use super::{check_channel, check_record, encode, QueueClient};
use crate::error::{ClientError, NodeFailure};
use crate::failover::{failover, Attempt, FailoverNode};
use crate::pool::Retry;
use std::io;
use std::sync::atomic::Ordering;
use swarm_protocol::queue::{QueueCommand, QueueReply, QueueRequest};
use swarm_protocol::{ProtocolError, Status};

/// The statuses that send a request on to the next node: the channel is full there (407), or
/// the node failed internally (500).
const NEXT_ON: &[Status] = &[Status::OutOfMemory, Status::Error];

impl QueueClient {
    /// Appends `record` to `channel` on one node: the next one in round-robin order, or the one
    /// after it when a node answers OutOfMemory (the channel is full there), answers Error, or
    /// cannot be reached. Ok means a node answered Ok: the record is stored.
    ///
    /// Fails with [`ClientError::AllNodesFailed`] when no node took it (each node's failure is
    /// listed; when no node could be reached at all, only after `reconnect_timeout`), and at
    /// once with [`ClientError::Status`] for EmptyValue or BadChannelName. Empty records, records
    /// over the array limit and invalid channel names are refused before sending.
    ///
    /// A connection that breaks after the request was sent leaves it unknown whether that node
    /// stored the record; Push then goes on to the next node, as the original client did, so
    /// such a record may be stored twice (never lost, unless the node that broke died with it
    /// in memory).
    pub fn push(&self, channel: &str, record: &[u8]) -> Result<(), ClientError> {
        check_channel(channel)?;
        check_record(record)?;
        let req = encode(&QueueRequest::Push {
            channel: channel.as_bytes(),
            value: record,
        });
        let cmd = QueueCommand::Push;
        let start = self.push_next.fetch_add(1, Ordering::Relaxed);
        failover(&self.nodes, start, cmd, &self.config, |node| {
            let pushed = node.pool.request(cmd, Retry::Failover, |c| {
                c.send(&req)?;
                c.read_status(cmd)
            });
            match pushed {
                Ok(()) => Attempt::Done(()),
                Err(e) => Attempt::from_error(e, NEXT_ON),
            }
        })
    }

    /// Takes the oldest record of `channel` from one node: round-robin, and the next node when
    /// one is empty. `None` only when every node answered that it has no record.
    ///
    /// When no node had a record but some could not be asked (down, unreachable), that is not
    /// "empty": [`ClientError::AllNodesFailed`] lists each node (the records may be on the
    /// missing ones; try again later). Every node is asked at most once per round, so an empty
    /// queue never makes Pop loop (a bug of the original client).
    ///
    /// A connection that breaks after the request was sent may lose the record that node
    /// popped, as in the original (the protocol has no acknowledgement).
    pub fn pop(&self, channel: &str) -> Result<Option<Vec<u8>>, ClientError> {
        check_channel(channel)?;
        let req = encode(&QueueRequest::Pop {
            channel: channel.as_bytes(),
        });
        let cmd = QueueCommand::Pop;
        let start = self.pop_next.fetch_add(1, Ordering::Relaxed);
        let popped = failover(&self.nodes, start, cmd, &self.config, |node| {
            let value = node.pool.request(cmd, Retry::Failover, |c| {
                c.send(&req)?;
                c.read_reply(cmd, |reply| match reply {
                    QueueReply::Value(v) => Ok(v.to_vec()),
                    _ => Err(ProtocolError::Malformed("unexpected reply to Pop")),
                })
            });
            match value {
                Ok(v) if v.is_empty() => Attempt::Next(NodeFailure::Empty),
                Ok(v) => Attempt::Done(v),
                Err(e) => Attempt::from_error(e, NEXT_ON),
            }
        });
        match popped {
            Ok(v) => Ok(Some(v)),
            Err(ClientError::AllNodesFailed { failures, .. })
                if failures
                    .iter()
                    .all(|(_, f)| matches!(f, NodeFailure::Empty)) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Appends `record` to each of `channels` (each listed channel once, duplicates ignored)
    /// through PushMulti2: one node takes it into every channel with room, the channels that
    /// were full there go to the next node, and so on. Returns the channels that did not get
    /// the record: every node that could be asked was full for them (nodes that were down are
    /// skipped). An empty list means every channel has it, exactly once.
    ///
    /// Errors: [`ClientError::Status`] at once for EmptyValue or BadChannelName;
    /// [`ClientError::OutcomeUnknown`] when a connection broke after the request was sent (the
    /// channels that were in it are not retried, since that node may have stored the record);
    /// [`ClientError::AllNodesFailed`] when no node could be reached within
    /// `reconnect_timeout`.
    pub fn push_multi(&self, channels: &[&str], record: &[u8]) -> Result<Vec<String>, ClientError> {
        let mut remaining: Vec<&str> = Vec::with_capacity(channels.len());
        for &c in channels {
            check_channel(c)?;
            if !remaining.contains(&c) {
                remaining.push(c);
            }
        }
        check_record(record)?;
        if remaining.is_empty() {
            return Ok(Vec::new());
        }
        let cmd = QueueCommand::PushMulti2;
        let start = self.push_next.fetch_add(1, Ordering::Relaxed);
        let pushed = failover(
            &self.nodes,
            start,
            cmd,
            &self.config,
            |node| match push_multi_on(node, &remaining, record) {
                Ok(failed) => {
                    remaining.retain(|c| failed.iter().any(|f| f == c.as_bytes()));
                    if remaining.is_empty() {
                        Attempt::Done(())
                    } else {
                        Attempt::Next(NodeFailure::Status(Status::OutOfMemory))
                    }
                }
                Err(Sent::Unknown(node, source)) => Attempt::Stop(ClientError::OutcomeUnknown {
                    node,
                    command: cmd.into(),
                    channels: remaining.iter().map(|c| c.to_string()).collect(),
                    source,
                }),
                Err(Sent::No(e)) => Attempt::from_error(e, NEXT_ON),
            },
        );
        match pushed {
            Ok(()) => Ok(Vec::new()),
            Err(ClientError::AllNodesFailed { failures, .. })
                if failures
                    .iter()
                    .any(|(_, f)| matches!(f, NodeFailure::Status(_))) =>
            {
                Ok(remaining.iter().map(|c| c.to_string()).collect())
            }
            Err(e) => Err(e),
        }
    }
}

/// Why a PushMulti2 on one node failed: before anything was sent (or with a status, so
/// nothing was stored), or after, with the outcome unknown.
enum Sent {
    No(ClientError),
    Unknown(std::net::SocketAddr, io::Error),
}

/// One PushMulti2 on one node; the channels it was full for.
fn push_multi_on(
    node: &FailoverNode,
    channels: &[&str],
    record: &[u8],
) -> Result<Vec<Vec<u8>>, Sent> {
    let cmd = QueueCommand::PushMulti2;
    let req = encode(&QueueRequest::PushMulti2 {
        channels: channels.iter().map(|c| c.as_bytes()).collect(),
        value: record,
    });
    // The exchange runs only on an open connection: once it started, bytes may have left.
    let mut sent = false;
    let reply = node.pool.request(cmd, Retry::Failover, |c| {
        sent = true;
        c.send(&req)?;
        c.read_reply(cmd, |reply| match reply {
            QueueReply::Failed(names) => Ok(names.iter().map(|n| n.to_vec()).collect()),
            _ => Err(ProtocolError::Malformed("unexpected reply to PushMulti2")),
        })
    });
    match reply {
        Ok(failed) => Ok(failed),
        Err(ClientError::Io { node, source }) if sent => Err(Sent::Unknown(node, source)),
        Err(ClientError::Protocol { node, error }) if sent => Err(Sent::Unknown(
            node,
            io::Error::new(io::ErrorKind::InvalidData, error),
        )),
        Err(e) => Err(Sent::No(e)),
    }
}
