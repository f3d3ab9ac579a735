//! The logfiles side of the integration tests: real `logfilesnode` binaries, built on first use
//! ([`super::node_bin`]), and a [`LogfilesClient`] for them.
// Every test binary compiles `common`; the queue tests use none of these re-exports.
#![allow(unused_imports)]

pub use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use swarm_client::LogfilesClient;

/// The `logfilesnode` binary, built on first use.
pub fn logfilesnode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| super::node_bin("swarm-logfiles", "logfilesnode", "LOGFILESNODE_BIN"))
}

/// A started logfilesnode whose port stays the same across restarts.
pub fn node(overrides: &[(&str, &str, &str)]) -> LogfilesNode {
    let mut node = LogfilesNode::new(logfilesnode_bin(), overrides).with_sticky_port();
    node.start();
    node
}

/// `n` started nodes with the defaults.
pub fn nodes(n: usize) -> Vec<LogfilesNode> {
    (0..n).map(|_| node(&[])).collect()
}

pub fn addrs(nodes: &[LogfilesNode]) -> Vec<SocketAddr> {
    nodes.iter().map(|n| n.addr()).collect()
}

/// A client for `nodes` with the tests' quick backoff ([`super::config`]).
pub fn client(nodes: &[LogfilesNode]) -> LogfilesClient {
    LogfilesClient::new(&addrs(nodes), super::config()).unwrap()
}
