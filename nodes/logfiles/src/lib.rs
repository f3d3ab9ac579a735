//! The logfiles node (groundwork): its configuration, checkpoint file, read filters, range
//! scans over bucket files, bucket writers, crash recovery, and the checks of the
//! `logfiles_check` tool. The request handling, the disk work on worker threads and the service
//! on the shared event loop come later (issue 10).
//!
//! Concept-to-module map, as in the original's `src/dlsnode`: `config` (config.ini),
//! `check` (what `logfiles_check` checks and repairs),
//! `checkpoint` (`checkpoint.dat`, the crash-recovery offsets), `matcher` (the filters and
//! regular expressions of the filtered reads), `storage` (the channel directories and bucket
//! files: range scans, writers).

pub mod check;
pub mod checkpoint;
pub mod config;
pub mod matcher;
pub mod storage;
