//! The protocol tests' node: [`swarm_testkit::Node`] of this package's `dhtnode`, started,
//! with the defaults of these tests (1 ms write flush, batch size 65535, 20 s read timeout).
#![allow(dead_code)]

use std::time::Duration;
pub use swarm_testkit::*;

/// How long a test waits for a line in root.log.
pub const LOG_WAIT: Duration = Duration::from_secs(10);

/// A full-range node, started; `overrides` are (section, key, value) lines replacing or adding
/// to the test defaults.
pub fn start_node(overrides: &[(&str, &str, &str)]) -> Node {
    start_node_range(0, u64::MAX, overrides)
}

pub fn start_node_range(min: u64, max: u64, overrides: &[(&str, &str, &str)]) -> Node {
    let mut node = Node::new(
        env!("CARGO_BIN_EXE_dhtnode"),
        &[
            ("Performance", "write_flush_ms", "1"),
            ("Options_Memory", "batch_size", "65535"),
        ],
    )
    .with_read_timeout(Duration::from_secs(20));
    node.set_range(min, max);
    for (s, k, v) in overrides {
        node.set(s, k, v);
    }
    node.start();
    node
}
