//! The queue node as a [`Target`]: checked by the checked channels' sizes while it runs (a read
//! must not pop) and, at the end, by draining them and comparing with what was pushed;
//! controlled by a Push and a Pop on the control client's own channel.

use super::{config_lines, values, CHECKED, SCRATCH, STREAM, STREAM_BYTES};
use crate::hostile::measure::ControlRequest;
use crate::hostile::{Fnv, Limits, Target};
use crate::process::NodeProcess;
use crate::queue::{QueueConn, QueueNode};
use crate::wire::{arr, OK};
use std::path::PathBuf;
use swarm_protocol::queue::QueueRequest;
use swarm_protocol::wire::{put_array, put_i32, put_u64};

/// A started, seeded queuenode, and what it was given.
#[derive(Debug)]
pub struct QueueTarget {
    pub node: QueueNode,
    pushed: Vec<Vec<Vec<u8>>>,
}

impl QueueTarget {
    pub fn start(bin: impl Into<PathBuf>, limits: &Limits) -> QueueTarget {
        let lines = config_lines(limits);
        let borrowed: Vec<_> = lines.iter().map(|(s, k, v)| (*s, *k, v.as_str())).collect();
        let mut node = QueueNode::new(bin, &borrowed);
        // Room for the stream channel; the checked ones are small.
        node.set(
            "Server",
            "channel_size_limit",
            &(4 * STREAM_BYTES).to_string(),
        );
        node.start();
        let mut c = node.connect();
        let pushed: Vec<_> = (0..CHECKED.len())
            .map(|i| values(500, 100, i as u64 + 1))
            .collect();
        for (ch, v) in CHECKED.iter().zip(&pushed) {
            c.push_all(ch, v);
        }
        c.push_all(STREAM, &values(STREAM_BYTES / 4000, 4000, 9));
        QueueTarget { node, pushed }
    }
}

fn encode(req: QueueRequest<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    req.encode(&mut out);
    out
}

impl Target for QueueTarget {
    fn kind(&self) -> &'static str {
        "queue"
    }

    fn node(&self) -> &NodeProcess {
        &self.node
    }

    fn checksum(&mut self) -> u64 {
        let mut c = self.node.connect();
        let mut sum = Fnv::default();
        for ch in CHECKED {
            let (records, bytes) = c.channel_size(ch);
            sum.add(&records.to_le_bytes());
            sum.add(&bytes.to_le_bytes());
        }
        sum.0
    }

    fn final_check(&mut self) -> Result<(), String> {
        let mut c = self.node.connect();
        for (ch, pushed) in CHECKED.iter().zip(&self.pushed) {
            let got = c.pop_all(ch);
            if &got != pushed {
                return Err(format!(
                    "{} drained {} records, {} pushed, or in another order",
                    String::from_utf8_lossy(ch),
                    got.len(),
                    pushed.len()
                ));
            }
        }
        Ok(())
    }

    fn control(&mut self) -> ControlRequest {
        let value = b"control record";
        let request = [
            encode(QueueRequest::Push {
                channel: b"ctl",
                value,
            }),
            encode(QueueRequest::Pop { channel: b"ctl" }),
        ]
        .concat();
        ControlRequest {
            request,
            reply: [&OK[..], &OK, &arr(value)].concat(),
        }
    }

    fn templates(&self) -> Vec<Vec<u8>> {
        let v = values(1, 100, 7).concat();
        let ch = SCRATCH;
        vec![
            encode(QueueRequest::Push {
                channel: ch,
                value: &v,
            }),
            encode(QueueRequest::Pop { channel: ch }),
            encode(QueueRequest::GetChannelSize { channel: ch }),
            encode(QueueRequest::Consume { channel: ch }),
            encode(QueueRequest::PushMulti {
                channels: vec![ch, b"zy"],
                value: &v,
            }),
            encode(QueueRequest::PushMulti2 {
                channels: vec![ch],
                value: &v,
            }),
            [
                encode(QueueRequest::Produce { channel: ch }),
                arr(&v),
                arr(&v),
            ]
            .concat(),
            [
                encode(QueueRequest::ProduceMulti { channels: vec![ch] }),
                arr(&v),
            ]
            .concat(),
            encode(QueueRequest::GetChannels),
            encode(QueueRequest::GetSize),
            encode(QueueRequest::GetSizeLimit),
            encode(QueueRequest::GetNumConnections),
        ]
    }

    fn batch_request(&self, _batch: &[u8]) -> Option<Vec<u8>> {
        None // the queue takes no LZO batches
    }

    fn slow_request(&self) -> Vec<u8> {
        let value = values(1, 4096, 3).concat();
        encode(QueueRequest::Push {
            channel: SCRATCH,
            value: &value,
        })
    }

    fn stream_request(&self) -> Vec<u8> {
        encode(QueueRequest::Consume { channel: STREAM })
    }

    fn array_head(&self, i: usize, len: u64) -> Vec<u8> {
        let mut b = Vec::new();
        if i % 2 == 0 {
            put_i32(&mut b, 1); // Push: channel, then the value
            put_array(&mut b, b"big");
        } else {
            put_i32(&mut b, 9); // PushMulti: the channel list, then the value
            put_array(&mut b, b"big");
            put_array(&mut b, b"");
        }
        put_u64(&mut b, len);
        b
    }
}
