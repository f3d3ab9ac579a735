//! One channel's ring buffer: a byte buffer of fixed capacity, allocated once when the ring is
//! made, holding records as `u64 length (LE) + payload`, packed back to back, in strict FIFO.
//!
//! The placement rule is the original's (ocean `FlexibleByteRingQueue`, spec section 5.2):
//! a record never straddles the end of the buffer. When the tail after the last record has no
//! room for a whole record, the writer wraps to offset 0 if the space before the reader holds
//! it; the unused tail (from `gap` to the capacity) is skipped until the reader reaches `gap`
//! and wraps too. So a push can fail while [`Ring::used_bytes`] is below the capacity.
//!
//! | state                     | free space for the next record                      |
//! |---------------------------|-----------------------------------------------------|
//! | empty                     | `[0, capacity)`; all positions are 0                |
//! | `read_from < write_to`    | `[write_to, capacity)`, else `[0, read_from)` (wrap) |
//! | wrapped (`write_to <= read_from`, items > 0) | `[write_to, read_from)`          |
//!
//! The memory layout from `read_from` to `gap`, then from 0 to `write_to`, is exactly the data
//! part of a `.rq` dump file, so a dump writes those one or two slices and a load copies the
//! file's data to offset 0 ([`Ring::from_dump`]).
//!
//! Popping returns a slice into the ring's own buffer ([`Ring::pop`]): the record is copied
//! once, by the caller, straight into its output. The bytes stay valid until the next call
//! that takes `&mut self`, which the borrow checker enforces; no push or pop allocates.

use std::fmt;

/// Bytes of the length header in front of every record.
pub const HEADER_LEN: usize = 8;

/// The bytes a record of `payload_len` bytes takes in a ring (header included).
pub const fn push_size(payload_len: usize) -> usize {
    HEADER_LEN + payload_len
}

/// A push that does not fit: the ring keeps what it held, unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    /// Bytes the record needed (header included).
    pub needed: usize,
    /// The ring's capacity.
    pub capacity: usize,
}

impl fmt::Display for Full {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.needed > self.capacity {
            write!(
                f,
                "record of {} bytes (with header) is larger than the ring ({} bytes)",
                self.needed, self.capacity
            )
        } else {
            write!(f, "no room for a record of {} bytes", self.needed)
        }
    }
}

impl std::error::Error for Full {}

/// Why dumped ring data was refused by [`Ring::from_dump`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DumpError {
    /// A record header or payload runs past the end of the data (at byte `offset`).
    Truncated {
        /// Start of the record that is cut.
        offset: usize,
    },
    /// The data holds a different number of records than the dump's count.
    CountMismatch {
        /// The count the dump declared.
        declared: u64,
        /// The records the data holds.
        found: u64,
    },
    /// The allocator refused the ring's memory.
    NoMemory {
        /// The ring's size.
        bytes: usize,
    },
}

impl fmt::Display for DumpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpError::Truncated { offset } => {
                write!(f, "record at byte {offset} runs past the end of the data")
            }
            DumpError::CountMismatch { declared, found } => {
                write!(
                    f,
                    "dump declares {declared} records, its data holds {found}"
                )
            }
            DumpError::NoMemory { bytes } => {
                write!(f, "cannot allocate a ring of {bytes} bytes")
            }
        }
    }
}

impl std::error::Error for DumpError {}

/// `capacity` zeroed bytes from the global allocator, or `None` if it refuses. Zeroed memory
/// comes from `calloc`/fresh pages, so nothing is touched until records are written.
fn zeroed(capacity: usize) -> Option<Box<[u8]>> {
    if capacity == 0 {
        return Some(Box::default());
    }
    let layout = std::alloc::Layout::array::<u8>(capacity).ok()?;
    // SAFETY: the layout's size is `capacity`, which is not zero (checked above), as
    // `alloc_zeroed` requires.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) };
    if ptr.is_null() {
        return None;
    }
    // SAFETY: `ptr` is non-null and was allocated by the global allocator with the layout of
    // `[u8; capacity]` (what `Box<[u8]>` of that length frees with), and all `capacity` bytes
    // are initialised (zeroed); nothing else owns it.
    Some(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, capacity)) })
}

/// A fixed-capacity FIFO of byte records. See the module doc for the layout.
pub struct Ring {
    data: Box<[u8]>,
    /// Start of the next record to pop.
    read_from: usize,
    /// Where the next record is written (after a wrap, the end of the wrapped part).
    write_to: usize,
    /// End of the valid data in the upper part; the tail after it is skipped.
    gap: usize,
    items: usize,
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("capacity", &self.data.len())
            .field("items", &self.items)
            .field("read_from", &self.read_from)
            .field("write_to", &self.write_to)
            .field("gap", &self.gap)
            .finish()
    }
}

impl Ring {
    /// An empty ring of `capacity` bytes, allocated now. The allocation is zeroed (`calloc`),
    /// so the kernel commits pages as records reach them, as the original's `malloc` did.
    /// Aborts if the memory cannot be had, as `vec!` does; the node uses [`Ring::try_new`].
    pub fn new(capacity: usize) -> Ring {
        Ring::empty(vec![0u8; capacity].into_boxed_slice())
    }

    /// As [`Ring::new`], but `None` when the allocator refuses (address space or an overcommit
    /// limit exhausted by many channels of a large `channel_size_limit`): the request that
    /// would create the channel fails, the node goes on.
    pub fn try_new(capacity: usize) -> Option<Ring> {
        zeroed(capacity).map(Ring::empty)
    }

    fn empty(data: Box<[u8]>) -> Ring {
        Ring {
            data,
            read_from: 0,
            write_to: 0,
            gap: 0,
            items: 0,
        }
    }

    /// A ring loaded from a dump's data (`u64 len + payload` records, tiling `data` exactly, in
    /// pop order) with `count` records. Its capacity is `capacity`, or `data.len()` when the
    /// data is larger: a dump is never refused for its size (issue 9; the original failed).
    pub fn from_dump(capacity: usize, count: u64, data: &[u8]) -> Result<Ring, DumpError> {
        let found = count_records(data)?;
        if found != count {
            return Err(DumpError::CountMismatch {
                declared: count,
                found,
            });
        }
        let size = capacity.max(data.len());
        let mut ring = Ring::try_new(size).ok_or(DumpError::NoMemory { bytes: size })?;
        if let Some(dst) = ring.data.get_mut(..data.len()) {
            dst.copy_from_slice(data);
        }
        // count_records bounds every record by data.len(), so it fits usize.
        ring.items = usize::try_from(found).unwrap_or(usize::MAX);
        if ring.items > 0 {
            ring.write_to = data.len();
            ring.gap = data.len();
        }
        Ok(ring)
    }

    /// The buffer's size in bytes.
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Records in the ring.
    pub fn len(&self) -> usize {
        self.items
    }

    /// Whether the ring holds no record.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Bytes the records take, headers included, the skipped tail not (the original's
    /// `used_space`, the base of the fullness percentage).
    pub fn used_bytes(&self) -> usize {
        if self.items == 0 {
            0
        } else if self.read_from < self.write_to {
            self.write_to - self.read_from
        } else {
            self.gap - self.read_from + self.write_to
        }
    }

    /// Where a record of `need` bytes (header included) would start, if it fits.
    fn slot_for(&self, need: usize) -> Option<usize> {
        if self.items == 0 {
            (need <= self.data.len()).then_some(0)
        } else if self.read_from < self.write_to {
            if self.data.len() - self.write_to >= need {
                Some(self.write_to)
            } else {
                (self.read_from >= need).then_some(0)
            }
        } else {
            (self.read_from - self.write_to >= need).then_some(self.write_to)
        }
    }

    /// Whether a record of `payload_len` bytes would be accepted now.
    pub fn fits(&self, payload_len: usize) -> bool {
        payload_len
            .checked_add(HEADER_LEN)
            .and_then(|need| self.slot_for(need))
            .is_some()
    }

    /// Appends `record`; on [`Full`] the ring is unchanged. A record larger than the whole ring
    /// is always refused.
    pub fn push(&mut self, record: &[u8]) -> Result<(), Full> {
        let full = Full {
            needed: record.len().saturating_add(HEADER_LEN),
            capacity: self.data.len(),
        };
        let need = record.len().checked_add(HEADER_LEN).ok_or(full)?;
        let start = self.slot_for(need).ok_or(full)?;
        let end = start + need;
        let Some(dst) = self.data.get_mut(start..end) else {
            return Err(full);
        };
        let (header, payload) = dst.split_at_mut(HEADER_LEN);
        header.copy_from_slice(&(record.len() as u64).to_le_bytes());
        payload.copy_from_slice(record);
        self.write_to = end;
        if end > self.read_from {
            // Writing in the upper part (not wrapped): the valid data now ends here.
            self.gap = end;
        }
        self.items += 1;
        Ok(())
    }

    /// The record at `pos` as (payload start, payload end). Positions come only from this
    /// ring's own pushes, so the header is always whole; a bad one would be a bug here.
    fn record_at(&self, pos: usize) -> (usize, usize) {
        let start = pos + HEADER_LEN;
        let mut len = [0u8; HEADER_LEN];
        if let Some(h) = self.data.get(pos..start) {
            len.copy_from_slice(h);
        }
        let len = usize::try_from(u64::from_le_bytes(len)).unwrap_or(usize::MAX);
        (start, start.saturating_add(len))
    }

    /// The record the next [`Ring::pop`] returns.
    pub fn peek(&self) -> Option<&[u8]> {
        if self.items == 0 {
            return None;
        }
        let (start, end) = self.record_at(self.read_from);
        self.data.get(start..end)
    }

    /// Removes the oldest record and returns its bytes, a slice of the ring's buffer valid until
    /// the ring is next changed: copy it out (into a reply) before pushing again.
    pub fn pop(&mut self) -> Option<&[u8]> {
        if self.items == 0 {
            return None;
        }
        let (start, end) = self.record_at(self.read_from);
        self.items -= 1;
        if self.items == 0 {
            self.read_from = 0;
            self.write_to = 0;
            self.gap = 0;
        } else if end == self.gap {
            // The reader reached the end of the upper part: wrap, the skipped tail is free.
            self.read_from = 0;
            self.gap = self.write_to;
        } else {
            self.read_from = end;
        }
        self.data.get(start..end)
    }

    /// Pops records into `sink`, oldest first, while their push sizes (header included, as on
    /// the wire: `u64 len + payload`) add up to at most `budget`; the first record is popped
    /// even if it alone exceeds `budget`, so a large record never blocks a stream. Returns the
    /// records popped. For a Consume batch.
    pub fn pop_batch(&mut self, budget: usize, mut sink: impl FnMut(&[u8])) -> usize {
        let mut spent = 0usize;
        let mut popped = 0;
        while let Some(next) = self.peek() {
            let size = push_size(next.len());
            if popped > 0 && spent.saturating_add(size) > budget {
                break;
            }
            spent = spent.saturating_add(size);
            if let Some(record) = self.pop() {
                sink(record);
            }
            popped += 1;
        }
        popped
    }

    /// Drops every record (the memory stays allocated).
    pub fn clear(&mut self) {
        self.read_from = 0;
        self.write_to = 0;
        self.gap = 0;
        self.items = 0;
    }

    /// The ring's data in pop order as one or two slices (`u64 len + payload` records): what a
    /// `.rq` dump writes after its header. The second slice is empty unless the ring wrapped.
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        if self.items == 0 {
            (&[], &[])
        } else if self.read_from < self.write_to {
            (&self.data[self.read_from..self.write_to], &[])
        } else {
            (
                &self.data[self.read_from..self.gap],
                &self.data[..self.write_to],
            )
        }
    }

    /// The records in pop order, without removing them (for the dump).
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            ring: self,
            pos: self.read_from,
            left: self.items,
        }
    }
}

/// Records of a dump's data, checking that they tile it exactly.
fn count_records(data: &[u8]) -> Result<u64, DumpError> {
    let mut pos = 0usize;
    let mut count = 0u64;
    while pos < data.len() {
        let truncated = DumpError::Truncated { offset: pos };
        let header = data.get(pos..pos + HEADER_LEN).ok_or(truncated.clone())?;
        let mut len = [0u8; HEADER_LEN];
        len.copy_from_slice(header);
        let len = usize::try_from(u64::from_le_bytes(len)).map_err(|_| truncated.clone())?;
        let end = (pos + HEADER_LEN)
            .checked_add(len)
            .filter(|&end| end <= data.len())
            .ok_or(truncated)?;
        pos = end;
        count += 1;
    }
    Ok(count)
}

/// The records of a [`Ring`] in pop order ([`Ring::iter`]).
#[derive(Debug)]
pub struct Iter<'a> {
    ring: &'a Ring,
    pos: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let (start, end) = self.ring.record_at(self.pos);
        self.left -= 1;
        self.pos = if end == self.ring.gap { 0 } else { end };
        self.ring.data.get(start..end)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests;
