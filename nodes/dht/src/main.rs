//! `dhtnode`: parses the command line and runs the node through
//! `swarm_core::program::main` (configuration or the embedded default, logging, bind, serve;
//! errors become exit codes).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use swarm_dht::DhtNode;

/// Huge pages for the big tables (see `swarm_dht::hugepages`).
#[global_allocator]
static ALLOC: swarm_dht::hugepages::HugePageAlloc = swarm_dht::hugepages::HugePageAlloc;

/// In-memory key/value node speaking the legacy swarm dht protocol.
#[derive(Debug, Parser)]
#[command(name = "dhtnode", version, about)]
struct Args {
    /// config.ini to use; without it, the embedded default (127.0.0.1:10000, full hash range,
    /// data in ./data, logs in ./log).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log level of root.log (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", value_parser = swarm_core::logging::parse_level)]
    log_level: log::LevelFilter,
}

fn main() -> ExitCode {
    let args = Args::parse();
    swarm_core::program::main::<DhtNode>(args.config.as_deref(), args.log_level)
}
