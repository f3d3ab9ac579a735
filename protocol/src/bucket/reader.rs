//! Reading a bucket file record by record, as the original node's iterator does: within the
//! file length taken when the file was opened, in file (arrival) order, stopping at the first
//! record that is torn, fails its parity check or is too long, with the offset after the last
//! good record, where `logfiles_check` cuts the file. Reading never panics and never
//! allocates more than the bytes that actually arrive.

use super::{BucketError, BucketFormat, HEADER_LEN, MAX_VALUE_LEN, V1_RECORD_HEADER_LEN};
use byteorder::{ByteOrder, LittleEndian};
use std::io::{self, Read};

/// One record of a bucket file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's key (the node never checks it against the file's range).
    pub key: u64,
    /// The record's value.
    pub value: &'a [u8],
}

/// Why a bucket file's records ended. `#[non_exhaustive]`: a `match` outside this crate needs
/// a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The last record ends where the file does.
    Complete,
    /// Fewer bytes than a record header are left: a record cut while being written.
    TornHeader {
        /// The bytes left after the last good record.
        left: u64,
    },
    /// A header whose value runs past the end of the file: a record cut while being written.
    TornValue {
        /// The header's key.
        key: u64,
        /// The header's value length.
        len: u64,
    },
    /// A v1 header whose parity byte does not fit its key and length. The original skips the
    /// rest of the file (test `parity-broken`).
    Parity {
        /// The header's key.
        key: u64,
        /// The header's value length.
        len: u64,
        /// The stored parity byte.
        parity: u8,
    },
    /// A length over [`MAX_VALUE_LEN`] that still fits the file: no node writes such a value.
    TooLong {
        /// The header's key.
        key: u64,
        /// The header's value length.
        len: u64,
    },
    /// An empty value whose record ends exactly at the end of the file. The original does not
    /// read it (its end test is `pos + header >= length`); empty values cannot be stored
    /// through Put, so it is either a torn record or a file no node wrote.
    EmptyAtEnd {
        /// The header's key.
        key: u64,
    },
}

/// Where and why a bucket file's records ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketEnd {
    /// Why.
    pub reason: EndReason,
    /// Offset after the last good record (after the header when there was none): the length
    /// to cut the file to. Equals the file length when the reason is [`EndReason::Complete`].
    pub offset: u64,
    /// Good records read.
    pub records: u64,
}

/// Reads one bucket file's records.
#[derive(Debug)]
pub struct BucketReader<R: Read> {
    r: R,
    format: BucketFormat,
    file_len: u64,
    /// Offset after the last good record.
    pos: u64,
    records: u64,
    /// A legacy file's first 16 bytes, read to tell the format: its first record header.
    first_header: Option<[u8; 16]>,
    buf: Vec<u8>,
    end: Option<BucketEnd>,
}

/// Fills `buf` from `r`; `Ok(false)` at end-of-file before it was full.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

impl<R: Read> BucketReader<R> {
    /// Opens the records of a file of `file_len` bytes (taken when it was opened, as the
    /// original does: records appended later are not seen) whose bytes `r` yields from offset 0.
    /// A file under [`HEADER_LEN`] bytes is [`BucketError::TooShort`], which readers take as
    /// "no such file".
    pub fn open(mut r: R, file_len: u64) -> Result<Self, BucketError> {
        let mut head = [0u8; HEADER_LEN as usize];
        if file_len < HEADER_LEN || !read_full(&mut r, &mut head)? {
            return Err(BucketError::TooShort { len: file_len });
        }
        let format = BucketFormat::detect(&head)?;
        Ok(BucketReader {
            r,
            format,
            file_len,
            pos: format.data_start(),
            records: 0,
            first_header: (format == BucketFormat::Legacy).then_some(head),
            buf: Vec::new(),
            end: None,
        })
    }

    /// Goes on reading a file whose records were read up to `pos` (an [`BucketReader::offset`]
    /// of an earlier reader of the same file, with its [`BucketReader::format`], `file_len` and
    /// [`BucketReader::records`]); `r` yields the file's bytes from `pos`. A scan parks its
    /// reader this way between turns, holding no buffer while it waits.
    pub fn resume(r: R, format: BucketFormat, file_len: u64, pos: u64, records: u64) -> Self {
        BucketReader {
            r,
            format,
            file_len,
            pos: pos.min(file_len),
            records,
            first_header: None,
            buf: Vec::new(),
            end: None,
        }
    }

    /// The file's format.
    pub fn format(&self) -> BucketFormat {
        self.format
    }

    /// Offset after the last good record.
    pub fn offset(&self) -> u64 {
        self.pos
    }

    /// Good records read so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file length the reader stops at.
    pub fn file_len(&self) -> u64 {
        self.file_len
    }

    /// Where and why the records ended, once [`BucketReader::next_record`] returned `None`.
    pub fn end(&self) -> Option<BucketEnd> {
        self.end
    }

    fn stop(&mut self, reason: EndReason) -> Option<Record<'_>> {
        self.end = Some(BucketEnd {
            reason,
            offset: self.pos,
            records: self.records,
        });
        None
    }

    /// Reads the next `hs`-byte record header: key and length, or why the records end there
    /// (the stream ended early, or the parity byte does not fit).
    fn read_header(&mut self, hs: u64) -> Result<Result<(u64, u64), EndReason>, BucketError> {
        let mut buf = [0u8; V1_RECORD_HEADER_LEN as usize];
        let head = &mut buf[..hs as usize];
        if let Some(first) = self.first_header.take() {
            head.copy_from_slice(&first);
        } else if !read_full(&mut self.r, head)? {
            let left = self.file_len - self.pos;
            return Ok(Err(EndReason::TornHeader { left }));
        }
        let key = LittleEndian::read_u64(&head[..8]);
        let len = LittleEndian::read_u64(&head[8..16]);
        if self.format == BucketFormat::V1 && !super::parity_ok(key, len, head[16]) {
            let parity = head[16];
            return Ok(Err(EndReason::Parity { key, len, parity }));
        }
        Ok(Ok((key, len)))
    }

    /// The next record, or `None` at the end of the records ([`BucketReader::end`] says why;
    /// later calls return `None` again). Only a failing read is an error; a file that ends
    /// early (shorter than `file_len`) is a torn record.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, BucketError> {
        if self.end.is_some() {
            return Ok(None);
        }
        let hs = self.format.record_header_len();
        let left = self.file_len - self.pos;
        if left == 0 {
            return Ok(self.stop(EndReason::Complete));
        }
        if left < hs {
            return Ok(self.stop(EndReason::TornHeader { left }));
        }
        let (key, len) = match self.read_header(hs)? {
            Ok(kl) => kl,
            Err(reason) => return Ok(self.stop(reason)),
        };
        if len > left - hs {
            return Ok(self.stop(EndReason::TornValue { key, len }));
        }
        if len > MAX_VALUE_LEN {
            return Ok(self.stop(EndReason::TooLong { key, len }));
        }
        if len == 0 && left == hs {
            return Ok(self.stop(EndReason::EmptyAtEnd { key }));
        }
        self.buf.clear();
        // `take` + `read_to_end` grows the buffer with the bytes that arrive, so a stream
        // shorter than its file length never costs the announced length.
        let got = (&mut self.r).take(len).read_to_end(&mut self.buf)?;
        if got as u64 != len {
            return Ok(self.stop(EndReason::TornValue { key, len }));
        }
        self.pos += hs + len;
        self.records += 1;
        Ok(Some(Record {
            key,
            value: &self.buf,
        }))
    }
}
