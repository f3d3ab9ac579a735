//! Consume (6): creates the channel if missing, answers Ok, then sends every record of the
//! channel as `arr(record)` as it arrives, until the channel is removed (an empty array ends the
//! stream and the connection reads its next request) or the client hangs up.
//!
//! The consumers of each channel are a `swarm_core::Waiters`. A push wakes one consumer in turn
//! (round-robin); a consumer moves records from the ring straight into its output buffer, so a
//! record leaves the ring only when it is written into a consumer's output, and each record goes
//! to exactly one consumer. A resumed consumer takes its share of what is waiting (the bytes
//! stored over the number of consumers, at least one record) and no more than its output has
//! room for, then wakes the next consumer if records remain: a burst is spread over the
//! consumers, and one that stops reading holds back only what already is in its buffer (the loop
//! does not resume it while its output is above the low-water mark, and the wakes skip it).
//!
//! Unlike the original, whose consumers flushed on the `write_flush_ms` timer (up to 250 ms
//! late), records go out in the event-loop turn they were pushed in; the timer only wakes the
//! consumers of channels that still hold records, so no wake can be lost.

use super::{channel_ok, status};
use crate::session::{Ongoing, Session};
use crate::stats::Stats;
use crate::storage::{MemoryStore, QueueStore};
use hashbrown::HashMap;
use swarm_core::{ConnRef, Context, Out, Step, Waiters};
use swarm_protocol::wire::put_array;
use swarm_protocol::Status;

/// A Consume in progress, in its connection's session.
#[derive(Debug)]
pub struct ConsumeState {
    /// The channel, for log lines.
    channel: Box<[u8]>,
    /// The channel incarnation it consumes ([`Consumers`]); when the consumer is no longer
    /// registered under it, the channel was removed and the stream ends.
    id: u64,
}

/// Every active Consume: the consumers of each channel incarnation, and which channels have
/// consumers (pushes into other channels cost one check of an empty map).
#[derive(Debug, Default)]
pub struct Consumers {
    waiters: Waiters<u64>,
    ids: HashMap<Box<[u8]>, u64>,
    names: HashMap<u64, Box<[u8]>>,
    next_id: u64,
}

impl Consumers {
    /// Records were stored in `channel`: wake one of its consumers that is not already woken.
    #[inline]
    pub fn notify<E>(&mut self, cx: &mut Context<'_, E>, channel: &[u8]) {
        if self.ids.is_empty() {
            return; // the common case: nobody consumes, no hashing
        }
        if let Some(id) = self.ids.get(channel) {
            self.waiters.wake_one(cx, id);
        }
    }

    /// `channel` was removed: its consumers are unregistered and woken, and end their streams.
    pub fn end_channel<E>(&mut self, cx: &mut Context<'_, E>, channel: &[u8]) {
        let Some(id) = self.ids.remove(channel) else {
            return;
        };
        self.names.remove(&id);
        for conn in self.waiters.remove_key(&id) {
            cx.wake(conn);
        }
    }

    /// Wakes a consumer of every channel that holds records (the flush timer's safety net).
    pub fn wake_backlogged<E>(&mut self, cx: &mut Context<'_, E>, store: &MemoryStore) {
        for (id, name) in &self.names {
            if store.ring(name).is_some_and(|r| !r.is_empty()) {
                self.waiters.wake_one(cx, id);
            }
        }
    }

    /// The connection is gone (or its stream ended).
    pub fn forget(&mut self, conn: ConnRef) {
        let Some(id) = self.waiters.remove(conn) else {
            return;
        };
        if self.waiters.of(&id).next().is_none() {
            if let Some(name) = self.names.remove(&id) {
                self.ids.remove(&name);
            }
        }
    }

    /// Active Consumes.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    /// Whether no Consume is active.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    fn add(&mut self, channel: &[u8], conn: ConnRef) -> u64 {
        let id = match self.ids.get(channel) {
            Some(id) => *id,
            None => {
                self.next_id += 1;
                let id = self.next_id;
                self.ids.insert(channel.into(), id);
                self.names.insert(id, channel.into());
                id
            }
        };
        self.waiters.add(id, conn);
        id
    }
}

/// Consume: 409 for a bad name; otherwise the channel is created if missing, Ok is sent with
/// the records already waiting, and the session waits for more.
pub(crate) fn consume<E>(
    store: &mut MemoryStore,
    stats: &mut Stats,
    consumers: &mut Consumers,
    cx: &mut Context<'_, E>,
    s: &mut Session,
    channel: &[u8],
    out: &mut Out<'_>,
) -> Step {
    if !channel_ok(channel, out) {
        return Step::Done;
    }
    if let Err(e) = store.create_channel(channel) {
        status(out, super::refused(e));
        return Step::Done;
    }
    status(out, Status::Ok);
    let id = consumers.add(channel, s.conn);
    s.ongoing = Ongoing::Consume(ConsumeState {
        channel: channel.into(),
        id,
    });
    resume_consume(store, stats, consumers, cx, s, out)
}

/// Sends the consumer's share of the waiting records while its output has room; ends the
/// stream once the channel was removed.
pub(crate) fn resume_consume<E>(
    store: &mut MemoryStore,
    stats: &mut Stats,
    consumers: &mut Consumers,
    cx: &mut Context<'_, E>,
    s: &mut Session,
    out: &mut Out<'_>,
) -> Step {
    let Ongoing::Consume(c) = &s.ongoing else {
        return Step::Done;
    };
    if consumers.waiters.key_of(s.conn) != Some(&c.id) {
        // RemoveChannel unregistered it: the empty array ends the stream.
        log::debug!(
            "{}: Consume of channel '{}' ended by its removal",
            s.peer,
            String::from_utf8_lossy(&c.channel)
        );
        put_array(out, b"");
        s.ongoing = Ongoing::Idle;
        return Step::Done;
    }
    consumers.waiters.resumed(s.conn);
    let sharing = consumers.waiters.of(&c.id).count();
    let mut bytes = 0u64;
    let turn = store.pop_share(&c.channel, sharing, out.room(), &mut |record| {
        put_array(out, record);
        bytes += record.len() as u64;
    });
    let Some((n, remain)) = turn else {
        return Step::Wait;
    };
    stats.popped(n as u64, bytes);
    if remain {
        // Records remain: the next consumer in turn that is not woken takes its share (this
        // one, if it is the only one; one whose output is backed up keeps its wake until it
        // drains, so it is skipped).
        consumers.waiters.wake_one(cx, &c.id);
    }
    Step::Wait
}
