//! The `main` every node binary shares: load the configuration (or the node's embedded
//! default), start logging, bind, print the `listening on` line and run; errors become exit
//! codes (2: the configuration was refused; 1: anything else). Its root.log lines carry the
//! binary's name as their target, as when each binary had its own `main`.
//!
//! Config warnings are read before the log exists (the config says where it goes), so they are
//! printed on stderr directly only when the node stops before logging is up; otherwise they are
//! logged, and the log's console mirror prints them on stderr once.

use crate::config::{self, ConfigError, ConfigWarning};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What a node kind tells [`main`].
pub trait NodeProgram: Sized {
    /// Its configuration.
    type Config;
    /// The binary's name, in front of its messages on stderr (`dhtnode`).
    const NAME: &'static str;
    /// The node kind, in root.log's first line (`DHT node`).
    const KIND: &'static str;
    /// What the binary is, the first line of its `--help`.
    const ABOUT: &'static str;
    /// What the embedded default configuration sets up, for `--help`
    /// (`127.0.0.1:10000, full hash range, data in ./data, logs in ./log`).
    const DEFAULT_SUMMARY: &'static str;
    /// Loads `path` (`None`: the embedded default), with the warnings about it.
    fn load_config(path: Option<&Path>) -> (Result<Self::Config, ConfigError>, Vec<ConfigWarning>);
    /// Where root.log goes.
    fn log_dir(config: &Self::Config) -> &Path;
    /// The data directory, for the `listening on` line.
    fn data_dir(config: &Self::Config) -> &Path;
    /// Binds the port and prepares the data directory.
    fn bind(config: &Self::Config) -> io::Result<Self>;
    /// The bound address.
    fn local_addr(&self) -> SocketAddr;
    /// Serves until shutdown.
    fn run(&mut self) -> io::Result<()>;
}

/// The command line every node binary takes; [`run`] parses it with the node's own name and
/// help texts.
#[derive(Debug, clap::Parser)]
#[command(version)]
pub struct Args {
    /// config.ini to use; without it, the embedded default.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log level of root.log (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", value_parser = crate::logging::parse_level)]
    pub log_level: log::LevelFilter,
}

/// A node binary's whole `main`: parses the command line ([`Args`], named and described as
/// `N`), then [`main`].
pub fn run<N: NodeProgram>() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let matches = Args::command()
        .name(N::NAME)
        .about(N::ABOUT)
        .mut_arg("config", |a| {
            a.help(format!(
                "config.ini to use; without it, the embedded default ({})",
                N::DEFAULT_SUMMARY
            ))
        })
        .get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    main::<N>(args.config.as_deref(), args.log_level)
}

/// Runs node kind `N` with the config file `config` (or its default) and root.log at
/// `log_level`.
pub fn main<N: NodeProgram>(config: Option<&Path>, log_level: log::LevelFilter) -> ExitCode {
    let name = N::NAME;
    let (config, warnings) = N::load_config(config);
    let config = match config {
        Ok(c) => c,
        Err(e) => {
            config::print_warnings(name, &warnings);
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    // console = true: warnings and errors are mirrored to stderr.
    if let Err(e) = crate::logging::init(N::log_dir(&config), log_level, true) {
        config::print_warnings(name, &warnings);
        eprintln!(
            "{name}: cannot open the log in {}: {e}",
            N::log_dir(&config).display()
        );
        return ExitCode::from(1);
    }
    log::info!(target: name, "Starting {} ------------------------------", N::KIND);
    config::log_warnings(&warnings);
    let mut node = match N::bind(&config) {
        Ok(node) => node,
        Err(e) => {
            // The error names the path or address that failed.
            log::error!(target: name, "cannot start: {e}");
            eprintln!("{name}: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "{name} listening on {} (data in {}, logs in {})",
        node.local_addr(),
        N::data_dir(&config).display(),
        N::log_dir(&config).display()
    );
    match node.run() {
        Ok(()) => {
            log::info!(target: name, "Exiting");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!(target: name, "event loop failed: {e}");
            eprintln!("{name}: {e}");
            ExitCode::from(1)
        }
    }
}
