//! `queuenode`: parses the command line, loads the configuration (or the embedded default),
//! starts logging and runs the node; errors become exit codes.
//!
//! Config warnings are read before the log exists (the config says where it goes), so they are
//! printed on stderr directly only when the node stops before logging is up; otherwise they are
//! logged, and the log's console mirror prints them on stderr once.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use swarm_core::config;
use swarm_queue::config::QueueConfig;
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
    let (config, warnings) = QueueConfig::load(args.config.as_deref());
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            config::print_warnings("queuenode", &warnings);
            eprintln!("queuenode: {e}");
            return ExitCode::from(2);
        }
    };
    // console = true: warnings and errors are mirrored to stderr.
    if let Err(e) = swarm_core::logging::init(&config.log_dir, args.log_level, true) {
        config::print_warnings("queuenode", &warnings);
        eprintln!(
            "queuenode: cannot open the log in {}: {e}",
            config.log_dir.display()
        );
        return ExitCode::from(1);
    }
    log::info!("Starting queue node ------------------------------");
    config::log_warnings(&warnings);
    let mut node = match QueueNode::bind(&config) {
        Ok(node) => node,
        Err(e) => {
            // The error names the path or address that failed.
            log::error!("cannot start: {e}");
            eprintln!("queuenode: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "queuenode listening on {} (data in {}, logs in {})",
        node.local_addr(),
        config.data_dir.display(),
        config.log_dir.display()
    );
    match node.run() {
        Ok(()) => {
            log::info!("Exiting");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!("event loop failed: {e}");
            eprintln!("queuenode: {e}");
            ExitCode::from(1)
        }
    }
}
