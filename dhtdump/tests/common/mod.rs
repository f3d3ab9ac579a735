//! Helpers of dhtdump's integration tests: the real `dhtnode` (through `swarm-testkit`, which
//! also has the raw connections, records and `.tcm` reader) and `dhtdump` binaries on 127.0.0.1
//! over temp directories.
//!
//! `dhtnode` lives in another package, so Cargo does not build it for these tests
//! (`CARGO_BIN_EXE_*` only covers this package's binaries, and artifact dependencies are
//! unstable). [`dhtnode_bin`] runs `cargo build -p swarm-dht --bin dhtnode` once per test
//! binary, with the same cargo, target directory and profile as the running test, and takes the
//! binary from beside `dhtdump`: a no-op when `cargo test --workspace` already built it, and
//! never a stale binary from elsewhere. `DHTNODE_BIN=/path/to/dhtnode` skips the build.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub use swarm_testkit::*;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The `dhtnode` binary, built on first use (see the module doc).
pub fn dhtnode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| node_bin("swarm-dht", "dhtnode", "DHTNODE_BIN"))
}

/// A full-range dhtnode with its data in `<tempdir>/data`, not started; its port stays the
/// same across restarts and its connections time out reads after 10 s.
pub fn node() -> Node {
    node_with(&[])
}

/// As [`node`] with its `data_dir` at `data` (for example dhtdump's output).
pub fn node_with_data(data: &Path) -> Node {
    node_with(&[("Server", "data_dir", &data.display().to_string())])
}

fn node_with(overrides: &[(&str, &str, &str)]) -> Node {
    let mut lines = vec![("Options_Memory", "batch_size", "65536")];
    lines.extend_from_slice(overrides);
    Node::new(dhtnode_bin(), &lines)
        .with_sticky_port()
        .with_read_timeout(Duration::from_secs(10)) // as swarm-client's default I/O timeout
}

/// A dhtdump configuration over a temp directory (config, logs) writing into `data`.
pub struct Dump {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
}

impl Dump {
    /// Configures dhtdump for the node on `port`; `dump_keys` are extra `[Dump]` lines.
    pub fn new(port: u16, data: &Path, dump_keys: &str) -> Dump {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data).unwrap();
        let config = format!(
            "[Dht]\naddress = 127.0.0.1\nport = {port}\n[Dump]\ndata_dir = {data}\n{dump_keys}\n\
             [LOG.Root]\nfile = log/root.log\n[STATS]\nfile_name = log/stats.log\n",
            data = data.display()
        );
        std::fs::write(dir.path().join("dump.ini"), config).unwrap();
        Dump {
            dir,
            data: data.to_path_buf(),
        }
    }

    pub fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_dhtdump"));
        c.arg("-c")
            .arg(self.dir.path().join("dump.ini"))
            .current_dir(self.dir.path());
        c
    }

    /// Runs `dhtdump --oneshot` to its end.
    pub fn oneshot(&self) -> Output {
        self.command().arg("--oneshot").output().unwrap()
    }

    /// Runs `dhtdump --oneshot`, which must succeed.
    pub fn oneshot_ok(&self) {
        let out = self.oneshot();
        assert!(
            out.status.success(),
            "dhtdump --oneshot failed ({}):\n{}\nroot.log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            self.root_log()
        );
    }

    /// Starts dhtdump in the background (stderr discarded: everything is in root.log).
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command()
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    pub fn root_log(&self) -> String {
        read_log(&self.dir.path().join("log/root.log"))
    }

    pub fn stats_log(&self) -> String {
        read_log(&self.dir.path().join("log/stats.log"))
    }

    /// Waits until root.log holds `needle` at least `n` times.
    pub fn wait_log(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        wait_log(&self.dir.path().join("log/root.log"), needle, n, timeout)
    }
}
