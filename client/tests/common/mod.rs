//! What the client's integration tests share: real node binaries (through `swarm-testkit`) on
//! 127.0.0.1 over temp directories, and clients for them; the queue side here, the logfiles
//! side in [`logfiles`].
//!
//! The nodes live in other packages, so Cargo does not build them for these tests
//! (`CARGO_BIN_EXE_*` only covers this package's binaries). [`node_bin`] (from `swarm-testkit`) runs
//! `cargo build -p <package> --bin <bin>` once per test binary, with the same cargo, target
//! directory and profile as the running test, and takes the binary from the target directory:
//! a no-op when `cargo test --workspace` already built it, and never a stale binary from
//! elsewhere. `QUEUENODE_BIN=/path/to/queuenode` (`LOGFILESNODE_BIN` for `logfilesnode`) skips
//! the build.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod load;
pub mod logfiles;

pub use swarm_testkit::queue::{QueueConn, QueueNode};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use swarm_client::{ClientConfig, QueueClient};
pub use swarm_testkit::node_bin;

/// The `queuenode` binary, built on first use (see the module doc).
pub fn queuenode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-queue", "queuenode", "QUEUENODE_BIN"))
}

/// A started queuenode (1 MiB rings unless overridden) whose port stays the same across
/// restarts.
pub fn node(overrides: &[(&str, &str, &str)]) -> QueueNode {
    let mut node = QueueNode::new(queuenode_bin(), overrides).with_sticky_port();
    node.start();
    node
}

/// `n` started nodes with the defaults.
pub fn nodes(n: usize) -> Vec<QueueNode> {
    (0..n).map(|_| node(&[])).collect()
}

pub fn addrs(nodes: &[QueueNode]) -> Vec<SocketAddr> {
    nodes.iter().map(|n| n.addr()).collect()
}

/// The `dhtnode` binary, built on first use (see the module doc; `DHTNODE_BIN` skips the
/// build).
pub fn dhtnode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-dht", "dhtnode", "DHTNODE_BIN"))
}

/// Client settings for tests: quick backoff, so a restarted node is used again soon.
pub fn config() -> ClientConfig {
    ClientConfig::default()
        .with_reconnect_backoff_start(Duration::from_millis(10))
        .with_reconnect_backoff_max(Duration::from_millis(200))
        .with_reconnect_timeout(Duration::from_secs(10))
}

pub fn client(nodes: &[QueueNode]) -> QueueClient {
    QueueClient::new(&addrs(nodes), config()).unwrap()
}

/// `n` distinct records of at least `len` bytes, numbered from `from`.
pub fn numbered(from: usize, n: usize, len: usize) -> Vec<Vec<u8>> {
    (from..from + n)
        .map(|i| {
            let mut v = format!("{i:09}").into_bytes();
            v.resize(len.max(9), b'.');
            v
        })
        .collect()
}

/// Pops `channel` through the client until every node is empty.
pub fn pop_all(client: &QueueClient, channel: &str) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| client.pop(channel).unwrap()).collect()
}
