//! `dhtcli`: a command-line dht client over the `swarm_client` library, for operators and
//! scripts (`dhtcli -n nodes.txt get CHANNEL KEY`). Keys are 16 hex digits or decimal.

use clap::{Parser, Subcommand};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use swarm_client::{total_bytes, total_records, ClientConfig, ClientError, DhtClient, ListenEvent};

#[derive(Debug, Parser)]
#[command(
    name = "dhtcli",
    version,
    about = "Command-line client for dht nodes (legacy protocol)"
)]
struct Cli {
    /// Nodes file: one ip:port per line.
    #[arg(short = 'n', long = "nodes", conflicts_with = "addr")]
    nodes: Option<PathBuf>,
    /// A node address (repeatable), instead of a nodes file.
    #[arg(short = 'a', long = "addr")]
    addr: Vec<SocketAddr>,
    /// Work with whatever nodes answer even if the ranges have gaps or overlaps.
    #[arg(long)]
    partial: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Store a value.
    Put {
        channel: String,
        key: String,
        value: String,
    },
    /// Print a value (exit code 1 if absent).
    Get { channel: String, key: String },
    /// Remove a record.
    Remove { channel: String, key: String },
    /// Print true or false.
    Exists { channel: String, key: String },
    /// List all channels.
    Channels,
    /// Records and bytes per node and in total, of one channel or of all.
    Size { channel: Option<String> },
    /// Print every record as `hexkey:value`.
    GetAll {
        channel: String,
        /// Only records whose value contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Print every key.
    GetAllKeys { channel: String },
    /// Print each node's hash range (`empty` for a node that owns no key).
    Ranges,
    /// Remove a channel from all nodes.
    RemoveChannel { channel: String },
    /// Print records as they are put, until the channel is removed or interrupted.
    Listen { channel: String },
}

/// A key as 16 hex digits, or as a decimal number.
fn parse_key(s: &str) -> Result<u64, String> {
    if s.len() == 16 {
        if let Ok(k) = swarm_protocol::parse_key(s.as_bytes()) {
            return Ok(k);
        }
    }
    s.parse()
        .map_err(|_| format!("key {s:?} is neither 16 hex digits nor a decimal number"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dhtcli: {e}");
            ExitCode::from(2)
        }
    }
}

fn connect(cli: &Cli) -> Result<DhtClient, Box<dyn std::error::Error>> {
    let config = ClientConfig::default().with_require_full_coverage(!cli.partial);
    Ok(match &cli.nodes {
        Some(path) => DhtClient::from_nodes_file(path, config)?,
        None if !cli.addr.is_empty() => DhtClient::connect(&cli.addr, config)?,
        None => return Err("give a nodes file (-n) or node addresses (-a)".into()),
    })
}

fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let client = connect(&cli)?;
    let mut out = io::BufWriter::new(io::stdout().lock());
    match cli.command {
        Command::Put {
            channel,
            key,
            value,
        } => client.put(&channel, parse_key(&key)?, value.as_bytes())?,
        Command::Get { channel, key } => match client.get(&channel, parse_key(&key)?)? {
            Some(v) => {
                out.write_all(&v)?;
                writeln!(out)?;
            }
            None => return Ok(ExitCode::from(1)),
        },
        Command::Remove { channel, key } => client.remove(&channel, parse_key(&key)?)?,
        Command::Exists { channel, key } => {
            writeln!(out, "{}", client.exists(&channel, parse_key(&key)?)?)?
        }
        Command::Channels => {
            for ch in client.get_channels()? {
                writeln!(out, "{ch}")?;
            }
        }
        Command::Size { channel } => {
            let sizes = match &channel {
                Some(ch) => client.get_channel_size(ch)?,
                None => client.get_size()?,
            };
            for s in &sizes {
                writeln!(out, "{}: {} records, {} bytes", s.node, s.records, s.bytes)?;
            }
            let (r, b) = (total_records(&sizes), total_bytes(&sizes));
            writeln!(out, "total: {r} records, {b} bytes")?;
        }
        Command::GetAll { channel, filter } => {
            let filter = filter.unwrap_or_default();
            for record in client.get_all_filter(&channel, filter.as_bytes())? {
                let (key, value) = record?;
                write!(out, "{key:016x}:")?;
                out.write_all(&value)?;
                writeln!(out)?;
            }
        }
        Command::GetAllKeys { channel } => {
            for key in client.get_all_keys(&channel)? {
                writeln!(out, "{:016x}", key?)?;
            }
        }
        Command::Ranges => {
            for (node, r) in client.get_responsible_ranges()? {
                if r.is_empty() {
                    writeln!(out, "{node}: empty")?;
                } else {
                    writeln!(out, "{node}: {:016x}..={:016x}", r.min, r.max)?;
                }
            }
        }
        Command::RemoveChannel { channel } => client.remove_channel(&channel)?,
        Command::Listen { channel } => listen(&client, &channel, &mut out)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn listen(client: &DhtClient, channel: &str, out: &mut impl Write) -> Result<(), ClientError> {
    let io = |e: io::Error| ClientError::Handshake(format!("writing to stdout: {e}"));
    for event in client.listen(channel)? {
        match event? {
            ListenEvent::Record { key, value } => {
                write!(out, "{key:016x}:").map_err(io)?;
                out.write_all(&value).map_err(io)?;
                writeln!(out).map_err(io)?;
                out.flush().map_err(io)?;
            }
            ListenEvent::Ended { node } => eprintln!("dhtcli: {node} ended the stream"),
            // Events added to the library later: nothing to print for them here.
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_as_hex_or_decimal() {
        assert_eq!(parse_key("00000000000000ab"), Ok(0xab));
        assert_eq!(parse_key("171"), Ok(171));
        assert_eq!(parse_key("1000000000000000"), Ok(0x1000_0000_0000_0000));
        assert!(parse_key("xyz").is_err());
    }

    #[test]
    fn cli_definition_is_valid() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
