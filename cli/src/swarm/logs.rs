//! `swarm logs ...`: each subcommand as calls of [`LogfilesClient`]; reads ask every node and
//! the node applies the `--filter` or `--regex` (GetAllFilter, GetRangeFilter, GetRangeRegex).
//! Sizes are asked node by node, for the per-node lines.

use crate::args::{FilterArgs, LogsCmd};
use crate::error::{CliError, OK};
use crate::input::{parse_key, read_value};
use crate::output::Out;
use crate::Context;
use swarm_client::{Filter, LogfilesClient, Records};

/// Runs `cmd`; returns the exit code.
pub fn run(ctx: &Context, cmd: LogsCmd) -> Result<u8, CliError> {
    let decimal = ctx.style.decimal;
    let client = LogfilesClient::new(&ctx.nodes, ctx.config.clone())?;
    let mut out = Out::new(ctx.style);
    match cmd {
        LogsCmd::Put { at, value } => {
            let key = parse_key(&at.key, decimal)?;
            let value = read_value(&value, ctx.style.format)?;
            client
                .put(&at.channel, key, &value)
                .map_err(|e| CliError::of_write(e, value.len()))?;
        }
        LogsCmd::Range {
            channel,
            low,
            high,
            filter,
        } => {
            let (lo, hi) = (parse_key(&low, decimal)?, parse_key(&high, decimal)?);
            let records = match to_filter(filter) {
                Some(f) => client.get_range_filter(&channel.channel, lo, hi, &f)?,
                None => client.get_range(&channel.channel, lo, hi)?,
            };
            print(records, &mut out)?;
        }
        LogsCmd::Getall { channel, filter } => {
            let records = match to_filter(filter) {
                Some(f) => client.get_all_filter(&channel.channel, &f)?,
                None => client.get_all(&channel.channel)?,
            };
            print(records, &mut out)?;
        }
        LogsCmd::Size(channel) => {
            let sizes = crate::per_node_sizes(&client.nodes(), |node| {
                let one = LogfilesClient::new(&[node], ctx.config.clone())?;
                let s = match &channel.channel {
                    Some(ch) => one.channel_size(ch)?,
                    None => one.size()?,
                };
                Ok((s.records, s.bytes))
            })?;
            out.sizes(&sizes)?;
        }
        LogsCmd::Channels => {
            for ch in client.channels()? {
                out.channel(&ch)?;
            }
        }
        LogsCmd::RemoveChannel(channel) => client.remove_channel(&channel.channel)?,
    }
    out.flush()?;
    Ok(OK)
}

/// The filter the options ask for, if any.
fn to_filter(args: FilterArgs) -> Option<Filter> {
    match (args.filter, args.regex) {
        (Some(text), _) => Some(Filter::substring(text.into_bytes())),
        (None, Some(pattern)) => Some(Filter::Regex {
            pattern,
            case_insensitive: args.ignore_case,
        }),
        (None, None) => None,
    }
}

/// Prints every record as it comes.
fn print(records: Records, out: &mut Out) -> Result<(), CliError> {
    for record in records {
        let (key, value) = record?;
        out.record(Some(key), &value)?;
    }
    Ok(())
}
