//! [`QueueSettings`]: what the queue service and its request handlers read from the
//! configuration, in a module of their own so the request files need nothing from `service`.

use std::path::PathBuf;

/// Settings the request handlers need.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// `[Server] address`, echoed in the size and connection replies.
    pub address: String,
    /// The port echoed in those replies (the bound port when the configured one was 0).
    pub port: u16,
    /// `[Server] channel_size_limit`, the GetSizeLimit reply.
    pub channel_size_limit: u64,
    /// `[Server] data_dir`: where the shutdown writes the `.rq` dumps.
    pub data_dir: PathBuf,
}
