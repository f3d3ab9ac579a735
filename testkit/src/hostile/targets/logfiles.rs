//! The logfiles node as a [`Target`]: checked by GetAll of each seeded channel, controlled by a
//! GetChannelSize of a checked channel (its reply fixed while nothing is written there).

use super::{batch_payload, config_lines, values, CHECKED, SCRATCH, STREAM, STREAM_BYTES};
use crate::hostile::measure::ControlRequest;
use crate::hostile::{Fnv, Limits, Target};
use crate::logfiles::{LogfilesConn, LogfilesNode, Record};
use crate::process::NodeProcess;
use crate::wire::arr;
use std::path::PathBuf;
use swarm_protocol::key::format_key;
use swarm_protocol::logfiles::{FilterMode, LogfilesRequest};
use swarm_protocol::wire::{put_array, put_i32, put_u64};

/// Legacy codes of the requests [`LogfilesTarget::array_head`] announces arrays in.
const PUT: i32 = 3;
const PUT_BATCH: i32 = 36;

/// A started, seeded logfilesnode.
#[derive(Debug)]
pub struct LogfilesTarget {
    pub node: LogfilesNode,
}

/// `n` records with increasing keys (timestamps) from `base`, values of `len` bytes.
fn stamped(n: usize, len: usize, base: u64) -> Vec<Record> {
    let keys = (0..n as u64).map(|i| base + i * 7);
    keys.zip(values(n, len, base)).collect()
}

impl LogfilesTarget {
    pub fn start(bin: impl Into<PathBuf>, limits: &Limits) -> LogfilesTarget {
        let lines = config_lines(limits);
        let borrowed: Vec<_> = lines.iter().map(|(s, k, v)| (*s, *k, v.as_str())).collect();
        let mut node = LogfilesNode::new(bin, &borrowed);
        node.start();
        let mut c = node.connect();
        for (i, ch) in CHECKED.iter().enumerate() {
            c.put_all(ch, &stamped(500, 200, 0x5000_0000 + i as u64 * 0x10_0000));
        }
        c.put_all(STREAM, &stamped(STREAM_BYTES / 4000, 4000, 0x5100_0000));
        LogfilesTarget { node }
    }
}

fn encode(req: LogfilesRequest<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    req.encode(&mut out);
    out
}

impl Target for LogfilesTarget {
    fn kind(&self) -> &'static str {
        "logfiles"
    }

    fn node(&self) -> &NodeProcess {
        &self.node
    }

    fn checksum(&mut self) -> u64 {
        let mut c = self.node.connect();
        Fnv::of_records(CHECKED.iter().chain([&STREAM]).flat_map(|ch| c.get_all(ch)))
    }

    fn control(&mut self) -> ControlRequest {
        let request = encode(LogfilesRequest::GetChannelSize {
            channel: CHECKED[0],
        });
        let mut c = self.node.connect();
        c.send_raw(&request);
        let status = c.read_n(4);
        let address = c.read_array();
        let rest = c.read_n(2 + 16);
        ControlRequest {
            request,
            reply: [&status[..], &arr(&address), &rest].concat(),
        }
    }

    fn templates(&self) -> Vec<Vec<u8>> {
        let (k, k2, v) = (
            format_key(0x6000),
            format_key(0x7000),
            values(1, 100, 7).concat(),
        );
        let batch = batch_payload(&[(format_key(0x6001), v.clone())]);
        let ch = SCRATCH;
        vec![
            encode(LogfilesRequest::Put {
                channel: ch,
                key: &k,
                value: &v,
            }),
            encode(LogfilesRequest::GetChannelSize { channel: ch }),
            encode(LogfilesRequest::GetAll { channel: ch }),
            encode(LogfilesRequest::GetRange {
                channel: ch,
                lower: &k,
                upper: &k2,
            }),
            encode(LogfilesRequest::GetAllFilter {
                channel: ch,
                filter: b"aa",
            }),
            encode(LogfilesRequest::GetRangeFilter {
                channel: ch,
                lower: &k,
                upper: &k2,
                filter: b"a",
            }),
            encode(LogfilesRequest::GetRangeRegex {
                channel: ch,
                lower: &k,
                upper: &k2,
                mode: FilterMode::PcreCaseInsensitive,
                pattern: b"a+(b|c)*",
            }),
            encode(LogfilesRequest::PutBatch {
                channel: ch,
                batch: &batch,
            }),
            encode(LogfilesRequest::GetChannels),
            encode(LogfilesRequest::GetSize),
            encode(LogfilesRequest::GetVersion),
            encode(LogfilesRequest::GetNumConnections),
        ]
    }

    fn batch_request(&self, batch: &[u8]) -> Option<Vec<u8>> {
        Some(encode(LogfilesRequest::PutBatch {
            channel: SCRATCH,
            batch,
        }))
    }

    fn slow_request(&self) -> Vec<u8> {
        let value = values(1, 4096, 3).concat();
        encode(LogfilesRequest::Put {
            channel: SCRATCH,
            key: &format_key(0x6002),
            value: &value,
        })
    }

    fn stream_request(&self) -> Vec<u8> {
        let (lo, hi) = (format_key(0), format_key(u64::MAX >> 1));
        encode(LogfilesRequest::GetRange {
            channel: STREAM,
            lower: &lo,
            upper: &hi,
        })
    }

    fn array_head(&self, i: usize, len: u64) -> Vec<u8> {
        let mut b = Vec::new();
        let put = i % 2 == 0;
        put_i32(&mut b, if put { PUT } else { PUT_BATCH });
        put_array(&mut b, b"big");
        if put {
            put_array(&mut b, &format_key(0x6003 + i as u64));
        }
        put_u64(&mut b, len);
        b
    }
}
