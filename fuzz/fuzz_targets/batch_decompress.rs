//! Fuzzes LZO record batch decompression and item parsing: never a panic, never more than the
//! announced (and limited) length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use swarm_protocol::batch::{decompress, Items, MAX_BATCH_RAW_LEN};

fuzz_target!(|data: &[u8]| {
    if let Ok(raw) = decompress(data) {
        assert!(raw.len() as u64 <= MAX_BATCH_RAW_LEN);
        let mut items = Items::new(&raw);
        while let Some(item) = items.next_item() {
            if item.is_err() {
                break;
            }
        }
    }
});
