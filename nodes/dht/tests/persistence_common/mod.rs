//! Helpers of the persistence tests: a `dhtnode` process on 127.0.0.1 (port 0) over a temp
//! directory that outlives restarts, raw protocol requests, and `.tcm` files made by hand.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

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

pub const OK: [u8; 4] = [0xc8, 0, 0, 0];

/// A channel's records, by key.
pub type Records = BTreeMap<u64, Vec<u8>>;

/// A node's directory and, while it runs, its process.
pub struct Node {
    pub dir: tempfile::TempDir,
    pub child: Option<Child>,
    pub addr: Option<SocketAddr>,
    stderr: Arc<Mutex<String>>,
}

impl Node {
    /// A full-range node configured with `options` appended under `[Options_Memory]`.
    pub fn new(options: &str) -> Node {
        Node::with_range(0, u64::MAX, options)
    }

    pub fn with_range(min: u64, max: u64, options: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[Server]\naddress = 127.0.0.1\nport = 0\nminval = 0x{min:016x}\nmaxval = 0x{max:016x}\n\
             data_dir = {data}\n[Performance]\nwrite_flush_ms = 5\n[Options_Memory]\n\
             batch_size = 65536\n{options}\n[LOG.Root]\nfile = {log}/root.log\n",
            data = dir.path().join("data").display(),
            log = dir.path().join("log").display(),
        );
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("config.ini"), config).unwrap();
        Node {
            dir,
            child: None,
            addr: None,
            stderr: Arc::default(),
        }
    }

    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Starts the node; `Err(stderr)` if it exits before listening.
    pub fn try_start(&mut self) -> Result<(), String> {
        assert!(self.child.is_none(), "already running");
        let mut child = Command::new(env!("CARGO_BIN_EXE_dhtnode"))
            .arg("-c")
            .arg(self.dir.path().join("config.ini"))
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
                self.addr = Some(addr.parse().unwrap());
                self.child = Some(child);
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

    pub fn start(&mut self) {
        if let Err(e) = self.try_start() {
            panic!("dhtnode did not start: {e}\nroot.log:\n{}", self.root_log());
        }
    }

    /// SIGTERM and wait: the node dumps every channel and exits 0.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("not running");
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        let status = child.wait().unwrap();
        assert!(status.success(), "dhtnode exited with {status}");
    }

    /// SIGKILL: no dump, no cleanup.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("not running");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    pub fn root_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/root.log")).unwrap_or_default()
    }

    /// Waits until root.log holds `needle` at least `n` times.
    pub fn wait_log(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.root_log().matches(needle).count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    pub fn connect(&self) -> Conn {
        let s = TcpStream::connect(self.addr.expect("not running")).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s }
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

/// A raw connection.
pub struct Conn {
    pub s: TcpStream,
}

impl Conn {
    fn send(&mut self, req: &DhtRequest<'_>) {
        let mut out = Vec::new();
        req.encode(&mut out);
        self.s.write_all(&out).unwrap();
    }

    fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.s.read_exact(&mut buf).unwrap();
        buf
    }

    fn read_array(&mut self) -> Vec<u8> {
        let n = u64::from_le_bytes(self.read_n(8).try_into().unwrap());
        assert!(n <= 64 << 20, "absurd array length {n}");
        self.read_n(n as usize)
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

    pub fn put(&mut self, channel: &[u8], key: u64, value: &[u8]) {
        self.put_all(channel, &Records::from([(key, value.to_vec())]));
    }

    pub fn remove_channel(&mut self, channel: &[u8]) {
        self.send(&DhtRequest::RemoveChannel { channel });
        assert_eq!(self.read_n(4), OK);
    }

    pub fn remove(&mut self, channel: &[u8], key: u64) {
        let key = format_key(key);
        self.send(&DhtRequest::Remove { channel, key: &key });
        assert_eq!(self.read_n(4), OK);
    }

    /// Every record of a channel through GetAll.
    pub fn get_all(&mut self, channel: &[u8]) -> Records {
        self.send(&DhtRequest::GetAll { channel });
        assert_eq!(self.read_n(4), OK);
        let mut out = Records::new();
        loop {
            let payload = self.read_array();
            if payload.is_empty() {
                return out;
            }
            let raw = decompress(&payload).unwrap();
            for pair in Pairs::new(&raw) {
                let (k, v) = pair.unwrap();
                let key = swarm_protocol::parse_key(k).unwrap();
                assert!(
                    out.insert(key, v.to_vec()).is_none(),
                    "key {key:x} sent twice"
                );
            }
        }
    }

    /// The channel names (GetChannels), sorted.
    pub fn channels(&mut self) -> Vec<Vec<u8>> {
        self.send(&DhtRequest::GetChannels);
        assert_eq!(self.read_n(4), OK);
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

/// `n` records with values of 1..=`max_len` bytes derived from the key and a seed.
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
