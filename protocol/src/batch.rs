//! LZO1X-1 compressed record batches (swarm `RecordBatcher`), the payload of GetAll-style
//! replies and of PutBatch.
//!
//! | bytes | field |
//! |---|---|
//! | u64 LE | length of the uncompressed batch |
//! | rest | the batch compressed as raw LZO1X-1 (liblzo2 `lzo1x_1_compress`: no header, no checksum) |
//!
//! The uncompressed batch is a run of items, each `u64 LE length` + bytes: key, value, key,
//! value... for pairs (GetAll, GetAllFilter, PutBatch) or key, key... for singles (GetAllKeys).
//! On the wire each compressed batch is itself one array, and a stream of batches ends with an
//! empty array.

use crate::error::ProtocolError;
use crate::wire::{put_u64, MAX_ARRAY_LEN};
use byteorder::{ByteOrder, LittleEndian};
use std::mem;

/// The original's default batch capacity (uncompressed bytes), `[Options_Memory] batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 65_536;

/// Largest uncompressed batch a decoder accepts: compressed batches arrive in arrays of at most
/// [`MAX_ARRAY_LEN`] bytes, and we refuse to inflate them beyond the same size.
pub const MAX_BATCH_RAW_LEN: u64 = MAX_ARRAY_LEN;

/// Bytes a (key, value) pair takes in an uncompressed batch.
pub const fn pair_size(key_len: usize, value_len: usize) -> usize {
    16 + key_len + value_len
}

/// LZO1X-1, as liblzo2's `lzo1x_1_compress` (dictionary of 2^14 entries).
pub fn compress(raw: &[u8]) -> Vec<u8> {
    lzo1x::compress(raw, lzo1x::CompressLevel::new(3))
}

/// `raw` as an LZO1X stream of literals only (one literal run, then the end marker): what
/// liblzo2's compressor emits for data it finds no match in, made without searching, so any
/// LZO1X decompressor reads it. For batches that do not compress (random or encrypted values),
/// where LZO's search costs time and saves nothing.
pub fn store(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 8 + raw.len() / 255);
    store_into(raw, &mut out);
    out
}

/// [`store`], appended to `out`.
fn store_into(raw: &[u8], out: &mut Vec<u8>) {
    let len = raw.len();
    out.reserve(len + 8 + len / 255);
    if len == 0 {
        // Nothing but the end marker, as liblzo2 makes for empty input.
    } else if len <= 238 {
        // The first literal run's short form: one byte, len + 17.
        out.push((len + 17) as u8);
    } else {
        // A literal run of t + 3 literals: t = 0 extended by zero bytes (255 each) and a last
        // byte r (1..=255) for t - 15.
        let x = len - 3 - 15;
        let zeros = (x - 1) / 255;
        out.push(0);
        out.resize(out.len() + zeros, 0);
        out.push((x - 255 * zeros) as u8);
    }
    out.extend_from_slice(raw);
    // End of stream: an M4 match of distance 0.
    out.extend_from_slice(&[0x11, 0, 0]);
}

/// Batches sent as plain literals ([`store`]) after one that LZO could not shrink by 1/16,
/// before LZO is tried again: values that do not compress (random, encrypted) cost no search,
/// and a stream whose values change to text is compressed again within 16 batches.
pub const STORE_RUN: u32 = 16;

/// The choice between LZO and literals for one stream of batches ([`STORE_RUN`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct Compression {
    /// Batches still to send as literals.
    store_left: u32,
}

impl Compression {
    /// Finishes `batch` into `out` as this stream's next batch: LZO1X-1, or literals while the
    /// values did not compress. A batch without items (the end or a keepalive) says nothing
    /// about the values and is always compressed.
    pub fn finish(&mut self, batch: &mut BatchBuilder, out: &mut Vec<u8>) {
        if batch.is_empty() {
            batch.finish_into(out);
            return;
        }
        let stored = self.store_left > 0;
        let paid = batch.finish_with(out, stored);
        if stored {
            self.store_left -= 1;
        } else if !paid {
            self.store_left = STORE_RUN;
        }
    }
}

/// Collects items up to a capacity, then compresses them into one wire array.
#[derive(Debug)]
pub struct BatchBuilder {
    capacity: usize,
    raw: Vec<u8>,
    items: usize,
}

impl BatchBuilder {
    /// A builder for batches of at most `capacity` uncompressed bytes.
    pub fn new(capacity: usize) -> Self {
        BatchBuilder {
            capacity,
            raw: Vec::with_capacity(capacity),
            items: 0,
        }
    }

    /// The capacity in uncompressed bytes.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Whether no item was added since the last [`BatchBuilder::finish_into`].
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Uncompressed bytes collected so far.
    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }

    /// Whether a record of `size` bytes ([`pair_size`] or `8 + key_len`) can never fit.
    pub fn too_large(&self, size: usize) -> bool {
        size > self.capacity
    }

    /// Adds a (key, value) pair if the batch stays within its capacity; `false` if it does not
    /// fit (send this batch, then add the pair to the next one).
    pub fn try_push_pair(&mut self, key: &[u8], value: &[u8]) -> bool {
        if self.raw.len() + pair_size(key.len(), value.len()) > self.capacity {
            return false;
        }
        push_item(&mut self.raw, key);
        push_item(&mut self.raw, value);
        self.items += 1;
        true
    }

    /// Adds a single item (a key, for GetAllKeys) if it fits.
    pub fn try_push_single(&mut self, item: &[u8]) -> bool {
        if self.raw.len() + 8 + item.len() > self.capacity {
            return false;
        }
        push_item(&mut self.raw, item);
        self.items += 1;
        true
    }

    /// Compresses the collected items and appends them to `out` as one wire array
    /// (`u64 array length`, `u64 uncompressed length`, LZO bytes); then starts a new batch.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        self.finish_with(out, false);
    }

    /// [`BatchBuilder::finish_into`], with the batch compressed by LZO1X-1, or with `stored`
    /// written as literals ([`store`]); returns whether compressing saved at least 1/16 of the
    /// batch (always `false` when stored), so a caller can stop compressing data that does not
    /// compress.
    pub fn finish_with(&mut self, out: &mut Vec<u8>, stored: bool) -> bool {
        let head = out.len();
        put_u64(out, 0);
        put_u64(out, self.raw.len() as u64);
        let paid = if stored {
            store_into(&self.raw, out);
            false
        } else {
            let body = compress(&self.raw);
            out.extend_from_slice(&body);
            body.len() + self.raw.len() / 16 <= self.raw.len()
        };
        let array_len = (out.len() - head - 8) as u64;
        out[head..head + 8].copy_from_slice(&array_len.to_le_bytes());
        self.raw.clear();
        self.items = 0;
        paid
    }
}

fn push_item(raw: &mut Vec<u8>, item: &[u8]) {
    put_u64(raw, item.len() as u64);
    raw.extend_from_slice(item);
}

/// Decompresses one batch (the content of one wire array: `u64 raw length` + LZO bytes).
pub fn decompress(payload: &[u8]) -> Result<Vec<u8>, ProtocolError> {
    let mut raw = Inflater::default();
    raw.inflate(payload)?;
    Ok(raw.take())
}

/// The uncompressed length a batch payload announces (checked against
/// [`MAX_BATCH_RAW_LEN`]): what inflating it will cost, known before any of it is done.
pub fn announced_len(payload: &[u8]) -> Result<usize, ProtocolError> {
    if payload.len() < 8 {
        return Err(ProtocolError::BadBatch("shorter than its length header"));
    }
    let raw_len = LittleEndian::read_u64(&payload[..8]);
    if raw_len > MAX_BATCH_RAW_LEN {
        return Err(ProtocolError::BadBatch(
            "uncompressed length over the limit",
        ));
    }
    // At most MAX_BATCH_RAW_LEN (10 MiB), which fits any usize.
    Ok(raw_len as usize)
}

/// A buffer batches are inflated into, one after another, kept between them: its pages are
/// touched once, by the first batch of a size, not again by every batch. A node inflating
/// PutBatch requests on its loop thread keeps one, so a few KiB claiming 10 MiB cost the copy
/// of 10 MiB, not also the page faults and zeroing of fresh memory (several times the copy).
/// It holds as much memory as the largest batch inflated so far (at most
/// [`MAX_BATCH_RAW_LEN`]).
#[derive(Debug, Default)]
pub struct Inflater {
    buf: Vec<u8>,
}

impl Inflater {
    /// Inflates `payload` (`u64 raw length` + LZO bytes) and returns the uncompressed batch,
    /// valid until the next call. Bytes past the batch in the buffer are left from earlier
    /// batches (never zeroed again), so only the bytes beyond the largest batch so far are
    /// initialised here.
    pub fn inflate(&mut self, payload: &[u8]) -> Result<&[u8], ProtocolError> {
        let raw_len = announced_len(payload)?;
        if self.buf.len() < raw_len {
            self.buf.resize(raw_len, 0);
        }
        let raw = &mut self.buf[..raw_len];
        lzo1x::decompress(&payload[8..], raw).map_err(|_| {
            ProtocolError::BadBatch("LZO data does not decompress to the announced length")
        })?;
        Ok(raw)
    }

    /// The buffer, taken out: for an inflater that inflated one batch, exactly that batch.
    fn take(&mut self) -> Vec<u8> {
        mem::take(&mut self.buf)
    }
}

/// Iterates the items of an uncompressed batch.
#[derive(Debug, Clone)]
pub struct Items<'a> {
    raw: &'a [u8],
}

impl<'a> Items<'a> {
    /// Items of `raw`.
    pub fn new(raw: &'a [u8]) -> Self {
        Items { raw }
    }

    /// The next item, `None` at the end, an error if the batch is cut inside an item.
    pub fn next_item(&mut self) -> Option<Result<&'a [u8], ProtocolError>> {
        if self.raw.is_empty() {
            return None;
        }
        if self.raw.len() < 8 {
            self.raw = &[];
            return Some(Err(ProtocolError::BadBatch("item length cut off")));
        }
        let len = LittleEndian::read_u64(&self.raw[..8]);
        let rest = &self.raw[8..];
        if len > rest.len() as u64 {
            self.raw = &[];
            return Some(Err(ProtocolError::BadBatch("item longer than the batch")));
        }
        let (item, tail) = rest.split_at(len as usize);
        self.raw = tail;
        Some(Ok(item))
    }
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<&'a [u8], ProtocolError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_item()
    }
}

/// Iterates (key, value) pairs of an uncompressed batch.
#[derive(Debug, Clone)]
pub struct Pairs<'a>(Items<'a>);

impl<'a> Pairs<'a> {
    /// Pairs of `raw`.
    pub fn new(raw: &'a [u8]) -> Self {
        Pairs(Items::new(raw))
    }

    /// Bytes of the batch not read yet (so a reader can stop and later go on at
    /// `raw.len() - remaining()`).
    pub fn remaining(&self) -> usize {
        self.0.raw.len()
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Result<(&'a [u8], &'a [u8]), ProtocolError>;
    fn next(&mut self) -> Option<Self::Item> {
        let key = match self.0.next()? {
            Ok(k) => k,
            Err(e) => return Some(Err(e)),
        };
        match self.0.next() {
            Some(Ok(value)) => Some(Ok((key, value))),
            Some(Err(e)) => Some(Err(e)),
            None => Some(Err(ProtocolError::BadBatch("key without a value"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_streams_decompress_at_every_length_form() {
        for len in [
            0usize, 1, 2, 3, 4, 17, 18, 19, 238, 239, 240, 273, 274, 529, 530, 65_536,
        ] {
            let raw: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let s = store(&raw);
            let mut back = vec![0u8; len];
            lzo1x::decompress(&s, &mut back).unwrap_or_else(|e| panic!("{len}: {e:?}"));
            assert_eq!(back, raw, "{len}");
            assert_eq!(&s[s.len() - 3..], &[0x11, 0, 0]);
        }
        assert_eq!(store(&[]), [0x11, 0, 0], "liblzo2's form of nothing");
    }

    #[test]
    fn finish_with_says_whether_compressing_paid() {
        let mut b = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        assert!(b.try_push_pair(b"0000000000000001", &[b'a'; 1000]));
        let mut out = Vec::new();
        assert!(b.finish_with(&mut out, false), "repetitive values compress");
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..1000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect();
        assert!(b.try_push_pair(b"0000000000000002", &noise));
        let mut out2 = Vec::new();
        assert!(!b.finish_with(&mut out2, false), "noise does not");
        assert!(b.try_push_pair(b"0000000000000002", &noise));
        let mut out3 = Vec::new();
        assert!(!b.finish_with(&mut out3, true));
        let raw = decompress(&out3[8..]).unwrap();
        let pairs: Vec<_> = Pairs::new(&raw).map(|p| p.unwrap()).collect();
        assert_eq!(pairs, [(&b"0000000000000002"[..], &noise[..])]);
    }
    use crate::wire::Reader;
    use proptest::prelude::*;

    /// The worked example of spec/logfiles.md 1.2, made with liblzo2.
    const HELLO_LZO: [u8; 38] = [
        0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x30, 0xc0, 0x00, 0x00, 0x03, b'5', b'7', b'2', b'7',
        b'5', b'8', b'0', b'6', 0x05, 0, 0, 0, 0, 0, 0, 0, b'H', b'e', b'l', b'l', b'o', 0x11,
        0x00, 0x00,
    ];

    fn payload_of(raw: &[u8]) -> Vec<u8> {
        [&(raw.len() as u64).to_le_bytes()[..], &compress(raw)].concat()
    }

    #[test]
    fn an_inflater_keeps_its_buffer_and_returns_exactly_each_batch() {
        let mut inflater = Inflater::default();
        let large = vec![7u8; 200_000];
        let small = b"a small batch".to_vec();
        assert_eq!(inflater.inflate(&payload_of(&large)).unwrap(), &large[..]);
        let kept = inflater.buf.as_ptr();
        // A smaller batch after a larger one: its own bytes only, in the same memory.
        assert_eq!(inflater.inflate(&payload_of(&small)).unwrap(), &small[..]);
        assert_eq!(inflater.inflate(&payload_of(&[])).unwrap(), &[] as &[u8]);
        assert_eq!(inflater.buf.as_ptr(), kept, "the buffer was not kept");
        // A batch that fails leaves the inflater usable.
        let mut bad = payload_of(&small);
        bad[0] += 1;
        assert!(inflater.inflate(&bad).is_err());
        assert_eq!(inflater.inflate(&payload_of(&small)).unwrap(), &small[..]);
    }

    #[test]
    fn the_announced_length_is_read_and_checked_before_inflating() {
        assert_eq!(announced_len(&payload_of(b"abc")).unwrap(), 3);
        assert!(announced_len(&[0; 7]).is_err());
        let over = (MAX_BATCH_RAW_LEN + 1).to_le_bytes();
        assert!(announced_len(&over).is_err());
        assert!(Inflater::default().inflate(&over).is_err());
    }

    #[test]
    fn liblzo2_worked_example_decodes() {
        let mut payload = 37u64.to_le_bytes().to_vec();
        payload.extend_from_slice(&HELLO_LZO);
        let raw = decompress(&payload).unwrap();
        let pairs: Vec<_> = Pairs::new(&raw).collect::<Result<_, _>>().unwrap();
        assert_eq!(pairs, vec![(&b"0000000057275806"[..], &b"Hello"[..])]);
    }

    #[test]
    fn our_compressor_matches_liblzo2_on_the_worked_example() {
        let mut b = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        assert!(b.try_push_pair(b"0000000057275806", b"Hello"));
        let mut out = Vec::new();
        b.finish_into(&mut out);
        let mut expect = vec![0x2e, 0, 0, 0, 0, 0, 0, 0, 0x25, 0, 0, 0, 0, 0, 0, 0];
        expect.extend_from_slice(&HELLO_LZO);
        assert_eq!(out, expect);
        assert!(b.is_empty());
    }

    #[test]
    fn empty_batch_is_the_lzo_end_marker() {
        let mut b = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        let mut out = Vec::new();
        b.finish_into(&mut out);
        assert_eq!(
            out,
            [11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0]
        );
    }

    #[test]
    fn capacity_is_respected() {
        let mut b = BatchBuilder::new(100);
        assert!(b.try_push_pair(&[b'k'; 16], &[1u8; 50])); // 82 bytes
        assert!(!b.try_push_pair(&[b'k'; 16], &[1u8; 2]));
        assert!(b.too_large(pair_size(16, 85)));
    }

    #[test]
    fn corrupt_batches_are_errors() {
        assert!(decompress(&[1, 2]).is_err());
        let mut p = 1000u64.to_le_bytes().to_vec();
        p.extend_from_slice(&[0xff; 20]);
        assert!(decompress(&p).is_err());
        let mut huge = u64::MAX.to_le_bytes().to_vec();
        huge.push(0x11);
        assert!(decompress(&huge).is_err());
        let cut = [5u8, 0, 0, 0, 0, 0, 0, 0, b'a'];
        assert!(Items::new(&cut).next().unwrap().is_err());
        let lonely_key = [1u8, 0, 0, 0, 0, 0, 0, 0, b'a'];
        assert!(Pairs::new(&lonely_key).next().unwrap().is_err());
    }

    proptest! {
        #[test]
        fn batch_roundtrip(records in proptest::collection::vec(
            (any::<u64>(), proptest::collection::vec(any::<u8>(), 0..300)), 0..50)) {
            let mut b = BatchBuilder::new(DEFAULT_BATCH_SIZE);
            for (k, v) in &records {
                prop_assert!(b.try_push_pair(&crate::key::format_key(*k), v));
            }
            let mut out = Vec::new();
            b.finish_into(&mut out);
            let mut r = Reader::new(&out);
            let payload = r.read_array().unwrap();
            prop_assert_eq!(r.remaining().len(), 0);
            let raw = decompress(payload).unwrap();
            let got: Vec<_> = Pairs::new(&raw).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(got.len(), records.len());
            for ((k, v), (gk, gv)) in records.iter().zip(got) {
                prop_assert_eq!(&crate::key::format_key(*k)[..], gk);
                prop_assert_eq!(&v[..], gv);
            }
        }
    }
}
