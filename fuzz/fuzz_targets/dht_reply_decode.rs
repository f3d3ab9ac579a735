//! Fuzzes the client-side dht reply decoder for every command: never a panic; a decoded reply
//! re-encodes to bytes that decode to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::dht::{DhtCommand, DhtReply};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else { return };
    let cmd = DhtCommand::ALL[usize::from(selector) % DhtCommand::ALL.len()];
    if let Ok((reply, used)) = DhtReply::decode(cmd, bytes) {
        assert!(used <= bytes.len());
        let mut out = Vec::new();
        reply.encode(&mut out);
        let (again, used_again) = DhtReply::decode(cmd, &out).expect("an encoded reply decodes");
        assert_eq!(again, reply);
        assert_eq!(used_again, out.len());
    }
});
