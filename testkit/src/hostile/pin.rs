//! Where the harness's threads and the node run (`--pin` of `swarm-hostile`): the node on one
//! core, the attack on the other, so the attacking threads cannot delay the control client nor
//! the node, and what the control client measures is the node's own delay.
//!
//! The control client runs on the node's core: the attack cannot delay it there, and a loop
//! turn that is long keeps it waiting as it keeps any client waiting (the scheduler wakes a
//! sleeping thread ahead of a busy one on the same core, so the client itself waits little for
//! the node's CPU). A thread of higher priority on the attack's core would need privileges the
//! tests do not have, and would still compete with the attack for that core's caches.

use std::sync::atomic::{AtomicUsize, Ordering};

/// The cores to use, when pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinning {
    /// The node's threads and the control client.
    pub node: usize,
    /// The harness's main thread and every attack thread it starts (they inherit it).
    pub attack: usize,
}

/// `node + 1`, or 0 when not pinned.
static NODE_CPU: AtomicUsize = AtomicUsize::new(0);

impl Pinning {
    /// Node on core 0, attack on core 1, where the machine has at least two cores.
    pub fn two_cores() -> Option<Pinning> {
        let n = std::thread::available_parallelism().map_or(1, |n| n.get());
        (n >= 2).then_some(Pinning { node: 0, attack: 1 })
    }

    /// Pins the calling thread to the attack core (threads it starts afterwards inherit it) and
    /// makes [`run_case`](super::run_case) pin each node and control client to the node core.
    pub fn install(self) -> std::io::Result<()> {
        pin_thread(0, self.attack)?;
        NODE_CPU.store(self.node + 1, Ordering::Relaxed);
        Ok(())
    }
}

/// The node core, if [`Pinning::install`] was called.
pub(crate) fn node_cpu() -> Option<usize> {
    NODE_CPU.load(Ordering::Relaxed).checked_sub(1)
}

/// Pins every thread of process `pid` to `cpu` (threads it starts later inherit it).
pub(crate) fn pin_process(pid: u32, cpu: usize) -> std::io::Result<()> {
    for entry in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let tid = entry?.file_name().to_string_lossy().parse::<i32>();
        if let Ok(tid) = tid {
            pin_thread(tid, cpu)?;
        }
    }
    Ok(())
}

/// Pins thread `tid` (0: the calling thread) to `cpu`.
pub(crate) fn pin_thread(tid: i32, cpu: usize) -> std::io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set; CPU_SET only writes within it.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t and `cpu` is checked against its size by CPU_SET.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` lives across the call and its size is passed with it.
    let rc = unsafe { libc::sched_setaffinity(tid, std::mem::size_of_val(&set), &set) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
