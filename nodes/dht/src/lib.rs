//! The dht node: an in-memory key/value store serving the legacy swarm dht protocol.
//!
//! Concept-to-module map, as in the original's `src/dhtnode`: `config` (config.ini), `service`
//! (the node's state and request dispatch on the shared event loop), `requests` (one file per
//! request), `storage` (channels of records), `dump` (files in the data directory), `redist` (a
//! Redistribute moving records to other nodes), `stats`;
//! `settings` and `event` hold what the service and the request files share.

pub mod config;
pub mod dump;
pub mod event;
pub mod hugepages;
mod prefetch;
pub mod redist;
pub mod requests;
pub mod service;
pub mod session;
pub mod settings;
pub mod stats;
pub mod storage;

use config::DhtConfig;
use dump::load::scan::load_data_dir;
use dump::load::LoadRules;
use service::DhtService;
use settings::DhtSettings;
use std::io;
use std::net::SocketAddr;
use swarm_core::{Server, ShutdownHandle};

/// A dht node bound to its port, ready to run.
#[derive(Debug)]
pub struct DhtNode {
    server: Server<DhtService>,
    /// The data directory's lock (and `[PidLock] path`'s), held as long as the node exists.
    _locks: Vec<swarm_core::lock::DirLock>,
}

impl DhtNode {
    /// Binds the listening socket, then creates and locks the data directory (one node per
    /// directory) and loads the channel dumps in it. A dump that must stop the node
    /// (out-of-range rules) is an error.
    pub fn bind(config: &DhtConfig) -> io::Result<DhtNode> {
        let settings = DhtSettings {
            address: config.server.address.clone(),
            port: config.server.port,
            range: config.range,
            batch_size: config.batch_size,
            data_dir: config.data_dir.clone(),
            dump_period_s: config.dump_period_s,
            config_file: config.file.clone(),
            redist_memory_limit: config.redist_memory_limit,
            redist_retry: std::time::Duration::from_secs(config.redistribute_retry_s),
        };
        let service = DhtService::new(settings, config.size_limit);
        let rules = LoadRules {
            range: config.range,
            batch_size: config.batch_size,
            out_of_range: config.allow_out_of_range,
            abort_after_all_out_of_range: config.abort_after_all_out_of_range,
        };
        // Bind first: a taken port fails at once, before the data directory is touched or
        // minutes go into loading it. Clients wait in the listen backlog meanwhile.
        let mut server = Server::bind(&config.server, service)?;
        let port = server.local_addr().port();
        let dht = server.service_mut();
        dht.set_port(port);
        dump::load::scan::prepare_data_dir(&config.data_dir)?;
        let locks = dump::load::scan::lock_data_dir(&config.data_dir, config.pid_lock.as_deref())?;
        load_data_dir(&config.data_dir, &rules, dht.storage_mut())?;
        Ok(DhtNode {
            server,
            _locks: locks,
        })
    }

    /// The address the node listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// A handle that stops [`DhtNode::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.server.shutdown_handle()
    }

    /// The node's state.
    pub fn service(&self) -> &DhtService {
        self.server.service()
    }

    /// Serves until SIGINT/SIGTERM/SIGQUIT or the shutdown handle; the loop's shutdown dumps
    /// every channel. When the loop failed instead, the dump is made here: the data in memory
    /// is still good.
    pub fn run(&mut self) -> io::Result<()> {
        log::info!("Starting event loop on {}", self.local_addr());
        let served = self.server.run();
        log::info!("Event loop stopped");
        let service = self.server.service_mut();
        let failed = match service.shutdown_failures() {
            Some(failed) => failed,
            None => service.dump_all(),
        };
        if let Some(d) = service.shutdown_dump() {
            // The operator watching the console sees where the data went (root.log has the
            // per-channel lines).
            let dir = service.settings().data_dir.display();
            eprintln!(
                "dhtnode: shutdown dump: {} channels, {} records, {} bytes written to {dir} in \
                 {:.1} s{}",
                d.channels,
                d.records,
                d.bytes,
                d.secs,
                if d.failed > 0 {
                    format!("; {} channels could not be dumped (see root.log)", d.failed)
                } else {
                    String::new()
                }
            );
        }
        served?;
        if failed > 0 {
            return Err(io::Error::other(format!(
                "{failed} channels could not be dumped (see root.log)"
            )));
        }
        Ok(())
    }
}

impl swarm_core::program::NodeProgram for DhtNode {
    type Config = DhtConfig;
    const NAME: &'static str = "dhtnode";
    const KIND: &'static str = "DHT node";
    const ABOUT: &'static str = "In-memory key/value node speaking the legacy swarm dht protocol.";
    const DEFAULT_SUMMARY: &'static str =
        "127.0.0.1:10000, full hash range, data in ./data, logs in ./log";

    fn load_config(
        path: Option<&std::path::Path>,
    ) -> (
        Result<DhtConfig, swarm_core::ConfigError>,
        Vec<swarm_core::config::ConfigWarning>,
    ) {
        DhtConfig::load(path)
    }

    fn log_dir(config: &DhtConfig) -> &std::path::Path {
        &config.log_dir
    }

    fn data_dir(config: &DhtConfig) -> &std::path::Path {
        &config.data_dir
    }

    fn bind(config: &DhtConfig) -> io::Result<DhtNode> {
        DhtNode::bind(config)
    }

    fn local_addr(&self) -> SocketAddr {
        DhtNode::local_addr(self)
    }

    fn run(&mut self) -> io::Result<()> {
        DhtNode::run(self)
    }
}
