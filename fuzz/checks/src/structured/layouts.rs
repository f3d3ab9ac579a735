//! The request layouts of each node kind by command code, written from spec/dht.md,
//! spec/queue.md and spec/logfiles.md section 2 rather than taken from the decoders, so a
//! decoder that reads a field the spec does not have (or misses one) fails the structured
//! check. The tests hold each table to its kind's command list.

use swarm_protocol::dht::DhtRequest;
use swarm_protocol::logfiles::LogfilesRequest;
use swarm_protocol::queue::QueueRequest;
use swarm_protocol::DecodeError;

/// One field after a request's i32 code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    /// `u64 length` and that many bytes.
    Arr,
    /// An `Arr` holding a key (16 hex digits, mostly).
    Key,
    /// Non-empty `Arr`s ended by an empty one.
    List,
    /// GetRangeRegex's filter mode byte (0, 1 or 2).
    Mode,
    /// A u64 (dht Redistribute's range).
    U64,
    /// An f32 (logfiles Redistribute's fraction).
    F32,
    /// Dht Redistribute's nodes: `Arr(address) u16(port) u64(min) u64(max)`, then an empty `Arr`.
    DhtNodes,
    /// Logfiles Redistribute's nodes: `Arr(address) u16(port)`, then an empty `Arr`.
    LogfilesNodes,
    /// An `Arr` holding a compressed batch of (key, value) pairs.
    Batch,
}

use Field::{Arr, Batch, DhtNodes, Key, List, LogfilesNodes, Mode, F32, U64};

/// A command's code and its fields.
pub(super) type Layout = (i32, &'static [Field]);

/// A request decoded and encoded again: the bytes, and how many of the input it used.
pub(super) type Decoded = Result<(Vec<u8>, usize), DecodeError>;

/// A node kind's request codec as the structured check drives it.
pub(super) struct Codec {
    /// Every command.
    pub layouts: &'static [Layout],
    /// Decodes a request: its re-encoding and the bytes it used.
    pub decode: fn(&[u8]) -> Decoded,
    /// The kind's length hint.
    pub needed_len: fn(&[u8]) -> Option<usize>,
    /// Codes with no length hint (not made of arrays only).
    pub no_hint: &'static [i32],
    /// The raw check the mutated frame goes through.
    pub raw: crate::Check,
}

pub(super) const DHT: Codec = Codec {
    layouts: &[
        (1, &[Arr, Key, Arr]),       // Put
        (7, &[Arr, Key]),            // Get
        (11, &[Arr, Key]),           // Exists
        (12, &[Arr, Key]),           // Remove
        (17, &[]),                   // GetChannels
        (18, &[Arr]),                // GetChannelSize
        (19, &[]),                   // GetSize
        (20, &[]),                   // GetResponsibleRange
        (22, &[Arr]),                // RemoveChannel
        (23, &[]),                   // GetNumConnections
        (24, &[]),                   // GetVersion
        (25, &[Arr]),                // Listen
        (29, &[Arr]),                // GetAll
        (30, &[Arr]),                // GetAllKeys
        (31, &[Arr, Arr]),           // GetAllFilter
        (33, &[U64, U64, DhtNodes]), // Redistribute
        (34, &[Arr, Batch]),         // PutBatch
    ],
    decode: |buf| {
        DhtRequest::decode(buf).map(|(req, used)| {
            let mut out = Vec::new();
            req.encode(&mut out);
            (out, used)
        })
    },
    needed_len: DhtRequest::needed_len,
    no_hint: &[33],
    raw: crate::dht_request_decode,
};

pub(super) const QUEUE: Codec = Codec {
    layouts: &[
        (1, &[Arr, Arr]),   // Push
        (2, &[Arr]),        // Pop
        (3, &[]),           // GetChannels
        (4, &[Arr]),        // GetChannelSize
        (5, &[]),           // GetSize
        (6, &[Arr]),        // Consume
        (7, &[]),           // GetSizeLimit
        (8, &[]),           // GetNumConnections
        (9, &[List, Arr]),  // PushMulti
        (10, &[Arr]),       // Produce
        (11, &[List]),      // ProduceMulti
        (12, &[Arr]),       // RemoveChannel
        (13, &[List, Arr]), // PushMulti2
    ],
    decode: |buf| {
        QueueRequest::decode(buf).map(|(req, used)| {
            let mut out = Vec::new();
            req.encode(&mut out);
            (out, used)
        })
    },
    needed_len: QueueRequest::needed_len,
    no_hint: &[],
    raw: crate::queue_request_decode,
};

pub(super) const LOGFILES: Codec = Codec {
    layouts: &[
        (3, &[Arr, Key, Arr]),             // Put
        (17, &[]),                         // GetChannels
        (18, &[Arr]),                      // GetChannelSize
        (19, &[]),                         // GetSize
        (22, &[Arr]),                      // RemoveChannel
        (23, &[]),                         // GetNumConnections
        (24, &[]),                         // GetVersion
        (28, &[Arr, Key, Key]),            // GetRange
        (29, &[Arr]),                      // GetAll
        (31, &[Arr, Arr]),                 // GetAllFilter
        (32, &[Arr, Key, Key, Arr]),       // GetRangeFilter
        (34, &[Arr, Key, Key, Mode, Arr]), // GetRangeRegex
        (35, &[F32, LogfilesNodes]),       // Redistribute
        (36, &[Arr, Batch]),               // PutBatch
    ],
    decode: |buf| {
        LogfilesRequest::decode(buf).map(|(req, used)| {
            let mut out = Vec::new();
            req.encode(&mut out);
            (out, used)
        })
    },
    needed_len: LogfilesRequest::needed_len,
    no_hint: &[],
    raw: crate::logfiles_request_decode,
};

#[cfg(test)]
mod tests {
    use super::*;
    use swarm_protocol::dht::DhtCommand;
    use swarm_protocol::logfiles::LogfilesCommand;
    use swarm_protocol::queue::QueueCommand;

    fn codes(codec: &Codec) -> Vec<i32> {
        codec.layouts.iter().map(|&(c, _)| c).collect()
    }

    #[test]
    fn every_command_has_a_layout() {
        let dht: Vec<i32> = DhtCommand::ALL.iter().map(|c| c.code()).collect();
        let queue: Vec<i32> = QueueCommand::ALL.iter().map(|c| c.code()).collect();
        let logfiles: Vec<i32> = LogfilesCommand::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes(&DHT), dht);
        assert_eq!(codes(&QUEUE), queue);
        assert_eq!(codes(&LOGFILES), logfiles);
    }
}
