//! The logfiles node in tests: [`LogfilesNode`] is a [`NodeProcess`] of a `logfilesnode`
//! binary with test defaults (127.0.0.1 port 0, data in `<dir>/data`, root.log in
//! `<dir>/log`), and [`LogfilesConn`] the logfiles requests over a raw [`Conn`], every reply
//! checked; batch streams are read and decompressed into (key, value) records.

use crate::process::NodeProcess;
use crate::wire::{Conn, OK};
use std::path::PathBuf;
use swarm_protocol::batch::{decompress, Pairs};
use swarm_protocol::key::{format_key, parse_key};
use swarm_protocol::logfiles::{FilterMode, LogfilesRequest};

/// A logfilesnode's directory and process; everything of [`NodeProcess`] through `Deref`.
#[derive(Debug)]
pub struct LogfilesNode(NodeProcess);

impl LogfilesNode {
    /// A node of `bin` over a new temp directory, not started; `overrides` replace or add to
    /// the defaults (127.0.0.1 port 0, data in `<dir>/data`, root.log in `<dir>/log`).
    pub fn new(bin: impl Into<PathBuf>, overrides: &[(&str, &str, &str)]) -> LogfilesNode {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data").display().to_string();
        let log = dir.path().join("log/root.log").display().to_string();
        let defaults = [
            ("Server", "address", "127.0.0.1"),
            ("Server", "port", "0"),
            ("Server", "data_dir", &data),
            ("Performance", "number_of_thread_workers", "4"),
            ("LOG.Root", "file", &log),
        ];
        let mut node = LogfilesNode(NodeProcess::new(bin, dir, &defaults));
        for (s, k, v) in overrides {
            node.set(s, k, v);
        }
        node
    }
}

crate::process::node_kind!(LogfilesNode);

/// A record as the tests see it.
pub type Record = (u64, Vec<u8>);

/// The logfiles requests over a raw connection; every reply is checked.
pub trait LogfilesConn {
    /// Sends `req`'s bytes.
    fn send_logfiles(&mut self, req: &LogfilesRequest<'_>);
    /// Sends `req` and reads exactly `expect.len()` bytes, which must equal `expect`.
    fn exchange_logfiles(&mut self, req: &LogfilesRequest<'_>, expect: &[u8]);
    /// One Put, which must reply Ok.
    fn put(&mut self, channel: &[u8], key: u64, value: &[u8]);
    /// Puts every record, pipelined 500 at a time; every reply must be Ok.
    fn put_all(&mut self, channel: &[u8], records: &[Record]);
    /// Reads a batch stream after its Ok status: every record, in the order sent.
    fn read_stream(&mut self) -> Vec<Record>;
    /// GetAll (Ok expected).
    fn get_all(&mut self, channel: &[u8]) -> Vec<Record>;
    /// GetRange (Ok expected).
    fn get_range(&mut self, channel: &[u8], lo: u64, hi: u64) -> Vec<Record>;
    /// GetAllFilter (Ok expected).
    fn get_all_filter(&mut self, channel: &[u8], filter: &[u8]) -> Vec<Record>;
    /// GetRangeFilter (Ok expected).
    fn get_range_filter(&mut self, channel: &[u8], lo: u64, hi: u64, filter: &[u8]) -> Vec<Record>;
    /// GetRangeRegex (Ok expected).
    fn get_range_regex(
        &mut self,
        channel: &[u8],
        lo: u64,
        hi: u64,
        mode: FilterMode,
        pattern: &[u8],
    ) -> Vec<Record>;
    /// RemoveChannel, which must reply Ok.
    fn remove_channel(&mut self, channel: &[u8]);
    /// The channel names (GetChannels), in the node's order.
    fn channels(&mut self) -> Vec<Vec<u8>>;
    /// GetChannelSize: (records, bytes).
    fn channel_size(&mut self, channel: &[u8]) -> (u64, u64);
    /// GetSize: (records, bytes).
    fn size(&mut self) -> (u64, u64);
}

impl LogfilesConn for Conn {
    fn send_logfiles(&mut self, req: &LogfilesRequest<'_>) {
        let mut out = Vec::new();
        req.encode(&mut out);
        self.send_raw(&out);
    }

    fn exchange_logfiles(&mut self, req: &LogfilesRequest<'_>, expect: &[u8]) {
        self.send_logfiles(req);
        assert_eq!(
            self.read_n(expect.len()),
            expect,
            "reply to {:?}",
            req.command()
        );
    }

    fn put(&mut self, channel: &[u8], key: u64, value: &[u8]) {
        let key = format_key(key);
        self.exchange_logfiles(
            &LogfilesRequest::Put {
                channel,
                key: &key,
                value,
            },
            &OK,
        );
    }

    fn put_all(&mut self, channel: &[u8], records: &[Record]) {
        for chunk in records.chunks(500) {
            let mut out = Vec::new();
            for (key, value) in chunk {
                let key = format_key(*key);
                LogfilesRequest::Put {
                    channel,
                    key: &key,
                    value,
                }
                .encode(&mut out);
            }
            self.send_raw(&out);
            let replies = self.read_n(4 * chunk.len());
            assert!(replies.chunks(4).all(|r| r == OK), "every Put must be Ok");
        }
    }

    fn read_stream(&mut self) -> Vec<Record> {
        let mut records = Vec::new();
        loop {
            let batch = self.read_array();
            if batch.is_empty() {
                return records;
            }
            let raw = decompress(&batch).unwrap();
            for pair in Pairs::new(&raw) {
                let (k, v) = pair.unwrap();
                assert_eq!(k.len(), 16, "keys are 16 hex digits");
                assert!(
                    k.iter()
                        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c)),
                    "keys are lowercase hex: {k:?}"
                );
                records.push((parse_key(k).unwrap(), v.to_vec()));
            }
        }
    }

    fn get_all(&mut self, channel: &[u8]) -> Vec<Record> {
        self.send_logfiles(&LogfilesRequest::GetAll { channel });
        assert_eq!(self.read_n(4), OK, "GetAll status");
        self.read_stream()
    }

    fn get_range(&mut self, channel: &[u8], lo: u64, hi: u64) -> Vec<Record> {
        let (lower, upper) = (format_key(lo), format_key(hi));
        self.send_logfiles(&LogfilesRequest::GetRange {
            channel,
            lower: &lower,
            upper: &upper,
        });
        assert_eq!(self.read_n(4), OK, "GetRange status");
        self.read_stream()
    }

    fn get_all_filter(&mut self, channel: &[u8], filter: &[u8]) -> Vec<Record> {
        self.send_logfiles(&LogfilesRequest::GetAllFilter { channel, filter });
        assert_eq!(self.read_n(4), OK, "GetAllFilter status");
        self.read_stream()
    }

    fn get_range_filter(&mut self, channel: &[u8], lo: u64, hi: u64, filter: &[u8]) -> Vec<Record> {
        let (lower, upper) = (format_key(lo), format_key(hi));
        self.send_logfiles(&LogfilesRequest::GetRangeFilter {
            channel,
            lower: &lower,
            upper: &upper,
            filter,
        });
        assert_eq!(self.read_n(4), OK, "GetRangeFilter status");
        self.read_stream()
    }

    fn get_range_regex(
        &mut self,
        channel: &[u8],
        lo: u64,
        hi: u64,
        mode: FilterMode,
        pattern: &[u8],
    ) -> Vec<Record> {
        let (lower, upper) = (format_key(lo), format_key(hi));
        self.send_logfiles(&LogfilesRequest::GetRangeRegex {
            channel,
            lower: &lower,
            upper: &upper,
            mode,
            pattern,
        });
        assert_eq!(self.read_n(4), OK, "GetRangeRegex status");
        self.read_stream()
    }

    fn remove_channel(&mut self, channel: &[u8]) {
        self.exchange_logfiles(&LogfilesRequest::RemoveChannel { channel }, &OK);
    }

    fn channels(&mut self) -> Vec<Vec<u8>> {
        self.send_logfiles(&LogfilesRequest::GetChannels);
        assert_eq!(self.read_n(4), OK, "GetChannels status");
        self.read_list()
    }

    fn channel_size(&mut self, channel: &[u8]) -> (u64, u64) {
        self.send_logfiles(&LogfilesRequest::GetChannelSize { channel });
        assert_eq!(self.read_n(4), OK, "GetChannelSize status");
        self.read_size_fields()
    }

    fn size(&mut self) -> (u64, u64) {
        self.send_logfiles(&LogfilesRequest::GetSize);
        assert_eq!(self.read_n(4), OK, "GetSize status");
        self.read_size_fields()
    }
}
