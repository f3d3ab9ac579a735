//! The logfiles node (groundwork): its configuration, checkpoint file and read filters. The
//! storage (bucket files), the request handling and the service on the shared event loop come
//! later (issue 10).
//!
//! Concept-to-module map, as in the original's `src/dlsnode`: `config` (config.ini),
//! `checkpoint` (`checkpoint.dat`, the crash-recovery offsets), `matcher` (the filters and
//! regular expressions of the filtered reads).

pub mod checkpoint;
pub mod config;
pub mod matcher;
