//! The three node kinds as [`super::Target`]s. Each starts its node over a temp directory
//! with the [`super::Limits`] under test, seeds it (two checked channels `keep0` and `keep1`,
//! and a `stream` channel of about 8 MiB for the never-reading clients, larger than loopback's
//! socket buffers), and names a scratch channel `zz` in every template so no mutation of one
//! can reach the checked records (a channel name of another length cannot become `keep0` by a
//! flip, and a flipped command still names `zz`).

mod dht;
mod logfiles;
mod queue;

pub use dht::DhtTarget;
pub use logfiles::LogfilesTarget;
pub use queue::QueueTarget;

use super::Limits;
use swarm_protocol::batch::compress;
use swarm_protocol::wire::put_array;

/// The checked channels.
pub const CHECKED: [&[u8]; 2] = [b"keep0", b"keep1"];
/// The channel the never-reading clients stream.
pub const STREAM: &[u8] = b"stream";
/// The channel every template names.
pub const SCRATCH: &[u8] = b"zz";
/// Bytes seeded into [`STREAM`].
pub const STREAM_BYTES: usize = 8 << 20;

/// Config lines of `limits` as borrowed triples, for the kinds' constructors.
fn config_lines(limits: &Limits) -> Vec<(&'static str, &'static str, String)> {
    limits.lines()
}

/// A PutBatch payload (`u64 raw length` + LZO) of (key, value) pairs.
fn batch_payload(pairs: &[([u8; 16], Vec<u8>)]) -> Vec<u8> {
    let mut raw = Vec::new();
    for (k, v) in pairs {
        put_array(&mut raw, k);
        put_array(&mut raw, v);
    }
    [&(raw.len() as u64).to_le_bytes()[..], &compress(&raw)].concat()
}

/// `n` deterministic values of about `len` bytes, distinct per `seed`.
fn values(n: usize, len: usize, seed: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut v = format!("{seed:04}-{i:08}-").into_bytes();
            let fill = (i as u64).wrapping_mul(seed | 1) as u8;
            v.resize(len.max(v.len()), b'a' + fill % 26);
            v
        })
        .collect()
}
