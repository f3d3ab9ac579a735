//! `queuenode`: parses the command line and runs the node through
//! `swarm_core::program::main` (configuration or the embedded default, logging, bind, serve;
//! errors become exit codes).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use swarm_queue::QueueNode;

/// Queue node (per-channel fixed rings) speaking the legacy swarm queue protocol.
#[derive(Debug, Parser)]
#[command(name = "queuenode", version, about)]
struct Args {
    /// config.ini to use; without it, the embedded default (127.0.0.1:11000, 64 MiB per
    /// channel, data in ./data, logs in ./log).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log level of root.log (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", value_parser = swarm_core::logging::parse_level)]
    log_level: log::LevelFilter,
}

fn main() -> ExitCode {
    let args = Args::parse();
    swarm_core::program::main::<QueueNode>(args.config.as_deref(), args.log_level)
}
