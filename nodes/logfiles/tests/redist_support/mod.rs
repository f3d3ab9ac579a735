//! What the Redistribute tests share: data spread over many buckets of two channels, the
//! Redistribute request, and the checks (every record exactly once over all nodes, the bucket
//! files of a data directory, the sizes).
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

pub mod relay;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use swarm_protocol::logfiles::{LogfilesRequest, RedistributeNode};
pub use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};
#[allow(unused_imports)]
pub use swarm_testkit::{status, Conn, OK};

/// This package's node binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_logfilesnode");
/// The channels the tests fill.
pub const CHANNELS: [&[u8]; 2] = [b"ch_a", b"ch-b"];
/// The largest value a batch holds: one such record fills a 64 KiB batch exactly.
pub const FULL: usize = 65_504;

/// A node over a new temp directory with `overrides`, reads giving up after 120 s (a move
/// can take a while).
pub fn node(overrides: &[(&str, &str, &str)]) -> LogfilesNode {
    LogfilesNode::new(BIN, overrides).with_read_timeout(Duration::from_secs(120))
}

/// `n` records with keys over about 60 buckets (in two slots), values of 1 to 300 bytes, one
/// in 500 of 20,000 bytes and one in 1,000 filling a batch; `seed` makes them differ.
pub fn records(n: usize, seed: u64) -> Vec<Record> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    (0..n)
        .map(|i| {
            let bucket = next() % 60;
            let key = 0x5700_0000 + bucket * 0x1000 * 97 + next() % 0x1000;
            let len = match i % 1000 {
                0 => FULL,
                500 => 20_000,
                _ => 1 + (next() % 300) as usize,
            };
            let fill = (next() % 251) as u8;
            let value: Vec<u8> = (0..len).map(|j| fill.wrapping_add(j as u8)).collect();
            (key, value)
        })
        .collect()
}

/// Puts `records` into `channel` of `node`.
pub fn fill(node: &LogfilesNode, channel: &[u8], records: &[Record]) {
    node.connect().put_all(channel, records);
}

/// The Redistribute request for `fraction` and `dests`.
pub fn redistribute_req(fraction: f32, dests: &[SocketAddr]) -> Vec<u8> {
    let addrs: Vec<String> = dests.iter().map(|d| d.ip().to_string()).collect();
    let nodes = dests
        .iter()
        .zip(&addrs)
        .map(|(d, a)| RedistributeNode {
            address: a.as_bytes(),
            port: d.port(),
        })
        .collect();
    let mut out = Vec::new();
    LogfilesRequest::Redistribute { fraction, nodes }.encode(&mut out);
    out
}

/// Sends Redistribute to `source` and returns the status code it answers.
pub fn redistribute(source: &LogfilesNode, fraction: f32, dests: &[SocketAddr]) -> i32 {
    let mut c = source.connect();
    c.send_raw(&redistribute_req(fraction, dests));
    let reply = c.read_n(4);
    i32::from_le_bytes(reply.try_into().unwrap())
}

/// Every (channel, key, value) over `nodes`, sorted (a multiset), as GetRange over the whole
/// key space returns them.
pub fn everything(nodes: &[&LogfilesNode]) -> Vec<(Vec<u8>, u64, Vec<u8>)> {
    let mut all = Vec::new();
    for n in nodes {
        let mut c = n.connect();
        for ch in CHANNELS {
            for (k, v) in c.get_range(ch, 0, u64::MAX) {
                all.push((ch.to_vec(), k, v));
            }
        }
    }
    all.sort();
    all
}

/// The multiset of what was put: `per_node[i]` went to node i, in each channel.
pub fn expected(per_channel: &[(&[u8], &[Record])]) -> Vec<(Vec<u8>, u64, Vec<u8>)> {
    let mut all: Vec<_> = per_channel
        .iter()
        .flat_map(|(ch, recs)| recs.iter().map(|(k, v)| (ch.to_vec(), *k, v.clone())))
        .collect();
    all.sort();
    all
}

/// Asserts two multisets are equal, saying how they differ (not printing them whole).
pub fn assert_same(got: &[(Vec<u8>, u64, Vec<u8>)], want: &[(Vec<u8>, u64, Vec<u8>)]) {
    if got == want {
        return;
    }
    let mut count: BTreeMap<(&[u8], u64, usize), i64> = BTreeMap::new();
    for (c, k, v) in want {
        *count.entry((c, *k, v.len())).or_default() += 1;
    }
    for (c, k, v) in got {
        *count.entry((c, *k, v.len())).or_default() -= 1;
    }
    let diff: Vec<_> = count
        .into_iter()
        .filter(|(_, n)| *n != 0)
        .take(10)
        .collect();
    panic!(
        "{} records over the nodes, {} expected; (channel, key, len) missing (+) or extra (-): \
         {diff:?}",
        got.len(),
        want.len()
    );
}

/// Asserts every record of `want` is in `got` at least as often, and that the extra ones fit
/// one batch: a destination that dies while it stores a batch may keep it without having
/// answered, and the source then keeps the batch too (the client's rule: a request whose
/// outcome is unknown is sent again, so a record may be stored twice, never lost).
pub fn assert_nothing_lost(got: &[(Vec<u8>, u64, Vec<u8>)], want: &[(Vec<u8>, u64, Vec<u8>)]) {
    let mut count: BTreeMap<&(Vec<u8>, u64, Vec<u8>), i64> = BTreeMap::new();
    for r in want {
        *count.entry(r).or_default() += 1;
    }
    for r in got {
        *count.entry(r).or_default() -= 1;
    }
    let missing: Vec<_> = count
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(r, _)| (r.1, r.2.len()))
        .take(10)
        .collect();
    assert!(missing.is_empty(), "records lost: (key, len) {missing:?}");
    let extra: usize = count
        .iter()
        .filter(|(_, n)| **n < 0)
        .map(|(r, n)| (-*n) as usize * (32 + r.2.len()))
        .sum();
    assert!(
        extra <= 65_536,
        "{extra} bytes of duplicates, more than one batch"
    );
}

/// Every file under `dir`, as paths relative to it, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The bucket files (`<channel>/<slot>/<bucket>`) of a data directory, with their bytes.
pub fn buckets(data: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    files_under(data)
        .into_iter()
        .filter(|p| p.components().count() == 3)
        .map(|p| {
            let bytes = std::fs::read(data.join(&p)).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Files a move leaves while it runs or after it failed: there must be none when it is over.
pub fn leftovers(data: &Path) -> Vec<PathBuf> {
    files_under(data)
        .into_iter()
        .filter(|p| {
            let s = p.to_string_lossy();
            s.contains(".tmp") || s.contains(".unsent")
        })
        .collect()
}

/// Waits (up to 10 s) until a data directory holds no [`leftovers`] (a put-back's `.tmp` goes
/// once the checkpoint after it is written), then asserts it.
pub fn no_leftovers(data: &Path) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !leftovers(data).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(leftovers(data), Vec::<PathBuf>::new());
}

/// GetSize over `nodes`: (records, bytes) summed.
pub fn total_size(nodes: &[&LogfilesNode]) -> (u64, u64) {
    nodes.iter().fold((0, 0), |(r, b), n| {
        let (nr, nb) = n.connect().size();
        (r + nr, b + nb)
    })
}

/// Records and value bytes of `recs`.
pub fn size_of(recs: &[(Vec<u8>, u64, Vec<u8>)]) -> (u64, u64) {
    (
        recs.len() as u64,
        recs.iter().map(|(_, _, v)| v.len() as u64).sum(),
    )
}

/// The `.tmp.sent` markers under `data`, as text.
pub fn markers(data: &Path) -> Vec<String> {
    files_under(data)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".tmp.sent"))
        .filter_map(|p| std::fs::read_to_string(data.join(p)).ok())
        .collect()
}

/// The destination a marker names as having a batch in flight (the 47 bytes after the
/// acknowledged and end offsets, blank when none is), if it does.
pub fn in_flight_to(marker: &str) -> Option<String> {
    let dest = marker.get(42..89)?.trim();
    (marker.len() == 111 && !dest.is_empty()).then(|| dest.to_owned())
}
