//! The queue node's `.rq` memory dump files (one per channel, written on shutdown and loaded on
//! start): a writer over any [`io::Write`] (record by record, or whole encoded records such as
//! a ring's memory with [`RqWriter::write_encoded`]) and a reader over any [`io::Read`] that
//! hands out records one by one, so no whole file is buffered. Durability (temp file, fsync,
//! rename, fsync of the directory) is the node's job; this module only owns the bytes.
//!
//! The layout is the original's ring save, ocean's `FlexibleByteRingQueue.save` as called by
//! dmqnode's `storage/Ring.d` (`close`): the `ExportMetadata` struct (one `uint items`), the
//! data length as a `size_t`, then the ring's bytes from the read position, the wrapped part
//! concatenated, which are the records in pop order, each with its `size_t` header. Native
//! x86-64 layout, so little-endian:
//!
//! | bytes | field |
//! |---|---|
//! | u32 LE | record count |
//! | u64 LE | data length: the bytes of all records below |
//! | u64 LE | record length |
//! | record length bytes | the record |
//! | ... | more records, until the data length is used up |
//!
//! There is no magic, version or checksum (the original has none), so a file is recognised
//! by its `.rq` name only. What tells a complete file from a torn one is the data length; the
//! count and the record headers must then agree with it, as ocean's `validate` demands (the
//! count equals the records that exactly tile the data). Bytes after the data are not read
//! (the original read exactly the data length). The original never stored an empty record,
//! but its loader accepted one, and so does this reader.
//!
//! Example (dmqnode's fixture `ch2.rq`): `01 00 00 00`, `12 00 00 00 00 00 00 00`,
//! `0A 00 00 00 00 00 00 00`, `Hello ch2!`.

use crate::wire::MAX_ARRAY_LEN;
use byteorder::{ByteOrder, LittleEndian};
use std::fmt;
use std::io::{self, Read, Write};

/// Bytes of the header: record count and data length.
pub const HEADER_LEN: u64 = 4 + 8;
/// Longest record a reader accepts: records came in through the protocol, whose arrays are at
/// most [`MAX_ARRAY_LEN`]. A longer length means the file is corrupt, and it is refused before
/// anything of that size is allocated.
pub const MAX_RECORD_LEN: u64 = MAX_ARRAY_LEN;

/// Bytes a record takes in the data: its u64 header and its bytes (also its ring footprint).
pub fn record_len(len: usize) -> u64 {
    8 + len as u64
}

/// Why a `.rq` file cannot be read (further). `#[non_exhaustive]`: a new check is not a
/// breaking change, so a `match` outside this crate needs a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum RqError {
    /// Reading failed.
    Io(io::Error),
    /// The file ends before its data length is used up: a torn or cut file. The records
    /// handed out so far are the complete ones.
    Truncated {
        /// Complete records read.
        records: u64,
        /// File bytes up to the end of the last complete record (header included; 0 when the
        /// header itself is torn).
        bytes: u64,
    },
    /// The record count disagrees with the records that tile the data length.
    CountMismatch {
        /// The count in the header.
        count: u32,
        /// Records read before the disagreement showed.
        records: u64,
        /// Data bytes left over (0 when the data ran out before the count).
        left: u64,
    },
    /// A record length beyond [`MAX_RECORD_LEN`] or beyond the data left.
    Corrupt {
        /// File offset of the length field.
        offset: u64,
        /// The length read.
        len: u64,
    },
}

impl fmt::Display for RqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RqError::Io(e) => write!(f, "read error: {e}"),
            RqError::Truncated { records, bytes } => write!(
                f,
                "file ends before its data length (torn dump): {records} complete records, {bytes} bytes"
            ),
            RqError::CountMismatch {
                count,
                records,
                left,
            } => write!(
                f,
                "record count {count} disagrees with the data: {records} records read, {left} bytes left"
            ),
            RqError::Corrupt { offset, len } => write!(
                f,
                "corrupt file: record length {len} at byte {offset} is beyond the limit or the data"
            ),
        }
    }
}

impl std::error::Error for RqError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RqError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Writes a `.rq` stream. The header comes first, so the count and the data length are given
/// up front ([`record_len`] sums the latter) and checked at [`RqWriter::finish`].
#[derive(Debug)]
pub struct RqWriter<W: Write> {
    w: W,
    count: u32,
    data_len: u64,
    records: u64,
    written: u64,
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, what.to_string())
}

impl<W: Write> RqWriter<W> {
    /// Starts a file of `count` records taking `data_len` bytes: writes the header.
    pub fn new(mut w: W, count: u32, data_len: u64) -> io::Result<Self> {
        w.write_all(&count.to_le_bytes())?;
        w.write_all(&data_len.to_le_bytes())?;
        Ok(RqWriter {
            w,
            count,
            data_len,
            records: 0,
            written: 0,
        })
    }

    /// Appends one record; refuses one that would go past the announced count or data length.
    pub fn write_record(&mut self, record: &[u8]) -> io::Result<()> {
        let len = record_len(record.len());
        if self.records >= u64::from(self.count) || self.data_len - self.written < len {
            return Err(invalid(
                "record beyond the announced .rq count or data length",
            ));
        }
        self.w.write_all(&(record.len() as u64).to_le_bytes())?;
        self.w.write_all(record)?;
        self.records += 1;
        self.written += len;
        Ok(())
    }

    /// Appends `bytes` holding whole records as this format lays them out (`u64 LE length +
    /// bytes` each, back to back): a ring's memory, written as it is, without a copy per record.
    /// The record headers are walked to count the records; bytes that do not consist of whole
    /// records, or that go past the announced count or data length, are refused before
    /// anything is written. Returns the records in `bytes`.
    pub fn write_encoded(&mut self, bytes: &[u8]) -> io::Result<u64> {
        let records =
            count_encoded(bytes).ok_or_else(|| invalid("bytes that are not whole .rq records"))?;
        let len = bytes.len() as u64;
        if u64::from(self.count) - self.records < records || self.data_len - self.written < len {
            return Err(invalid(
                "records beyond the announced .rq count or data length",
            ));
        }
        self.w.write_all(bytes)?;
        self.records += records;
        self.written += len;
        Ok(records)
    }

    /// Checks that the announced records were all written, flushes, and gives back the sink
    /// with the file's length.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        if self.records != u64::from(self.count) || self.written != self.data_len {
            return Err(invalid("fewer records than the .rq header announced"));
        }
        self.w.flush()?;
        Ok((self.w, HEADER_LEN + self.written))
    }
}

/// The records in `bytes` if they are whole records tiling it exactly (headers only are read).
fn count_encoded(bytes: &[u8]) -> Option<u64> {
    let mut rest = bytes;
    let mut records = 0u64;
    while !rest.is_empty() {
        let (head, tail) = rest.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_le_bytes(*head)).ok()?;
        rest = tail.get(len..)?;
        records += 1;
    }
    Some(records)
}

/// Writes a whole `.rq` file of `records` (in pop order) into `w`; its length on success.
pub fn write_rq<W: Write>(w: W, records: &[&[u8]]) -> io::Result<u64> {
    let count = u32::try_from(records.len()).map_err(|_| invalid("over u32::MAX records"))?;
    let data_len = records.iter().map(|r| record_len(r.len())).sum();
    let mut out = RqWriter::new(w, count, data_len)?;
    for r in records {
        out.write_record(r)?;
    }
    Ok(out.finish()?.1)
}

/// Reads a `.rq` stream record by record.
#[derive(Debug)]
pub struct RqReader<R: Read> {
    r: R,
    count: u32,
    data_len: u64,
    records: u64,
    /// Data bytes consumed by complete records.
    data_read: u64,
    buf: Vec<u8>,
}

/// Fills `buf` from `r`; `Ok(false)` on end-of-file before it was full.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<bool, RqError> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(RqError::Io(e)),
    }
}

impl<R: Read> RqReader<R> {
    /// Reads the header.
    pub fn new(mut r: R) -> Result<Self, RqError> {
        let mut head = [0u8; HEADER_LEN as usize];
        if !read_full(&mut r, &mut head)? {
            return Err(RqError::Truncated {
                records: 0,
                bytes: 0,
            });
        }
        Ok(RqReader {
            r,
            count: LittleEndian::read_u32(&head[..4]),
            data_len: LittleEndian::read_u64(&head[4..]),
            records: 0,
            data_read: 0,
            buf: Vec::new(),
        })
    }

    /// The record count of the header.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The data length of the header (the ring space the records need).
    pub fn data_len(&self) -> u64 {
        self.data_len
    }

    /// Complete records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn truncated(&self) -> RqError {
        RqError::Truncated {
            records: self.records,
            bytes: HEADER_LEN + self.data_read,
        }
    }

    fn mismatch(&self) -> RqError {
        RqError::CountMismatch {
            count: self.count,
            records: self.records,
            left: self.data_len - self.data_read,
        }
    }

    /// The next record, or `None` after the last one (when count and data agree).
    pub fn next_record(&mut self) -> Result<Option<&[u8]>, RqError> {
        let left = self.data_len - self.data_read;
        if self.records == u64::from(self.count) {
            return if left == 0 {
                Ok(None)
            } else {
                Err(self.mismatch())
            };
        }
        if left < 8 {
            // Records are announced, but the data has no room left for even a header.
            return Err(self.mismatch());
        }
        let offset = HEADER_LEN + self.data_read;
        let mut head = [0u8; 8];
        if !read_full(&mut self.r, &mut head)? {
            return Err(self.truncated());
        }
        let len = u64::from_le_bytes(head);
        if len > MAX_RECORD_LEN || len > left - 8 {
            return Err(RqError::Corrupt { offset, len });
        }
        self.buf.clear();
        // `take` + `read_to_end` grows the buffer with the bytes that arrive, so a torn file
        // never costs an allocation of the announced length.
        let got = (&mut self.r)
            .take(len)
            .read_to_end(&mut self.buf)
            .map_err(RqError::Io)?;
        if got as u64 != len {
            return Err(self.truncated());
        }
        self.records += 1;
        self.data_read += 8 + len;
        Ok(Some(&self.buf))
    }
}

#[cfg(test)]
mod tests;
