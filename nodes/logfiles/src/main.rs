//! `logfilesnode`: sets the allocator's mmap threshold (see [`fix_mmap_threshold`]), parses the
//! command line and runs the node through `swarm_core::program::run` (configuration or the
//! embedded default, logging, bind, serve; errors become exit codes).

use std::process::ExitCode;
use swarm_logfiles::LogfilesNode;

/// Allocations from this size up are mapped for themselves and unmapped when freed.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

fn main() -> ExitCode {
    fix_mmap_threshold();
    swarm_core::program::run::<LogfilesNode>()
}

/// Every range scan reads through a read-ahead buffer of `[Performance] file_buffer_size`
/// (10 MiB by default) on a scan worker. glibc maps the first such buffer and unmaps it when it
/// is freed, but then raises its dynamic mmap threshold to that size, so every later buffer
/// comes from the worker thread's arena and stays resident after the scan: each of the
/// `number_of_thread_workers` workers that ever scanned kept a buffer (the soak of issue 13,
/// scripts/soak.sh, saw 40 to 140 MiB in two minutes of one GetRange a second, on the way to
/// 20 x 10 MiB; tests/scan_memory.rs). A threshold set explicitly turns the dynamic one off: buffers
/// of 1 MiB and more are mapped for each scan and given back when it ends, for the cost of
/// faulting their pages in again per scan.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn fix_mmap_threshold() {
    // SAFETY: mallopt only sets an allocator parameter, with a valid parameter and value; it
    // runs first in main, before any other thread exists. Failure (0) keeps glibc's default,
    // which only costs memory, so it is not checked.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Not glibc's allocator: no such threshold to set.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn fix_mmap_threshold() {}
