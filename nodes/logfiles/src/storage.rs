//! The logfiles node's records on disk (spec/logfiles.md section 3): one directory per
//! channel under `data_dir`, one sub-directory per slot of 2^24 keys, one bucket file per 4096
//! keys (names and formats in `swarm_protocol::bucket`).
//!
//! | module | what it owns |
//! |---|---|
//! | `channels` | the channel directories at start and their sizes, counted once |
//! | `recover` | start-up after a crash: buckets cut back to the checkpoint |
//! | `scan` | reading a channel's records in a key range: buckets in key order, records in file order |
//! | `write` | a channel's open bucket writers: at most three, buffered, flushed before reads, synced for checkpoints |
//!
//! Everything here is blocking file I/O: the node runs it on its worker threads, never on the
//! event loop.

pub mod channels;
pub mod recover;
pub mod scan;
pub mod write;
