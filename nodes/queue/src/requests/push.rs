//! Push (1), PushMulti (9) and PushMulti2 (13), with the original memory-only node's checks and
//! statuses (spec/queue.md section 2, Era A `PushRequest.d`, `PushMultiRequest.d`,
//! `PushMulti2Request.d` @5c660a8).
//!
//! | request | checks, in order | then |
//! |---|---|---|
//! | Push | 409 bad name, 408 empty value, 407 record larger than the ring / node `size_limit` / ring full | 200 |
//! | PushMulti | 408 empty value, 407 node `size_limit` (nothing pushed), 409 any bad name (nothing pushed) | pushed where it fits: 200 if everywhere, else 407 (and the record stays where it fitted) |
//! | PushMulti2 | 408 empty value, 407 value × channels over the node `size_limit` (nothing pushed), 409 any bad name | 200, then the names of the channels it did not fit, then an empty array |
//!
//! PushMulti's partial 407 is why the original ran each queue on one node: a client cannot
//! retry it elsewhere without duplicating the record. PushMulti2's list of failed channels is
//! what the client library retries on the next node.

use super::consume::Consumers;
use super::{refused, status};
use crate::stats::Stats;
use crate::storage::ring::push_size;
use crate::storage::{MemoryStore, QueueStore};
use swarm_core::{Context, Step};
use swarm_protocol::channel::is_valid_channel_name;
use swarm_protocol::wire::put_array;
use swarm_protocol::Status;

/// Push.
#[inline]
pub(crate) fn push<E>(
    store: &mut MemoryStore,
    stats: &mut Stats,
    consumers: &mut Consumers,
    cx: &mut Context<'_, E>,
    channel: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    let s = if !is_valid_channel_name(channel) {
        Status::BadChannelName
    } else if value.is_empty() {
        Status::EmptyValue
    } else {
        match store.push_valid(channel, value) {
            Ok(()) => {
                stats.pushed(1, value.len() as u64);
                consumers.notify(cx, channel);
                Status::Ok
            }
            Err(e) => {
                stats.refused(1, value.len() as u64);
                refused(e)
            }
        }
    };
    status(out, s);
    Step::Done
}

/// Whether `bytes` more would take the node over its `size_limit` (if it has one).
fn over_node_limit(store: &MemoryStore, bytes: u64) -> bool {
    let limit = store.size_limit();
    limit > 0 && store.total_size().bytes.saturating_add(bytes) > limit
}

/// The checks PushMulti and PushMulti2 make before pushing; `Some` is the refusal.
fn multi_checks(
    store: &MemoryStore,
    channels: &[&[u8]],
    value: &[u8],
    need: u64,
) -> Option<Status> {
    if value.is_empty() {
        Some(Status::EmptyValue)
    } else if over_node_limit(store, need) {
        Some(Status::OutOfMemory)
    } else if !channels.iter().all(|c| is_valid_channel_name(c)) {
        Some(Status::BadChannelName)
    } else {
        None
    }
}

/// Pushes `value` into each of `channels`; calls `failed` with each channel it did not fit.
fn push_each<E>(
    store: &mut MemoryStore,
    stats: &mut Stats,
    consumers: &mut Consumers,
    cx: &mut Context<'_, E>,
    channels: &[&[u8]],
    value: &[u8],
    mut failed: impl FnMut(&[u8]),
) {
    for channel in channels {
        match store.push_valid(channel, value) {
            Ok(()) => {
                stats.pushed(1, value.len() as u64);
                consumers.notify(cx, channel);
            }
            Err(_) => {
                stats.refused(1, value.len() as u64);
                failed(channel);
            }
        }
    }
}

/// PushMulti: one status; 407 after pushing if the record did not fit every channel.
pub(crate) fn push_multi<E>(
    store: &mut MemoryStore,
    stats: &mut Stats,
    consumers: &mut Consumers,
    cx: &mut Context<'_, E>,
    channels: &[&[u8]],
    value: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    let need = push_size(value.len()) as u64;
    if let Some(s) = multi_checks(store, channels, value, need) {
        status(out, s);
        return Step::Done;
    }
    let mut all = true;
    push_each(store, stats, consumers, cx, channels, value, |_| {
        all = false
    });
    status(out, if all { Status::Ok } else { Status::OutOfMemory });
    Step::Done
}

/// PushMulti2: 200 and the list of the channels the record did not fit.
pub(crate) fn push_multi2<E>(
    store: &mut MemoryStore,
    stats: &mut Stats,
    consumers: &mut Consumers,
    cx: &mut Context<'_, E>,
    channels: &[&[u8]],
    value: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    let need = (push_size(value.len()) as u64).saturating_mul(channels.len() as u64);
    if let Some(s) = multi_checks(store, channels, value, need) {
        status(out, s);
        return Step::Done;
    }
    status(out, Status::Ok);
    push_each(store, stats, consumers, cx, channels, value, |c| {
        put_array(out, c)
    });
    put_array(out, b"");
    Step::Done
}
