//! The queue node's storage: the [`QueueStore`] trait the request handlers use (so they can be
//! tested without sockets, and faults injected), and [`MemoryStore`], channels by name each
//! holding one fixed [`Ring`].
//!
//! A channel's ring is allocated whole when the channel is created (on its first push, or by
//! [`QueueStore::create_channel`] for Consume and Produce), with the capacity of
//! [`ChannelSizes::size_of`]. The original's Era A refusals, all answered OutOfMemory (407):
//! a record larger than the ring, a full ring, and the node-wide `size_limit` (the bytes of
//! every ring, headers included, plus the new record's).
//!
//! A dumped channel loads into a ring of the configured size, or of the dump's size when that
//! is larger ([`MemoryStore::load_channel`]), with a warning: the original refused to start.
//! Such a ring keeps its size until the channel is removed.

pub mod ring;

use crate::config::ChannelSizes;
use hashbrown::HashMap;
use ring::{push_size, DumpError, Ring};
use std::fmt;
use swarm_protocol::channel::is_valid_channel_name;

/// Records and bytes (headers included, as the original's `used_space`) of a channel or node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    /// Records.
    pub records: u64,
    /// Bytes, 8 per record for its header plus the payload.
    pub bytes: u64,
}

/// Why a push or a channel creation was refused; nothing was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError {
    /// The channel name breaks `swarm_protocol::channel`'s rules (status 409).
    BadChannelName,
    /// The record with its header is larger than the channel's whole ring (407).
    TooLarge,
    /// The channel's ring has no room for the record now (407).
    ChannelFull,
    /// The node-wide `size_limit` would be exceeded (407).
    SizeLimit,
    /// The channel's ring could not be allocated (500, as the original answered when a
    /// channel could not be created).
    NoMemory,
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PushError::BadChannelName => "invalid channel name",
            PushError::TooLarge => "record larger than the channel's ring",
            PushError::ChannelFull => "channel full",
            PushError::SizeLimit => "node size limit reached",
            PushError::NoMemory => "cannot allocate the channel's ring",
        })
    }
}

impl std::error::Error for PushError {}

/// What request handlers need from the queue storage.
pub trait QueueStore {
    /// Appends `record` to `channel`, creating the channel if needed.
    fn push(&mut self, channel: &[u8], record: &[u8]) -> Result<(), PushError>;
    /// Creates `channel` (empty) if it does not exist, as Consume and Produce do.
    fn create_channel(&mut self, channel: &[u8]) -> Result<(), PushError>;
    /// Removes and returns the oldest record of `channel` (`None`: missing or empty channel;
    /// Pop does not create channels). The slice is valid until the store is next changed.
    fn pop(&mut self, channel: &[u8]) -> Option<&[u8]>;
    /// Pops records of `channel` into `sink` while their sizes (header included) fit `budget`,
    /// at least one if any (see [`Ring::pop_batch`]); returns how many.
    fn pop_batch(&mut self, channel: &[u8], budget: usize, sink: &mut dyn FnMut(&[u8])) -> usize;
    /// The size of `channel` (`None` if it does not exist).
    fn channel_size(&self, channel: &[u8]) -> Option<Size>;
    /// The names of all channels, in no particular order.
    fn channel_names(&self) -> Vec<&[u8]>;
    /// Removes `channel` and its records; whether it existed.
    fn remove_channel(&mut self, channel: &[u8]) -> bool;
    /// The size of all channels together.
    fn total_size(&self) -> Size;
}

/// How [`MemoryStore::load_channel`] sized the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    /// Into a ring of the configured size.
    Configured,
    /// The dump was larger than the configured ring: into a ring of the dump's size.
    Oversized {
        /// The configured capacity.
        configured: usize,
        /// The ring's capacity (the dump's data length).
        capacity: usize,
    },
}

/// Why [`MemoryStore::load_channel`] refused a dump.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// The channel name (from the file name) is not valid.
    BadChannelName,
    /// The channel already exists (two dumps of one channel).
    Exists,
    /// The data does not hold the records it claims.
    Dump(DumpError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::BadChannelName => f.write_str("invalid channel name"),
            LoadError::Exists => f.write_str("channel already loaded"),
            LoadError::Dump(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for LoadError {}

/// The queue node's in-memory channels.
#[derive(Debug)]
pub struct MemoryStore {
    channels: HashMap<Box<[u8]>, Ring>,
    sizes: ChannelSizes,
    /// Node-wide byte limit (0 = none).
    size_limit: u64,
    /// Sum of every ring's `used_bytes`, kept current so the limit check is O(1).
    used: u64,
}

impl MemoryStore {
    /// An empty store; rings get `sizes`, all rings together at most `size_limit` bytes (0 =
    /// no limit).
    pub fn new(sizes: ChannelSizes, size_limit: u64) -> MemoryStore {
        MemoryStore {
            channels: HashMap::new(),
            sizes,
            size_limit,
            used: 0,
        }
    }

    /// The node-wide byte limit (0 = none).
    pub fn size_limit(&self) -> u64 {
        self.size_limit
    }

    /// The ring of `channel`, for the dump and the console's fullness.
    pub fn ring(&self, channel: &[u8]) -> Option<&Ring> {
        self.channels.get(channel)
    }

    /// Every channel with its ring, in no particular order.
    pub fn rings(&self) -> impl Iterator<Item = (&[u8], &Ring)> {
        self.channels.iter().map(|(name, ring)| (&**name, ring))
    }

    /// Creates `channel` from a dump's data (`count` records of `u64 len + payload`, in pop
    /// order), in a ring of the configured size or, when the data is larger, of the data's
    /// size, logged as a warning. The node-wide `size_limit` does not refuse a load: the
    /// records were accepted once; pushes are refused until the store is below it again.
    pub fn load_channel(
        &mut self,
        channel: &[u8],
        count: u64,
        data: &[u8],
    ) -> Result<Loaded, LoadError> {
        if !is_valid_channel_name(channel) {
            return Err(LoadError::BadChannelName);
        }
        if self.channels.contains_key(channel) {
            return Err(LoadError::Exists);
        }
        let configured = self.sizes.size_of(channel);
        let ring = Ring::from_dump(configured, count, data).map_err(LoadError::Dump)?;
        let loaded = if ring.capacity() > configured {
            log::warn!(
                "channel {}: dump of {} bytes is larger than the configured ring of {configured} \
                 bytes; loaded into a ring of its own size",
                String::from_utf8_lossy(channel),
                ring.capacity()
            );
            Loaded::Oversized {
                configured,
                capacity: ring.capacity(),
            }
        } else {
            Loaded::Configured
        };
        self.used += ring.used_bytes() as u64;
        self.channels.insert(channel.into(), ring);
        Ok(loaded)
    }

    /// [`QueueStore::push`] for a channel name already found valid (the request handlers check
    /// it first, as the original's order of statuses asks; a stream checked its channels when
    /// it opened): one hash lookup for a push into an existing channel.
    pub fn push_valid(&mut self, channel: &[u8], record: &[u8]) -> Result<(), PushError> {
        // Every refusal is decided before the channel is created, so a refused push leaves the
        // store as it was (no empty channel appears).
        let need = push_size(record.len());
        let over_limit =
            |used: u64| self.size_limit > 0 && used.saturating_add(need as u64) > self.size_limit;
        let ring = match self.channels.get_mut(channel) {
            Some(ring) => {
                if need > ring.capacity() {
                    return Err(PushError::TooLarge);
                }
                if over_limit(self.used) {
                    return Err(PushError::SizeLimit);
                }
                ring
            }
            None => {
                if need > self.sizes.size_of(channel) {
                    return Err(PushError::TooLarge);
                }
                if over_limit(self.used) {
                    return Err(PushError::SizeLimit);
                }
                self.create_valid(channel)?
            }
        };
        ring.push(record).map_err(|_| PushError::ChannelFull)?;
        self.used += need as u64;
        Ok(())
    }

    /// A consumer's turn on `channel` (Consume): pops records into `sink` while they fit the
    /// smaller of `room` and the consumer's share (the bytes waiting over `sharing`
    /// consumers), at least one. `None` when the channel is missing or empty; else how many
    /// were popped and whether records remain. One lookup for the whole turn.
    pub fn pop_share(
        &mut self,
        channel: &[u8],
        sharing: usize,
        room: usize,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Option<(usize, bool)> {
        let ring = self.channels.get_mut(channel)?;
        if ring.is_empty() {
            return None;
        }
        let budget = room.min(ring.used_bytes().div_ceil(sharing.max(1)));
        let mut freed = 0u64;
        let n = ring.pop_batch(budget, |r| {
            freed += push_size(r.len()) as u64;
            sink(r);
        });
        let remain = !ring.is_empty();
        self.used -= freed;
        Some((n, remain))
    }

    fn ring_or_create(&mut self, channel: &[u8]) -> Result<&mut Ring, PushError> {
        if !is_valid_channel_name(channel) {
            return Err(PushError::BadChannelName);
        }
        if self.channels.contains_key(channel) {
            return self.channels.get_mut(channel).ok_or(PushError::NoMemory);
        }
        self.create_valid(channel)
    }

    /// Creates `channel` (valid, not present) with a ring of its configured size.
    fn create_valid(&mut self, channel: &[u8]) -> Result<&mut Ring, PushError> {
        let size = self.sizes.size_of(channel);
        match self.channels.entry_ref(channel) {
            hashbrown::hash_map::EntryRef::Occupied(e) => Ok(e.into_mut()),
            hashbrown::hash_map::EntryRef::Vacant(e) => match Ring::try_new(size) {
                Some(ring) => Ok(e.insert(ring)),
                None => {
                    log::error!(
                        "cannot create channel '{}': a ring of {size} bytes cannot be allocated",
                        String::from_utf8_lossy(channel)
                    );
                    Err(PushError::NoMemory)
                }
            },
        }
    }
}

fn size_of_ring(ring: &Ring) -> Size {
    Size {
        records: ring.len() as u64,
        bytes: ring.used_bytes() as u64,
    }
}

impl QueueStore for MemoryStore {
    fn push(&mut self, channel: &[u8], record: &[u8]) -> Result<(), PushError> {
        if !is_valid_channel_name(channel) {
            return Err(PushError::BadChannelName);
        }
        self.push_valid(channel, record)
    }

    fn create_channel(&mut self, channel: &[u8]) -> Result<(), PushError> {
        self.ring_or_create(channel).map(|_| ())
    }

    fn pop(&mut self, channel: &[u8]) -> Option<&[u8]> {
        let ring = self.channels.get_mut(channel)?;
        let record = ring.pop()?;
        self.used -= push_size(record.len()) as u64;
        Some(record)
    }

    fn pop_batch(&mut self, channel: &[u8], budget: usize, sink: &mut dyn FnMut(&[u8])) -> usize {
        let Some(ring) = self.channels.get_mut(channel) else {
            return 0;
        };
        let mut freed = 0u64;
        let n = ring.pop_batch(budget, |r| {
            freed += push_size(r.len()) as u64;
            sink(r);
        });
        self.used -= freed;
        n
    }

    fn channel_size(&self, channel: &[u8]) -> Option<Size> {
        self.channels.get(channel).map(size_of_ring)
    }

    fn channel_names(&self) -> Vec<&[u8]> {
        self.channels.keys().map(|k| &**k).collect()
    }

    fn remove_channel(&mut self, channel: &[u8]) -> bool {
        match self.channels.remove(channel) {
            Some(ring) => {
                self.used -= ring.used_bytes() as u64;
                true
            }
            None => false,
        }
    }

    fn total_size(&self) -> Size {
        let records = self.channels.values().map(|r| r.len() as u64).sum();
        Size {
            records,
            bytes: self.used,
        }
    }
}

#[cfg(test)]
mod tests;
