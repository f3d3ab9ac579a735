//! Typed errors of the protocol decoders.

use std::fmt;

/// Why bytes cannot be a valid message. Every variant means the peer violated the protocol; the
/// node closes the connection (as the original did) and logs the text. `#[non_exhaustive]`: a new
/// check is not a breaking change, so a `match` outside this crate needs a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A command code this node kind does not know (0 = "None" included).
    UnknownCommand(i32),
    /// A key that is not exactly 16 hexadecimal digits.
    BadKey,
    /// An array length prefix over the limit; checked before anything is buffered.
    ArrayTooLong {
        /// The announced length.
        len: u64,
        /// The limit it exceeds.
        max: u64,
    },
    /// A compressed record batch that does not decompress, or whose items do not parse.
    BadBatch(&'static str),
    /// A status code that is not in the legacy table.
    UnknownStatus(i32),
    /// A reply or record field with an impossible value.
    Malformed(&'static str),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::UnknownCommand(c) => write!(f, "unknown command code {c}"),
            ProtocolError::BadKey => f.write_str("malformed key (expected 16 hex digits)"),
            ProtocolError::ArrayTooLong { len, max } => {
                write!(f, "array length {len} exceeds the limit of {max} bytes")
            }
            ProtocolError::BadBatch(why) => write!(f, "bad record batch: {why}"),
            ProtocolError::UnknownStatus(s) => write!(f, "unknown status code {s}"),
            ProtocolError::Malformed(why) => write!(f, "malformed message: {why}"),
        }
    }
}

impl std::error::Error for ProtocolError {}

/// Outcome of a decoder that could not produce a message.
///
/// Deliberately exhaustive (unlike [`ProtocolError`]): these are the two outcomes of a sans-I/O
/// decoder, "read more" or "never valid", and every caller must handle exactly both. A third
/// outcome would change what every caller has to do, so it should break them at compile time
/// rather than fall into a `_` arm. New kinds of invalid input go into [`ProtocolError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer ends before the message does: read more bytes and decode again.
    Incomplete,
    /// The bytes can never become a valid message.
    Invalid(ProtocolError),
}

impl From<ProtocolError> for DecodeError {
    fn from(e: ProtocolError) -> Self {
        DecodeError::Invalid(e)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Incomplete => f.write_str("incomplete message"),
            DecodeError::Invalid(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DecodeError {}
