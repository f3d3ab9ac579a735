//! The queue node in tests: [`QueueNode`] is a [`NodeProcess`] of a `queuenode` binary with
//! test defaults (127.0.0.1 port 0, 1 MiB rings, data in `<dir>/data`, root.log in
//! `<dir>/log`), and [`QueueConn`] the queue requests over a raw [`Conn`], every reply checked.

use crate::process::NodeProcess;
use crate::wire::{Conn, OK};
use std::path::PathBuf;
use swarm_protocol::queue::{QueueCommand, QueueRequest};

/// A queuenode's directory and process; everything of [`NodeProcess`] through `Deref`.
#[derive(Debug)]
pub struct QueueNode(NodeProcess);

impl QueueNode {
    /// A node of `bin` over a new temp directory, not started; `overrides` replace or add to
    /// the defaults (127.0.0.1 port 0, `channel_size_limit` 1 MiB, data in `<dir>/data`,
    /// root.log in `<dir>/log`).
    pub fn new(bin: impl Into<PathBuf>, overrides: &[(&str, &str, &str)]) -> QueueNode {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data").display().to_string();
        let log = dir.path().join("log/root.log").display().to_string();
        let defaults = [
            ("Server", "address", "127.0.0.1"),
            ("Server", "port", "0"),
            ("Server", "channel_size_limit", "1048576"),
            ("Server", "data_dir", &data),
            ("LOG.Root", "file", &log),
        ];
        let mut node = QueueNode(NodeProcess::new(bin, dir, &defaults));
        for (s, k, v) in overrides {
            node.set(s, k, v);
        }
        node
    }
}

crate::process::node_kind!(QueueNode);

/// The queue requests over a raw connection; every reply is checked.
pub trait QueueConn {
    /// Sends `req`'s bytes.
    fn send_queue(&mut self, req: &QueueRequest<'_>);
    /// Sends `req` and reads exactly `expect.len()` bytes, which must equal `expect`.
    fn exchange_queue(&mut self, req: &QueueRequest<'_>, expect: &[u8]);
    /// One Push, which must reply Ok.
    fn push(&mut self, channel: &[u8], value: &[u8]);
    /// Pushes every value, pipelined 500 at a time; every reply must be Ok.
    fn push_all(&mut self, channel: &[u8], values: &[Vec<u8>]);
    /// One Pop (Ok expected): the record, `None` for the empty reply.
    fn pop(&mut self, channel: &[u8]) -> Option<Vec<u8>>;
    /// Pops until the empty reply, pipelined 500 at a time.
    fn pop_all(&mut self, channel: &[u8]) -> Vec<Vec<u8>>;
    /// RemoveChannel, which must reply Ok.
    fn remove_channel(&mut self, channel: &[u8]);
    /// The channel names (GetChannels), in the node's order.
    fn channels(&mut self) -> Vec<Vec<u8>>;
    /// GetChannelSize: (records, bytes).
    fn channel_size(&mut self, channel: &[u8]) -> (u64, u64);
}

impl QueueConn for Conn {
    fn send_queue(&mut self, req: &QueueRequest<'_>) {
        let mut out = Vec::new();
        req.encode(&mut out);
        self.send_raw(&out);
    }

    fn exchange_queue(&mut self, req: &QueueRequest<'_>, expect: &[u8]) {
        self.send_queue(req);
        assert_eq!(
            self.read_n(expect.len()),
            expect,
            "reply to {:?}",
            req.command()
        );
    }

    fn push(&mut self, channel: &[u8], value: &[u8]) {
        self.exchange_queue(&QueueRequest::Push { channel, value }, &OK);
    }

    fn push_all(&mut self, channel: &[u8], values: &[Vec<u8>]) {
        for chunk in values.chunks(500) {
            let mut out = Vec::new();
            for value in chunk {
                QueueRequest::Push { channel, value }.encode(&mut out);
            }
            self.send_raw(&out);
            let replies = self.read_n(4 * chunk.len());
            assert!(replies.chunks(4).all(|r| r == OK), "every Push must be Ok");
        }
    }

    fn pop(&mut self, channel: &[u8]) -> Option<Vec<u8>> {
        self.send_queue(&QueueRequest::Pop { channel });
        assert_eq!(self.read_n(4), OK, "Pop status");
        let v = self.read_array();
        (!v.is_empty()).then_some(v)
    }

    fn pop_all(&mut self, channel: &[u8]) -> Vec<Vec<u8>> {
        let mut records = Vec::new();
        loop {
            let mut out = Vec::new();
            for _ in 0..500 {
                QueueRequest::Pop { channel }.encode(&mut out);
            }
            self.send_raw(&out);
            let mut empty = false;
            for _ in 0..500 {
                assert_eq!(self.read_n(4), OK, "Pop status");
                let v = self.read_array();
                if v.is_empty() {
                    empty = true;
                } else {
                    assert!(!empty, "a record after an empty Pop");
                    records.push(v);
                }
            }
            if empty {
                return records;
            }
        }
    }

    fn remove_channel(&mut self, channel: &[u8]) {
        self.exchange_queue(&QueueRequest::RemoveChannel { channel }, &OK);
    }

    fn channels(&mut self) -> Vec<Vec<u8>> {
        self.send_queue(&QueueRequest::GetChannels);
        assert_eq!(self.read_n(4), OK, "GetChannels status");
        self.read_list()
    }

    fn channel_size(&mut self, channel: &[u8]) -> (u64, u64) {
        self.send_queue(&QueueRequest::GetChannelSize { channel });
        assert_eq!(
            self.read_n(4),
            OK,
            "{:?} status",
            QueueCommand::GetChannelSize
        );
        self.read_size_fields()
    }
}
