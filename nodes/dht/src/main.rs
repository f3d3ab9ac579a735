//! `dhtnode`: parses the command line and runs the node through
//! `swarm_core::program::run` (configuration or the embedded default, logging, bind, serve;
//! errors become exit codes).

use std::process::ExitCode;
use swarm_dht::DhtNode;

/// Huge pages for the big tables (see `swarm_dht::hugepages`).
#[global_allocator]
static ALLOC: swarm_dht::hugepages::HugePageAlloc = swarm_dht::hugepages::HugePageAlloc;

fn main() -> ExitCode {
    swarm_core::program::run::<DhtNode>()
}
