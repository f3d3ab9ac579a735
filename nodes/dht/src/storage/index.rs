//! A channel's key index: open addressing with linear probing over 5-byte entries, each a
//! 32-bit slot number and an 8-bit tag taken from the key's hash, packed in one array.
//!
//! Why not `hashbrown`: its control bytes and its buckets live in two arrays, so a lookup in a
//! table larger than the caches costs two dependent misses before the slot is even read. Here
//! the tag sits beside the slot number, so a lookup reads one line of the index (rarely two)
//! and then the slot, and the line a key will probe can be prefetched from its hash alone (see
//! [`Index::prefetch`], used to overlap the misses of the requests of one poll turn).
//!
//! The capacity is a power of two and at most 7/8 of it is in use (entries plus tombstones),
//! the same memory as `hashbrown`'s `HashTable<u32>`: 5 bytes a bucket. Removal leaves a
//! tombstone (reused by later inserts) instead of shifting entries back, since the entries'
//! home positions are only known from their keys, which live in the slots. The index never
//! reads a slot itself: callers pass the key comparison, and the keys' hashes when it grows.

/// Bytes of one entry: slot number (little-endian u32), then the tag.
const ENTRY: usize = 5;
/// Tag of an empty bucket.
const EMPTY: u8 = 0;
/// Tag of a removed entry (live tags have the top bit set, so never equal this).
const TOMBSTONE: u8 = 1;
/// Smallest non-zero capacity.
const MIN_CAPACITY: usize = 16;

/// The tag of a hash: 7 bits of it, with the top bit set so it is never [`EMPTY`] or
/// [`TOMBSTONE`]. Taken from bits the position (the top bits) does not use below 2^32 buckets.
#[inline]
fn tag_of(hash: u64) -> u8 {
    (hash >> 24) as u8 | 0x80
}

/// The index: hash -> slot number.
#[derive(Debug, Default)]
pub struct Index {
    /// `capacity * ENTRY` bytes (a whole number of 2 MiB pages when large: no padding that
    /// would cost another huge page), or empty.
    bytes: Vec<u8>,
    /// `capacity - 1`.
    mask: usize,
    /// `64 - log2(capacity)`: the position of a hash is its top bits.
    shift: u32,
    /// Live entries.
    len: usize,
    /// Live entries plus tombstones.
    used: usize,
}

impl Index {
    /// Live entries.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    /// Buckets.
    pub fn capacity(&self) -> usize {
        if self.bytes.is_empty() {
            0
        } else {
            self.mask + 1
        }
    }

    #[inline]
    fn home(&self, hash: u64) -> usize {
        // `shift` is at most 60 once allocated; callers check that first.
        (hash >> self.shift) as usize
    }

    /// Tag and slot number of bucket `pos`.
    #[inline]
    fn load(bytes: &[u8], pos: usize) -> (u8, u32) {
        let at = pos * ENTRY;
        let mut slot = [0u8; 4];
        slot.copy_from_slice(&bytes[at..at + 4]);
        (bytes[at + 4], u32::from_le_bytes(slot))
    }

    #[inline]
    fn store(&mut self, pos: usize, tag: u8, slot: u32) {
        let at = pos * ENTRY;
        self.bytes[at..at + 4].copy_from_slice(&slot.to_le_bytes());
        self.bytes[at + 4] = tag;
    }

    /// The entry whose slot `eq` accepts, among those whose tag matches `hash`: its bucket
    /// (for [`Index::remove_at`]) and slot number.
    #[inline]
    pub fn find(&self, hash: u64, mut eq: impl FnMut(u32) -> bool) -> Option<(usize, u32)> {
        if self.len == 0 {
            return None;
        }
        let tag = tag_of(hash);
        let mut pos = self.home(hash);
        loop {
            let (t, slot) = Self::load(&self.bytes, pos);
            if t == tag && eq(slot) {
                return Some((pos, slot));
            }
            if t == EMPTY {
                return None;
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// The slot number of the first entry whose tag matches `hash` (almost always the record
    /// of that key, if there is one), without comparing keys: what a prefetch of the slot
    /// needs.
    #[inline]
    pub fn first_candidate(&self, hash: u64) -> Option<u32> {
        self.find(hash, |_| true).map(|(_, slot)| slot)
    }

    /// Asks the CPU to fetch the index line `hash` probes first.
    #[inline]
    pub fn prefetch(&self, hash: u64) {
        if self.len != 0 {
            let at = self.home(hash) * ENTRY;
            super::prefetch(self.bytes[at..at + ENTRY].as_ptr());
        }
    }

    /// Asks the CPU to fetch the index lines a key without an entry probes before it is
    /// inserted: from its home bucket to the first empty one, typically the home bucket and
    /// the next three (two lines when they straddle one's end).
    #[inline]
    pub fn prefetch_insert(&self, hash: u64) {
        if self.len != 0 {
            let at = self.home(hash) * ENTRY;
            let last = (at + 4 * ENTRY).min(self.bytes.len()) - 1;
            super::prefetch(self.bytes[at..at + ENTRY].as_ptr());
            if last / 64 != at / 64 {
                super::prefetch(self.bytes[last..=last].as_ptr());
            }
        }
    }

    /// Whether inserting one entry needs [`Index::rebuild`] first.
    #[inline]
    pub fn is_full(&self) -> bool {
        (self.used + 1) * 8 > self.capacity() * 7
    }

    /// The buckets that take `entries` entries (no tombstones) without growing: the power of
    /// two of which they fill at most 7/8 ([`Index::is_full`]), as growth would end up with.
    pub fn capacity_for(entries: usize) -> usize {
        entries
            .saturating_add(1)
            .saturating_mul(8)
            .div_ceil(7)
            .max(MIN_CAPACITY)
            .next_power_of_two()
    }

    /// The capacity [`Index::rebuild`] should get for the live entries plus one: double when
    /// more than half of the allowed load is live, else the same (clearing tombstones).
    pub fn grown_capacity(&self) -> usize {
        let cap = self.capacity();
        if (self.len + 1) * 16 > cap * 7 {
            (cap * 2).max(MIN_CAPACITY)
        } else {
            cap
        }
    }

    /// Replaces the contents with the entries (hash, slot) `entries` yields, in a table of at
    /// least `capacity` buckets (a power of two). Should the entries not fit at 7/8 load,
    /// starts over with twice the buckets, which is why `entries` is a function.
    pub fn rebuild<I: Iterator<Item = (u64, u32)>>(
        &mut self,
        capacity: usize,
        entries: impl Fn() -> I,
    ) {
        let mut capacity = capacity.max(MIN_CAPACITY).next_power_of_two();
        'again: loop {
            // Free the old table before allocating the new one.
            self.bytes = Vec::new();
            self.bytes = vec![0u8; capacity * ENTRY];
            self.mask = capacity - 1;
            self.shift = 64 - capacity.trailing_zeros();
            self.len = 0;
            self.used = 0;
            for (hash, slot) in entries() {
                if self.is_full() {
                    capacity *= 2;
                    continue 'again;
                }
                self.place(hash, slot);
            }
            return;
        }
    }

    /// Adds an entry for a key that has none. The caller rebuilt first if [`Index::is_full`].
    #[inline]
    pub fn insert(&mut self, hash: u64, slot: u32) {
        debug_assert!(!self.is_full(), "insert into a full index");
        self.place(hash, slot);
    }

    #[inline]
    fn place(&mut self, hash: u64, slot: u32) {
        let mut pos = self.home(hash);
        loop {
            let (t, _) = Self::load(&self.bytes, pos);
            if t == EMPTY || t == TOMBSTONE {
                if t == EMPTY {
                    self.used += 1;
                }
                self.store(pos, tag_of(hash), slot);
                self.len += 1;
                return;
            }
            pos = (pos + 1) & self.mask;
        }
    }

    /// Removes the entry in bucket `pos` (from [`Index::find`]).
    pub fn remove_at(&mut self, pos: usize) {
        let next = (pos + 1) & self.mask;
        // A bucket followed by an empty one ends every probe sequence through it: it can become
        // empty again rather than a tombstone.
        if Self::load(&self.bytes, next).0 == EMPTY {
            self.bytes[pos * ENTRY + 4] = EMPTY;
            self.used -= 1;
        } else {
            self.bytes[pos * ENTRY + 4] = TOMBSTONE;
        }
        self.len -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A stand-in for a channel: keys by slot number, hashes that collide on purpose when
    /// `spread` is small (same position and tag).
    struct Model {
        index: Index,
        keys: Vec<Option<u64>>,
        spread: u64,
    }

    /// The model's hash: few distinct values when `spread` is small (long probe runs, shared
    /// tags).
    fn hash(key: u64, spread: u64) -> u64 {
        (key % spread).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }

    impl Model {
        fn new(spread: u64) -> Self {
            Model {
                index: Index::default(),
                keys: Vec::new(),
                spread,
            }
        }

        fn find(&self, key: u64) -> Option<(usize, u32)> {
            let keys = &self.keys;
            self.index.find(hash(key, self.spread), |slot| {
                keys[slot as usize] == Some(key)
            })
        }

        fn insert(&mut self, key: u64) {
            assert!(self.find(key).is_none());
            if self.index.is_full() {
                let cap = self.index.grown_capacity();
                let keys = &self.keys;
                let spread = self.spread;
                self.index.rebuild(cap, || {
                    keys.iter()
                        .enumerate()
                        .filter_map(move |(slot, k)| k.map(|k| (hash(k, spread), slot as u32)))
                });
            }
            self.keys.push(Some(key));
            self.index
                .insert(hash(key, self.spread), (self.keys.len() - 1) as u32);
        }

        fn remove(&mut self, key: u64) -> bool {
            let Some((pos, slot)) = self.find(key) else {
                return false;
            };
            self.index.remove_at(pos);
            self.keys[slot as usize] = None;
            true
        }
    }

    #[test]
    fn empty_index_finds_nothing_and_allocates_nothing() {
        let index = Index::default();
        assert_eq!(index.capacity(), 0);
        assert_eq!(index.find(42, |_| true), None);
        assert_eq!(index.first_candidate(42), None);
        index.prefetch(42);
        index.prefetch_insert(42);
        assert!(index.is_full(), "the first insert builds the table");
    }

    #[test]
    fn grows_in_powers_of_two_at_seven_eighths() {
        let mut m = Model::new(u64::MAX);
        for k in 0..1000 {
            m.insert(k);
            let cap = m.index.capacity();
            assert!(cap.is_power_of_two());
            assert!(m.index.len() * 8 <= cap * 7, "{} in {cap}", m.index.len());
        }
        assert_eq!(m.index.capacity(), 2048, "1000 entries need 1143 buckets");
        for k in 0..1000 {
            assert!(m.find(k).is_some(), "{k}");
        }
        assert!(m.find(1000).is_none());
    }

    #[test]
    fn churn_reuses_tombstones_without_growing() {
        let mut m = Model::new(u64::MAX);
        for k in 0..100 {
            m.insert(k);
        }
        // 100 live entries in 128 buckets: the first rebuild doubles (more than half the allowed
        // load is live), later ones only clear tombstones.
        assert_eq!(m.index.capacity(), 128);
        let cap = 256;
        // A million removes and inserts keep 100 live entries: tombstones must be reclaimed,
        // and every lookup must end (an empty bucket always remains).
        for k in 100..1_000_100 {
            assert!(m.remove(k - 100));
            m.insert(k);
        }
        assert_eq!(m.index.capacity(), cap);
        assert_eq!(m.index.len(), 100);
        for k in 1_000_000..1_000_100 {
            assert!(m.find(k).is_some());
        }
        assert!(m.find(5).is_none());
    }

    #[test]
    fn rebuild_starts_over_when_told_too_few() {
        let mut index = Index::default();
        index.rebuild(16, || (0..100u64).map(|k| (hash(k, u64::MAX), k as u32)));
        assert_eq!(index.len(), 100);
        assert!(index.capacity() >= 128);
        for k in 0..100u64 {
            assert!(index.find(hash(k, u64::MAX), |s| s == k as u32).is_some());
        }
    }

    proptest::proptest! {
        /// Inserts and removes, with hashes that collide often, behave like a set; the load
        /// bound holds throughout.
        #[test]
        fn behaves_like_a_set(
            spread in 1u64..64,
            ops in proptest::collection::vec((proptest::bool::ANY, 0u64..200), 1..600),
        ) {
            let mut m = Model::new(spread);
            let mut set: HashMap<u64, ()> = HashMap::new();
            for (add, key) in ops {
                if add {
                    if set.insert(key, ()).is_none() {
                        m.insert(key);
                    }
                } else {
                    proptest::prop_assert_eq!(m.remove(key), set.remove(&key).is_some());
                }
                proptest::prop_assert!(m.index.used * 8 <= m.index.capacity() * 7);
            }
            proptest::prop_assert_eq!(m.index.len(), set.len());
            for key in 0..200 {
                proptest::prop_assert_eq!(m.find(key).is_some(), set.contains_key(&key));
            }
        }
    }
}
