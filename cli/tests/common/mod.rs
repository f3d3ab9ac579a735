//! What the tools' integration tests share: the node binaries of other packages, built on first
//! use (as client/tests/common does: `cargo build -p <package> --bin <bin>` with the running
//! test's cargo, target directory and profile; `DHTNODE_BIN` / `LOGFILESNODE_BIN` skip the
//! build), nodes files in a temp directory, and running a tool to its end.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
pub use swarm_testkit::node_bin;

/// The `dhtnode` binary, built on first use.
pub fn dhtnode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-dht", "dhtnode", "DHTNODE_BIN"))
}

/// The `logfilesnode` binary, built on first use.
pub fn logfilesnode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-logfiles", "logfilesnode", "LOGFILESNODE_BIN"))
}

/// The `queuenode` binary, built on first use (`QUEUENODE_BIN` skips the build).
pub fn queuenode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-queue", "queuenode", "QUEUENODE_BIN"))
}

/// Writes a nodes file (one ip:port per line) named `name` in `dir`.
pub fn nodes_file(dir: &Path, name: &str, nodes: &[SocketAddr]) -> PathBuf {
    let path = dir.join(name);
    let text: String = nodes.iter().map(|n| format!("{n}\n")).collect();
    std::fs::write(&path, text).unwrap();
    path
}

/// A tool's run: exit code, stdout, stderr.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `bin` with `args` to its end.
pub fn run(bin: &str, args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(bin).args(args).output().unwrap();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    };
    eprintln!(
        "{bin} {args:?} -> {}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    );
    run
}
