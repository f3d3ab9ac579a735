//! Per-connection byte buffers: the input buffer the loop reads into and the service decodes
//! from, and the output buffer the service encodes into and the loop writes from; and the
//! node-wide [`InputBudget`] that bounds what all input buffers may hold together.
//!
//! Both buffers are reused for the life of the connection so the request path allocates
//! nothing. The input buffer is initialised up to where the next read ends, so reads go
//! straight into it; a large announced request reserves its whole capacity at once but is zeroed
//! a read chunk at a time as its bytes arrive (zeroing 10 MiB, and faulting it in, at once held
//! the loop for milliseconds per connection); consumed bytes are reclaimed by resetting to the
//! front when the buffer empties (the usual case) or by compacting when space runs short.
//!
//! Every input buffer may hold [`FREE_INPUT`] bytes without asking; growing past that (a large
//! PutBatch, a GetAllFilter with a long filter) is charged to the budget first. A buffer that
//! cannot be charged is not grown and its connection is not read until the budget frees, so
//! clients that announce large arrays and then stall cannot grow the node without bound.

/// Most bytes asked for in one `read` call.
pub(crate) const READ_CHUNK: usize = 64 * 1024;
/// Size of a fresh input buffer: small, as thousands of mostly idle connections may be open.
const INITIAL_INPUT: usize = 16 * 1024;
/// Least free space worth a `read` call; below it the buffer is compacted or grown first.
const MIN_SPARE: usize = 4 * 1024;
/// Input buffer capacity every connection has without charging the [`InputBudget`]; an empty
/// buffer grown above it gives the memory back.
pub(crate) const FREE_INPUT: usize = 64 * 1024;
/// An output buffer grown above this (by a large GetAll batch) gives the memory back once empty.
const SHRINK_OUTPUT_ABOVE: usize = 4 * 1024 * 1024;

/// Node-wide bytes of input buffer capacity above [`FREE_INPUT`] per connection, and its limit
/// (`[Server] input_buffer_limit`).
#[derive(Debug)]
pub(crate) struct InputBudget {
    limit: usize,
    used: usize,
}

impl InputBudget {
    pub(crate) fn new(limit: usize) -> Self {
        InputBudget { limit, used: 0 }
    }

    /// Charges `n` bytes if they fit.
    fn charge(&mut self, n: usize) -> bool {
        if n > self.limit.saturating_sub(self.used) {
            return false;
        }
        self.used += n;
        true
    }

    fn release(&mut self, n: usize) {
        self.used = self.used.saturating_sub(n);
    }

    /// Bytes charged now.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.used
    }

    /// Whether a buffer of `capacity` bytes could ever be charged (when nothing else is).
    pub(crate) fn could_hold(&self, capacity: usize) -> bool {
        capacity.saturating_sub(FREE_INPUT) <= self.limit
    }

    /// The limit, for messages.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }
}

/// Received bytes not yet decoded: `buf[start..end]`.
#[derive(Debug, Default)]
pub(crate) struct InputBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Bytes of capacity charged to the [`InputBudget`].
    charged: usize,
    /// Total size of the partial request at the front, when the service could tell.
    need: usize,
    /// The capacity the last refused growth asked for.
    refused: usize,
}

impl InputBuffer {
    /// The received bytes not yet consumed.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Number of bytes not yet consumed.
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Drops `n` bytes from the front (fewer if fewer are buffered).
    pub(crate) fn consume(&mut self, n: usize) {
        self.need = 0;
        self.start += n.min(self.len());
        if self.start == self.end {
            // Rewinding an empty buffer is free and avoids most compactions.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Free space to read into: at least `MIN_SPARE`, at most [`READ_CHUNK`] bytes; `None` when
    /// the buffer must grow and `budget` cannot cover it. Follow with [`InputBuffer::commit`]
    /// for the bytes actually read.
    pub(crate) fn spare(&mut self, budget: &mut InputBudget) -> Option<&mut [u8]> {
        // The rest of an announced request may be less than MIN_SPARE: exactly that is enough.
        let rest = self.need.saturating_sub(self.len());
        let min_free = if rest > 0 {
            rest.min(MIN_SPARE)
        } else {
            MIN_SPARE
        };
        if self.buf.len() - self.end < min_free {
            if self.start > 0 {
                // Only a partial request is left before `end`: moving it is cheap.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < min_free {
                // To the announced size of the request at once, else doubling (which keeps the
                // cost of buffering a large request linear).
                let grown = if rest >= min_free {
                    self.need
                } else {
                    (self.buf.len() * 2)
                        .max(INITIAL_INPUT)
                        .max(self.end + MIN_SPARE)
                };
                let charge = grown.saturating_sub(FREE_INPUT);
                if charge > self.charged {
                    if !budget.charge(charge - self.charged) {
                        self.refused = grown;
                        return None;
                    }
                    self.charged = charge;
                }
                // The whole capacity now (no copy as the request arrives), its bytes zeroed
                // only as far as the next read reaches. A new block, advised before a byte of
                // it is written: growing in place (realloc) would copy into it first, and that
                // first write could fault in a 2 MiB huge page (zeroed on the loop thread).
                if grown > self.buf.capacity() {
                    let mut bigger = Vec::with_capacity(grown);
                    no_huge_pages(&bigger);
                    bigger.extend_from_slice(&self.buf[..self.end]);
                    self.buf = bigger;
                }
                self.buf.resize(grown.min(self.end + READ_CHUNK), 0);
            }
        }
        let stop = self.buf.len().min(self.end + READ_CHUNK);
        Some(&mut self.buf[self.end..stop])
    }

    /// The capacity the last growth refused by the budget asked for.
    pub(crate) fn refused(&self) -> usize {
        self.refused
    }

    /// The size the service announced for the partial request at the front (0: none).
    pub(crate) fn need(&self) -> usize {
        self.need
    }

    /// The service said the partial request at the front is `n` bytes in all.
    pub(crate) fn set_need(&mut self, n: usize) {
        self.need = n;
    }

    /// Marks `n` bytes after the previous end (written through [`InputBuffer::spare`]) as received.
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = self.buf.len().min(self.end + n);
    }

    /// Gives back memory grown for a large request once everything was consumed; `true` when
    /// budget was released.
    pub(crate) fn shrink_if_idle(&mut self, budget: &mut InputBudget) -> bool {
        if self.is_empty() && self.buf.capacity() > FREE_INPUT {
            // The next read starts a buffer of the usual size again.
            drop(self.take());
            return self.release(budget);
        }
        false
    }

    /// The buffer's memory, taken out (the connection is closing: the loop frees large ones a
    /// few at a time); the buffer is empty and unallocated after.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.start = 0;
        self.end = 0;
        std::mem::take(&mut self.buf)
    }

    /// Returns every charged byte to `budget` (the connection is closing); `true` if any.
    pub(crate) fn release(&mut self, budget: &mut InputBudget) -> bool {
        budget.release(self.charged);
        std::mem::take(&mut self.charged) > 0
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

/// Huge pages only from this size (x86-64 and aarch64 transparent huge pages: 2 MiB).
const HUGE_PAGE: usize = 2 * 1024 * 1024;

/// Asks the kernel not to back a large input buffer with transparent huge pages (a node's
/// allocator may ask for them, as the dht's does for its tables): the buffer fills a read at a
/// time, and the first byte written to each huge page would zero 2 MiB in the loop thread, for
/// every one of many connections sending large requests at once.
fn no_huge_pages(buf: &Vec<u8>) {
    const PAGE: usize = 4096;
    if buf.capacity() < HUGE_PAGE {
        return;
    }
    // Every page the buffer touches, the partial ones at both ends included: a last byte left
    // in an advised range faults in a whole huge page (after direct compaction, under the
    // `madvise` defrag policy: milliseconds), as a 10 MiB + 22 byte request did.
    let start = (buf.as_ptr() as usize) & !(PAGE - 1);
    let end = (buf.as_ptr() as usize + buf.capacity()).next_multiple_of(PAGE);
    if end > start {
        // SAFETY: the range covers `buf`'s own allocation, rounded out to whole pages (a page
        // it shares with a neighbour is mapped all the same); MADV_NOHUGEPAGE changes only how
        // the kernel backs those pages, never their contents or validity. A failure (an old
        // kernel) leaves them as they were, which is only slower.
        let _ = unsafe {
            libc::madvise(
                start as *mut libc::c_void,
                end - start,
                libc::MADV_NOHUGEPAGE,
            )
        };
    }
}

/// Encoded replies not yet written: `buf[start..]`.
#[derive(Debug, Default)]
pub(crate) struct OutputBuffer {
    buf: Vec<u8>,
    start: usize,
}

impl OutputBuffer {
    /// The bytes still to write.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Number of bytes still to write.
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.buf.len()
    }

    /// The vector a service appends its replies to.
    pub(crate) fn vec(&mut self) -> &mut Vec<u8> {
        // After a partial write the written prefix is dead weight; drop it once it is at least
        // half the buffer, so the copy is never larger than what it frees.
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        &mut self.buf
    }

    /// The output as a service writes it: appended to, with its room.
    #[inline]
    pub(crate) fn out(&mut self) -> crate::service::Out<'_> {
        self.vec();
        let written = self.start;
        crate::service::Out::with_written(&mut self.buf, written)
    }

    /// Marks `n` pending bytes as written.
    pub(crate) fn advance(&mut self, n: usize) {
        self.start = self.buf.len().min(self.start + n);
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > SHRINK_OUTPUT_ABOVE {
                self.buf.shrink_to(INITIAL_INPUT);
            }
        }
    }

    /// Drops everything pending (the connection is going away).
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.start = 0;
    }

    /// The buffer's memory, taken out, as [`InputBuffer::take`].
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.start = 0;
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests;
