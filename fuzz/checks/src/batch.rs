//! Check of the LZO record batches every node kind shares (dht GetAll/PutBatch, logfiles
//! GetRange/PutBatch; the queue sends none): `decompress` and the item and pair iterators the
//! nodes and the client run on a payload.

use swarm_protocol::batch::{compress, decompress, store, Items, Pairs, MAX_BATCH_RAW_LEN};

/// Never a panic and never more than the announced, limited raw length (an LZO bomb is refused
/// on its length field); the input's own bytes, compressed or stored, decompress to themselves.
pub fn batch_decompress(data: &[u8]) {
    if let Ok(raw) = decompress(data) {
        assert!(raw.len() as u64 <= MAX_BATCH_RAW_LEN);
        let mut items = Items::new(&raw);
        while let Some(item) = items.next_item() {
            if item.is_err() {
                break;
            }
        }
        for pair in Pairs::new(&raw) {
            if pair.is_err() {
                break;
            }
        }
    }
    for lzo in [compress(data), store(data)] {
        let raw = decompress(&payload(data.len(), &lzo)).expect("our own batch decompresses");
        assert_eq!(raw, data);
    }
}

/// A batch as it goes on the wire: the raw length, then the LZO1X stream.
pub(crate) fn payload(raw_len: usize, lzo: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + lzo.len());
    out.extend_from_slice(&(raw_len as u64).to_le_bytes());
    out.extend_from_slice(lzo);
    out
}
