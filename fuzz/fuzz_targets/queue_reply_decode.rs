//! Fuzzes the client-side queue reply decoder for every command, and the Consume batch decoder:
//! never a panic; a decoded reply re-encodes to bytes that decode to the same reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::queue::{ConsumeBatch, QueueCommand, QueueReply};

fuzz_target!(|data: &[u8]| {
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
});
