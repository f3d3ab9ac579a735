//! Helpers of dhtdump's integration tests: the real `dhtnode` and `dhtdump` binaries on
//! 127.0.0.1 over temp directories, records through swarm-client, `.tcm` files read back with
//! the protocol crate's reader.
//!
//! `dhtnode` lives in another package, so Cargo does not build it for these tests
//! (`CARGO_BIN_EXE_*` only covers this package's binaries, and artifact dependencies are
//! unstable). [`dhtnode_bin`] runs `cargo build -p swarm-dht --bin dhtnode` once per test
//! binary, with the same cargo, target directory and profile as the running test, and takes the
//! binary from beside `dhtdump`: a no-op when `cargo test --workspace` already built it, and
//! never a stale binary from elsewhere. `DHTNODE_BIN=/path/to/dhtnode` skips the build.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use swarm_client::{ClientConfig, DhtClient};
use swarm_protocol::tcm::{parse_dump_key, TcmError, TcmReader};

/// A channel's records, by key.
pub type Records = BTreeMap<u64, Vec<u8>>;

/// The `dhtnode` binary, built on first use (see the module doc).
pub fn dhtnode_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("DHTNODE_BIN") {
            return PathBuf::from(bin);
        }
        let dhtdump = Path::new(env!("CARGO_BIN_EXE_dhtdump"));
        let profile_dir = dhtdump.parent().unwrap();
        let target_dir = profile_dir.parent().unwrap();
        let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
            "debug" => "test", // `cargo test` builds with the test profile into debug/
            other => other,
        };
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
        let status = Command::new(cargo)
            .args(["build", "--quiet", "-p", "swarm-dht", "--bin", "dhtnode"])
            .arg("--profile")
            .arg(profile)
            .arg("--manifest-path")
            .arg(manifest)
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("cannot run cargo to build dhtnode");
        assert!(status.success(), "building dhtnode failed");
        profile_dir.join("dhtnode")
    })
}

/// A dhtnode over a temp directory; its port stays the same across restarts.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub data: PathBuf,
    pub port: u16,
    pub child: Option<Child>,
    stderr: Arc<Mutex<String>>,
}

impl Node {
    /// A full-range node with its data in `<tempdir>/data`, not started.
    pub fn new() -> Node {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Node::with_data(dir, data)
    }

    /// A full-range node whose `data_dir` is `data` (for example dhtdump's output), not started.
    pub fn with_data(dir: tempfile::TempDir, data: PathBuf) -> Node {
        let node = Node {
            dir,
            data,
            port: 0,
            child: None,
            stderr: Arc::default(),
        };
        node.write_config();
        node
    }

    fn write_config(&self) {
        let config = format!(
            "[Server]\naddress = 127.0.0.1\nport = {port}\nminval = 0x0000000000000000\n\
             maxval = 0xffffffffffffffff\ndata_dir = {data}\n[Options_Memory]\n\
             batch_size = 65536\n[LOG.Root]\nfile = {log}/root.log\n",
            port = self.port,
            data = self.data.display(),
            log = self.dir.path().join("log").display(),
        );
        std::fs::write(self.dir.path().join("node.ini"), config).unwrap();
    }

    /// Starts the node and waits until it listens; the first start picks a free port, later
    /// starts reuse it.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut child = Command::new(dhtnode_bin())
            .arg("-c")
            .arg(self.dir.path().join("node.ini"))
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let text = Arc::clone(&self.stderr);
        std::thread::spawn(move || {
            // Drain stderr for the node's whole life so it never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                text.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!("dhtnode did not start:\n{}", self.stderr.lock().unwrap());
        };
        let addr: SocketAddr = addr.parse().unwrap();
        if self.port == 0 {
            self.port = addr.port();
            self.write_config();
        }
        self.child = Some(child);
    }

    /// SIGTERM and wait: the node dumps every channel into its data_dir and exits 0.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("not running");
        signal(&child, "TERM");
        let status = child.wait().unwrap();
        assert!(status.success(), "dhtnode exited with {status}");
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn client(&self) -> DhtClient {
        DhtClient::connect(&[self.addr()], ClientConfig::default()).unwrap()
    }

    pub fn root_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/root.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `kill -<sig>` to a child.
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

/// `n` records with keys spread over the key space and values of varying length (1 to 300
/// bytes), distinct per `seed`.
pub fn records(n: u64, seed: u64) -> Records {
    (0..n)
        .map(|i| {
            let key = (i + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed;
            let len = 1 + (i * 7 + seed) % 300;
            let value = format!("{seed}:{i}:").into_bytes();
            let value = value.iter().cycle().take(len as usize).copied().collect();
            (key, value)
        })
        .collect()
}

/// Puts every record (pipelined).
pub fn put_all(client: &DhtClient, channel: &str, records: &Records) {
    let all: Vec<(u64, &[u8])> = records.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    for chunk in all.chunks(2000) {
        client.put_many(channel, chunk).unwrap();
    }
}

/// Every record of a channel through GetAll.
pub fn get_all(client: &DhtClient, channel: &str) -> Records {
    let mut out = Records::new();
    for r in client.get_all(channel).unwrap() {
        let (k, v) = r.unwrap();
        assert!(out.insert(k, v).is_none(), "key {k:016x} sent twice");
    }
    out
}

/// Reads a `.tcm` to its end marker.
pub fn read_tcm(path: &Path) -> Result<Records, TcmError> {
    let file = std::fs::File::open(path).map_err(TcmError::Io)?;
    let mut r = TcmReader::new(BufReader::new(file))?;
    let mut out = Records::new();
    while let Some(rec) = r.next_record()? {
        out.insert(parse_dump_key(rec.key).unwrap(), rec.value.to_vec());
    }
    Ok(out)
}

/// Sorted names of the files in `dir`.
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
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
        std::fs::read_to_string(self.dir.path().join("log/root.log")).unwrap_or_default()
    }

    pub fn stats_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/stats.log")).unwrap_or_default()
    }

    /// Waits until root.log holds `needle` at least `n` times.
    pub fn wait_log(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.root_log().matches(needle).count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }
}
