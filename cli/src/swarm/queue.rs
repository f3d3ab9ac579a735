//! `swarm queue ...`: each subcommand as calls of [`QueueClient`]. The queue protocol has no
//! handshake, so consume and produce first ask every node for its connection count: a node
//! that cannot be reached fails the command at once instead of being retried in the
//! background for ever. `consume --count N` pops instead of streaming, so that stopping after
//! N records loses none (consume_count). Sizes are asked node by node, for the per-node lines.

use crate::args::QueueCmd;
use crate::error::{CliError, NOT_FOUND, OK};
use crate::input::{decode, lines, read_value};
use crate::output::{Format, Out};
use crate::Context;
use std::io;
use std::time::Duration;
use swarm_client::QueueClient;

/// Runs `cmd`; returns the exit code.
pub fn run(ctx: &Context, cmd: QueueCmd) -> Result<u8, CliError> {
    let client = QueueClient::new(&ctx.nodes, ctx.config.clone())?;
    let mut out = Out::new(ctx.style);
    let code = match cmd {
        QueueCmd::Push { channel, value } => {
            let value = read_value(&value, ctx.style.format)?;
            client
                .push(&channel.channel, &value)
                .map_err(|e| CliError::of_write(e, value.len()))?;
            OK
        }
        QueueCmd::Pop(channel) => match client.pop(&channel.channel)? {
            Some(v) => {
                out.single(None, &v)?;
                OK
            }
            None => NOT_FOUND,
        },
        QueueCmd::Consume { channel, count } => {
            consume(&client, &channel.channel, count.count, &mut out)?;
            OK
        }
        QueueCmd::Produce { channel, file } => {
            produce(ctx, &client, &channel.channel, file.as_deref())?;
            OK
        }
        QueueCmd::Size(channel) => {
            let sizes = crate::per_node_sizes(&client.nodes(), |node| {
                let one = QueueClient::new(&[node], ctx.config.clone())?;
                let s = match &channel.channel {
                    Some(ch) => one.channel_size(ch)?,
                    None => one.size()?,
                };
                Ok((s.records, s.bytes))
            })?;
            out.sizes(&sizes)?;
            OK
        }
        QueueCmd::Channels => {
            for ch in client.channels()? {
                out.channel(&ch)?;
            }
            OK
        }
        QueueCmd::RemoveChannel(channel) => {
            client.remove_channel(&channel.channel)?;
            OK
        }
    };
    out.flush()?;
    Ok(code)
}

/// How long `consume --count` waits before it asks again when every node was empty.
const POLL: Duration = Duration::from_millis(20);

/// Prints the records of `channel` as the nodes hand them out, until every node ends its
/// stream (the channel was removed) or the user interrupts; with `count`, exactly that many,
/// popped one at a time (see [`consume_count`]).
fn consume(
    client: &QueueClient,
    channel: &str,
    count: Option<u64>,
    out: &mut Out,
) -> Result<(), CliError> {
    if let Some(n) = count {
        return consume_count(client, channel, n, out);
    }
    client.num_connections()?; // every node reachable, see the module doc
    for record in client.consume(channel)? {
        out.record(None, &record?)?;
        out.flush()?;
    }
    Ok(())
}

/// `n` records by Pop, waiting for more while the nodes are empty. Not a Consume stream:
/// the node writes a stream's records ahead into the socket, and stopping after `n` would
/// drop every record written ahead with the connection; a Pop takes exactly one.
fn consume_count(
    client: &QueueClient,
    channel: &str,
    n: u64,
    out: &mut Out,
) -> Result<(), CliError> {
    let mut seen = 0;
    while seen < n {
        match client.pop(channel)? {
            Some(record) => {
                out.record(None, &record)?;
                out.flush()?;
                seen += 1;
            }
            None => std::thread::sleep(POLL),
        }
    }
    Ok(())
}

/// Streams the input lines into `channel`, decoded per the format; in text mode empty lines
/// are skipped (a queue record cannot be empty). The producer is finished whatever happens,
/// so the records sent before an error are confirmed.
fn produce(
    ctx: &Context,
    client: &QueueClient,
    channel: &str,
    file: Option<&std::path::Path>,
) -> Result<(), CliError> {
    let input = lines(file)?;
    client.num_connections()?;
    let mut producer = client.produce(channel)?;
    let mut failure = None;
    for (i, line) in input.enumerate() {
        let record = line
            .map_err(|e: io::Error| format!("reading line {}: {e}", i + 1))
            .and_then(|l| {
                decode(l, ctx.style.format).map_err(|why| format!("line {}: {why}", i + 1))
            });
        let record = match record {
            Ok(r) => r,
            Err(why) => {
                failure = Some(CliError::Usage(why));
                break;
            }
        };
        if record.is_empty() && ctx.style.format == Format::Text {
            continue;
        }
        if let Err(e) = producer.send(&record) {
            failure = Some(CliError::of_write(e, record.len()));
            break;
        }
    }
    producer.finish()?;
    failure.map_or(Ok(()), Err)
}
