//! Requests about every node (GetChannels, GetChannelSize, GetSize, GetNumConnections,
//! RemoveChannel), one node after the other, each retried across a node restart until
//! `reconnect_timeout`. A node that cannot be reached fails the call: a sum, a list or a removal
//! that skipped a node would be reported as a success it is not.

use super::{check_channel, encode, LogfilesClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use std::net::SocketAddr;
use swarm_protocol::logfiles::{LogfilesCommand, LogfilesReply, LogfilesRequest};
use swarm_protocol::{ProtocolError, Status};

/// Records and value bytes stored, summed over the nodes (GetChannelSize, GetSize).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogfilesSize {
    /// Records stored.
    pub records: u64,
    /// Value bytes stored (keys and file headers not counted).
    pub bytes: u64,
}

impl LogfilesClient {
    /// The names of the channels on any node, sorted, each once.
    pub fn channels(&self) -> Result<Vec<String>, ClientError> {
        let cmd = LogfilesCommand::GetChannels;
        let per_node = self.on_all_nodes(cmd, &encode(&LogfilesRequest::GetChannels), |c| {
            c.read_reply(cmd, |reply| match reply {
                LogfilesReply::Channels(names) => Ok(names
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

    /// Records and bytes of `channel`, summed over the nodes. A node that answers
    /// NotSupported (406), as the original did, fails the call with
    /// [`ClientError::NotSupported`].
    pub fn channel_size(&self, channel: &str) -> Result<LogfilesSize, ClientError> {
        check_channel(channel)?;
        let req = encode(&LogfilesRequest::GetChannelSize {
            channel: channel.as_bytes(),
        });
        self.size_of(LogfilesCommand::GetChannelSize, &req)
    }

    /// Records and bytes of every channel, summed over the nodes; NotSupported as for
    /// [`LogfilesClient::channel_size`].
    pub fn size(&self) -> Result<LogfilesSize, ClientError> {
        self.size_of(LogfilesCommand::GetSize, &encode(&LogfilesRequest::GetSize))
    }

    /// Each node's number of open legacy connections (this client's included).
    pub fn num_connections(&self) -> Result<Vec<(SocketAddr, u64)>, ClientError> {
        let cmd = LogfilesCommand::GetNumConnections;
        self.on_all_nodes(cmd, &encode(&LogfilesRequest::GetNumConnections), |c| {
            c.read_reply(cmd, |reply| match reply {
                LogfilesReply::NumConnections { count, .. } => Ok(count),
                _ => Err(ProtocolError::Malformed(
                    "unexpected reply to GetNumConnections",
                )),
            })
        })
    }

    /// Removes `channel` from every node, its files included. Removing a channel that does
    /// not exist succeeds. When a node fails, the nodes before it have removed the channel.
    pub fn remove_channel(&self, channel: &str) -> Result<(), ClientError> {
        check_channel(channel)?;
        let cmd = LogfilesCommand::RemoveChannel;
        let req = encode(&LogfilesRequest::RemoveChannel {
            channel: channel.as_bytes(),
        });
        self.on_all_nodes(cmd, &req, |c| c.read_status(cmd))?;
        Ok(())
    }

    fn size_of(&self, cmd: LogfilesCommand, req: &[u8]) -> Result<LogfilesSize, ClientError> {
        let per_node = self
            .on_all_nodes(cmd, req, |c| {
                c.read_reply(cmd, |reply| match reply {
                    LogfilesReply::Size { records, bytes, .. } => {
                        Ok(LogfilesSize { records, bytes })
                    }
                    _ => Err(ProtocolError::Malformed("unexpected reply")),
                })
            })
            .map_err(|e| match e {
                ClientError::Status {
                    node,
                    command,
                    status: Status::NotSupported,
                } => ClientError::NotSupported { node, command },
                other => other,
            })?;
        Ok(per_node
            .into_iter()
            .fold(LogfilesSize::default(), |sum, (_, s)| LogfilesSize {
                records: sum.records + s.records,
                bytes: sum.bytes + s.bytes,
            }))
    }

    /// [`crate::failover::on_all_nodes`] over this client's nodes.
    fn on_all_nodes<T>(
        &self,
        cmd: LogfilesCommand,
        req: &[u8],
        read: impl FnMut(&mut Conn) -> Result<T, ConnError>,
    ) -> Result<Vec<(SocketAddr, T)>, ClientError> {
        crate::failover::on_all_nodes(&self.nodes, cmd, req, read)
    }
}
