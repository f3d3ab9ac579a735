//! The integration tests' shared harness, by concern:
//!
//! | module | what it owns |
//! |---|---|
//! | [`bins`] | a node binary of another package, built with the running test's cargo and profile |
//! | [`process`] | a node binary as a child process: a temp directory, a `config.ini` from (section, key, value) lines, start / stop / kill / restart, its address, stderr and logs, waiting |
//! | [`wire`] | a raw TCP connection to a node: send bytes, read n bytes, u64s and arrays, is-closed |
//! | [`dht`] | the dht node: its default config, its requests and helpers over the raw connection, deterministic records |
//! | [`queue`] | the queue node: its test config, its requests over the raw connection |
//! | [`logfiles`] | the logfiles node: its test config, its requests over the raw connection, batch streams decompressed |
//! | [`hosts`] | test hosts: network namespaces bridged to the root namespace (or loopback addresses where `ip netns` fails), a node started on one, a host cut off and back |
//! | [`files`] | `.tcm` files made or read by hand, directory listings |
//! | [`mem`] | a process's resident memory, from `/proc/<pid>/status` |
//! | [`tmpfs`] | a small tmpfs mounted for one test: filled to a few bytes free, freed, remounted read-only, unmounted on drop |
//! | [`hostile`] | hostile clients against any node kind: the attacks, the control client's latency, RSS, stored-record checksums, a report per case checked against its bounds |
//! | [`metrics`] | `/metrics` and `/health` over HTTP, the exposition parsed, stats.log lines parsed |
//!
//! Everything is re-exported at the crate root, so tests `use swarm_testkit::*`. The binary is
//! always passed in by the caller: tests of `swarm-dht` use `env!("CARGO_BIN_EXE_dhtnode")`,
//! other packages build it with [`node_bin`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod bins;
pub mod dht;
pub mod files;
pub mod hostile;
pub mod hosts;
pub mod logfiles;
pub mod mem;
pub mod metrics;
pub mod process;
pub mod queue;
pub mod tmpfs;
pub mod wire;

pub use bins::node_bin;
pub use dht::{records, DhtConn, Node, Records};
pub use files::{names, raw_tcm, read_tcm};
pub use hosts::{Host, TestHosts};
pub use mem::rss_bytes;
pub use process::{
    read_log, signal, wait_exit, wait_log, NodeProcess, StartFailure, DATA_DIR_LOCK,
};
pub use tmpfs::Tmpfs;
pub use wire::{arr, status, Conn, OK};
