//! The dht node as a [`Target`]: checked by GetAll of each seeded channel, controlled by a Get
//! of one record.

use super::{batch_payload, config_lines, values, CHECKED, SCRATCH, STREAM, STREAM_BYTES};
use crate::dht::{records, DhtConn, Node};
use crate::hostile::measure::ControlRequest;
use crate::hostile::{Fnv, Limits, Target};
use crate::process::NodeProcess;
use crate::wire::{arr, OK};
use std::path::PathBuf;
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::format_key;
use swarm_protocol::wire::{put_array, put_i32, put_u64};

/// A started, seeded dhtnode.
#[derive(Debug)]
pub struct DhtTarget {
    pub node: Node,
}

impl DhtTarget {
    pub fn start(bin: impl Into<PathBuf>, limits: &Limits) -> DhtTarget {
        let lines = config_lines(limits);
        let borrowed: Vec<_> = lines.iter().map(|(s, k, v)| (*s, *k, v.as_str())).collect();
        let mut node = Node::new(bin, &borrowed);
        node.set("Performance", "write_flush_ms", "1");
        node.start();
        let mut c = node.connect();
        for (i, ch) in CHECKED.iter().enumerate() {
            c.put_all(ch, &records(500, i as u64 + 1, 200));
        }
        c.put_all(STREAM, &records((STREAM_BYTES / 4000) as u64, 9, 8000));
        DhtTarget { node }
    }
}

fn encode(req: DhtRequest<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    req.encode(&mut out);
    out
}

impl Target for DhtTarget {
    fn kind(&self) -> &'static str {
        "dht"
    }

    fn node(&self) -> &NodeProcess {
        &self.node
    }

    fn checksum(&mut self) -> u64 {
        let mut c = self.node.connect();
        Fnv::of_records(CHECKED.iter().chain([&STREAM]).flat_map(|ch| c.get_all(ch)))
    }

    fn control(&mut self) -> ControlRequest {
        let (key, value) = records(500, 1, 200).into_iter().next().unwrap_or_default();
        ControlRequest {
            request: encode(DhtRequest::Get {
                channel: CHECKED[0],
                key: &format_key(key),
            }),
            reply: [&OK[..], &arr(&value)].concat(),
        }
    }

    fn templates(&self) -> Vec<Vec<u8>> {
        let (k, v) = (format_key(7), values(1, 100, 7).concat());
        let batch = batch_payload(&[(format_key(8), v.clone()), (format_key(9), v.clone())]);
        let ch = SCRATCH;
        vec![
            encode(DhtRequest::Put {
                channel: ch,
                key: &k,
                value: &v,
            }),
            encode(DhtRequest::Get {
                channel: ch,
                key: &k,
            }),
            encode(DhtRequest::Exists {
                channel: ch,
                key: &k,
            }),
            encode(DhtRequest::Remove {
                channel: ch,
                key: &k,
            }),
            encode(DhtRequest::GetChannelSize { channel: ch }),
            encode(DhtRequest::GetAll { channel: ch }),
            encode(DhtRequest::GetAllKeys { channel: ch }),
            encode(DhtRequest::GetAllFilter {
                channel: ch,
                filter: b"aa",
            }),
            encode(DhtRequest::PutBatch {
                channel: ch,
                batch: &batch,
            }),
            encode(DhtRequest::GetChannels),
            encode(DhtRequest::GetSize),
            encode(DhtRequest::GetVersion),
        ]
    }

    fn batch_request(&self, batch: &[u8]) -> Option<Vec<u8>> {
        Some(encode(DhtRequest::PutBatch {
            channel: SCRATCH,
            batch,
        }))
    }

    fn slow_request(&self) -> Vec<u8> {
        let value = values(1, 4096, 3).concat();
        encode(DhtRequest::Put {
            channel: SCRATCH,
            key: &format_key(3),
            value: &value,
        })
    }

    fn stream_request(&self) -> Vec<u8> {
        encode(DhtRequest::GetAll { channel: STREAM })
    }

    fn array_head(&self, i: usize, len: u64) -> Vec<u8> {
        let mut b = Vec::new();
        let cmd = match i % 3 {
            0 => DhtCommand::PutBatch,     // channel, then the batch
            1 => DhtCommand::GetAllFilter, // channel, then the filter
            _ => DhtCommand::Put,          // channel, key, then the value (over the record limit)
        };
        put_i32(&mut b, cmd as i32);
        put_array(&mut b, b"big");
        if i % 3 == 2 {
            put_array(&mut b, &format_key(i as u64));
        }
        put_u64(&mut b, len);
        b
    }
}
