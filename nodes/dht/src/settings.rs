//! [`DhtSettings`]: what the dht service and its request handlers read from the configuration,
//! in a module of its own so the request files need nothing from `service`.

use std::path::PathBuf;
use std::time::Duration;
use swarm_protocol::HashRange;

/// Settings the request handlers need.
#[derive(Debug, Clone)]
pub struct DhtSettings {
    /// `[Server] address`, echoed in size replies.
    pub address: String,
    /// The port echoed in size replies.
    pub port: u16,
    /// The node's hash range.
    pub range: HashRange,
    /// Batch capacity for GetAll-style replies; the record size limit is 32 bytes less.
    pub batch_size: usize,
    /// Where dump files live (RemoveChannel moves a channel's file to `deleted/`).
    pub data_dir: PathBuf,
    /// `[Options_Memory] dump_period_s`: 0 dumps only at shutdown.
    pub dump_period_s: u64,
    /// The config file a Redistribute writes the new range to (`None`: the embedded default,
    /// the range then lasts until the node stops).
    pub config_file: Option<PathBuf>,
    /// `[Performance] redist_memory_limit_mulitplier`: during a Redistribute, incoming PutBatch
    /// may not take the node's bytes above its bytes at the start times this.
    pub redist_memory_limit: f64,
    /// `[Performance] redistribute_retry_s` (ours): how long a Redistribute keeps retrying a target
    /// that takes nothing before it gives up on it.
    pub redist_retry: Duration,
}

impl DhtSettings {
    /// Largest value Put accepts: `batch_size - 32`, so every stored record fits one batch.
    pub fn value_limit(&self) -> usize {
        self.batch_size.saturating_sub(32)
    }
}
