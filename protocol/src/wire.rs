//! Framing primitives of the legacy protocols: little-endian integers and u64-length-prefixed
//! byte arrays, read from a byte slice (never from a socket) and written into a `Vec<u8>`.

use crate::error::{DecodeError, ProtocolError};
use byteorder::{ByteOrder, LittleEndian};

/// Largest array a node accepts (the original's `FiberSelectReader.max_array_size`). A longer
/// length prefix closes the connection before any buffer of that size is allocated.
pub const MAX_ARRAY_LEN: u64 = 10 * 1024 * 1024;

/// A cursor over received bytes. Every read returns [`DecodeError::Incomplete`] when the buffer
/// ends too early, so a decoder can simply be re-run once more bytes arrived.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes not consumed yet.
    pub fn remaining(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Incomplete)?;
        let bytes = self.buf.get(self.pos..end).ok_or(DecodeError::Incomplete)?;
        self.pos = end;
        Ok(bytes)
    }

    /// Reads one byte.
    pub fn read_u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    /// Reads a little-endian u16 (ports).
    pub fn read_u16(&mut self) -> Result<u16, DecodeError> {
        Ok(LittleEndian::read_u16(self.take(2)?))
    }

    /// Reads a little-endian i32 (command and status codes).
    pub fn read_i32(&mut self) -> Result<i32, DecodeError> {
        Ok(LittleEndian::read_i32(self.take(4)?))
    }

    /// A status code (i32 LE); a code that is no [`crate::Status`] is
    /// [`ProtocolError::UnknownStatus`].
    pub fn read_status(&mut self) -> Result<crate::Status, DecodeError> {
        let code = self.read_i32()?;
        crate::Status::from_code(code).ok_or_else(|| ProtocolError::UnknownStatus(code).into())
    }

    /// Reads a little-endian u64 (lengths, counts, hash ranges).
    pub fn read_u64(&mut self) -> Result<u64, DecodeError> {
        Ok(LittleEndian::read_u64(self.take(8)?))
    }

    /// Reads a little-endian f32 (the logfiles node's Redistribute fraction).
    pub fn read_f32(&mut self) -> Result<f32, DecodeError> {
        Ok(LittleEndian::read_f32(self.take(4)?))
    }

    /// Reads a u64-length-prefixed array of at most `max` bytes. The length is checked against
    /// `max` as soon as the prefix is there, before the body arrived, so an oversized array is
    /// refused without waiting for (or buffering) its bytes.
    pub fn read_array_max(&mut self, max: u64) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let len = self.read_u64()?;
        if len > max {
            self.pos = start;
            return Err(ProtocolError::ArrayTooLong { len, max }.into());
        }
        match self.take(len as usize) {
            Ok(bytes) => Ok(bytes),
            Err(e) => {
                self.pos = start;
                Err(e)
            }
        }
    }

    /// Reads an array of at most [`MAX_ARRAY_LEN`] bytes.
    pub fn read_array(&mut self) -> Result<&'a [u8], DecodeError> {
        self.read_array_max(MAX_ARRAY_LEN)
    }

    /// Reads a list of arrays ended by an empty one (a channel list), without the end.
    pub fn read_list(&mut self) -> Result<Vec<&'a [u8]>, DecodeError> {
        let mut items = Vec::new();
        loop {
            match self.read_array()? {
                [] => return Ok(items),
                item => items.push(item),
            }
        }
    }
}

/// Appends one byte.
pub fn put_u8(out: &mut Vec<u8>, v: u8) {
    out.push(v);
}

/// Appends a little-endian u16.
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a little-endian i32.
pub fn put_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a little-endian u64.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a little-endian f32.
pub fn put_f32(out: &mut Vec<u8>, v: f32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a list of arrays and the empty array that ends it (see [`Reader::read_list`]).
pub fn put_list(out: &mut Vec<u8>, items: &[&[u8]]) {
    for item in items {
        put_array(out, item);
    }
    put_array(out, b"");
}

/// Appends a u64-length-prefixed array.
pub fn put_array(out: &mut Vec<u8>, bytes: &[u8]) {
    put_u64(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_roundtrip_and_incomplete() {
        let mut out = Vec::new();
        put_array(&mut out, b"test");
        assert_eq!(out, b"\x04\0\0\0\0\0\0\0test");
        for cut in 0..out.len() {
            let mut r = Reader::new(&out[..cut]);
            assert_eq!(r.read_array(), Err(DecodeError::Incomplete));
            assert_eq!(r.position(), 0, "a failed read consumes nothing");
        }
        let mut r = Reader::new(&out);
        assert_eq!(r.read_array(), Ok(&b"test"[..]));
        assert_eq!(r.position(), out.len());
    }

    #[test]
    fn oversized_array_is_refused_on_its_prefix() {
        let mut out = Vec::new();
        put_u64(&mut out, MAX_ARRAY_LEN + 1);
        let mut r = Reader::new(&out);
        assert_eq!(
            r.read_array(),
            Err(DecodeError::Invalid(ProtocolError::ArrayTooLong {
                len: MAX_ARRAY_LEN + 1,
                max: MAX_ARRAY_LEN
            }))
        );
        let mut huge = Vec::new();
        put_u64(&mut huge, u64::MAX);
        assert!(matches!(
            Reader::new(&huge).read_array(),
            Err(DecodeError::Invalid(ProtocolError::ArrayTooLong { .. }))
        ));
    }

    #[test]
    fn integers_are_little_endian() {
        let mut out = Vec::new();
        put_i32(&mut out, 200);
        put_u16(&mut out, 10000);
        put_u64(&mut out, 0x0102030405060708);
        assert_eq!(&out[..4], &[0xc8, 0, 0, 0]);
        let mut r = Reader::new(&out);
        assert_eq!(r.read_i32(), Ok(200));
        assert_eq!(r.read_u16(), Ok(10000));
        assert_eq!(r.read_u64(), Ok(0x0102030405060708));
        assert_eq!(r.read_u8(), Err(DecodeError::Incomplete));
    }
}
