//! The command line of `swarm`: global options (node selection, timeout, output format, key
//! notation), accepted before or after the subcommand, and one subcommand tree per node kind.
//! Every argument's help text lives here, as clap doc comments.

use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// The exit codes, printed under `--help` (docs/CLI.md has the same table).
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  not found: get of a missing key, exists that is false, pop of an empty queue
  2  usage error: bad arguments, key, node address, nodes file or input
  3  a node cannot be reached or timed out (refused connections fail at once, a silent node
     after --timeout); for dht also a handshake that finds the nodes' ranges incomplete
  4  refused: a node answered an error status, or the client refused the request before
     sending it (bad channel name, empty value, value over the record size limit)
  5  anything else: a node broke the protocol, or a write's outcome is unknown

Values in text output: one record per line, with `\\\\` for a backslash, `\\n`, `\\r`, `\\0`,
and `\\xHH` for each byte that is not valid UTF-8; a single dht get or queue pop prints the
raw value bytes instead (with a newline only on a terminal).";

/// Command-line client of swarm dht, queue and logfiles nodes.
#[derive(Debug, Parser)]
#[command(name = "swarm", version, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub kind: Kind,
}

/// Options every subcommand takes, before or after it.
#[derive(Debug, Args)]
pub struct Global {
    /// Nodes file: one ip:port per line, `#` comments (the client library's format).
    #[arg(long, global = true, value_name = "FILE")]
    pub nodes: Option<PathBuf>,
    /// A node address, host names resolved (`localhost:10000`); repeat for several nodes.
    #[arg(long, global = true, value_name = "HOST:PORT")]
    pub node: Vec<String>,
    /// Seconds to wait for a node to connect or answer (fractions allowed). A node that
    /// refuses the connection fails at once, without retries.
    #[arg(long, global = true, value_name = "SECS", default_value = "5", value_parser = parse_timeout)]
    pub timeout: Duration,
    /// Values as lowercase hex, read and printed (input: put values, produce lines).
    #[arg(long, global = true, conflicts_with_all = ["base64", "json"])]
    pub hex: bool,
    /// Values as standard base64, read and printed.
    #[arg(long, global = true, conflicts_with = "json")]
    pub base64: bool,
    /// One JSON object per line; values as "value" (UTF-8 text) or "value_base64". Input
    /// takes the same objects, or a bare JSON string.
    #[arg(long, global = true)]
    pub json: bool,
    /// Keys as decimal numbers, read and printed (default: 16 hex digits; `0x` prefix allowed).
    #[arg(long, global = true)]
    pub decimal: bool,
}

/// Parses `--timeout`: seconds, possibly fractional, above zero.
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 86_400.0) {
        return Err(format!("{s} is not between 0 and 86400 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The node kind.
#[derive(Debug, Subcommand)]
pub enum Kind {
    /// dht nodes: records by key, routed by the nodes' hash ranges.
    Dht {
        /// Use whatever nodes answer even if the ranges have gaps or overlaps.
        #[arg(long)]
        partial: bool,
        #[command(subcommand)]
        cmd: DhtCmd,
    },
    /// queue nodes: records pushed and popped, round-robin over the nodes.
    Queue {
        #[command(subcommand)]
        cmd: QueueCmd,
    },
    /// logfiles nodes: records by timestamp, appended, read by key range (also `logfiles`).
    #[command(alias = "logfiles")]
    Logs {
        #[command(subcommand)]
        cmd: LogsCmd,
    },
}

/// A record's channel and key.
#[derive(Debug, Args)]
pub struct ChannelKey {
    /// Channel name: 1 to 230 ASCII letters, digits, '_' or '-'.
    pub channel: String,
    /// Key: 16 hex digits, or `0x` and up to 16 hex digits (decimal with --decimal).
    pub key: String,
}

/// A value to store.
#[derive(Debug, Args)]
pub struct ValueArgs {
    /// The value; `-` or none reads it from stdin (all of it, binary safe).
    pub value: Option<OsString>,
    /// Read the value from this file (all of it, binary safe).
    #[arg(long, value_name = "PATH", conflicts_with = "value")]
    pub file: Option<PathBuf>,
}

/// A channel, or every channel.
#[derive(Debug, Args)]
pub struct MaybeChannel {
    /// Only this channel (default: every channel).
    pub channel: Option<String>,
}

/// A channel.
#[derive(Debug, Args)]
pub struct Channel {
    /// Channel name: 1 to 230 ASCII letters, digits, '_' or '-'.
    pub channel: String,
}

/// How many records a stream prints before it stops.
#[derive(Debug, Args)]
pub struct Count {
    /// Stop after this many records (default: run until Ctrl-C or the channel is removed).
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
}

/// dht subcommands.
#[derive(Debug, Subcommand)]
pub enum DhtCmd {
    /// Print a value: its raw bytes (exit 1 if there is none).
    Get(ChannelKey),
    /// Store a value, overwriting any previous one.
    Put {
        #[command(flatten)]
        at: ChannelKey,
        #[command(flatten)]
        value: ValueArgs,
    },
    /// Remove a record (no error if there is none).
    Remove(ChannelKey),
    /// Print true or false (exit 1 for false).
    Exists(ChannelKey),
    /// Print every record of a channel as KEY:VALUE.
    Getall {
        #[command(flatten)]
        channel: Channel,
        /// Only records whose value contains this text (case-sensitive).
        #[arg(long, value_name = "TEXT")]
        filter: Option<String>,
    },
    /// Print every key of a channel.
    Keys(Channel),
    /// Print records as they are put into a channel.
    Listen {
        #[command(flatten)]
        channel: Channel,
        #[command(flatten)]
        count: Count,
    },
    /// List every channel.
    Channels,
    /// Records and bytes per node and in total.
    Size(MaybeChannel),
    /// Print each node's hash range.
    Ranges,
    /// Remove a channel and its records from every node.
    RemoveChannel(Channel),
}

/// queue subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueCmd {
    /// Push one record.
    Push {
        #[command(flatten)]
        channel: Channel,
        #[command(flatten)]
        value: ValueArgs,
    },
    /// Pop one record and print its raw bytes (exit 1 if every node is empty).
    Pop(Channel),
    /// Print records as the nodes hand them out (they leave the queue). With --count, pops
    /// exactly N, one at a time, waiting while the queue is empty; without it, a Consume
    /// stream until Ctrl-C, which loses the records the nodes had already sent ahead.
    Consume {
        #[command(flatten)]
        channel: Channel,
        #[command(flatten)]
        count: Count,
    },
    /// Stream records into a channel: one per input line (decoded per --hex, --base64,
    /// --json; raw lines otherwise, empty lines skipped).
    Produce {
        #[command(flatten)]
        channel: Channel,
        /// Read the lines from this file instead of stdin.
        #[arg(long, value_name = "PATH")]
        file: Option<PathBuf>,
    },
    /// Records and bytes per node and in total.
    Size(MaybeChannel),
    /// List every channel.
    Channels,
    /// Remove a channel and its records from every node.
    RemoveChannel(Channel),
}

/// A logfiles read's value filter.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only records whose value contains this text (case-sensitive).
    #[arg(long, value_name = "TEXT", conflicts_with = "regex")]
    pub filter: Option<String>,
    /// Only records whose value matches this regular expression (unanchored, linear-time
    /// engine: no backreferences or look-around).
    #[arg(long, value_name = "RE")]
    pub regex: Option<String>,
    /// Let --regex match letters of either case.
    #[arg(long, requires = "regex")]
    pub ignore_case: bool,
}

/// logfiles subcommands.
#[derive(Debug, Subcommand)]
pub enum LogsCmd {
    /// Append one record; the key is by convention a Unix time in seconds.
    Put {
        #[command(flatten)]
        at: ChannelKey,
        #[command(flatten)]
        value: ValueArgs,
    },
    /// Print the records whose key is in LOW..=HIGH as KEY:VALUE.
    Range {
        #[command(flatten)]
        channel: Channel,
        /// Lowest key (inclusive).
        low: String,
        /// Highest key (inclusive).
        high: String,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Print every record of a channel as KEY:VALUE.
    Getall {
        #[command(flatten)]
        channel: Channel,
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Records and value bytes per node and in total.
    Size(MaybeChannel),
    /// List every channel.
    Channels,
    /// Remove a channel and its files from every node.
    RemoveChannel(Channel),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_options_go_before_or_after_the_subcommand() {
        let before = Cli::try_parse_from(["swarm", "--json", "--node", "a:1", "dht", "ranges"]);
        let after = Cli::try_parse_from(["swarm", "dht", "ranges", "--json", "--node", "a:1"]);
        for cli in [before.unwrap(), after.unwrap()] {
            assert!(cli.global.json);
            assert_eq!(cli.global.node, ["a:1"]);
        }
        assert!(Cli::try_parse_from(["swarm", "--hex", "--json", "dht", "ranges"]).is_err());
    }

    #[test]
    fn timeouts_are_positive_seconds() {
        assert_eq!(parse_timeout("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_timeout("5"), Ok(Duration::from_secs(5)));
        for bad in ["0", "-1", "x", "NaN", "1e9"] {
            assert!(parse_timeout(bad).is_err(), "{bad}");
        }
    }
}
