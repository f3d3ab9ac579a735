//! The logfiles node: timestamp-keyed records in bucket files, serving the legacy swarm
//! logfiles (DLS) protocol on the shared event loop, and the checks of `logfiles_check`.
//!
//! Concept-to-module map, as in the original's `src/dlsnode`: `config` (config.ini),
//! `service` (the node's state and request dispatch on the shared event loop), `requests` (one
//! file per group of requests), `storage` (the channel directories and bucket files: writers,
//! range scans, recovery), `disk` (the worker pools that do the blocking disk work),
//! `checkpoint` (`checkpoint.dat`, the crash-recovery offsets), `redistribute` (Redistribute:
//! moving bucket files to other nodes, and putting back what a move did not finish), `matcher` (the filters and
//! regular expressions of the filtered reads), `check` (what `logfiles_check` checks and
//! repairs), `stats`; `session` holds a connection's state.

pub mod check;
pub mod checkpoint;
pub mod config;
pub mod disk;
pub mod matcher;
pub mod redistribute;
pub mod requests;
pub mod service;
pub mod session;
pub mod stats;
pub mod storage;

use config::LogfilesConfig;
use disk::{Disk, Journal};
use redistribute::RedistSettings;
use requests::info::Echo;
use requests::put::Writes;
use service::{LogfilesService, Settings};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use storage::Storage;
use swarm_core::{Server, ShutdownHandle};

/// A logfiles node bound to its port, ready to run.
#[derive(Debug)]
pub struct LogfilesNode {
    server: Server<LogfilesService>,
    /// The data directory's lock (and `[PidLock] path`'s), held as long as the node exists.
    _locks: Vec<swarm_core::lock::DirLock>,
}

impl LogfilesNode {
    /// Binds the listening socket, then creates and locks the data directory (one node per
    /// directory), recovers it after a crash and counts its channels.
    pub fn bind(config: &LogfilesConfig) -> io::Result<LogfilesNode> {
        // Bind first: a taken port fails at once, before the data directory is touched.
        // Clients wait in the listen backlog while the directory is counted.
        let mut held = Vec::new();
        let mut server = Server::bind_with(&config.server, |mailbox| {
            let journal = match &config.testing.sync_journal {
                Some(path) => Some(Arc::new(Journal::open(path)?)),
                None => None,
            };
            let disk = Disk::start(mailbox, config.workers, journal)?;
            std::fs::create_dir_all(&config.data_dir).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot create the data directory {}: {e}",
                        config.data_dir.display()
                    ),
                )
            })?;
            held = swarm_core::lock::lock_data_dir(&config.data_dir, config.pid_lock.as_deref())?;
            let (storage, report) = Storage::open(
                &config.data_dir,
                config.write_buffer_size,
                config.file_buffer_size,
                config.sync_mode,
            )?;
            log::info!(
                "{} channels, {} records ({} bytes) in {}{}",
                report.channels,
                report.total.records,
                report.total.bytes,
                config.data_dir.display(),
                if report.crashed {
                    format!(
                        "; recovered after a crash: {} buckets cut to the checkpoint, {} torn \
                         records cut",
                        report.truncated, report.torn_cut
                    )
                } else {
                    String::new()
                }
            );
            let writes = Writes::new(storage, config.sync_mode, config.group_commit_ms);
            let settings = Settings {
                echo: Echo {
                    address: config.server.address.clone(),
                    port: config.server.port,
                },
                read_buffer: config.file_buffer_size,
                checkpoint_every: Duration::from_secs(config.checkpoint_commit_seconds),
                read_delay: Duration::from_millis(config.testing.read_delay_ms),
            };
            let redist = RedistSettings {
                data_dir: config.data_dir.clone(),
                retry: Duration::from_secs(config.redistribute_retry_s),
                batch_delay: Duration::from_millis(config.testing.redistribute_delay_ms),
                mode: config.sync_mode,
            };
            Ok(LogfilesService::new(writes, disk, settings, redist))
        })?;
        let port = server.local_addr().port();
        server.service_mut().set_port(port);
        Ok(LogfilesNode {
            server,
            _locks: held,
        })
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A handle that stops [`LogfilesNode::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.server.shutdown_handle()
    }

    /// The node's state.
    pub fn service(&self) -> &LogfilesService {
        self.server.service()
    }

    /// Serves until SIGINT/SIGTERM/SIGQUIT or the shutdown handle; the loop's shutdown
    /// flushes, fsyncs and closes every bucket and removes `checkpoint.dat`.
    pub fn run(&mut self) -> io::Result<()> {
        log::info!("Starting event loop on {}", self.local_addr());
        let served = self.server.run();
        log::info!("Event loop stopped");
        served
    }
}

impl swarm_core::program::NodeProgram for LogfilesNode {
    type Config = LogfilesConfig;
    const NAME: &'static str = "logfilesnode";
    const KIND: &'static str = "logfiles node";
    const ABOUT: &'static str = "Logfiles node (timestamp-keyed records in bucket files) speaking the legacy swarm logfiles (DLS) protocol.";
    const DEFAULT_SUMMARY: &'static str = "127.0.0.1:12000, data in ./data, logs in ./log";

    fn load_config(
        path: Option<&std::path::Path>,
    ) -> (
        Result<LogfilesConfig, swarm_core::ConfigError>,
        Vec<swarm_core::config::ConfigWarning>,
    ) {
        LogfilesConfig::load(path)
    }

    fn log_dir(config: &LogfilesConfig) -> &std::path::Path {
        &config.log_dir
    }

    fn data_dir(config: &LogfilesConfig) -> &std::path::Path {
        &config.data_dir
    }

    fn bind(config: &LogfilesConfig) -> io::Result<LogfilesNode> {
        LogfilesNode::bind(config)
    }

    fn local_addr(&self) -> SocketAddr {
        LogfilesNode::local_addr(self)
    }

    fn run(&mut self) -> io::Result<()> {
        LogfilesNode::run(self)
    }
}
