//! What the queue node's integration tests share: starting `queuenode`, request bytes built by
//! hand (not through the codec under test), and the replies as they must be on the wire.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

pub use swarm_testkit::queue::{QueueConn, QueueNode};
pub use swarm_testkit::{arr, status, Conn, OK};

/// A started node with the test defaults (1 MiB rings) and `overrides`.
pub fn start(overrides: &[(&str, &str, &str)]) -> QueueNode {
    let mut node = QueueNode::new(env!("CARGO_BIN_EXE_queuenode"), overrides);
    node.start();
    node
}

/// `i32 code` and the fields, each already encoded.
pub fn req(code: i32, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = code.to_le_bytes().to_vec();
    for f in fields {
        out.extend_from_slice(f);
    }
    out
}

/// A string list: the arrays, then the empty one.
pub fn list(names: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for n in names {
        out.extend(arr(n));
    }
    out.extend(arr(b""));
    out
}

pub const OUT_OF_MEMORY: [u8; 4] = 407i32.to_le_bytes();
pub const EMPTY_VALUE: [u8; 4] = 408i32.to_le_bytes();
pub const BAD_CHANNEL: [u8; 4] = 409i32.to_le_bytes();

/// Push's bytes.
pub fn push(channel: &[u8], value: &[u8]) -> Vec<u8> {
    req(1, &[&arr(channel), &arr(value)])
}

/// Pop's bytes.
pub fn pop(channel: &[u8]) -> Vec<u8> {
    req(2, &[&arr(channel)])
}

/// The reply to a Pop: Ok and the record (empty: none).
pub fn popped(value: &[u8]) -> Vec<u8> {
    [&OK[..], &arr(value)].concat()
}

/// `n` distinct records of `len` bytes or more, numbered.
pub fn numbered(n: usize, len: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut v = format!("{i:09}").into_bytes();
            v.resize(len.max(9), b'.');
            v
        })
        .collect()
}

/// The size reply: Ok, address, port, then the u64s.
pub fn info_reply(node: &QueueNode, values: &[u64]) -> Vec<u8> {
    let mut out = [&OK[..], &arr(b"127.0.0.1"), &node.port().to_le_bytes()].concat();
    for v in values {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}
