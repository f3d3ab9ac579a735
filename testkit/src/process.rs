//! A node binary as a child process over a temp directory: its `config.ini` written from
//! (section, key, value) lines, started and stopped (SIGTERM), killed (SIGKILL) and restarted on
//! the same data, its listening address read from its stderr, its logs read and waited on.
//!
//! A node can run through a command prefix (a network namespace of [`crate::hosts`]).
//!
//! Generic over the node kind: it knows only the keys the swarm nodes share (`[Server] port`,
//! `[Server] data_dir`, `[LOG.Root] file`) and the `listening on ADDR` line every node prints
//! on stderr once it accepts connections. Each kind's default lines live in its own module
//! ([`crate::dht::Node`]).

use crate::files::names;
use crate::wire::Conn;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The lock file every node holds in its data directory (`swarm_core::lock::DATA_DIR_LOCK`).
pub const DATA_DIR_LOCK: &str = "node.lock";

/// How long [`NodeProcess::try_start`] waits for the `listening on` line (loading large dumps
/// in a debug build takes a while).
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why a node did not start listening.
#[derive(Debug)]
pub struct StartFailure {
    /// Its exit status; `None` if it was still running at [`START_TIMEOUT`] (then killed).
    pub status: Option<ExitStatus>,
    /// Everything it printed on stderr.
    pub stderr: String,
    /// From spawning it to its exit (or the timeout).
    pub elapsed: Duration,
}

/// A node's directory (config, data, logs) and, while it runs, its process.
#[derive(Debug)]
pub struct NodeProcess {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    /// The config as (section, key, value) lines.
    lines: Vec<(String, String, String)>,
    /// Command-line arguments after `-c config.ini`.
    args: Vec<String>,
    /// A command the node is run through (`ip netns exec NAME`: [`crate::hosts`]); empty:
    /// the binary is run directly. It must exec the binary, so the child's pid is the node's.
    prefix: Vec<String>,
    read_timeout: Duration,
    sticky_port: bool,
    child: Option<Child>,
    addr: Option<SocketAddr>,
    stderr: Arc<Mutex<String>>,
}

impl NodeProcess {
    /// A node of `bin` over `dir` whose config is `lines`, not started.
    pub fn new(
        bin: impl Into<PathBuf>,
        dir: tempfile::TempDir,
        lines: &[(&str, &str, &str)],
    ) -> NodeProcess {
        let node = NodeProcess {
            dir,
            bin: bin.into(),
            lines: lines
                .iter()
                .map(|(s, k, v)| (s.to_string(), k.to_string(), v.to_string()))
                .collect(),
            args: Vec::new(),
            prefix: Vec::new(),
            read_timeout: Duration::from_secs(30),
            sticky_port: false,
            child: None,
            addr: None,
            stderr: Arc::default(),
        };
        node.write_config();
        node
    }

    /// Sets a config line (replacing the same section and key) and rewrites the config.
    pub fn set(&mut self, section: &str, key: &str, value: &str) {
        self.lines
            .retain(|l| (l.0.as_str(), l.1.as_str()) != (section, key));
        self.lines
            .push((section.to_owned(), key.to_owned(), value.to_owned()));
        self.write_config();
    }

    /// Sets the command-line arguments given after `-c config.ini` at every later start.
    pub fn set_args(&mut self, args: &[&str]) {
        self.args = args.iter().map(|a| a.to_string()).collect();
    }

    /// Runs the node through `prefix` (program and arguments before the binary) at every
    /// later start; empty runs it directly. See [`NodeProcess::place_on`].
    pub fn set_prefix(&mut self, prefix: &[String]) {
        self.prefix = prefix.to_vec();
    }

    /// Writes `config.ini`, sections in order of appearance, and creates the data directory.
    fn write_config(&self) {
        let mut sections: Vec<&str> = Vec::new();
        for l in &self.lines {
            if !sections.contains(&l.0.as_str()) {
                sections.push(&l.0);
            }
        }
        let mut config = String::new();
        for section in sections {
            config.push_str(&format!("[{section}]\n"));
            for (_, k, v) in self.lines.iter().filter(|l| l.0 == section) {
                config.push_str(&format!("{k} = {v}\n"));
            }
        }
        if let Some(data) = self.line("Server", "data_dir") {
            // Ignored on purpose: tests of start-up errors point data_dir at unusable paths.
            let _ = std::fs::create_dir_all(self.dir.path().join(data));
        }
        std::fs::write(self.config_path(), config).unwrap();
    }

    /// The read timeout of [`NodeProcess::connect`]'s connections (30 s unless set).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Keeps the port the first start picked for every later start.
    pub fn with_sticky_port(mut self) -> Self {
        self.sticky_port = true;
        self
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.ini")
    }

    /// The `[Server] data_dir` of the config (relative paths taken from the node's directory).
    pub fn data(&self) -> PathBuf {
        let data = self
            .line("Server", "data_dir")
            .expect("data_dir is always set");
        self.dir.path().join(data)
    }

    /// The value of a config line.
    pub fn line(&self, section: &str, key: &str) -> Option<&str> {
        let l = self
            .lines
            .iter()
            .find(|l| (l.0.as_str(), l.1.as_str()) == (section, key));
        l.map(|l| l.2.as_str())
    }

    /// Starts the node and reads its `listening on ADDR` line from stderr (which is drained
    /// for the node's whole life); `Err(stderr)` if it exits before listening.
    pub fn try_start(&mut self) -> Result<(), String> {
        self.try_start_status().map_err(|f| f.stderr)
    }

    /// As [`NodeProcess::try_start`], with the exit status and the time to it on failure.
    pub fn try_start_status(&mut self) -> Result<(), StartFailure> {
        assert!(self.child.is_none(), "already running");
        let started = Instant::now();
        let mut command = match self.prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        let mut child = command
            .arg("-c")
            .arg(self.config_path())
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let text = Arc::clone(&self.stderr);
        text.lock().unwrap().clear();
        std::thread::spawn(move || {
            // Keep draining stderr so the node never blocks on a full pipe; the channel
            // disconnects when stderr closes, after every line is in `text`.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                {
                    let mut t = text.lock().unwrap();
                    t.push_str(&line);
                    t.push('\n');
                }
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let status = match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => {
                let addr: SocketAddr = addr.parse().unwrap();
                self.addr = Some(addr);
                self.child = Some(child);
                if self.sticky_port && self.line("Server", "port") == Some("0") {
                    self.set("Server", "port", &addr.port().to_string());
                }
                return Ok(());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => child.wait().ok(),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let _ = child.kill();
                let _ = child.wait();
                None
            }
        };
        Err(StartFailure {
            status,
            stderr: self.stderr(),
            elapsed: started.elapsed(),
        })
    }

    /// Starts the node; panics with its stderr and root.log if it does not listen.
    pub fn start(&mut self) {
        if let Err(e) = self.try_start() {
            let bin = self.bin.display();
            panic!("{bin} did not start: {e}\nroot.log:\n{}", self.root_log());
        }
    }

    /// SIGTERM and wait: the node must exit 0.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("not running");
        signal(&child, "TERM");
        let status = child.wait().unwrap();
        assert!(
            status.success(),
            "{} exited with {status}",
            self.bin.display()
        );
    }

    /// SIGKILL: no dump, no cleanup.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("not running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    /// Stops and starts the node again with the same config and data.
    pub fn restart(&mut self) {
        self.stop();
        self.start();
    }

    /// Whether the node was started and has not been stopped or killed.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The address of the last start.
    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("never started")
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("not running").id()
    }

    /// The running node's resident memory in bytes (see [`crate::mem`]).
    pub fn rss(&self) -> u64 {
        crate::mem::rss_bytes(self.pid()).expect("no VmRSS for the node")
    }

    pub fn connect(&self) -> Conn {
        Conn::connect(self.addr(), self.read_timeout)
    }

    /// What the node printed on stderr since its last start.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The path of root.log: in the directory of `[LOG.Root] file` (default `log/`).
    pub fn root_log_path(&self) -> PathBuf {
        let file = Path::new(self.line("LOG.Root", "file").unwrap_or("log/root.log"));
        let dir = file.parent().unwrap_or(Path::new(""));
        self.dir.path().join(dir).join("root.log")
    }

    pub fn root_log(&self) -> String {
        read_log(&self.root_log_path())
    }

    /// Waits until root.log holds `needle` at least `n` times.
    pub fn wait_log(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        wait_log(&self.root_log_path(), needle, n, timeout)
    }

    /// Waits until root.log holds `needle` (or `timeout` passed) and returns it.
    pub fn log_after(&self, needle: &str, timeout: Duration) -> String {
        self.wait_log(needle, 1, timeout);
        self.root_log()
    }

    /// Names of the files in the data directory, sorted, but the lock a running node holds
    /// there ([`DATA_DIR_LOCK`]): what tests compare is the node's data. [`names`] lists all.
    pub fn files(&self) -> Vec<String> {
        let mut v = names(&self.data());
        v.retain(|n| n != DATA_DIR_LOCK);
        v
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Sends `kill -<sig>` to a child, which must succeed.
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits for a child to exit, which it must do before `deadline`; its status.
pub fn wait_exit(child: &mut Child, deadline: Instant) -> ExitStatus {
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit in time");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A log file's text; empty while it does not exist.
pub fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the log at `path` holds `needle` at least `n` times.
pub fn wait_log(path: &Path, needle: &str, n: usize, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if read_log(path).matches(needle).count() >= n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// A node kind's process type: a newtype over [`NodeProcess`] that dereferences to it and
/// keeps its builder methods (`with_sticky_port`, `with_read_timeout`) returning the kind.
macro_rules! node_kind {
    ($name:ident) => {
        impl $name {
            /// Keeps the port the first start picked for every later start.
            pub fn with_sticky_port(self) -> $name {
                $name(self.0.with_sticky_port())
            }

            /// The read timeout of [`crate::process::NodeProcess::connect`]'s connections (30 s
            /// unless set).
            pub fn with_read_timeout(self, timeout: std::time::Duration) -> $name {
                $name(self.0.with_read_timeout(timeout))
            }
        }

        impl std::ops::Deref for $name {
            type Target = $crate::process::NodeProcess;
            fn deref(&self) -> &$crate::process::NodeProcess {
                &self.0
            }
        }

        impl std::ops::DerefMut for $name {
            fn deref_mut(&mut self) -> &mut $crate::process::NodeProcess {
                &mut self.0
            }
        }
    };
}
pub(crate) use node_kind;
