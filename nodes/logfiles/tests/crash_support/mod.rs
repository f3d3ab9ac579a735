//! Shared by the crash tests (`tests/crash.rs`): the ingest client ([`ingest`]), the sync
//! journal and power-loss rebuild ([`journal`]), the check of what came back ([`model`]), and
//! the node they run: small buckets of small records, a checkpoint every second, the journal
//! in the node's directory.

pub mod ingest;
pub mod journal;
pub mod model;

use std::path::PathBuf;
use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};

pub const BIN: &str = env!("CARGO_BIN_EXE_logfilesnode");

/// A node in `mode` (`checkpoint` or `group`), checkpoints every second, its sync journal at
/// [`journal_path`].
pub fn crash_node(mode: &str) -> LogfilesNode {
    let mut node = LogfilesNode::new(
        BIN,
        &[
            ("Options_Dls", "sync_mode", mode),
            ("Performance", "checkpoint_commit_seconds", "1"),
        ],
    );
    let journal = journal_path(&node).display().to_string();
    node.set("Testing", "sync_journal", &journal);
    node
}

/// Where [`crash_node`]'s journal is: beside the data directory, not in it.
pub fn journal_path(node: &LogfilesNode) -> PathBuf {
    node.dir.path().join("sync.journal")
}

/// GetAll of every channel of [`ingest::CHANNELS`], in that order.
pub fn get_all(node: &LogfilesNode) -> Vec<Vec<Record>> {
    let mut c = node.connect();
    ingest::CHANNELS
        .iter()
        .map(|ch| c.get_all(ch.as_bytes()))
        .collect()
}
