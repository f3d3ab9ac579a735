//! One channel's records: an open-addressing index of u64 keys over stable record slots.
//!
//! Records live in slots that never move while they exist (chunked, so growing never copies
//! records), and removed slots are reused. An iteration (GetAll) walks slot numbers, so every
//! record that exists from the start to the end of an iteration is sent exactly once, however
//! the channel changes meanwhile; records added or removed during it may or may not be sent.
//! The index ([`super::index`]) holds slot numbers with a tag of the key's hash: 5 bytes a
//! bucket. A slot is 16 bytes (key, value length, value cell); values live in exact-size slabs
//! ([`super::values`]), so a record of 100 bytes costs about 130 bytes in all.

use super::index::Index;
use super::prefetch;
use super::values::Values;

/// Slots per chunk: growing the channel adds a chunk, never copies existing slots.
/// 4 MiB of slots: large enough for huge pages (see `hugepages`); the first chunk grows like a
/// `Vec`, so a small channel stays small.
pub(super) const CHUNK_SLOTS: usize = 1 << 18;

/// Bytes one record counts for in `bytes` (GetSize, size_limit, stats): the 8-byte binary key
/// plus the value, i.e. what is actually stored, not an allocator estimate (DECISIONS.md).
pub fn record_bytes(value_len: usize) -> u64 {
    8 + value_len as u64
}

/// Value length of a free slot.
const FREE: u32 = u32::MAX;

#[derive(Debug)]
pub(super) struct Slot {
    key: u64,
    /// Value length, or [`FREE`].
    len: u32,
    /// The value's cell in [`Values`].
    cell: u32,
}

impl Slot {
    /// A slot that holds no record.
    pub(super) const UNUSED: Slot = Slot {
        key: 0,
        len: FREE,
        cell: 0,
    };
}

/// The records of one channel.
#[derive(Debug, Default)]
pub struct Channel {
    index: Index,
    chunks: Vec<Vec<Slot>>,
    free: Vec<u32>,
    values: Values,
    records: u64,
    bytes: u64,
}

/// Mixes a key for the index: keys are often sequential (counters, timestamps), and the index
/// takes the bucket from the top bits and the tag from bits 24..31 of the hash.
#[inline]
fn mix(key: u64) -> u64 {
    let h = (key ^ (key >> 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    h ^ (h >> 29)
}

impl Channel {
    /// An empty channel.
    pub fn new() -> Self {
        Channel::default()
    }

    /// Number of records.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes stored ([`record_bytes`] summed).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Slot numbers handed out so far; iteration cursors run up to this.
    pub fn slot_count(&self) -> usize {
        match self.chunks.last() {
            Some(last) => (self.chunks.len() - 1) * CHUNK_SLOTS + last.len(),
            None => 0,
        }
    }

    #[inline]
    fn slot(&self, id: u32) -> &Slot {
        let id = id as usize;
        &self.chunks[id / CHUNK_SLOTS][id % CHUNK_SLOTS]
    }

    #[inline]
    fn slot_mut(&mut self, id: u32) -> &mut Slot {
        let id = id as usize;
        &mut self.chunks[id / CHUNK_SLOTS][id % CHUNK_SLOTS]
    }

    /// The index bucket and slot number of `key`'s record.
    #[inline]
    fn find(&self, key: u64) -> Option<(usize, u32)> {
        self.index.find(mix(key), |id| self.slot(id).key == key)
    }

    /// First of three steps that bring `key`'s record into the cache without waiting for it,
    /// so the misses of several requests overlap: fetch the index line the key probes.
    #[inline]
    pub fn prefetch_index(&self, key: u64) {
        self.index.prefetch(mix(key));
    }

    /// Fetches the index lines a put of a new `key` will probe (`Index::prefetch_insert`):
    /// what a dump load asks for a batch of records ahead.
    #[inline]
    pub fn prefetch_insert(&self, key: u64) {
        self.index.prefetch_insert(mix(key));
    }

    /// Second step (once the index line is in): fetch the slot the index names for `key`; its
    /// number, for the third step.
    #[inline]
    pub fn prefetch_slot(&self, key: u64) -> Option<u32> {
        let id = self.index.first_candidate(mix(key))?;
        prefetch(self.slot(id));
        Some(id)
    }

    /// Third step (once the slot is in): fetch the value, if slot `id` (from
    /// [`Channel::prefetch_slot`], with no change to the channel since) holds `key`.
    #[inline]
    pub fn prefetch_value(&self, id: u32, key: u64) {
        let slot = self.slot(id);
        if slot.key == key && slot.len != FREE {
            self.values.prefetch(slot.len as usize, slot.cell);
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: u64) -> Option<&[u8]> {
        let (_, id) = self.find(key)?;
        let slot = self.slot(id);
        Some(self.values.get(slot.len as usize, slot.cell))
    }

    /// Whether `key` has a record.
    pub fn contains(&self, key: u64) -> bool {
        self.find(key).is_some()
    }

    /// Stores `value` under `key` only if the key has no record; whether it stored.
    pub fn put_new(&mut self, key: u64, value: &[u8]) -> bool {
        if self.find(key).is_some() {
            return false;
        }
        self.insert_new(key, value);
        true
    }

    /// Stores `value` under `key`, replacing any previous value (in place when the length is
    /// the same, so overwriting a record allocates nothing). Values are at most 4 GiB - 2.
    pub fn put(&mut self, key: u64, value: &[u8]) {
        let len = u32::try_from(value.len()).unwrap_or(FREE - 1).min(FREE - 1);
        let value = &value[..len as usize];
        if let Some((_, id)) = self.find(key) {
            let (old_len, old_cell) = {
                let slot = self.slot(id);
                (slot.len, slot.cell)
            };
            let cell = if old_len == len {
                self.values.overwrite(old_cell, value);
                old_cell
            } else {
                self.values.free(old_len as usize, old_cell);
                self.values.insert(value)
            };
            let slot = self.slot_mut(id);
            slot.len = len;
            slot.cell = cell;
            self.bytes = self.bytes - u64::from(old_len) + u64::from(len);
            return;
        }
        self.insert_new(key, value);
    }

    /// Adds a record for a key known to have none.
    #[inline]
    fn insert_new(&mut self, key: u64, value: &[u8]) {
        let len = u32::try_from(value.len()).unwrap_or(FREE - 1).min(FREE - 1);
        let value = &value[..len as usize];
        if self.index.is_full() {
            self.rebuild_index();
        }
        let cell = self.values.insert(value);
        let id = self.alloc_slot(Slot { key, len, cell });
        self.index.insert(mix(key), id);
        self.records += 1;
        self.bytes += record_bytes(value.len());
    }

    /// Makes room in the index for `total` records, so that inserting up to that many rebuilds
    /// it at most once here instead of once per doubling (a dump load knows roughly how many
    /// records are coming). Does nothing when the index already holds that many.
    pub fn reserve(&mut self, total: usize) {
        let needed = Index::capacity_for(total);
        if needed > self.index.capacity() {
            self.rebuild_index_to(needed);
        }
    }

    /// Shrinks the index when [`Channel::reserve`] asked for far more than came (a poor
    /// guess): more than four times the buckets the records need.
    pub fn shrink_index(&mut self) {
        let needed = Index::capacity_for(self.records as usize);
        if self.index.capacity() > needed.saturating_mul(4) {
            self.rebuild_index_to(needed);
        }
    }

    /// Index buckets (for tests of the reservation).
    #[cfg(test)]
    pub fn index_capacity(&self) -> usize {
        self.index.capacity()
    }

    /// Rebuilds the index from the slots (in slot order: sequential reads), with room for one
    /// more record.
    fn rebuild_index(&mut self) {
        self.rebuild_index_to(self.index.grown_capacity());
    }

    /// Rebuilds the index from the slots with at least `capacity` buckets.
    fn rebuild_index_to(&mut self, capacity: usize) {
        let chunks = &self.chunks;
        self.index.rebuild(capacity, || {
            chunks
                .iter()
                .flatten()
                .enumerate()
                .filter(|(_, s)| s.len != FREE)
                // Slot numbers fit u32 (see `alloc_slot`).
                .map(|(id, s)| (mix(s.key), id as u32))
        });
    }

    fn alloc_slot(&mut self, slot: Slot) -> u32 {
        if let Some(id) = self.free.pop() {
            *self.slot_mut(id) = slot;
            return id;
        }
        let id = self.slot_count();
        if self.chunks.last().is_none_or(|c| c.len() == CHUNK_SLOTS) {
            let chunk = if self.chunks.is_empty() {
                Vec::new()
            } else {
                // A full-size chunk may come with its pages already faulted in (a dump load).
                super::prefault::take_slot_chunk()
                    .unwrap_or_else(|| Vec::with_capacity(CHUNK_SLOTS))
            };
            self.chunks.push(chunk);
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.push(slot);
        }
        // A channel holds fewer than 2^32 records: 4 G records would need far more memory
        // than any node has; the cast cannot truncate before allocation fails.
        id as u32
    }

    /// Removes `key`; whether it had a record.
    pub fn remove(&mut self, key: u64) -> bool {
        let Some((pos, id)) = self.find(key) else {
            return false;
        };
        self.index.remove_at(pos);
        let slot = self.slot_mut(id);
        let (len, cell) = (slot.len as usize, slot.cell);
        slot.len = FREE;
        self.values.free(len, cell);
        self.free.push(id);
        self.records -= 1;
        self.bytes -= record_bytes(len);
        true
    }

    /// The first record at slot `cursor` or after it: its slot number, key and value.
    pub fn next_from(&self, cursor: usize) -> Option<(usize, u64, &[u8])> {
        let mut pos = cursor;
        while pos < self.slot_count() {
            let slot = &self.chunks[pos / CHUNK_SLOTS][pos % CHUNK_SLOTS];
            if slot.len != FREE {
                return Some((pos, slot.key, self.values.get(slot.len as usize, slot.cell)));
            }
            pos += 1;
        }
        None
    }

    /// Every record, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8])> {
        self.chunks
            .iter()
            .flatten()
            .filter(|s| s.len != FREE)
            .map(|s| (s.key, self.values.get(s.len as usize, s.cell)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn reserve_sizes_the_index_once_and_shrink_gives_unused_room_back() {
        let mut c = Channel::new();
        c.put(1, b"x");
        c.reserve(100_000);
        let reserved = c.index_capacity();
        assert_eq!(reserved, Index::capacity_for(100_000));
        for k in 2..=100_000u64 {
            c.put(k, b"v");
        }
        assert_eq!(
            c.index_capacity(),
            reserved,
            "no rebuild while filling the reservation"
        );
        assert_eq!(
            (c.get(1), c.get(100_000)),
            (Some(&b"x"[..]), Some(&b"v"[..]))
        );
        c.shrink_index();
        assert_eq!(
            c.index_capacity(),
            reserved,
            "a reservation that was used stays"
        );
        // A reservation far above what came is given back, the records kept.
        let mut c = Channel::new();
        c.reserve(1_000_000);
        c.put(7, b"seven");
        c.shrink_index();
        assert_eq!(c.index_capacity(), Index::capacity_for(1));
        assert_eq!(c.get(7), Some(&b"seven"[..]));
        // Reserving less than is there changes nothing.
        c.reserve(0);
        assert_eq!(c.index_capacity(), Index::capacity_for(1));
    }

    #[test]
    fn put_get_remove_and_counts() {
        let mut c = Channel::new();
        c.put(1, b"one");
        c.put(2, b"two");
        c.put(1, b"uno");
        assert_eq!(c.get(1), Some(&b"uno"[..]));
        assert_eq!(c.records(), 2);
        assert_eq!(c.bytes(), 2 * 8 + 6);
        c.put(1, b"longer value");
        assert_eq!(c.bytes(), 16 + 3 + 12);
        assert!(c.remove(1));
        assert!(!c.remove(1));
        assert_eq!(c.get(1), None);
        assert_eq!((c.records(), c.bytes()), (1, 11));
        c.put(3, b"x");
        assert_eq!(c.slot_count(), 2, "the freed slot is reused");
    }

    #[test]
    fn iteration_sees_every_stable_record_once_despite_changes() {
        let mut c = Channel::new();
        for k in 0..10_000u64 {
            c.put(k, &k.to_le_bytes());
        }
        let mut seen = HashMap::new();
        let mut cursor = 0;
        let mut step = 0u64;
        while let Some((pos, k, _)) = c.next_from(cursor) {
            *seen.entry(k).or_insert(0) += 1;
            cursor = pos + 1;
            step += 1;
            // Churn while iterating: remove odd keys above 5000, add new keys.
            if step % 3 == 0 {
                c.remove(5001 + 2 * (step % 2000));
                c.put(1_000_000 + step, b"new");
            }
        }
        for k in 0..5000u64 {
            assert_eq!(seen.get(&k), Some(&1), "stable key {k} seen once");
        }
        assert!(seen.values().all(|&n| n == 1));
    }

    #[test]
    fn sequential_and_spread_keys_grow_past_chunks() {
        let mut c = Channel::new();
        let n = 3 * CHUNK_SLOTS as u64 + 7;
        for k in 0..n {
            c.put(k << 40, b"v");
            c.put(swarm_protocol::key::fnv1a64(&k.to_le_bytes()), b"w");
        }
        assert_eq!(c.records(), 2 * n);
        for k in 0..n {
            assert_eq!(c.get(k << 40), Some(&b"v"[..]));
        }
        assert_eq!(c.iter().count() as u64, 2 * n);
    }

    proptest::proptest! {
        /// Random puts (of changing lengths), overwrites and removes behave like a map.
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u8..3, 0u64..64, 0usize..40), 1..400)) {
            let mut c = Channel::new();
            let mut model: HashMap<u64, Vec<u8>> = HashMap::new();
            for (i, (op, key, len)) in ops.into_iter().enumerate() {
                if op < 2 {
                    let value = vec![i as u8; len + 1];
                    c.put(key, &value);
                    model.insert(key, value);
                } else {
                    proptest::prop_assert_eq!(c.remove(key), model.remove(&key).is_some());
                }
            }
            proptest::prop_assert_eq!(c.records() as usize, model.len());
            let bytes: u64 = model.values().map(|v| record_bytes(v.len())).sum();
            proptest::prop_assert_eq!(c.bytes(), bytes);
            for (k, v) in &model {
                proptest::prop_assert_eq!(c.get(*k), Some(&v[..]));
            }
            let iterated: HashMap<u64, Vec<u8>> = c.iter().map(|(k, v)| (k, v.to_vec())).collect();
            proptest::prop_assert_eq!(iterated, model);
        }
    }
}
