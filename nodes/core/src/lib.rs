//! `swarm-core`: the select-listener event loop shared by the swarm nodes (dht, queue,
//! logfiles), with its connection pool and buffers, config basics, logging, stats and shutdown.
//!
//! A node kind implements [`Service`] (its storage and request semantics); [`Server`] owns
//! sockets, buffers, timers and signals and drives the service.

pub mod config;
pub mod logging;
pub mod procstat;
pub mod server;
pub mod service;
pub mod stats;
pub mod timestamp;

mod buffer;
mod connection;
mod drive;
mod housekeeping;

pub use config::{ConfigError, ServerConfig};
pub use server::{Server, ShutdownHandle};
pub use service::{ConnId, Context, Handled, Service, Step};
