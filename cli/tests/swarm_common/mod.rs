//! What the `swarm` binary's tests share: running it with arguments and stdin bytes, keeping
//! stdout as bytes (values are binary), and the test values every kind round-trips.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_swarm");

/// One run of `swarm`.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Stdout as text (for the line outputs, which are ASCII or UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8(self.stdout.clone()).unwrap()
    }

    /// Stdout's lines.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_string).collect()
    }

    /// Asserts exit 0.
    pub fn ok(self) -> Run {
        assert_eq!(self.code, 0, "stderr: {}", self.stderr);
        self
    }
}

/// Runs `swarm args` with `stdin` and waits for it.
pub fn swarm(args: &[&str], stdin: &[u8]) -> Run {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    };
    eprintln!(
        "swarm {args:?} -> {} in {:?}\n--- stderr\n{}",
        run.code, run.elapsed, run.stderr
    );
    run
}

/// Every byte value once, and values with the bytes that break lines.
pub fn tricky_values() -> Vec<Vec<u8>> {
    vec![
        (0..=255u8).collect(),
        b"line one\nline two\n".to_vec(),
        b"cr\r\nnul\0end".to_vec(),
        b"back\\slash and \xff\xfe not utf-8".to_vec(),
        "plain ünïcödé".as_bytes().to_vec(),
    ]
}

/// Writes `value` to `dir/name` and returns the path as a string.
pub fn file(dir: &Path, name: &str, value: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap();
    path.display().to_string()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard base64 with padding (the tests' own encoder, independent of the binary's).
pub fn base64(v: &[u8]) -> String {
    let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in v.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(table[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    assert_eq!(unbase64(&out), v);
    out
}

/// Decodes standard base64 (the tests' own decoder, independent of the binary's).
pub fn unbase64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.trim().bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

/// The value of a `--json` record line: "value" (JSON string, simple escapes only in these
/// tests' values) or "value_base64".
pub fn json_value(line: &str) -> Vec<u8> {
    if let Some(rest) = line.split("\"value_base64\":\"").nth(1) {
        return unbase64(rest.split('"').next().unwrap());
    }
    let rest = line.split("\"value\":\"").nth(1).unwrap();
    let body = rest.strip_suffix("\"}").unwrap();
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next().unwrap() {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            'u' => {
                let code: String = chars.by_ref().take(4).collect();
                out.push(char::from_u32(u32::from_str_radix(&code, 16).unwrap()).unwrap());
            }
            other => out.push(other),
        }
    }
    out.into_bytes()
}

/// A port nothing listens on (bound, then closed).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
