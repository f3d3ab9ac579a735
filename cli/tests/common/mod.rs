//! What the tools' integration tests share: the node binaries of other packages, built on first
//! use (as client/tests/common does: `cargo build -p <package> --bin <bin>` with the running
//! test's cargo, target directory and profile; `DHTNODE_BIN` / `LOGFILESNODE_BIN` skip the
//! build), nodes files in a temp directory, and running a tool to its end.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

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

/// The binary `bin` of `package`: `$env` if set, else built into this test's target directory
/// and profile.
pub fn node_bin(package: &str, bin: &str, env: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
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
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .arg("--profile")
        .arg(profile)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {bin}: {e}"));
    assert!(status.success(), "building {bin} failed");
    profile_dir.join(bin)
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
