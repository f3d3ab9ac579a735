//! Fuzzes the logfiles request decoder and the batch-stream item decoder: never a panic; a
//! decoded request re-encodes to exactly the bytes it was decoded from (compared as bytes, so a
//! NaN Redistribute fraction still counts as equal); the length hint of a partial request is
//! past the bytes there and exact for a whole request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::logfiles::{decode_batch_item, LogfilesRequest};
use swarm_protocol::DecodeError;

fuzz_target!(|data: &[u8]| {
    match LogfilesRequest::decode(data) {
        Ok((req, used)) => {
            assert!(used <= data.len());
            assert_eq!(LogfilesRequest::needed_len(data), Some(used));
            let mut out = Vec::new();
            req.encode(&mut out);
            assert_eq!(out, &data[..used]);
        }
        Err(DecodeError::Incomplete) => {
            if let Some(n) = LogfilesRequest::needed_len(data) {
                assert!(n > data.len(), "hint {n} for {} bytes", data.len());
            }
        }
        Err(_) => {}
    }
    if let Ok((_, used)) = decode_batch_item(data) {
        assert!(used <= data.len());
    }
});
