//! Fuzzes the dht request decoder: never a panic; a decoded request re-encodes to bytes that
//! decode to the same request.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::dht::DhtRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok((req, used)) = DhtRequest::decode(data) {
        assert!(used <= data.len());
        let mut out = Vec::new();
        req.encode(&mut out);
        let (again, used_again) = DhtRequest::decode(&out).expect("an encoded request decodes");
        assert_eq!(again, req);
        assert_eq!(used_again, out.len());
    }
});
