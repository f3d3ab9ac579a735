//! Writing bucket files: the v1 header for a new file, then whole records in the file's own
//! format (v1 with parity for new files, legacy for old ones, which stay legacy, as the
//! original's `TestLegacyWrite` demands). Each record is built in one buffer and handed to the
//! sink in one `write_all`, so a buffered sink never splits a small record across two writes.
//! (The logfiles node encodes records straight into its own write buffers with
//! [`encode_record`]; the writer serves tools and tests.)

use super::{
    parity, BucketFormat, HEADER_LEN, LEGACY_RECORD_HEADER_LEN, MAGIC, MAX_VALUE_LEN, VERSION_1,
};
use std::io::{self, Write};

/// Appends the v1 header to `out`.
pub fn encode_header(out: &mut Vec<u8>) {
    out.extend_from_slice(&VERSION_1.to_le_bytes());
    out.extend_from_slice(&MAGIC);
}

/// Bytes a record of a `value_len`-byte value takes in a file of `format`.
pub fn record_len(format: BucketFormat, value_len: usize) -> u64 {
    format.record_header_len() + value_len as u64
}

/// Appends one record in `format` to `out`. Lengths are not checked here
/// ([`BucketWriter::write_record`] does).
pub fn encode_record(format: BucketFormat, key: u64, value: &[u8], out: &mut Vec<u8>) {
    let len = value.len() as u64;
    out.extend_from_slice(&key.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    if format.record_header_len() > LEGACY_RECORD_HEADER_LEN {
        out.push(parity(key, len));
    }
    out.extend_from_slice(value);
}

/// Appends records to one bucket file.
#[derive(Debug)]
pub struct BucketWriter<W: Write> {
    w: W,
    format: BucketFormat,
    buf: Vec<u8>,
}

impl<W: Write> BucketWriter<W> {
    /// Starts a new (empty) file: writes the v1 header.
    pub fn create(mut w: W) -> io::Result<Self> {
        let mut buf = Vec::with_capacity(HEADER_LEN as usize);
        encode_header(&mut buf);
        w.write_all(&buf)?;
        Ok(BucketWriter {
            w,
            format: BucketFormat::V1,
            buf,
        })
    }

    /// Appends to an existing file of `format` (told by [`BucketFormat::detect`]), in that
    /// format; `w` writes at the file's end (`O_APPEND`).
    pub fn append(w: W, format: BucketFormat) -> Self {
        BucketWriter {
            w,
            format,
            buf: Vec::new(),
        }
    }

    /// The format records are written in.
    pub fn format(&self) -> BucketFormat {
        self.format
    }

    /// Appends one record; returns the bytes written. Refuses (before writing anything) an
    /// empty value, which the node's reader cannot return as a file's last record, and one
    /// over [`MAX_VALUE_LEN`], which no reader accepts.
    pub fn write_record(&mut self, key: u64, value: &[u8]) -> io::Result<u64> {
        if value.is_empty() || value.len() as u64 > MAX_VALUE_LEN {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a bucket record value must be 1..={MAX_VALUE_LEN} bytes, not {}",
                    value.len()
                ),
            ));
        }
        self.buf.clear();
        encode_record(self.format, key, value, &mut self.buf);
        self.w.write_all(&self.buf)?;
        Ok(self.buf.len() as u64)
    }

    /// Flushes the sink.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// The sink.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// Gives back the sink (not flushed).
    pub fn into_inner(self) -> W {
        self.w
    }
}
