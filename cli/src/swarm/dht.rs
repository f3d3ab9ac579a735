//! `swarm dht ...`: each subcommand as one call of [`DhtClient`], its result printed. The
//! arguments (keys, the value to store) are checked before the handshake, so a usage error
//! never waits for a node.

use crate::args::{ChannelKey, DhtCmd};
use crate::error::{CliError, NOT_FOUND, OK};
use crate::input::{parse_key, read_value};
use crate::output::{Out, Size};
use crate::Context;
use swarm_client::{DhtClient, ListenEvent, NodeSize};

/// Connects (the handshake with every node) and runs `cmd`; returns the exit code.
pub fn run(ctx: &Context, partial: bool, cmd: DhtCmd) -> Result<u8, CliError> {
    let decimal = ctx.style.decimal;
    let key = match &cmd {
        DhtCmd::Put { at, .. } | DhtCmd::Get(at) | DhtCmd::Remove(at) | DhtCmd::Exists(at) => {
            parse_key(&at.key, decimal)?
        }
        _ => 0,
    };
    let value = match &cmd {
        DhtCmd::Put { value, .. } => read_value(value, ctx.style.format)?,
        _ => Vec::new(),
    };
    let config = ctx.config.clone().with_require_full_coverage(!partial);
    let client = DhtClient::connect(&ctx.nodes, config)?;
    let mut out = Out::new(ctx.style);
    let code = exec(&client, cmd, key, &value, &mut out)?;
    out.flush()?;
    Ok(code)
}

/// Runs `cmd` with its parsed `key` and `value` (for the subcommands that take them).
fn exec(
    client: &DhtClient,
    cmd: DhtCmd,
    key: u64,
    value: &[u8],
    out: &mut Out,
) -> Result<u8, CliError> {
    match cmd {
        DhtCmd::Put { at, .. } => client
            .put(&at.channel, key, value)
            .map_err(|e| CliError::of_write(e, value.len()))?,
        DhtCmd::Get(at) => return get(client, &at, key, out),
        DhtCmd::Remove(at) => client.remove(&at.channel, key)?,
        DhtCmd::Exists(at) => {
            let exists = client.exists(&at.channel, key)?;
            out.exists(key, exists)?;
            return Ok(if exists { OK } else { NOT_FOUND });
        }
        DhtCmd::Getall { channel, filter } => {
            let filter = filter.unwrap_or_default();
            for record in client.get_all_filter(&channel.channel, filter.as_bytes())? {
                let (k, v) = record?;
                out.record(Some(k), &v)?;
            }
        }
        DhtCmd::Keys(channel) => {
            for k in client.get_all_keys(&channel.channel)? {
                out.key_line(k?)?;
            }
        }
        DhtCmd::Listen { channel, count } => listen(client, &channel.channel, count.count, out)?,
        DhtCmd::Channels => {
            for ch in client.get_channels()? {
                out.channel(&ch)?;
            }
        }
        DhtCmd::Size(channel) => {
            let sizes = match &channel.channel {
                Some(ch) => client.get_channel_size(ch)?,
                None => client.get_size()?,
            };
            out.sizes(&sizes.iter().map(per_node).collect::<Vec<_>>())?;
        }
        DhtCmd::Ranges => {
            for (node, r) in client.get_responsible_ranges()? {
                out.range(node, (!r.is_empty()).then_some((r.min, r.max)))?;
            }
        }
        DhtCmd::RemoveChannel(channel) => client.remove_channel(&channel.channel)?,
    }
    Ok(OK)
}

/// Prints one value (raw in text mode); NOT_FOUND when there is none.
fn get(client: &DhtClient, at: &ChannelKey, key: u64, out: &mut Out) -> Result<u8, CliError> {
    match client.get(&at.channel, key)? {
        Some(v) => {
            out.single(Some(key), &v)?;
            Ok(OK)
        }
        None => Ok(NOT_FOUND),
    }
}

/// A node's size line.
fn per_node(s: &NodeSize) -> (std::net::SocketAddr, Size) {
    let size = Size {
        records: s.records,
        bytes: s.bytes,
    };
    (s.node, size)
}

/// Prints the records put into `channel` as they come, `count` of them or until every node
/// ends its stream (the channel was removed) or the user interrupts.
fn listen(
    client: &DhtClient,
    channel: &str,
    count: Option<u64>,
    out: &mut Out,
) -> Result<(), CliError> {
    if count == Some(0) {
        return Ok(());
    }
    let mut seen = 0;
    for event in client.listen(channel)? {
        match event? {
            ListenEvent::Record { key, value } => {
                out.record(Some(key), &value)?;
                out.flush()?;
                seen += 1;
                if count == Some(seen) {
                    break;
                }
            }
            ListenEvent::Ended { node } => eprintln!("swarm: {node} ended the stream"),
            // Events added to the library later: nothing to print for them.
            _ => {}
        }
    }
    Ok(())
}
