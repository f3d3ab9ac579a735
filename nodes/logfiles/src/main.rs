//! `logfilesnode`: parses the command line and runs the node through
//! `swarm_core::program::main` (configuration or the embedded default, logging, bind, serve;
//! errors become exit codes).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use swarm_logfiles::LogfilesNode;

/// Logfiles node (timestamp-keyed records in bucket files) speaking the legacy swarm logfiles
/// (DLS) protocol.
#[derive(Debug, Parser)]
#[command(name = "logfilesnode", version, about)]
struct Args {
    /// config.ini to use; without it, the embedded default (127.0.0.1:12000, data in ./data,
    /// logs in ./log).
    #[arg(short, long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log level of root.log (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", value_parser = swarm_core::logging::parse_level)]
    log_level: log::LevelFilter,
}

fn main() -> ExitCode {
    let args = Args::parse();
    swarm_core::program::main::<LogfilesNode>(args.config.as_deref(), args.log_level)
}
