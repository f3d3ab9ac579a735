//! The queue node: per-channel fixed rings serving the legacy swarm queue protocol (all 13
//! requests of the original memory-only queuenode), on the shared event loop.
//!
//! Concept-to-module map, as in the original's `src/queuenode`: `config` (config.ini),
//! `service` (the node's state and request dispatch on the shared event loop), `requests` (one
//! file per group of requests), `storage` (the channels and their rings), `dump` (the `.rq`
//! files in the data directory), `stats`; `session`
//! and `settings` hold what the service and the request files share.

pub mod config;
pub mod dump;
pub mod requests;
pub mod service;
pub mod session;
pub mod settings;
pub mod stats;
pub mod storage;

use config::QueueConfig;
use service::QueueService;
use settings::QueueSettings;
use std::io;
use std::net::SocketAddr;
use storage::MemoryStore;
use swarm_core::{Server, ShutdownHandle};

/// A queue node bound to its port, ready to run.
#[derive(Debug)]
pub struct QueueNode {
    server: Server<QueueService>,
    /// The data directory's lock (and `[PidLock] path`'s), held as long as the node exists.
    _locks: Vec<swarm_core::lock::DirLock>,
}

impl QueueNode {
    /// Binds the listening socket, then creates and locks the data directory (one node per
    /// directory) and loads the `.rq` dumps in it (deleting them once loaded).
    pub fn bind(config: &QueueConfig) -> io::Result<QueueNode> {
        let settings = QueueSettings {
            address: config.server.address.clone(),
            port: config.server.port,
            channel_size_limit: config.channel_sizes.default as u64,
            data_dir: config.data_dir.clone(),
        };
        let store = MemoryStore::new(config.channel_sizes.clone(), config.size_limit);
        // Bind first: a taken port fails at once, before the data directory is touched or
        // time goes into loading it. Clients wait in the listen backlog meanwhile.
        let mut server = Server::bind(&config.server, QueueService::new(settings, store))?;
        let port = server.local_addr().port();
        let queue = server.service_mut();
        queue.set_port(port);
        dump::prepare_data_dir(&config.data_dir)?;
        let locks = dump::lock_data_dir(&config.data_dir, config.pid_lock.as_deref())?;
        // The last step that can fail: the load deletes the files it loaded.
        let report = dump::load_data_dir(&config.data_dir, queue.store_mut())?;
        log::info!(
            "Loaded {} records ({} bytes) into {} channels from {}",
            report.records,
            report.bytes,
            report.channels,
            config.data_dir.display()
        );
        Ok(QueueNode {
            server,
            _locks: locks,
        })
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A handle that stops [`QueueNode::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.server.shutdown_handle()
    }

    /// The node's state.
    pub fn service(&self) -> &QueueService {
        self.server.service()
    }

    /// Serves until SIGINT/SIGTERM/SIGQUIT or the shutdown handle; the loop's shutdown writes
    /// every non-empty channel to its `.rq`. When the loop failed instead, the dump is made
    /// here: the records in memory are still good.
    pub fn run(&mut self) -> io::Result<()> {
        log::info!("Starting event loop on {}", self.local_addr());
        let served = self.server.run();
        log::info!("Event loop stopped");
        let service = self.server.service_mut();
        let failed = match service.shutdown_failures() {
            Some(failed) => failed,
            None => service.dump_all(),
        };
        served?;
        if failed > 0 {
            return Err(io::Error::other(format!(
                "{failed} channels could not be dumped (see root.log)"
            )));
        }
        Ok(())
    }
}

impl swarm_core::program::NodeProgram for QueueNode {
    type Config = QueueConfig;
    const NAME: &'static str = "queuenode";
    const KIND: &'static str = "queue node";
    const ABOUT: &'static str =
        "Queue node (per-channel fixed rings) speaking the legacy swarm queue protocol.";
    const DEFAULT_SUMMARY: &'static str =
        "127.0.0.1:11000, 64 MiB per channel, data in ./data, logs in ./log";

    fn load_config(
        path: Option<&std::path::Path>,
    ) -> (
        Result<QueueConfig, swarm_core::ConfigError>,
        Vec<swarm_core::config::ConfigWarning>,
    ) {
        QueueConfig::load(path)
    }

    fn log_dir(config: &QueueConfig) -> &std::path::Path {
        &config.log_dir
    }

    fn data_dir(config: &QueueConfig) -> &std::path::Path {
        &config.data_dir
    }

    fn bind(config: &QueueConfig) -> io::Result<QueueNode> {
        QueueNode::bind(config)
    }

    fn local_addr(&self) -> SocketAddr {
        QueueNode::local_addr(self)
    }

    fn run(&mut self) -> io::Result<()> {
        QueueNode::run(self)
    }
}
