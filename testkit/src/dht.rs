//! The dht node in tests: [`Node`] is a [`NodeProcess`] of a `dhtnode` binary with the dht
//! config's defaults (full hash range, 127.0.0.1 port 0, data in `<dir>/data`, root.log in
//! `<dir>/log`), [`DhtConn`] the dht requests over a raw [`Conn`], and deterministic
//! [`records`].

use crate::process::NodeProcess;
use crate::wire::{Conn, OK};
use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use swarm_protocol::batch::{decompress, Pairs};
use swarm_protocol::dht::{DhtRequest, RedistributeNode};
use swarm_protocol::format_key;
use swarm_protocol::HashRange;

/// A channel's records, by key.
pub type Records = BTreeMap<u64, Vec<u8>>;

/// A dhtnode's directory and process; everything of [`NodeProcess`] through `Deref`.
#[derive(Debug)]
pub struct Node(NodeProcess);

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
        let defaults = [
            ("Server", "address", "127.0.0.1"),
            ("Server", "port", "0"),
            ("Server", "minval", "0x0000000000000000"),
            ("Server", "maxval", "0xffffffffffffffff"),
            ("Server", "data_dir", &data),
            ("LOG.Root", "file", &log),
        ];
        let mut node = Node(NodeProcess::new(bin, dir, &defaults));
        for (s, k, v) in overrides {
            node.set(s, k, v);
        }
        node
    }

    /// Sets `minval` and `maxval`.
    pub fn set_range(&mut self, min: u64, max: u64) {
        self.set("Server", "minval", &format!("0x{min:016x}"));
        self.set("Server", "maxval", &format!("0x{max:016x}"));
    }
}

crate::process::node_kind!(Node);

/// The dht requests over a raw connection; every reply is checked.
pub trait DhtConn {
    fn send(&mut self, req: &DhtRequest<'_>);
    /// Sends `req` and reads exactly `expect.len()` bytes, which must equal `expect`.
    fn exchange(&mut self, req: &DhtRequest<'_>, expect: &[u8]);
    /// Reads a GetAll-style stream after its status: the decompressed batches.
    fn read_batches(&mut self) -> Vec<Vec<u8>>;
    /// Puts every record, pipelined 500 at a time; every reply must be Ok.
    fn put_all(&mut self, channel: &[u8], records: &Records);
    /// One Put, which must reply Ok.
    fn put(&mut self, channel: &[u8], key: u64, value: &[u8]);
    fn remove(&mut self, channel: &[u8], key: u64);
    fn remove_channel(&mut self, channel: &[u8]);
    /// Every record of a channel through GetAll; no key may come twice.
    fn get_all(&mut self, channel: &[u8]) -> Records;
    /// The channel names (GetChannels), sorted.
    fn channels(&mut self) -> Vec<Vec<u8>>;
    /// GetResponsibleRange.
    fn range(&mut self) -> HashRange;
    /// A Redistribute giving this node `own` and listing `others` with their new ranges (the
    /// addresses as IP text, as the driver sends them); the status code it answers with.
    fn redistribute(&mut self, own: HashRange, others: &[(SocketAddr, HashRange)]) -> i32;
}

impl DhtConn for Conn {
    fn send(&mut self, req: &DhtRequest<'_>) {
        let mut out = Vec::new();
        req.encode(&mut out);
        self.send_raw(&out);
    }

    fn exchange(&mut self, req: &DhtRequest<'_>, expect: &[u8]) {
        self.send(req);
        assert_eq!(
            self.read_n(expect.len()),
            expect,
            "reply to {:?}",
            req.command()
        );
    }

    fn read_batches(&mut self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let payload = self.read_array();
            if payload.is_empty() {
                return out;
            }
            out.push(decompress(&payload).unwrap());
        }
    }

    fn put_all(&mut self, channel: &[u8], records: &Records) {
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

    fn put(&mut self, channel: &[u8], key: u64, value: &[u8]) {
        self.exchange(
            &DhtRequest::Put {
                channel,
                key: &format_key(key),
                value,
            },
            &OK,
        );
    }

    fn remove(&mut self, channel: &[u8], key: u64) {
        let key = format_key(key);
        self.exchange(&DhtRequest::Remove { channel, key: &key }, &OK);
    }

    fn remove_channel(&mut self, channel: &[u8]) {
        self.exchange(&DhtRequest::RemoveChannel { channel }, &OK);
    }

    fn get_all(&mut self, channel: &[u8]) -> Records {
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

    fn channels(&mut self) -> Vec<Vec<u8>> {
        self.exchange(&DhtRequest::GetChannels, &OK);
        let mut out = self.read_list();
        out.sort();
        out
    }

    fn range(&mut self) -> HashRange {
        self.exchange(&DhtRequest::GetResponsibleRange, &OK);
        HashRange {
            min: self.read_u64(),
            max: self.read_u64(),
        }
    }

    fn redistribute(&mut self, own: HashRange, others: &[(SocketAddr, HashRange)]) -> i32 {
        let ips: Vec<String> = others.iter().map(|(a, _)| a.ip().to_string()).collect();
        let nodes = others
            .iter()
            .zip(&ips)
            .map(|((a, r), ip)| RedistributeNode {
                address: ip.as_bytes(),
                port: a.port(),
                min: r.min,
                max: r.max,
            })
            .collect();
        self.send(&DhtRequest::Redistribute {
            min: own.min,
            max: own.max,
            nodes,
        });
        i32::from_le_bytes(self.read_n(4).try_into().unwrap())
    }
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
