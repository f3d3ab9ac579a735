//! RemoveChannel (12): 409 for a bad name; otherwise Ok (also when the channel does not exist),
//! then the channel and its records are gone and every Consume of it ends with an empty array
//! (its connection goes on with its next request).

use super::consume::Consumers;
use super::{channel_ok, status};
use crate::storage::{MemoryStore, QueueStore};
use swarm_core::{Context, Step};
use swarm_protocol::Status;

/// RemoveChannel.
pub(crate) fn remove_channel<E>(
    store: &mut MemoryStore,
    consumers: &mut Consumers,
    cx: &mut Context<'_, E>,
    channel: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    if !channel_ok(channel, out) {
        return Step::Done;
    }
    status(out, Status::Ok);
    if store.remove_channel(channel) {
        log::info!("Removed channel '{}'", String::from_utf8_lossy(channel));
    }
    consumers.end_channel(cx, channel);
    Step::Done
}
