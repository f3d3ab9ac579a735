//! What the queue client's integration tests share: real `queuenode` binaries (through
//! `swarm-testkit`) on 127.0.0.1 over temp directories, and a client for them.
//!
//! `queuenode` lives in another package, so Cargo does not build it for these tests
//! (`CARGO_BIN_EXE_*` only covers this package's binaries). [`queuenode_bin`] runs
//! `cargo build -p swarm-queue --bin queuenode` once per test binary, with the same cargo,
//! target directory and profile as the running test, and takes the binary from the target
//! directory: a no-op when `cargo test --workspace` already built it, and never a stale binary
//! from elsewhere. `QUEUENODE_BIN=/path/to/queuenode` skips the build.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub use swarm_testkit::queue::{QueueConn, QueueNode};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;
use swarm_client::{ClientConfig, QueueClient};

/// The `queuenode` binary, built on first use (see the module doc).
pub fn queuenode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("QUEUENODE_BIN") {
            return PathBuf::from(bin);
        }
        // The test binary is target/<profile>/deps/<name>-<hash>.
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap();
        let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
            "debug" => "test", // `cargo test` builds with the test profile into debug/
            other => other,
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let status = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "swarm-queue",
                "--bin",
                "queuenode",
            ])
            .arg("--profile")
            .arg(profile)
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("cannot run cargo to build queuenode");
        assert!(status.success(), "building queuenode failed");
        profile_dir.join("queuenode")
    })
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
