//! Requests sent to every usable node (GetChannels, GetChannelSize, GetSize,
//! GetResponsibleRange, RemoveChannel, GetNumConnections, GetVersion), one node after the other,
//! each retried transparently across a node restart. The first failing node fails the call.

use super::{check_channel, encode, DhtClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::pool::{get_version, Retry};
use std::net::SocketAddr;
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest};
use swarm_protocol::{HashRange, ProtocolError};

/// Records and bytes one node stores (GetSize, GetChannelSize).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeSize {
    /// The node.
    pub node: SocketAddr,
    /// Records stored.
    pub records: u64,
    /// Key and value bytes stored (the node's estimate).
    pub bytes: u64,
}

/// Sum of the records over all nodes.
pub fn total_records(sizes: &[NodeSize]) -> u64 {
    sizes.iter().map(|s| s.records).sum()
}

/// Sum of the bytes over all nodes.
pub fn total_bytes(sizes: &[NodeSize]) -> u64 {
    sizes.iter().map(|s| s.bytes).sum()
}

impl DhtClient {
    /// The names of all channels on all nodes, sorted and without duplicates.
    pub fn get_channels(&self) -> Result<Vec<String>, ClientError> {
        let req = encode(&DhtRequest::GetChannels);
        let per_node = self.on_all_nodes(DhtCommand::GetChannels, &req, |c| {
            c.read_status(DhtCommand::GetChannels)?;
            let mut names = Vec::new();
            loop {
                let name = c.read_array()?;
                if name.is_empty() {
                    return Ok(names);
                }
                names.push(String::from_utf8_lossy(&name).into_owned());
            }
        })?;
        let mut all: Vec<String> = per_node.into_iter().flat_map(|(_, n)| n).collect();
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Records and bytes of one channel, per node.
    pub fn get_channel_size(&self, channel: &str) -> Result<Vec<NodeSize>, ClientError> {
        check_channel(channel)?;
        let req = encode(&DhtRequest::GetChannelSize {
            channel: channel.as_bytes(),
        });
        self.sizes(DhtCommand::GetChannelSize, &req)
    }

    /// Records and bytes of all channels, per node.
    pub fn get_size(&self) -> Result<Vec<NodeSize>, ClientError> {
        self.sizes(DhtCommand::GetSize, &encode(&DhtRequest::GetSize))
    }

    /// Each node's current hash range (asked now, not the handshake's). An empty range is
    /// `min = u64::MAX, max = 0` ([`HashRange::EMPTY`]).
    pub fn get_responsible_ranges(&self) -> Result<Vec<(SocketAddr, HashRange)>, ClientError> {
        let req = encode(&DhtRequest::GetResponsibleRange);
        self.on_all_nodes(DhtCommand::GetResponsibleRange, &req, |c| {
            c.read_reply(DhtCommand::GetResponsibleRange, |reply| match reply {
                DhtReply::Range { min, max } => Ok(HashRange { min, max }),
                _ => Err(ProtocolError::Malformed("unexpected reply")),
            })
        })
    }

    /// Removes a channel from every node (its Listen requests end).
    pub fn remove_channel(&self, channel: &str) -> Result<(), ClientError> {
        check_channel(channel)?;
        let req = encode(&DhtRequest::RemoveChannel {
            channel: channel.as_bytes(),
        });
        self.on_all_nodes(DhtCommand::RemoveChannel, &req, |c| {
            c.read_status(DhtCommand::RemoveChannel)
        })?;
        Ok(())
    }

    /// The number of open legacy connections of each node.
    pub fn get_num_connections(&self) -> Result<Vec<(SocketAddr, u64)>, ClientError> {
        let req = encode(&DhtRequest::GetNumConnections);
        self.on_all_nodes(DhtCommand::GetNumConnections, &req, |c| {
            c.read_reply(DhtCommand::GetNumConnections, |reply| match reply {
                DhtReply::NumConnections { count, .. } => Ok(count),
                _ => Err(ProtocolError::Malformed("unexpected reply")),
            })
        })
    }

    /// Each node's API version string.
    pub fn get_versions(&self) -> Result<Vec<(SocketAddr, String)>, ClientError> {
        let per_node = self.on_all_nodes(DhtCommand::GetVersion, &[], get_version)?;
        Ok(per_node
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect())
    }

    fn sizes(&self, cmd: DhtCommand, req: &[u8]) -> Result<Vec<NodeSize>, ClientError> {
        let per_node = self.on_all_nodes(cmd, req, |c| {
            c.read_reply(cmd, |reply| match reply {
                DhtReply::Size { records, bytes, .. } => Ok((records, bytes)),
                _ => Err(ProtocolError::Malformed("unexpected reply")),
            })
        })?;
        Ok(per_node
            .into_iter()
            .map(|(node, (records, bytes))| NodeSize {
                node,
                records,
                bytes,
            })
            .collect())
    }

    /// Sends `req` (unless empty: `read` then sends itself) to every node and reads each reply.
    fn on_all_nodes<T>(
        &self,
        cmd: DhtCommand,
        req: &[u8],
        mut read: impl FnMut(&mut Conn) -> Result<T, ConnError>,
    ) -> Result<Vec<(SocketAddr, T)>, ClientError> {
        self.usable_pools()
            .into_iter()
            .map(|pool| {
                let value = pool.request(cmd, Retry::Yes, |c| {
                    if !req.is_empty() {
                        c.send(req)?;
                    }
                    read(c)
                })?;
                Ok((pool.addr(), value))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_sum_over_nodes() {
        let n = |port, records, bytes| NodeSize {
            node: SocketAddr::from(([127, 0, 0, 1], port)),
            records,
            bytes,
        };
        let sizes = [n(1, 3, 30), n(2, 4, 40)];
        assert_eq!(total_records(&sizes), 7);
        assert_eq!(total_bytes(&sizes), 70);
        assert_eq!(total_records(&[]), 0);
    }
}
