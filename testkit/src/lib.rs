//! The integration tests' shared harness: a real `dhtnode` process on 127.0.0.1 over a temp
//! directory (config from (section, key, value) overrides, started, stopped, killed and
//! restarted on the same data), raw protocol connections, deterministic records and `.tcm`
//! files made or read by hand.
//!
//! The binary is always passed in by the caller: tests of `swarm-dht` use
//! `env!("CARGO_BIN_EXE_dhtnode")`, other packages locate or build it themselves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use swarm_protocol::batch::{decompress, Pairs};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::format_key;
use swarm_protocol::tcm::{parse_dump_key, TcmError, TcmReader};

/// The Ok status as it is on the wire.
pub const OK: [u8; 4] = [0xc8, 0, 0, 0];

/// A channel's records, by key.
pub type Records = BTreeMap<u64, Vec<u8>>;

/// A dhtnode's directory (config, data, logs) and, while it runs, its process.
#[derive(Debug)]
pub struct Node {
    pub dir: tempfile::TempDir,
    bin: PathBuf,
    /// The config as (section, key, value) lines.
    lines: Vec<(String, String, String)>,
    read_timeout: Duration,
    sticky_port: bool,
    child: Option<Child>,
    addr: Option<SocketAddr>,
    stderr: Arc<Mutex<String>>,
}

impl Node {
    /// A full-range node of `bin` over a new temp directory, not started; `overrides` replace
    /// or add to the defaults (listen on 127.0.0.1 port 0, data in `<dir>/data`, root.log in
    /// `<dir>/log`).
    pub fn new(bin: impl Into<PathBuf>, overrides: &[(&str, &str, &str)]) -> Node {
        Node::in_dir(bin, tempfile::tempdir().unwrap(), overrides)
    }

    /// As [`Node::new`] over `dir`.
    pub fn in_dir(
        bin: impl Into<PathBuf>,
        dir: tempfile::TempDir,
        overrides: &[(&str, &str, &str)],
    ) -> Node {
        let data = dir.path().join("data").display().to_string();
        let log = dir.path().join("log/root.log").display().to_string();
        let mut node = Node {
            dir,
            bin: bin.into(),
            lines: Vec::new(),
            read_timeout: Duration::from_secs(30),
            sticky_port: false,
            child: None,
            addr: None,
            stderr: Arc::default(),
        };
        let defaults = [
            ("Server", "address", "127.0.0.1"),
            ("Server", "port", "0"),
            ("Server", "minval", "0x0000000000000000"),
            ("Server", "maxval", "0xffffffffffffffff"),
            ("Server", "data_dir", &data),
            ("LOG.Root", "file", &log),
        ];
        node.lines = defaults
            .iter()
            .map(|(s, k, v)| (s.to_string(), k.to_string(), v.to_string()))
            .collect();
        node.write_config();
        for (s, k, v) in overrides {
            node.set(s, k, v);
        }
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
        std::fs::create_dir_all(self.data()).unwrap();
        std::fs::write(self.config_path(), config).unwrap();
    }

    /// Sets `minval` and `maxval`.
    pub fn set_range(&mut self, min: u64, max: u64) {
        self.set("Server", "minval", &format!("0x{min:016x}"));
        self.set("Server", "maxval", &format!("0x{max:016x}"));
    }

    /// The read timeout of [`Node::connect`]'s connections (30 s unless set).
    pub fn with_read_timeout(mut self, timeout: Duration) -> Node {
        self.read_timeout = timeout;
        self
    }

    /// Keeps the port the first start picked for every later start.
    pub fn with_sticky_port(mut self) -> Node {
        self.sticky_port = true;
        self
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.ini")
    }

    /// The `data_dir` of the config.
    pub fn data(&self) -> PathBuf {
        PathBuf::from(
            self.line("Server", "data_dir")
                .expect("data_dir is always set"),
        )
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
        assert!(self.child.is_none(), "already running");
        let mut child = Command::new(&self.bin)
            .arg("-c")
            .arg(self.config_path())
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
            // Keep draining stderr so the node never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                let mut t = text.lock().unwrap();
                t.push_str(&line);
                t.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => {
                let addr: SocketAddr = addr.parse().unwrap();
                self.addr = Some(addr);
                self.child = Some(child);
                if self.sticky_port && self.line("Server", "port") == Some("0") {
                    self.set("Server", "port", &addr.port().to_string());
                }
                Ok(())
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(50));
                Err(self.stderr.lock().unwrap().clone())
            }
        }
    }

    /// Starts the node; panics with its stderr and root.log if it does not listen.
    pub fn start(&mut self) {
        if let Err(e) = self.try_start() {
            panic!("dhtnode did not start: {e}\nroot.log:\n{}", self.root_log());
        }
    }

    /// SIGTERM and wait: the node dumps every channel and must exit 0.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("not running");
        signal(&child, "TERM");
        let status = child.wait().unwrap();
        assert!(status.success(), "dhtnode exited with {status}");
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

    pub fn connect(&self) -> Conn {
        Conn::connect(self.addr(), self.read_timeout)
    }

    pub fn root_log(&self) -> String {
        read_log(&self.dir.path().join("log/root.log"))
    }

    /// Waits until root.log holds `needle` at least `n` times.
    pub fn wait_log(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        wait_log(&self.dir.path().join("log/root.log"), needle, n, timeout)
    }

    /// Waits until root.log holds `needle` (or `timeout` passed) and returns it.
    pub fn log_after(&self, needle: &str, timeout: Duration) -> String {
        self.wait_log(needle, 1, timeout);
        self.root_log()
    }

    /// Names of the files in the data directory, sorted.
    pub fn files(&self) -> Vec<String> {
        names(&self.data())
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
pub fn wait_exit(child: &mut Child, deadline: Instant) -> std::process::ExitStatus {
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

/// Sorted names of the files in `dir` (none if it does not exist).
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

/// A raw protocol connection.
#[derive(Debug)]
pub struct Conn {
    pub s: TcpStream,
}

impl Conn {
    pub fn connect(addr: SocketAddr, read_timeout: Duration) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(read_timeout)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s }
    }

    pub fn send(&mut self, req: &DhtRequest<'_>) {
        let mut out = Vec::new();
        req.encode(&mut out);
        self.s.write_all(&out).unwrap();
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.s.read_exact(&mut buf).unwrap();
        buf
    }

    pub fn read_u64(&mut self) -> u64 {
        u64::from_le_bytes(self.read_n(8).try_into().unwrap())
    }

    pub fn read_array(&mut self) -> Vec<u8> {
        let n = self.read_u64();
        assert!(n <= 64 << 20, "absurd array length {n}");
        self.read_n(n as usize)
    }

    /// Sends `req` and reads exactly `expect.len()` bytes, which must equal `expect`.
    pub fn exchange(&mut self, req: &DhtRequest<'_>, expect: &[u8]) {
        self.send(req);
        assert_eq!(
            self.read_n(expect.len()),
            expect,
            "reply to {:?}",
            req.command()
        );
    }

    /// Whether the node closed the connection (EOF or reset) within the read timeout.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.s.read(&mut buf), Ok(0) | Err(_))
    }

    /// Reads a GetAll-style stream after its status: the decompressed batches.
    pub fn read_batches(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let payload = self.read_array();
            if payload.is_empty() {
                return out;
            }
            out.push(decompress(&payload).unwrap());
        }
    }

    /// Puts every record, pipelined 500 at a time; every reply must be Ok.
    pub fn put_all(&mut self, channel: &[u8], records: &Records) {
        let all: Vec<_> = records.iter().collect();
        for chunk in all.chunks(500) {
            let mut out = Vec::new();
            for (k, v) in chunk {
                let key = format_key(**k);
                DhtRequest::Put {
                    channel,
                    key: &key,
                    value: v,
                }
                .encode(&mut out);
            }
            self.s.write_all(&out).unwrap();
            let replies = self.read_n(4 * chunk.len());
            assert!(replies.chunks(4).all(|r| r == OK), "a Put failed");
        }
    }

    /// One Put, which must reply Ok.
    pub fn put(&mut self, channel: &[u8], key: u64, value: &[u8]) {
        self.exchange(
            &DhtRequest::Put {
                channel,
                key: &format_key(key),
                value,
            },
            &OK,
        );
    }

    pub fn remove(&mut self, channel: &[u8], key: u64) {
        let key = format_key(key);
        self.exchange(&DhtRequest::Remove { channel, key: &key }, &OK);
    }

    pub fn remove_channel(&mut self, channel: &[u8]) {
        self.exchange(&DhtRequest::RemoveChannel { channel }, &OK);
    }

    /// Every record of a channel through GetAll; no key may come twice.
    pub fn get_all(&mut self, channel: &[u8]) -> Records {
        self.exchange(&DhtRequest::GetAll { channel }, &OK);
        let mut out = Records::new();
        for raw in self.read_batches() {
            for pair in Pairs::new(&raw) {
                let (k, v) = pair.unwrap();
                let key = swarm_protocol::parse_key(k).unwrap();
                assert!(
                    out.insert(key, v.to_vec()).is_none(),
                    "key {key:016x} sent twice"
                );
            }
        }
        out
    }

    /// The channel names (GetChannels), sorted.
    pub fn channels(&mut self) -> Vec<Vec<u8>> {
        self.exchange(&DhtRequest::GetChannels, &OK);
        let mut out = Vec::new();
        loop {
            let name = self.read_array();
            if name.is_empty() {
                out.sort();
                return out;
            }
            out.push(name);
        }
    }
}

/// `bytes` as a protocol array (u64 length, then the bytes).
pub fn arr(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A status code as it is on the wire.
pub fn status(code: i32) -> Vec<u8> {
    code.to_le_bytes().to_vec()
}

/// `n` records with keys spread over the key space and values of 1..=`max_len` bytes derived
/// from the key, distinct per `seed`.
pub fn records(n: u64, seed: u64, max_len: usize) -> Records {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|_| {
            let key = next();
            let len = 1 + (next() % max_len as u64) as usize;
            let value: Vec<u8> = (0..len)
                .map(|i| (key >> (i % 8 * 8)) as u8 ^ i as u8)
                .collect();
            (key, value)
        })
        .collect()
}

/// A `.tcm` file of raw records: key bytes as given; complete unless `torn`.
pub fn raw_tcm(records: &[(&[u8], &[u8])], torn: bool) -> Vec<u8> {
    let mut f = 0u64.to_le_bytes().to_vec();
    for (k, v) in records {
        f.extend_from_slice(&(k.len() as u64).to_le_bytes());
        f.extend_from_slice(k);
        f.extend_from_slice(&(v.len() as u64).to_le_bytes());
        f.extend_from_slice(v);
    }
    if !torn {
        f.extend_from_slice(&[0; 8]);
        f.resize(f.len().div_ceil(512) * 512, 0);
    }
    f
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
