//! The logfiles node's bucket files: where a key's file is ([`path`]), how a file says its
//! format (the v1 header, or none for a legacy file), the record headers with their parity
//! byte, a reader over any [`io::Read`] that hands out records in file order and stops cleanly
//! at a torn or corrupt record ([`BucketReader`]), and a writer that creates v1 files or
//! appends to an existing file in its own format ([`BucketWriter`]). Opening, `O_APPEND`,
//! fsync and truncation are the node's and `logfiles_check`'s job; this module owns the bytes.
//!
//! The layout is the original dlsnode's (`BucketFile.d`, `Record.d`, `StorageProtocol*.d`).
//! All integers are little-endian, nothing is padded, values are stored raw:
//!
//! | bytes | field | in |
//! |---|---|---|
//! | u64 | version: 1 ([`VERSION_1`]) | v1 header |
//! | 8 | magic `DLSBUCKT` ([`MAGIC`]) | v1 header |
//! | u64 | record key | each record |
//! | u64 | value length | each record |
//! | u8 | parity: the XOR of the 16 key and length bytes | v1 records only |
//! | length bytes | the value | each record |
//!
//! A legacy file has no header: its first record starts at byte 0. A file is versioned when
//! bytes 8..16 are the magic and the u64 before it is at most 1 (the magic sits where a legacy
//! length would be, a length no file can have). Version 0, which no node wrote but the
//! original accepted, has the header and legacy records. A file under 16 bytes is treated as
//! absent by readers. Example (test data `parity-fine`): the header `01 00 00 00 00 00 00 00
//! 44 4c 53 42 55 43 4b 54`, then key `0x5727545c`, length 11, parity `0x73`, 11 value bytes.

pub mod path;
mod reader;
mod writer;

pub use path::{bucket_path, parse_bucket_path};
pub use reader::{BucketEnd, BucketReader, EndReason, Record};
pub use writer::{encode_header, encode_record, record_len, BucketWriter};

use crate::wire::MAX_ARRAY_LEN;
use byteorder::{ByteOrder, LittleEndian};
use std::fmt;
use std::io;

/// The magic of a versioned file, bytes 8..16.
pub const MAGIC: [u8; 8] = *b"DLSBUCKT";
/// The version this crate writes (and the highest the original knew).
pub const VERSION_1: u64 = 1;
/// Bytes of the v1 header; also the shortest file a reader opens (shorter ones count as absent).
pub const HEADER_LEN: u64 = 16;
/// Bytes of a legacy record header: key and length.
pub const LEGACY_RECORD_HEADER_LEN: u64 = 16;
/// Bytes of a v1 record header: key, length and parity.
pub const V1_RECORD_HEADER_LEN: u64 = 17;
/// Longest value a reader accepts or a writer writes: the node takes values only through the
/// protocol, whose arrays are at most [`MAX_ARRAY_LEN`]. A longer length means a corrupt file,
/// and it is refused before anything of that size is allocated.
pub const MAX_VALUE_LEN: u64 = MAX_ARRAY_LEN;

/// The record format of a bucket file, told by its first 16 bytes. `#[non_exhaustive]`: a
/// `match` outside this crate needs a `_` arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BucketFormat {
    /// No header; records of key and length (the original's `ulong.max` version).
    Legacy,
    /// Header with version 0, then legacy records (accepted by the original, never written).
    V0,
    /// Header with version 1, then records with a parity byte: what new files are.
    V1,
}

impl BucketFormat {
    /// Tells the format from a file's first [`HEADER_LEN`] bytes. A magic with a version over 1
    /// is refused ([`BucketError::UnknownVersion`]): the original would read it as legacy and
    /// find nothing, but appending legacy records to it, or cutting it, would destroy it.
    pub fn detect(head: &[u8; HEADER_LEN as usize]) -> Result<Self, BucketError> {
        if head[8..] != MAGIC {
            return Ok(BucketFormat::Legacy);
        }
        match LittleEndian::read_u64(&head[..8]) {
            0 => Ok(BucketFormat::V0),
            VERSION_1 => Ok(BucketFormat::V1),
            v => Err(BucketError::UnknownVersion(v)),
        }
    }

    /// The format to append to an existing file in, from its first bytes (up to
    /// [`HEADER_LEN`]): `None` for an empty file, which gets a fresh v1 header
    /// ([`BucketWriter::create`]), as the original does; [`BucketError::TooShort`] for 1 to 15
    /// bytes, a torn header or record whose format cannot be told (the node decides: the
    /// original failed to open it).
    pub fn for_append(head: &[u8]) -> Result<Option<Self>, BucketError> {
        if head.is_empty() {
            return Ok(None);
        }
        match head.first_chunk::<{ HEADER_LEN as usize }>() {
            Some(head) => Self::detect(head).map(Some),
            None => Err(BucketError::TooShort {
                len: head.len() as u64,
            }),
        }
    }

    /// Offset of the first record: after the header, or 0 in a legacy file.
    pub fn data_start(self) -> u64 {
        match self {
            BucketFormat::Legacy => 0,
            BucketFormat::V0 | BucketFormat::V1 => HEADER_LEN,
        }
    }

    /// Bytes of one record header in this format.
    pub fn record_header_len(self) -> u64 {
        match self {
            BucketFormat::V1 => V1_RECORD_HEADER_LEN,
            BucketFormat::Legacy | BucketFormat::V0 => LEGACY_RECORD_HEADER_LEN,
        }
    }
}

/// The v1 parity byte of a record header: `key ^ len` folded to one byte, the XOR of the 16
/// bytes of key and length.
pub fn parity(key: u64, len: u64) -> u8 {
    let mut x = key ^ len;
    x ^= x >> 32;
    x ^= x >> 16;
    x ^= x >> 8;
    // The fold left the XOR of all bytes in the low byte.
    (x & 0xff) as u8
}

/// Whether a stored parity byte fits its key and length (the original's check: the fold of
/// `key ^ len ^ parity` is 0).
pub fn parity_ok(key: u64, len: u64, stored: u8) -> bool {
    parity(key, len) == stored
}

/// Why a bucket file cannot be opened. A record that cannot be read is not an error but the
/// end of the file's records ([`BucketEnd`]). `#[non_exhaustive]`: a new check is not a
/// breaking change, so a `match` outside this crate needs a `_` arm.
#[derive(Debug)]
#[non_exhaustive]
pub enum BucketError {
    /// Reading or writing failed.
    Io(io::Error),
    /// The file is shorter than [`HEADER_LEN`]: readers treat it as absent, and a writer cannot
    /// tell its format (an empty file gets a fresh v1 header instead).
    TooShort {
        /// The file's length.
        len: u64,
    },
    /// The magic with a version this crate does not know.
    UnknownVersion(u64),
}

impl fmt::Display for BucketError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BucketError::Io(e) => write!(f, "bucket file I/O error: {e}"),
            BucketError::TooShort { len } => write!(
                f,
                "bucket file of {len} bytes is shorter than its {HEADER_LEN}-byte header"
            ),
            BucketError::UnknownVersion(v) => {
                write!(
                    f,
                    "bucket file has the DLSBUCKT magic with unknown version {v}"
                )
            }
        }
    }
}

impl std::error::Error for BucketError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BucketError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for BucketError {
    fn from(e: io::Error) -> Self {
        BucketError::Io(e)
    }
}

#[cfg(test)]
mod tests;
