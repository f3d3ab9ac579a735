//! The queue node (groundwork): per-channel fixed rings and the queue node's configuration.
//! The request handling and the service on the shared event loop come later (issue 9).
//!
//! Concept-to-module map, as in the original's `src/dmqnode`: `storage` (the rings and the
//! channels holding them); `config` (config.ini).

pub mod config;
pub mod storage;
