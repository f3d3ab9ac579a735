//! Starts the real `dhtnode` binary on 127.0.0.1 with a temp data dir and a config written by
//! the test, and speaks raw protocol bytes to it.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::Reader;

pub const OK: [u8; 4] = [0xc8, 0, 0, 0];

/// A running dhtnode.
pub struct TestNode {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: tempfile::TempDir,
}

impl TestNode {
    /// A full-range node; `overrides` are (section, key, value) lines replacing or adding to
    /// the test defaults.
    pub fn start(overrides: &[(&str, &str, &str)]) -> TestNode {
        TestNode::start_range(0, u64::MAX, overrides)
    }

    pub fn start_range(min: u64, max: u64, overrides: &[(&str, &str, &str)]) -> TestNode {
        let dir = tempfile::tempdir().unwrap();
        let (min, max) = (format!("0x{min:016x}"), format!("0x{max:016x}"));
        let data = dir.path().join("data").display().to_string();
        let log = dir.path().join("log/root.log").display().to_string();
        let mut lines: Vec<(&str, &str, &str)> = vec![
            ("Server", "address", "127.0.0.1"),
            ("Server", "port", "0"),
            ("Server", "minval", &min),
            ("Server", "maxval", &max),
            ("Server", "data_dir", &data),
            ("Performance", "write_flush_ms", "1"),
            ("Options_Memory", "batch_size", "65535"),
            ("LOG.Root", "file", &log),
        ];
        for o in overrides {
            lines.retain(|l| (l.0, l.1) != (o.0, o.1));
            lines.push(*o);
        }
        let mut config = String::new();
        for section in ["Server", "Performance", "Options_Memory", "LOG.Root"] {
            config.push_str(&format!("[{section}]\n"));
            for (_, k, v) in lines.iter().filter(|l| l.0 == section) {
                config.push_str(&format!("{k} = {v}\n"));
            }
        }
        std::fs::write(dir.path().join("config.ini"), config).unwrap();
        let (child, addr) = launch(dir.path());
        TestNode { child, addr, dir }
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.ini")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops the node with SIGTERM and waits for it (it dumps its channels).
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        self.child.wait().unwrap()
    }

    /// Stops and starts the node again on a new port with the same config and data.
    pub fn restart(&mut self) {
        self.stop();
        let (child, addr) = launch(self.dir.path());
        self.child = child;
        self.addr = addr;
    }

    pub fn connect(&self) -> Conn {
        let s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s }
    }

    pub fn root_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log/root.log")).unwrap_or_default()
    }

    /// Waits until root.log contains `needle` (logs are written asynchronously to the test).
    pub fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.root_log();
            if log.contains(needle) || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Runs dhtnode in `dir` with `dir/config.ini`; returns it and the address it printed.
fn launch(dir: &Path) -> (Child, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dhtnode"))
        .arg("-c")
        .arg(dir.join("config.ini"))
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // Keep draining stderr for the node's whole life so it never blocks on a full pipe.
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("dhtnode did not start");
    (child, addr.parse().unwrap())
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw connection.
pub struct Conn {
    pub s: TcpStream,
}

impl Conn {
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
            out.push(swarm_protocol::batch::decompress(&payload).unwrap());
        }
    }
}

pub fn arr(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

pub fn status(code: i32) -> Vec<u8> {
    code.to_le_bytes().to_vec()
}

pub fn put(conn: &mut Conn, channel: &[u8], key: u64, value: &[u8]) {
    conn.exchange(
        &DhtRequest::Put {
            channel,
            key: &swarm_protocol::format_key(key),
            value,
        },
        &OK,
    );
}

pub fn decode_arrays(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut r = Reader::new(bytes);
    let mut out = Vec::new();
    while !r.remaining().is_empty() {
        out.push(r.read_array().unwrap().to_vec());
    }
    out
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}
