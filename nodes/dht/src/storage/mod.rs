//! The dht node's storage: named channels of records, created on demand, with running totals
//! for GetSize, the size limit and stats.

mod channel;
pub(crate) mod index;
mod prefault;
mod values;

pub use channel::{record_bytes, Channel};
pub use prefault::Prefaulter;

use hashbrown::HashMap;
use std::cell::Cell;

/// A channel and what identifies this incarnation of it: a channel removed and created again
/// gets a new id, so an iteration or Listen on the old one ends instead of wandering into the
/// new one.
#[derive(Debug)]
pub struct ChannelEntry {
    /// Unique for the node's lifetime.
    pub id: u64,
    /// The records.
    pub data: Channel,
}

/// Why a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteError {
    /// `size_limit` would be exceeded.
    SizeLimit,
}

/// A channel and its name, in the channel slab.
#[derive(Debug)]
struct Named {
    name: Box<[u8]>,
    entry: ChannelEntry,
}

/// All channels of a node.
#[derive(Debug, Default)]
pub struct Storage {
    /// The channels; `None` marks a slot freed by RemoveChannel, reused by the next channel.
    slots: Vec<Option<Named>>,
    by_name: HashMap<Box<[u8]>, usize>,
    /// Slot of the channel found by the last lookup: requests come in runs on one channel, and
    /// comparing its name is cheaper than hashing the name again.
    last: Cell<usize>,
    next_id: u64,
    records: u64,
    bytes: u64,
    /// Bytes the node may hold (0 = unlimited): `[Options_Memory] size_limit`.
    size_limit: u64,
}

/// Asks the CPU to bring the cache line holding `p` into the cache, without waiting for it.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing the program sees and never faults,
    // whatever the address (here always one inside a live allocation).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

impl Storage {
    /// Empty storage with a size limit in bytes (0 = unlimited).
    pub fn new(size_limit: u64) -> Self {
        Storage {
            size_limit,
            ..Storage::default()
        }
    }

    /// Records in all channels.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Bytes in all channels.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The slot of channel `name`: a number that names the channel until it is removed.
    pub fn slot_of(&self, name: &[u8]) -> Option<usize> {
        let last = self.last.get();
        if let Some(Some(n)) = self.slots.get(last) {
            if *n.name == *name {
                return Some(last);
            }
        }
        let slot = *self.by_name.get(name)?;
        self.last.set(slot);
        Some(slot)
    }

    /// The channel in `slot` (from [`Storage::slot_of`]).
    pub fn channel_at(&self, slot: usize) -> Option<&Channel> {
        self.slots.get(slot)?.as_ref().map(|n| &n.entry.data)
    }

    /// A channel by name.
    pub fn channel(&self, name: &[u8]) -> Option<&ChannelEntry> {
        let slot = self.slot_of(name)?;
        self.slots[slot].as_ref().map(|n| &n.entry)
    }

    fn channel_mut(&mut self, name: &[u8]) -> Option<&mut ChannelEntry> {
        let slot = self.slot_of(name)?;
        self.slots[slot].as_mut().map(|n| &mut n.entry)
    }

    /// A channel by name, created if missing.
    pub fn channel_or_create(&mut self, name: &[u8]) -> &mut ChannelEntry {
        let slot = match self.slot_of(name) {
            Some(slot) => slot,
            None => {
                self.next_id += 1;
                let named = Named {
                    name: name.into(),
                    entry: ChannelEntry {
                        id: self.next_id,
                        data: Channel::new(),
                    },
                };
                let slot = match self.slots.iter().position(Option::is_none) {
                    Some(free) => {
                        self.slots[free] = Some(named);
                        free
                    }
                    None => {
                        self.slots.push(Some(named));
                        self.slots.len() - 1
                    }
                };
                self.by_name.insert(name.into(), slot);
                self.last.set(slot);
                slot
            }
        };
        match &mut self.slots[slot] {
            Some(n) => &mut n.entry,
            None => unreachable!("slot_of and the insert above only return occupied slots"),
        }
    }

    /// Makes room in channel `name` (created if missing) for `total` records
    /// ([`Channel::reserve`]).
    pub fn reserve(&mut self, name: &[u8], total: usize) {
        self.channel_or_create(name).data.reserve(total);
    }

    /// Gives back index room a [`Storage::reserve`] took for records that did not come
    /// ([`Channel::shrink_index`]).
    pub fn shrink_index(&mut self, name: &[u8]) {
        if let Some(entry) = self.channel_mut(name) {
            entry.data.shrink_index();
        }
    }

    /// Channel names, sorted.
    pub fn channel_names(&self) -> Vec<&[u8]> {
        let mut names: Vec<&[u8]> = self.iter().map(|(name, _)| name).collect();
        names.sort_unstable();
        names
    }

    /// Whether a value of `len` bytes may be added under the size limit (the original's check:
    /// stored bytes plus the new value must not exceed the limit).
    pub fn has_room_for(&self, len: usize) -> bool {
        self.size_limit == 0 || self.bytes + len as u64 <= self.size_limit
    }

    /// Stores a record, creating the channel if needed. Checks the size limit. Returns the
    /// channel's id (for Listen notifications).
    pub fn put(&mut self, channel: &[u8], key: u64, value: &[u8]) -> Result<u64, WriteError> {
        if !self.has_room_for(value.len()) {
            return Err(WriteError::SizeLimit);
        }
        let entry = self.channel_or_create(channel);
        let id = entry.id;
        let ch = &mut entry.data;
        let (r0, b0) = (ch.records(), ch.bytes());
        ch.put(key, value);
        let (r1, b1) = (ch.records(), ch.bytes());
        self.records = self.records + r1 - r0;
        self.bytes = self.bytes + b1 - b0;
        Ok(id)
    }

    /// [`Storage::put`], or with `replace` false only where the key has no record (one index
    /// lookup either way); whether it stored.
    pub fn put_with(
        &mut self,
        channel: &[u8],
        key: u64,
        value: &[u8],
        replace: bool,
    ) -> Result<bool, WriteError> {
        if replace {
            return self.put(channel, key, value).map(|_| true);
        }
        if !self.has_room_for(value.len()) {
            return Err(WriteError::SizeLimit);
        }
        let ch = &mut self.channel_or_create(channel).data;
        let stored = ch.put_new(key, value);
        if stored {
            self.records += 1;
            self.bytes += record_bytes(value.len());
        }
        Ok(stored)
    }

    /// Removes a record; whether it existed. Never creates the channel.
    pub fn remove(&mut self, channel: &[u8], key: u64) -> bool {
        let Some(entry) = self.channel_mut(channel) else {
            return false;
        };
        let b0 = entry.data.bytes();
        if !entry.data.remove(key) {
            return false;
        }
        let freed = b0 - entry.data.bytes();
        self.records -= 1;
        self.bytes -= freed;
        true
    }

    /// Drops a channel and all its records; its id if it existed.
    pub fn remove_channel(&mut self, name: &[u8]) -> Option<u64> {
        let slot = self.by_name.remove(name)?;
        let named = self.slots[slot].take()?;
        self.records -= named.entry.data.records();
        self.bytes -= named.entry.data.bytes();
        Some(named.entry.id)
    }

    /// A channel's value for `key`.
    pub fn get(&self, channel: &[u8], key: u64) -> Option<&[u8]> {
        self.channel(channel)?.data.get(key)
    }

    /// Every channel with its name, unordered.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &ChannelEntry)> {
        self.slots.iter().flatten().map(|n| (&n.name[..], &n.entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_follow_every_change() {
        let mut s = Storage::new(0);
        s.put(b"a", 1, b"xx").unwrap();
        s.put(b"b", 1, b"yyy").unwrap();
        s.put(b"a", 1, b"z").unwrap();
        assert_eq!((s.records(), s.bytes()), (2, 9 + 11));
        assert!(s.remove(b"b", 1));
        assert!(!s.remove(b"c", 1));
        assert_eq!((s.records(), s.bytes()), (1, 9));
        let id = s.channel(b"a").unwrap().id;
        assert_eq!(s.remove_channel(b"a"), Some(id));
        assert_eq!((s.records(), s.bytes()), (0, 0));
        assert_ne!(
            s.channel_or_create(b"a").id,
            id,
            "a recreated channel is a new incarnation"
        );
    }

    #[test]
    fn size_limit_counts_the_new_value() {
        let mut s = Storage::new(20);
        s.put(b"a", 1, b"12").unwrap(); // 10 bytes stored
        assert_eq!(s.put(b"a", 2, &[0; 11]), Err(WriteError::SizeLimit));
        s.put(b"a", 2, &[0; 10]).unwrap();
        assert_eq!(s.bytes(), 28);
    }
}
