//! The bodies of the fuzz targets, one `pub fn <target>(data: &[u8])` each, on stable Rust.
//!
//! Each function is a check: it feeds `data` to one decoder or file reader and asserts the
//! invariants that decoder promises (no panic, lengths within the input and the limits, a round
//! trip where the format allows one). A failed invariant panics. The libFuzzer targets in
//! `fuzz/fuzz_targets/` are one-line calls of these functions, and `tests/replay.rs` runs every
//! file of `fuzz/regressions/<target>/` and `fuzz/corpus/<target>/` through the same function in
//! the normal test suite, so a crash found once stays fixed on stable Rust.
//!
//! [`CappedAlloc`] is the allocator both install: one allocation over [`ALLOC_CAP`] aborts, which
//! is how "bounded allocation" is checked without a sanitizer.

mod alloc_cap;
mod batch;
mod config;
mod files;
mod frames;
mod structured;

pub use alloc_cap::{CappedAlloc, ALLOC_CAP};
pub use batch::batch_decompress;
pub use config::{config_files, nodes_file};
pub use files::{bucket_reader, checkpoint_reader, rq_reader, tcm_reader};
pub use frames::{
    dht_reply_decode, dht_request_decode, logfiles_reply_decode, logfiles_request_decode,
    queue_reply_decode, queue_request_decode,
};
pub use structured::{
    dht_request_structured, logfiles_request_structured, queue_request_structured, valid_frame,
};

/// A check: panics when `data` breaks an invariant of the code it drives.
pub type Check = fn(&[u8]);

/// Every target, by the name of its libFuzzer binary and its corpus directories.
pub const CHECKS: &[(&str, Check)] = &[
    ("tcm_reader", tcm_reader),
    ("rq_reader", rq_reader),
    ("bucket_reader", bucket_reader),
    ("checkpoint_reader", checkpoint_reader),
    ("batch_decompress", batch_decompress),
    ("dht_request_decode", dht_request_decode),
    ("dht_reply_decode", dht_reply_decode),
    ("queue_request_decode", queue_request_decode),
    ("queue_reply_decode", queue_reply_decode),
    ("logfiles_request_decode", logfiles_request_decode),
    ("logfiles_reply_decode", logfiles_reply_decode),
    ("dht_request_structured", dht_request_structured),
    ("queue_request_structured", queue_request_structured),
    ("logfiles_request_structured", logfiles_request_structured),
    ("config_files", config_files),
    ("nodes_file", nodes_file),
];

/// The check named `name`, if there is one.
pub fn check(name: &str) -> Option<Check> {
    CHECKS.iter().find(|(n, _)| *n == name).map(|&(_, c)| c)
}
