//! Per-connection byte buffers: the input buffer the loop reads into and the service decodes
//! from, and the output buffer the service encodes into and the loop writes from; and the
//! node-wide [`InputBudget`] that bounds what all input buffers may hold together.
//!
//! Both buffers are reused for the life of the connection so the request path allocates
//! nothing. The input buffer stays fully initialised (its `Vec` length is its capacity) so
//! reads go straight into it without zeroing; consumed bytes are reclaimed by resetting to the
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
                self.buf.resize(grown, 0);
            }
        }
        let stop = self.buf.len().min(self.end + READ_CHUNK);
        Some(&mut self.buf[self.end..stop])
    }

    /// The capacity the last growth refused by the budget asked for.
    pub(crate) fn refused(&self) -> usize {
        self.refused
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
        if self.is_empty() && self.buf.len() > FREE_INPUT {
            self.buf.truncate(INITIAL_INPUT);
            self.buf.shrink_to_fit();
            return self.release(budget);
        }
        false
    }

    /// Returns every charged byte to `budget` (the connection is closing); `true` if any.
    pub(crate) fn release(&mut self, budget: &mut InputBudget) -> bool {
        budget.release(self.charged);
        std::mem::take(&mut self.charged) > 0
    }

    #[cfg(test)]
    fn capacity(&self) -> usize {
        self.buf.len()
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unlimited() -> InputBudget {
        InputBudget::new(usize::MAX)
    }

    fn receive(b: &mut InputBuffer, bytes: &[u8]) {
        let spare = b.spare(&mut unlimited()).expect("unlimited");
        assert!(spare.len() >= bytes.len().min(MIN_SPARE));
        let n = bytes.len().min(spare.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        b.commit(n);
    }

    fn receive_all(b: &mut InputBuffer, budget: &mut InputBudget, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let spare = b.spare(budget).expect("room");
            let n = bytes.len().min(spare.len());
            spare[..n].copy_from_slice(&bytes[..n]);
            b.commit(n);
            bytes = &bytes[n..];
        }
    }

    #[test]
    fn input_rewinds_when_emptied() {
        let mut b = InputBuffer::default();
        receive(&mut b, b"hello world");
        b.consume(6);
        assert_eq!(b.data(), b"world");
        b.consume(5);
        assert!(b.is_empty());
        assert_eq!(b.start, 0);
        assert_eq!(b.end, 0);
    }

    #[test]
    fn input_compacts_partial_request_instead_of_growing() {
        let mut b = InputBuffer::default();
        let cap = INITIAL_INPUT;
        receive(&mut b, &vec![7u8; cap - 10]);
        assert_eq!(b.capacity(), cap);
        // A complete request was consumed, 100 bytes of the next one remain near the end.
        b.consume(cap - 110);
        let spare = b.spare(&mut unlimited()).expect("unlimited");
        assert!(spare.len() >= MIN_SPARE);
        assert_eq!(b.capacity(), cap, "compacted, not grown");
        assert_eq!(b.start, 0);
        assert_eq!(b.data(), &vec![7u8; 100][..]);
    }

    #[test]
    fn input_grows_for_large_request_and_shrinks_after() {
        let mut b = InputBuffer::default();
        let mut budget = unlimited();
        let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
        let mut sent = 0;
        while sent < big.len() {
            let spare = b.spare(&mut budget).expect("unlimited");
            assert!(spare.len() <= READ_CHUNK);
            let n = spare.len().min(big.len() - sent);
            spare[..n].copy_from_slice(&big[sent..sent + n]);
            b.commit(n);
            sent += n;
        }
        assert_eq!(b.data(), &big[..]);
        assert_eq!(budget.used(), b.capacity() - FREE_INPUT);
        b.consume(big.len());
        assert!(b.shrink_if_idle(&mut budget));
        assert_eq!(b.capacity(), INITIAL_INPUT);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn input_consume_and_commit_are_clamped() {
        let mut b = InputBuffer::default();
        receive(&mut b, b"abc");
        b.consume(100);
        assert!(b.is_empty());
        let len = b.spare(&mut unlimited()).expect("unlimited").len();
        b.commit(len + 100);
        assert_eq!(b.len(), len);
    }

    #[test]
    fn growth_past_the_free_size_is_charged_and_refused_when_over_budget() {
        let mut budget = InputBudget::new(1024 * 1024);
        let mut a = InputBuffer::default();
        // Told the request is 1 MiB + 10 KiB: one growth to exactly that, over the budget.
        receive(&mut a, &[1; 8]);
        a.set_need(FREE_INPUT + 1024 * 1024 + 10);
        receive(&mut a, &vec![2; INITIAL_INPUT - 8]);
        assert!(
            a.spare(&mut budget).is_none(),
            "1 MiB + 10 B over a 1 MiB budget"
        );
        assert_eq!(budget.used(), 0);
        // A smaller one fits, grown to its size at once.
        let mut b = InputBuffer::default();
        receive(&mut b, &vec![3; INITIAL_INPUT]);
        b.set_need(FREE_INPUT + 512 * 1024);
        assert!(b.spare(&mut budget).is_some());
        assert_eq!(b.capacity(), FREE_INPUT + 512 * 1024);
        assert_eq!(budget.used(), 512 * 1024);
        // Closing gives it back; then the first one fits.
        assert!(b.release(&mut budget));
        assert_eq!(budget.used(), 0);
        a.set_need(FREE_INPUT + 1024 * 1024);
        assert!(a.spare(&mut budget).is_some());
        // Up to one byte short of its announced end, the rest fits without growing again.
        let short = a.capacity() - 1 - a.len();
        receive_all(&mut a, &mut budget, &vec![5; short]);
        assert_eq!(a.spare(&mut budget).map(|s| s.len()), Some(1));
        assert_eq!(a.capacity(), FREE_INPUT + 1024 * 1024, "not grown again");
        // Doubling without a hint stays free up to FREE_INPUT.
        let mut c = InputBuffer::default();
        let mut none = InputBudget::new(0);
        receive(&mut c, &vec![4; INITIAL_INPUT]);
        assert!(c.spare(&mut none).is_some(), "16 -> 32 KiB is free");
        receive(&mut c, &vec![4; INITIAL_INPUT]);
        assert!(c.spare(&mut none).is_some(), "32 -> 64 KiB is free");
        receive(&mut c, &vec![4; 2 * INITIAL_INPUT]);
        assert!(c.spare(&mut none).is_none(), "64 -> 128 KiB is charged");
        assert_eq!(c.refused(), 2 * FREE_INPUT);
        assert!(!none.could_hold(c.refused()));
        assert!(budget.could_hold(c.refused()));
    }

    #[test]
    fn output_partial_writes_and_compaction() {
        let mut o = OutputBuffer::default();
        o.vec().extend_from_slice(b"0123456789");
        o.advance(3);
        assert_eq!(o.pending(), b"3456789");
        // start (3) is below half of 10: no compaction yet.
        o.vec().extend_from_slice(b"ab");
        assert_eq!(o.pending(), b"3456789ab");
        o.advance(4);
        // start (7) is over half of 12: the prefix is dropped before appending.
        o.vec().extend_from_slice(b"c");
        assert_eq!(o.start, 0);
        assert_eq!(o.pending(), b"789abc");
        o.advance(6);
        assert!(o.is_empty());
        assert_eq!(o.len(), 0);
    }
}
