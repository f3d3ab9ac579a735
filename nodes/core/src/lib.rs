//! `swarm-core`: the select-listener event loop shared by the swarm nodes (dht, queue,
//! logfiles), with its connection pool and buffers, config basics, logging, stats and shutdown.
//!
//! A node kind implements [`Service`] (its storage and request semantics); [`Server`] owns
//! sockets, buffers, timers and signals and drives the service. Connections are named by
//! [`ConnRef`]s that die with them; other connections reach one through [`Context::post`] and
//! [`Waiters`], threads through the loop's [`Mailbox`] (and [`work::Pool`] runs jobs on
//! threads with results coming back that way).

pub mod config;
pub mod files;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod procstat;
pub mod program;
pub mod server;
pub mod service;
pub mod stats;
pub mod testing;
pub mod timestamp;
pub mod waiters;
pub mod work;

mod buffer;
mod connection;
mod drive;
mod housekeeping;
mod mailbox;

pub use config::{ConfigError, ServerConfig};
pub use mailbox::Mailbox;
pub use server::{Server, ShutdownHandle};
pub use service::{ConnRef, Context, Handled, Out, Prepare, Service, Step};
pub use waiters::Waiters;
