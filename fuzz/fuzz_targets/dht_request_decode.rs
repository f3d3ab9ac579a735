//! Fuzzes the dht request decoder: never a panic; a decoded request re-encodes to bytes that
//! decode to the same request; the length hint of a partial request (the loop's input budget
//! reserves it) is past the bytes there and exact for a whole request; an oversized Put's head
//! lies within the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::DecodeError;

fuzz_target!(|data: &[u8]| {
    match DhtRequest::decode(data) {
        Ok((req, used)) => {
            assert!(used <= data.len());
            if req.command() != DhtCommand::Redistribute {
                assert_eq!(DhtRequest::needed_len(data), Some(used));
            }
            let mut out = Vec::new();
            req.encode(&mut out);
            let (again, used_again) =
                DhtRequest::decode(&out).expect("an encoded request decodes");
            assert_eq!(again, req);
            assert_eq!(used_again, out.len());
        }
        Err(DecodeError::Incomplete) => {
            if let Some(n) = DhtRequest::needed_len(data) {
                assert!(n > data.len(), "hint {n} for {} bytes", data.len());
            }
        }
        Err(_) => {}
    }
    let limit = data.first().map_or(0, |&b| u64::from(b) * 256);
    if let Some(put) = DhtRequest::oversized_put(data, limit) {
        assert!(put.head_len <= data.len());
        assert!(put.value_len > limit);
    }
});
