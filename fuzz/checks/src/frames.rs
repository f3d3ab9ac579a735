//! Checks of the wire decoders on raw bytes: the request decoders the nodes run on what a
//! client sends, and the reply decoders the client runs on what a node sends. A decoded message
//! re-encodes to bytes that decode to it again; a length hint for a partial request lies past
//! the bytes there (the loop's input budget reserves it) and is exact for a whole request.

use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest};
use swarm_protocol::logfiles::{
    decode_batch_item, LogfilesCommand, LogfilesReply, LogfilesRequest,
};
use swarm_protocol::queue::{
    decode_stream_record, ConsumeBatch, QueueCommand, QueueReply, QueueRequest,
};
use swarm_protocol::DecodeError;

/// The dht request decoder, its length hint, and the oversized-Put head the node answers
/// without buffering the value.
pub fn dht_request_decode(data: &[u8]) {
    match DhtRequest::decode(data) {
        Ok((req, used)) => {
            assert!(used <= data.len());
            if req.command() != DhtCommand::Redistribute {
                assert_eq!(DhtRequest::needed_len(data), Some(used));
            }
            let mut out = Vec::new();
            req.encode(&mut out);
            let (again, used_again) = DhtRequest::decode(&out).expect("an encoded request decodes");
            assert_eq!(again, req);
            assert_eq!(used_again, out.len());
        }
        Err(DecodeError::Incomplete) => hint_past(DhtRequest::needed_len(data), data),
        Err(_) => {}
    }
    let limit = data.first().map_or(0, |&b| u64::from(b) * 256);
    if let Some(put) = DhtRequest::oversized_put(data, limit) {
        assert!(put.head_len <= data.len());
        assert!(put.value_len > limit);
    }
}

/// The queue request decoder, its length hint, and the Produce stream's record decoder.
pub fn queue_request_decode(data: &[u8]) {
    match QueueRequest::decode(data) {
        Ok((req, used)) => {
            assert!(used <= data.len());
            assert_eq!(QueueRequest::needed_len(data), Some(used));
            let mut out = Vec::new();
            req.encode(&mut out);
            let (again, used_again) =
                QueueRequest::decode(&out).expect("an encoded request decodes");
            assert_eq!(again, req);
            assert_eq!(used_again, out.len());
        }
        Err(DecodeError::Incomplete) => hint_past(QueueRequest::needed_len(data), data),
        Err(_) => {}
    }
    if let Ok((_, used)) = decode_stream_record(data) {
        assert!(used <= data.len());
    }
}

/// The logfiles request decoder (a decoded request re-encodes to exactly the bytes it came
/// from, compared as bytes so a NaN Redistribute fraction still counts), its length hint, and
/// the batch-stream item decoder.
pub fn logfiles_request_decode(data: &[u8]) {
    match LogfilesRequest::decode(data) {
        Ok((req, used)) => {
            assert!(used <= data.len());
            assert_eq!(LogfilesRequest::needed_len(data), Some(used));
            let mut out = Vec::new();
            req.encode(&mut out);
            assert_eq!(out, &data[..used]);
        }
        Err(DecodeError::Incomplete) => hint_past(LogfilesRequest::needed_len(data), data),
        Err(_) => {}
    }
    if let Ok((_, used)) = decode_batch_item(data) {
        assert!(used <= data.len());
    }
}

fn hint_past(hint: Option<usize>, data: &[u8]) {
    if let Some(n) = hint {
        assert!(n > data.len(), "hint {n} for {} bytes", data.len());
    }
}

/// The client's dht reply decoder, for the command the first byte picks.
pub fn dht_reply_decode(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let cmd = DhtCommand::ALL[usize::from(selector) % DhtCommand::ALL.len()];
    if let Ok((reply, used)) = DhtReply::decode(cmd, bytes) {
        assert!(used <= bytes.len());
        let mut out = Vec::new();
        reply.encode(&mut out);
        let (again, used_again) = DhtReply::decode(cmd, &out).expect("an encoded reply decodes");
        assert_eq!(again, reply);
        assert_eq!(used_again, out.len());
    }
}

/// The client's queue reply decoder, for the command the first byte picks, and its Consume
/// batch decoder.
pub fn queue_reply_decode(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let cmd = QueueCommand::ALL[usize::from(selector) % QueueCommand::ALL.len()];
    if let Ok((reply, used)) = QueueReply::decode(cmd, bytes) {
        assert!(used <= bytes.len());
        let mut out = Vec::new();
        reply.encode(&mut out);
        let (again, used_again) = QueueReply::decode(cmd, &out).expect("an encoded reply decodes");
        assert_eq!(again, reply);
        assert_eq!(used_again, out.len());
    }
    if let Ok((batch, used)) = ConsumeBatch::decode(bytes) {
        assert!(used <= bytes.len());
        assert!(used >= batch.records.len() * 8);
    }
}

/// The client's logfiles reply decoder, for the command the first byte picks (a batch stream's
/// head for GetAll/GetRange*), and the batch-stream item decoder that reads what follows it.
pub fn logfiles_reply_decode(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let cmd = LogfilesCommand::ALL[usize::from(selector) % LogfilesCommand::ALL.len()];
    if let Ok((reply, used)) = LogfilesReply::decode(cmd, bytes) {
        assert!(used <= bytes.len());
        let mut out = Vec::new();
        reply.encode(&mut out);
        let (again, used_again) =
            LogfilesReply::decode(cmd, &out).expect("an encoded reply decodes");
        assert_eq!(again, reply);
        assert_eq!(used_again, out.len());
    }
    let mut at = 0;
    while let Ok((_, used)) = decode_batch_item(&bytes[at..]) {
        assert!(used > 0 && at + used <= bytes.len());
        at += used;
    }
}
