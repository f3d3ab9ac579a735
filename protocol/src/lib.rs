//! Every byte format of the legacy swarm protocols, with no I/O: the framing primitives (int32
//! command and status codes, u64-length-prefixed arrays), status codes, 16-hex-digit keys and
//! hash ranges, channel-name validation, LZO1X record batches, the dht, queue and logfiles
//! request sets, the dht node's `.tcm` dump files, the queue node's `.rq` dump files and the
//! logfiles node's bucket files with their key -> path mapping (all streamed through
//! `io::Read`/`io::Write`, never a socket).
//!
//! Decoders take `&[u8]` and return a message plus the bytes it used, or
//! [`DecodeError::Incomplete`] when more bytes are needed (a normal outcome, not an error).
//! Encoders append to a `Vec<u8>`. The nodes, the client, the tools and the fuzzers share this
//! one codec so they can never disagree about a byte.

pub mod batch;
pub mod bucket;
pub mod channel;
pub mod dht;
pub mod error;
pub mod key;
pub mod logfiles;
pub mod queue;
pub mod reply;
pub mod rq;
pub mod status;
pub mod tcm;
pub mod wire;

pub use error::{DecodeError, ProtocolError};
pub use key::{bit_reverse, format_key, parse_key, HashRange};
pub use reply::ReplyKind;
pub use status::Status;
pub use wire::{Reader, MAX_ARRAY_LEN};
