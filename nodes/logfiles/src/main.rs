//! `logfilesnode`: parses the command line and runs the node through
//! `swarm_core::program::run` (configuration or the embedded default, logging, bind, serve;
//! errors become exit codes).

use std::process::ExitCode;
use swarm_logfiles::LogfilesNode;

fn main() -> ExitCode {
    swarm_core::program::run::<LogfilesNode>()
}
