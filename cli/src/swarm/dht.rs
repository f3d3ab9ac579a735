//! `swarm dht ...`: each subcommand as one call of [`DhtClient`], its result printed.

use crate::args::{ChannelKey, DhtCmd};
use crate::error::{CliError, NOT_FOUND, OK};
use crate::input::{parse_key, read_value};
use crate::output::{Out, Size};
use crate::Context;
use swarm_client::{DhtClient, ListenEvent};

/// Connects (the handshake with every node) and runs `cmd`; returns the exit code.
pub fn run(ctx: &Context, partial: bool, cmd: DhtCmd) -> Result<u8, CliError> {
    let key = |at: &ChannelKey| parse_key(&at.key, ctx.style.decimal);
    // Arguments first, so a usage error never waits for a node.
    let put = match &cmd {
        DhtCmd::Put { at, value } => Some((key(at)?, read_value(value, ctx.style.format)?)),
        DhtCmd::Get(at) | DhtCmd::Remove(at) | DhtCmd::Exists(at) => {
            key(at)?;
            None
        }
        _ => None,
    };
    let config = ctx.config.clone().with_require_full_coverage(!partial);
    let client = DhtClient::connect(&ctx.nodes, config)?;
    let mut out = Out::new(ctx.style);
    let code = match cmd {
        DhtCmd::Put { at, .. } => {
            if let Some((k, value)) = put {
                client
                    .put(&at.channel, k, &value)
                    .map_err(|e| CliError::of_write(e, value.len()))?;
            }
            OK
        }
        DhtCmd::Get(at) => match client.get(&at.channel, key(&at)?)? {
            Some(v) => {
                out.single(Some(key(&at)?), &v)?;
                OK
            }
            None => NOT_FOUND,
        },
        DhtCmd::Remove(at) => {
            client.remove(&at.channel, key(&at)?)?;
            OK
        }
        DhtCmd::Exists(at) => {
            let k = key(&at)?;
            let exists = client.exists(&at.channel, k)?;
            out.exists(k, exists)?;
            if exists {
                OK
            } else {
                NOT_FOUND
            }
        }
        DhtCmd::Getall { channel, filter } => {
            let filter = filter.unwrap_or_default();
            for record in client.get_all_filter(&channel.channel, filter.as_bytes())? {
                let (k, v) = record?;
                out.record(Some(k), &v)?;
            }
            OK
        }
        DhtCmd::Keys(channel) => {
            for k in client.get_all_keys(&channel.channel)? {
                out.key_line(k?)?;
            }
            OK
        }
        DhtCmd::Listen { channel, count } => {
            listen(&client, &channel.channel, count.count, &mut out)?;
            OK
        }
        DhtCmd::Channels => {
            for ch in client.get_channels()? {
                out.channel(&ch)?;
            }
            OK
        }
        DhtCmd::Size(channel) => {
            let sizes = match &channel.channel {
                Some(ch) => client.get_channel_size(ch)?,
                None => client.get_size()?,
            };
            let sizes: Vec<_> = sizes
                .iter()
                .map(|s| {
                    let size = Size {
                        records: s.records,
                        bytes: s.bytes,
                    };
                    (s.node, size)
                })
                .collect();
            out.sizes(&sizes)?;
            OK
        }
        DhtCmd::Ranges => {
            for (node, r) in client.get_responsible_ranges()? {
                out.range(node, (!r.is_empty()).then_some((r.min, r.max)))?;
            }
            OK
        }
        DhtCmd::RemoveChannel(channel) => {
            client.remove_channel(&channel.channel)?;
            OK
        }
    };
    out.flush()?;
    Ok(code)
}

/// Prints the records put into `channel` as they come, `count` of them or until every node
/// ends its stream (the channel was removed) or the user interrupts.
fn listen(
    client: &DhtClient,
    channel: &str,
    count: Option<u64>,
    out: &mut Out,
) -> Result<(), CliError> {
    let mut seen = 0;
    if count == Some(0) {
        return Ok(());
    }
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
