//! Per-connection byte buffers: the input buffer the loop reads into and the service decodes
//! from, and the output buffer the service encodes into and the loop writes from.
//!
//! Both are reused for the life of the connection so the request path allocates nothing. The
//! input buffer stays fully initialised (its `Vec` length is its capacity) so reads go straight
//! into it without zeroing; consumed bytes are reclaimed by resetting to the front when the
//! buffer empties (the usual case) or by compacting when space runs short.

/// Most bytes asked for in one `read` call.
pub(crate) const READ_CHUNK: usize = 64 * 1024;
/// Size of a fresh input buffer: small, as thousands of mostly idle connections may be open.
const INITIAL_INPUT: usize = 16 * 1024;
/// Least free space worth a `read` call; below it the buffer is compacted or grown first.
const MIN_SPARE: usize = 4 * 1024;
/// An empty buffer grown above this (by a large PutBatch or GetAll) gives the memory back.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// Received bytes not yet decoded: `buf[start..end]`.
#[derive(Debug, Default)]
pub(crate) struct InputBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
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
        self.start += n.min(self.len());
        if self.start == self.end {
            // Rewinding an empty buffer is free and avoids most compactions.
            self.start = 0;
            self.end = 0;
        }
    }

    /// Free space to read into: at least `MIN_SPARE`, at most [`READ_CHUNK`] bytes. Follow with
    /// [`InputBuffer::commit`] for the bytes actually read.
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        if self.buf.len() - self.end < MIN_SPARE {
            if self.start > 0 {
                // Only a partial request is left before `end`: moving it is cheap.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.buf.len() - self.end < MIN_SPARE {
                // Doubling keeps the cost of buffering a large request linear.
                let grown = (self.buf.len() * 2)
                    .max(INITIAL_INPUT)
                    .max(self.end + MIN_SPARE);
                self.buf.resize(grown, 0);
            }
        }
        let stop = self.buf.len().min(self.end + READ_CHUNK);
        &mut self.buf[self.end..stop]
    }

    /// Marks `n` bytes after the previous end (written through [`InputBuffer::spare`]) as received.
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = self.buf.len().min(self.end + n);
    }

    /// Gives back memory grown for a large request once everything was consumed.
    pub(crate) fn shrink_if_idle(&mut self) {
        if self.is_empty() && self.buf.len() > SHRINK_ABOVE {
            self.buf.truncate(INITIAL_INPUT);
            self.buf.shrink_to_fit();
        }
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

    /// Marks `n` pending bytes as written.
    pub(crate) fn advance(&mut self, n: usize) {
        self.start = self.buf.len().min(self.start + n);
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
            if self.buf.capacity() > 4 * SHRINK_ABOVE {
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

    fn receive(b: &mut InputBuffer, bytes: &[u8]) {
        let spare = b.spare();
        assert!(spare.len() >= bytes.len().min(MIN_SPARE));
        let n = bytes.len().min(spare.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        b.commit(n);
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
        let spare = b.spare();
        assert!(spare.len() >= MIN_SPARE);
        assert_eq!(b.capacity(), cap, "compacted, not grown");
        assert_eq!(b.start, 0);
        assert_eq!(b.data(), &vec![7u8; 100][..]);
    }

    #[test]
    fn input_grows_for_large_request_and_shrinks_after() {
        let mut b = InputBuffer::default();
        let big: Vec<u8> = (0..3 * SHRINK_ABOVE).map(|i| (i % 251) as u8).collect();
        let mut sent = 0;
        while sent < big.len() {
            let spare = b.spare();
            assert!(spare.len() <= READ_CHUNK);
            let n = spare.len().min(big.len() - sent);
            spare[..n].copy_from_slice(&big[sent..sent + n]);
            b.commit(n);
            sent += n;
        }
        assert_eq!(b.data(), &big[..]);
        b.consume(big.len());
        b.shrink_if_idle();
        assert_eq!(b.capacity(), INITIAL_INPUT);
    }

    #[test]
    fn input_consume_and_commit_are_clamped() {
        let mut b = InputBuffer::default();
        receive(&mut b, b"abc");
        b.consume(100);
        assert!(b.is_empty());
        let len = b.spare().len();
        b.commit(len + 100);
        assert_eq!(b.len(), len);
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
