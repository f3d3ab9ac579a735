//! `swarm`: the command-line client of dht, queue and logfiles nodes, over the swarm-client
//! library (it replaced `dhtcli`). This file parses the arguments, picks the nodes and the
//! output style, runs the node kind's subcommand and maps its error to an exit code
//! (error.rs); docs/CLI.md is the manual.
//!
//! | file | what it owns |
//! |---|---|
//! | `args.rs` | the command line and every help text, the exit-code table |
//! | `nodes.rs` | `--nodes` / `--node`, and the client settings of `--timeout` |
//! | `dht.rs`, `queue.rs`, `logs.rs` | each kind's subcommands, as client calls |
//! | `input.rs` | keys, values to store, produce's lines |
//! | `output.rs` | the lines printed, in every format |
//! | `encoding.rs`, `json.rs` | hex, base64, text escapes; JSON by hand |
//! | `error.rs` | exit codes and the messages that name limits and settings |

mod args;
mod dht;
mod encoding;
mod error;
mod input;
mod json;
mod logs;
mod nodes;
mod output;
mod queue;

use args::{Cli, Global, Kind};
use clap::Parser;
use error::CliError;
use output::{Format, Size, Style};
use std::net::SocketAddr;
use std::process::ExitCode;
use swarm_client::{ClientConfig, ClientError};

/// What every subcommand needs: the nodes, the client settings and the output style.
#[derive(Debug)]
pub struct Context {
    pub nodes: Vec<SocketAddr>,
    pub config: ClientConfig,
    pub style: Style,
}

impl Context {
    fn new(global: &Global) -> Result<Context, CliError> {
        let format = if global.hex {
            Format::Hex
        } else if global.base64 {
            Format::Base64
        } else if global.json {
            Format::Json
        } else {
            Format::Text
        };
        Ok(Context {
            nodes: nodes::nodes(global)?,
            config: nodes::config(global.timeout),
            style: Style {
                format,
                decimal: global.decimal,
            },
        })
    }
}

/// The size lines of queue and logfiles nodes, whose client sums over the nodes: `size` asks
/// one node (a client of its own) for its (records, bytes).
pub fn per_node_sizes(
    nodes: &[SocketAddr],
    size: impl Fn(SocketAddr) -> Result<(u64, u64), ClientError>,
) -> Result<Vec<(SocketAddr, Size)>, ClientError> {
    nodes
        .iter()
        .map(|&node| {
            let (records, bytes) = size(node)?;
            Ok((node, Size { records, bytes }))
        })
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse(); // clap exits 2 on a usage error, 0 for --help
    let result = Context::new(&cli.global).and_then(|ctx| match cli.kind {
        Kind::Dht { partial, cmd } => dht::run(&ctx, partial, cmd),
        Kind::Queue { cmd } => queue::run(&ctx, cmd),
        Kind::Logs { cmd } => logs::run(&ctx, cmd),
    });
    match result {
        Ok(code) => ExitCode::from(code),
        // A reader that stopped early (`swarm ... | head`) is not an error.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::from(error::OK)
        }
        Err(e) => {
            eprintln!("swarm: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
