//! Fuzzes the queue request decoder and the stream record decoder: never a panic; a decoded
//! request re-encodes to bytes that decode to the same request; the length hint of a partial
//! request is past the bytes there and exact for a whole request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::queue::{decode_stream_record, QueueRequest};
use swarm_protocol::DecodeError;

fuzz_target!(|data: &[u8]| {
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
        Err(DecodeError::Incomplete) => {
            if let Some(n) = QueueRequest::needed_len(data) {
                assert!(n > data.len(), "hint {n} for {} bytes", data.len());
            }
        }
        Err(_) => {}
    }
    if let Ok((_, used)) = decode_stream_record(data) {
        assert!(used <= data.len());
    }
});
