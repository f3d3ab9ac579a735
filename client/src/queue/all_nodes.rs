//! Requests about every node (RemoveChannel, GetChannelSize, GetSize, GetChannels,
//! GetSizeLimit, GetNumConnections), one node after the other, each retried across a node
//! restart until `reconnect_timeout`. A node that cannot be reached fails the call: a sum or a
//! removal that skipped a node would be reported as a success it is not.

use super::{check_channel, encode, QueueClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use std::net::SocketAddr;
use swarm_protocol::queue::{QueueCommand, QueueReply, QueueRequest};
use swarm_protocol::ProtocolError;

/// Records and bytes stored, summed over the nodes (GetChannelSize, GetSize).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueSize {
    /// Records stored.
    pub records: u64,
    /// Bytes used in the nodes' rings: each record's payload plus its 8-byte length header.
    pub bytes: u64,
}

impl QueueClient {
    /// Removes `channel` from every node: its records are gone, and every Consume stream on it
    /// ends. Removing a channel that does not exist succeeds.
    pub fn remove_channel(&self, channel: &str) -> Result<(), ClientError> {
        check_channel(channel)?;
        let cmd = QueueCommand::RemoveChannel;
        let req = encode(&QueueRequest::RemoveChannel {
            channel: channel.as_bytes(),
        });
        self.on_all_nodes(cmd, &req, |c| c.read_status(cmd))?;
        Ok(())
    }

    /// Records and bytes of `channel`, summed over the nodes.
    pub fn channel_size(&self, channel: &str) -> Result<QueueSize, ClientError> {
        check_channel(channel)?;
        let req = encode(&QueueRequest::GetChannelSize {
            channel: channel.as_bytes(),
        });
        self.size_of(QueueCommand::GetChannelSize, &req)
    }

    /// Records and bytes of every channel, summed over the nodes.
    pub fn size(&self) -> Result<QueueSize, ClientError> {
        self.size_of(QueueCommand::GetSize, &encode(&QueueRequest::GetSize))
    }

    /// The names of the channels on any node, sorted, each once.
    pub fn channels(&self) -> Result<Vec<String>, ClientError> {
        let cmd = QueueCommand::GetChannels;
        let per_node = self.on_all_nodes(cmd, &encode(&QueueRequest::GetChannels), |c| {
            c.read_reply(cmd, |reply| match reply {
                QueueReply::Channels(names) => Ok(names
                    .iter()
                    .map(|n| String::from_utf8_lossy(n).into_owned())
                    .collect::<Vec<_>>()),
                _ => Err(ProtocolError::Malformed("unexpected reply to GetChannels")),
            })
        })?;
        let mut all: Vec<String> = per_node.into_iter().flat_map(|(_, n)| n).collect();
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Each node's channel size limit in bytes (`[Server] channel_size_limit`, before any
    /// `[ChannelSizeById]` override).
    pub fn size_limit(&self) -> Result<Vec<(SocketAddr, u64)>, ClientError> {
        let cmd = QueueCommand::GetSizeLimit;
        self.on_all_nodes(cmd, &encode(&QueueRequest::GetSizeLimit), |c| {
            c.read_reply(cmd, |reply| match reply {
                QueueReply::SizeLimit { limit, .. } => Ok(limit),
                _ => Err(ProtocolError::Malformed("unexpected reply to GetSizeLimit")),
            })
        })
    }

    /// Each node's number of open connections.
    pub fn num_connections(&self) -> Result<Vec<(SocketAddr, u64)>, ClientError> {
        let cmd = QueueCommand::GetNumConnections;
        self.on_all_nodes(cmd, &encode(&QueueRequest::GetNumConnections), |c| {
            c.read_reply(cmd, |reply| match reply {
                QueueReply::NumConnections { count, .. } => Ok(count),
                _ => Err(ProtocolError::Malformed(
                    "unexpected reply to GetNumConnections",
                )),
            })
        })
    }

    fn size_of(&self, cmd: QueueCommand, req: &[u8]) -> Result<QueueSize, ClientError> {
        let per_node = self.on_all_nodes(cmd, req, |c| {
            c.read_reply(cmd, |reply| match reply {
                QueueReply::Size { records, bytes, .. } => Ok(QueueSize { records, bytes }),
                _ => Err(ProtocolError::Malformed("unexpected reply")),
            })
        })?;
        Ok(per_node
            .into_iter()
            .fold(QueueSize::default(), |sum, (_, s)| QueueSize {
                records: sum.records + s.records,
                bytes: sum.bytes + s.bytes,
            }))
    }

    /// [`crate::failover::on_all_nodes`] over this client's nodes.
    fn on_all_nodes<T>(
        &self,
        cmd: QueueCommand,
        req: &[u8],
        read: impl FnMut(&mut Conn) -> Result<T, ConnError>,
    ) -> Result<Vec<(SocketAddr, T)>, ClientError> {
        crate::failover::on_all_nodes(&self.nodes, cmd, req, read)
    }
}
