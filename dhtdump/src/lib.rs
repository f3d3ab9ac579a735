//! dhtdump: the dht node's companion process. It connects to one node over the legacy
//! protocol, and periodically (or once, `--oneshot`) writes every channel to
//! `<data_dir>/<channel>.tcm` with GetChannels and GetAll, through the node's own dump file
//! code, so the node loads what dhtdump wrote and the two never disagree about a file.
//!
//! Concept-to-module map, as the original's `src/dhtnode/dhtdump/{main,DumpCycle,DumpStats}`:
//! `config` (config.ini), `process` (connect and schedule), `cycle` (one cycle over all
//! channels), `channel` (one channel into one file), `stats` (stats.log), `metrics` (`/metrics` and
//! `/health`), `supervise` (signals,
//! stats timer and exit on the main thread), `stop` (the stop flag).

pub mod channel;
pub mod config;
pub mod cycle;
pub mod metrics;
pub mod process;
pub mod stats;
pub mod stop;
pub mod supervise;

/// Exit code: the dump succeeded, or a stop signal ended the process.
pub const EXIT_OK: u8 = 0;
/// Exit code: `--oneshot` did not dump every channel, or the process failed at run time.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: the configuration (or command line) is unusable.
pub const EXIT_CONFIG: u8 = 2;
/// Exit code: `--oneshot` could not connect to the node.
pub const EXIT_UNREACHABLE: u8 = 3;
