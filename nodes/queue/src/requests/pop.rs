//! Pop (2): 409 for a bad name; otherwise Ok and the oldest record of the channel, or an empty
//! array when the channel is empty or does not exist (Pop does not create channels; the
//! original memory-only node and the fake node of dmqproto answer so, spec/queue.md section 2).

use super::{channel_ok, status};
use crate::stats::Stats;
use crate::storage::{MemoryStore, QueueStore};
use swarm_core::Step;
use swarm_protocol::wire::put_array;
use swarm_protocol::Status;

/// Pop.
#[inline]
pub(crate) fn pop(
    store: &mut MemoryStore,
    stats: &mut Stats,
    channel: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    if !channel_ok(channel, out) {
        return Step::Done;
    }
    status(out, Status::Ok);
    match store.pop(channel) {
        Some(record) => {
            stats.popped(1, record.len() as u64);
            put_array(out, record);
        }
        None => put_array(out, b""),
    }
    Step::Done
}
