//! The dht node's `.tcm` channel dump files (the original's `DumpFile.d`, format version 0): a
//! streaming writer over any [`io::Write`] and a streaming reader over any [`io::Read`], shared
//! by the node, dhtdump, `tcmcli` and the fuzzers. No whole file is ever buffered.
//!
//! | bytes | field |
//! |---|---|
//! | u64 LE | format version, always [`FORMAT_VERSION`] = 0 |
//! | u64 LE | key length (16 when written; 0 = end of records, see below) |
//! | key length bytes | the key: 16 lowercase ASCII hex digits when written |
//! | u64 LE | value length |
//! | value length bytes | the value |
//! | ... | more records, each key length, key, value length, value |
//! | u64 LE = 0 | end marker: an empty key, with no value length after it |
//! | 0 to 511 bytes | zeros, up to the next multiple of [`BLOCK_SIZE`] (the original wrote with `O_DIRECT`) |
//!
//! There is no magic, checksum or record count. The end marker is what tells a complete file
//! from a torn one: a reader that meets end-of-file before it reports [`TcmError::Truncated`].
//! Files of the pre-versioning format held a record count in the first 8 bytes, so they read
//! as an unsupported version (unless they held no records). An empty channel's file is exactly
//! 512 zero bytes.
//!
//! Readers accept what the original's loader accepted: any key length (the node decides what
//! a key means, see [`parse_dump_key`]) and any value length, up to sanity limits
//! ([`MAX_KEY_LEN`], [`MAX_VALUE_LEN`]) that keep a corrupt length from becoming a huge
//! allocation ([`TcmError::Corrupt`]).

use crate::key::{format_key, parse_key};
use std::fmt;
use std::io::{self, Read, Write};

/// The only format version written and read.
pub const FORMAT_VERSION: u64 = 0;
/// Files are zero-padded to a multiple of this many bytes.
pub const BLOCK_SIZE: u64 = 512;
/// Longest key a reader accepts; a longer key length means the file is corrupt.
pub const MAX_KEY_LEN: u64 = 1024;
/// Longest value a reader accepts (far above any `batch_size`); a longer value length means
/// the file is corrupt.
pub const MAX_VALUE_LEN: u64 = 64 * 1024 * 1024;
/// A reader's own read buffer.
pub const READ_BUFFER: usize = 256 * 1024;
/// A reader grows its value buffer by at most this much ahead of the bytes read.
const GROW_STEP: usize = 1024 * 1024;
/// Bytes of the version field.
pub const HEADER_LEN: u64 = 8;
/// Bytes of the end marker.
pub const END_MARKER_LEN: u64 = 8;

/// Bytes one record takes in a file: two length fields, the 16-digit key and the value.
pub fn record_len(value_len: usize) -> usize {
    8 + 16 + 8 + value_len
}

/// Zero bytes that follow the end marker when `len` bytes (header, records, marker) came
/// before them.
pub fn padding_len(len: u64) -> u64 {
    (BLOCK_SIZE - len % BLOCK_SIZE) % BLOCK_SIZE
}

/// Appends one record as the writer would write it (for callers that serialize records into
/// chunks themselves and hand them to [`TcmWriter::write_encoded`]).
pub fn encode_record(out: &mut Vec<u8>, key: u64, value: &[u8]) {
    out.extend_from_slice(&16u64.to_le_bytes());
    out.extend_from_slice(&format_key(key));
    out.extend_from_slice(&(value.len() as u64).to_le_bytes());
    out.extend_from_slice(value);
}

/// What a record's key bytes mean to the node (the original's `DumpManager.loadRecord`): a key
/// of exactly 8 bytes is a binary little-endian u64 (the work-around for a past bug that wrote
/// keys that way), otherwise it must be 16 hex digits. `None` for an invalid key.
pub fn parse_dump_key(raw: &[u8]) -> Option<u64> {
    if let Ok(bin) = <[u8; 8]>::try_from(raw) {
        return Some(u64::from_le_bytes(bin));
    }
    parse_key(raw).ok()
}

/// Why a `.tcm` file cannot be read (further). `#[non_exhaustive]`: a new check is not a
/// breaking change, so a `match` outside this crate needs a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum TcmError {
    /// Reading failed.
    Io(io::Error),
    /// The file ends before its end marker: a torn or cut file. `offset` is its length.
    Truncated {
        /// Bytes read before end-of-file.
        offset: u64,
    },
    /// The version field is not [`FORMAT_VERSION`] (or the file is of the pre-versioning
    /// format, whose first field was a record count).
    UnsupportedVersion(u64),
    /// A length field beyond the sanity limits: the file is not a dump, or it is damaged.
    Corrupt {
        /// Offset of the length field.
        offset: u64,
        /// Which field ("key length" or "value length").
        field: &'static str,
        /// The value read.
        len: u64,
    },
}

impl fmt::Display for TcmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcmError::Io(e) => write!(f, "read error: {e}"),
            TcmError::Truncated { offset } => write!(
                f,
                "file ends at byte {offset} before its end marker (torn or incomplete dump)"
            ),
            // Small values are what a dump of the pre-versioning format starts with (its record
            // count); anything else in the version field is a file of another kind.
            TcmError::UnsupportedVersion(v) if *v < 1 << 40 => write!(
                f,
                "unsupported dump file format version {v} (only 0 is supported; a dump of the \
                 older, unversioned format starts with its record count)"
            ),
            TcmError::UnsupportedVersion(v) => write!(
                f,
                "not a .tcm dump file: its first 8 bytes (0x{v:016x}) are not format version 0"
            ),
            TcmError::Corrupt { offset, field, len } => {
                write!(
                    f,
                    "corrupt file: {field} {len} at byte {offset} is beyond the limit"
                )
            }
        }
    }
}

impl std::error::Error for TcmError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TcmError::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Writes a `.tcm` stream: the version at creation, records, then the end marker and padding
/// at [`TcmWriter::finish`]. Buffering is the caller's choice (wrap a file in a `BufWriter`).
#[derive(Debug)]
pub struct TcmWriter<W: Write> {
    w: W,
    written: u64,
    records: u64,
}

impl<W: Write> TcmWriter<W> {
    /// Starts a file: writes the version field.
    pub fn new(mut w: W) -> io::Result<Self> {
        w.write_all(&FORMAT_VERSION.to_le_bytes())?;
        Ok(TcmWriter {
            w,
            written: HEADER_LEN,
            records: 0,
        })
    }

    /// Appends one record (the key written as 16 lowercase hex digits).
    pub fn write_record(&mut self, key: u64, value: &[u8]) -> io::Result<()> {
        let mut head = [0u8; 32];
        head[..8].copy_from_slice(&16u64.to_le_bytes());
        head[8..24].copy_from_slice(&format_key(key));
        head[24..].copy_from_slice(&(value.len() as u64).to_le_bytes());
        self.w.write_all(&head)?;
        self.w.write_all(value)?;
        self.written += record_len(value.len()) as u64;
        self.records += 1;
        Ok(())
    }

    /// Appends bytes that hold whole records made by [`encode_record`] (`records` of them).
    pub fn write_encoded(&mut self, bytes: &[u8], records: u64) -> io::Result<()> {
        self.w.write_all(bytes)?;
        self.written += bytes.len() as u64;
        self.records += records;
        Ok(())
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Writes the end marker and the padding, flushes, and gives back the sink with the
    /// file's total length.
    pub fn finish(mut self) -> io::Result<(W, u64)> {
        self.w.write_all(&0u64.to_le_bytes())?;
        self.written += END_MARKER_LEN;
        let pad = padding_len(self.written);
        self.w
            .write_all(&[0u8; BLOCK_SIZE as usize][..pad as usize])?;
        self.written += pad;
        self.w.flush()?;
        Ok((self.w, self.written))
    }
}

/// One record as stored: the key bytes uninterpreted (see [`parse_dump_key`]) and the value.
/// Borrows the reader's buffers, which the next record reuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawRecord<'a> {
    /// The key bytes.
    pub key: &'a [u8],
    /// The value bytes.
    pub value: &'a [u8],
}

/// Reads a `.tcm` stream record by record. It buffers by itself ([`READ_BUFFER`] bytes), so
/// give it the file, not a `BufReader`.
#[derive(Debug)]
pub struct TcmReader<R: Read> {
    src: Source<R>,
    records: u64,
    key: Vec<u8>,
    value: Vec<u8>,
    done: bool,
}

impl<R: Read> TcmReader<R> {
    /// Reads and checks the version field.
    pub fn new(r: R) -> Result<Self, TcmError> {
        let mut src = Source {
            r,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            pos: 0,
            end: 0,
            offset: 0,
        };
        let version = src.read_u64()?;
        if version != FORMAT_VERSION {
            return Err(TcmError::UnsupportedVersion(version));
        }
        Ok(TcmReader {
            src,
            records: 0,
            key: Vec::new(),
            value: Vec::new(),
            done: false,
        })
    }

    /// Bytes consumed so far (for progress displays).
    pub fn bytes_read(&self) -> u64 {
        self.src.offset
    }

    /// Records returned so far.
    pub fn records_read(&self) -> u64 {
        self.records
    }

    /// The next record's key length, or `None` at the end marker (and after it).
    fn next_key_len(&mut self) -> Result<Option<u64>, TcmError> {
        if self.done {
            return Ok(None);
        }
        let key_len = self.src.read_len("key length", MAX_KEY_LEN)?;
        if key_len == 0 {
            self.done = true;
            return Ok(None);
        }
        Ok(Some(key_len))
    }

    /// The next record, or `Ok(None)` at the end marker (and after it). End-of-file before the
    /// end marker is [`TcmError::Truncated`].
    pub fn next_record(&mut self) -> Result<Option<RawRecord<'_>>, TcmError> {
        let Some(key_len) = self.next_key_len()? else {
            return Ok(None);
        };
        self.src.read_vec(&mut self.key, key_len)?;
        let value_len = self.src.read_len("value length", MAX_VALUE_LEN)?;
        self.src.read_vec(&mut self.value, value_len)?;
        self.records += 1;
        Ok(Some(RawRecord {
            key: &self.key,
            value: &self.value,
        }))
    }

    /// The next record appended to `out`, key bytes then value bytes, and their lengths; or
    /// `Ok(None)` at the end marker (and after it). The same records as
    /// [`TcmReader::next_record`], for a caller that keeps several at once (one copy less than
    /// copying what `next_record` borrows). On an error, `out` may have grown by part of the
    /// record.
    pub fn append_record(&mut self, out: &mut Vec<u8>) -> Result<Option<(usize, usize)>, TcmError> {
        let Some(key_len) = self.next_key_len()? else {
            return Ok(None);
        };
        self.src.append(out, key_len)?;
        let value_len = self.src.read_len("value length", MAX_VALUE_LEN)?;
        self.src.append(out, value_len)?;
        self.records += 1;
        // Both lengths were checked against the limits, so they fit a usize.
        Ok(Some((key_len as usize, value_len as usize)))
    }
}

/// The reader's own buffer over the stream: small fields cost a slice copy, not a call into
/// the stream.
#[derive(Debug)]
struct Source<R> {
    r: R,
    buf: Box<[u8]>,
    pos: usize,
    end: usize,
    /// Bytes consumed.
    offset: u64,
}

impl<R: Read> Source<R> {
    /// Refills the buffer; `false` at the end of the stream.
    fn fill(&mut self) -> Result<bool, TcmError> {
        loop {
            match self.r.read(&mut self.buf) {
                Ok(n) => {
                    (self.pos, self.end) = (0, n);
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TcmError::Io(e)),
            }
        }
    }

    /// Fills `out`; the end of the stream first is [`TcmError::Truncated`].
    fn read_exact(&mut self, out: &mut [u8]) -> Result<(), TcmError> {
        let mut got = 0;
        while got < out.len() {
            if self.pos == self.end && !self.fill()? {
                return Err(TcmError::Truncated {
                    offset: self.offset,
                });
            }
            let n = (self.end - self.pos).min(out.len() - got);
            out[got..got + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            (self.pos, got, self.offset) = (self.pos + n, got + n, self.offset + n as u64);
        }
        Ok(())
    }

    fn read_u64(&mut self) -> Result<u64, TcmError> {
        let mut b = [0u8; 8];
        match self.buf.get(self.pos..self.pos + 8) {
            Some(bytes) if self.pos + 8 <= self.end => {
                b.copy_from_slice(bytes);
                self.pos += 8;
                self.offset += 8;
            }
            _ => self.read_exact(&mut b)?,
        }
        Ok(u64::from_le_bytes(b))
    }

    fn read_len(&mut self, field: &'static str, max: u64) -> Result<u64, TcmError> {
        let offset = self.offset;
        let len = self.read_u64()?;
        if len > max {
            return Err(TcmError::Corrupt { offset, field, len });
        }
        Ok(len)
    }

    /// Reads `len` bytes into `buf`, growing it at most [`GROW_STEP`] ahead of the bytes that
    /// arrived (a length field of a torn file must not allocate more than the file holds,
    /// give or take a step).
    fn read_vec(&mut self, buf: &mut Vec<u8>, len: u64) -> Result<(), TcmError> {
        // `len` was checked against MAX_VALUE_LEN, so it fits a usize.
        let len = len as usize;
        let mut got = 0;
        while got < len {
            let end = len.min(got + GROW_STEP);
            if buf.len() < end {
                buf.resize(end, 0); // bytes already there are overwritten, not cleared
            }
            self.read_exact(&mut buf[got..end])?;
            got = end;
        }
        buf.truncate(len);
        Ok(())
    }

    /// Appends `len` bytes to `out`: straight from the buffer when they are all in it, else
    /// growing `out` at most [`GROW_STEP`] ahead of the bytes that arrived (as `read_vec`).
    fn append(&mut self, out: &mut Vec<u8>, len: u64) -> Result<(), TcmError> {
        // `len` was checked against MAX_VALUE_LEN, so it fits a usize.
        let len = len as usize;
        if let Some(bytes) = self.buf[..self.end].get(self.pos..self.pos + len) {
            out.extend_from_slice(bytes);
            self.pos += len;
            self.offset += len as u64;
            return Ok(());
        }
        let start = out.len();
        let mut got = 0;
        while got < len {
            let end = len.min(got + GROW_STEP);
            out.resize(start + end, 0);
            self.read_exact(&mut out[start + got..start + end])?;
            got = end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
