//! The persistence tests' node: [`swarm_testkit::Node`] of this package's `dhtnode`, not
//! started, with the defaults of these tests (5 ms write flush, batch size 65536).
#![allow(dead_code)]

pub use swarm_testkit::*;

/// A full-range node, not started; `options` are `[Options_Memory]` (key, value) lines.
pub fn node(options: &[(&str, &str)]) -> Node {
    node_range(0, u64::MAX, options)
}

pub fn node_range(min: u64, max: u64, options: &[(&str, &str)]) -> Node {
    let mut node = Node::new(
        env!("CARGO_BIN_EXE_dhtnode"),
        &[
            ("Performance", "write_flush_ms", "5"),
            ("Options_Memory", "batch_size", "65536"),
        ],
    );
    node.set_range(min, max);
    for (k, v) in options {
        node.set("Options_Memory", k, v);
    }
    node
}
