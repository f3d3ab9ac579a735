//! Listen (25): creates the channel if missing, answers Ok, then streams a (key, value) pair for
//! every record Put into the channel, until the channel is removed (two empty arrays end the
//! stream) or the client hangs up.
//!
//! As in the original, the node queues changed keys and reads the value when it sends, so a
//! key put twice may be sent twice with the latest value, and a record removed before sending
//! goes out with an empty value; at most [`MAX_QUEUED_KEYS`] keys wait per Listen, more are
//! dropped with a warning. Unlike the original, keys go out in the order they were written
//! (DECISIONS.md), and they are sent in the loop turn they were written in.
//!
//! The listeners of each channel are a `swarm_core::Waiters`; a Put posts each of them a
//! [`ListenEvent::Put`] (the key joins the queue in its session) and the loop resumes them
//! while their output has room, so a listener that does not read holds at most its queue of
//! keys and one output buffer, however much is written.

use super::{status, ChannelCheck};
use crate::event::DhtEvent;
use crate::session::{Ongoing, Session};
use crate::stats::{Action, Stats};
use crate::storage::{record_bytes, Storage};
use std::collections::VecDeque;
use swarm_core::{ConnRef, Context, Out, Step, Waiters};
use swarm_protocol::wire::put_array;
use swarm_protocol::{format_key, Status};

/// Keys that may wait to be sent on one Listen (the original's cap).
pub const MAX_QUEUED_KEYS: usize = 32_768;

/// What a Listen connection is told.
#[derive(Debug, PartialEq, Eq)]
pub enum ListenEvent {
    /// A record with this key was Put into the channel.
    Put(u64),
    /// The channel was removed: send the end marker.
    Ended,
}

/// A Listen in progress, in its connection's session.
#[derive(Debug)]
pub struct ListenState {
    channel: Box<[u8]>,
    keys: VecDeque<u64>,
    ended: bool,
    /// A wake is pending (deduplicates the wakes of a burst of Puts).
    woken: bool,
    dropped: u64,
}

/// Every active Listen: the listeners of each channel incarnation (by channel id).
#[derive(Debug, Default)]
pub struct Listens {
    waiters: Waiters<u64>,
}

impl Listens {
    /// A record of channel `channel_id` was Put: tell its listeners.
    pub fn notify(&mut self, cx: &mut Context<'_, DhtEvent>, channel_id: u64, key: u64) {
        if self.waiters.is_empty() {
            return; // the common case, without hashing on every Put
        }
        for conn in self.waiters.of(&channel_id) {
            cx.post(conn, DhtEvent::Listen(ListenEvent::Put(key)));
        }
    }

    /// Channel `channel_id` was removed: its Listens send their end marker.
    pub fn end_channel(&mut self, cx: &mut Context<'_, DhtEvent>, channel_id: u64) {
        for conn in self.waiters.remove_key(&channel_id) {
            cx.post(conn, DhtEvent::Listen(ListenEvent::Ended));
        }
    }

    /// An event reached a Listen connection: queue the key (or the end) and wake it.
    pub fn deliver(&mut self, cx: &mut Context<'_, DhtEvent>, s: &mut Session, e: ListenEvent) {
        let Ongoing::Listen(l) = &mut s.ongoing else {
            return; // the Listen has ended; a late event is moot
        };
        match e {
            ListenEvent::Put(_) if l.keys.len() >= MAX_QUEUED_KEYS => {
                l.dropped += 1;
                if l.dropped == 1 {
                    log::warn!(
                        "Listen request on channel '{}', hash buffer reached maximum length -- record discarded",
                        String::from_utf8_lossy(&l.channel)
                    );
                }
                return;
            }
            ListenEvent::Put(key) => l.keys.push_back(key),
            ListenEvent::Ended => {
                l.ended = true;
                l.keys.clear();
            }
        }
        if !l.woken {
            l.woken = true;
            cx.wake(s.conn);
        }
    }

    /// The connection is gone.
    pub fn forget(&mut self, conn: ConnRef) {
        self.waiters.remove(conn);
    }

    /// Active Listens.
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    /// Whether no Listen is active.
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }
}

/// Listen: the channel is created if missing; the session waits for Puts.
pub(crate) fn listen(
    storage: &mut Storage,
    names: &mut ChannelCheck,
    listens: &mut Listens,
    s: &mut Session,
    channel: &[u8],
    out: &mut Vec<u8>,
) -> Step {
    if !names.ok(channel, out) {
        return Step::Done;
    }
    let channel_id = storage.channel_or_create(channel).id;
    status(out, Status::Ok);
    listens.waiters.add(channel_id, s.conn);
    s.ongoing = Ongoing::Listen(Box::new(ListenState {
        channel: channel.into(),
        keys: VecDeque::new(),
        ended: false,
        woken: false,
        dropped: 0,
    }));
    Step::Wait
}

/// Sends queued keys while the output has room; ends the stream after a removal.
pub(crate) fn resume_listen(
    storage: &Storage,
    stats: &mut Stats,
    listens: &mut Listens,
    cx: &mut Context<'_, DhtEvent>,
    s: &mut Session,
    out: &mut Out<'_>,
) -> Step {
    let Ongoing::Listen(l) = &mut s.ongoing else {
        return Step::Done;
    };
    l.woken = false;
    while out.room() > 0 {
        let Some(k) = l.keys.pop_front() else { break };
        let value = storage.get(&l.channel, k).unwrap_or_default();
        put_array(out, &format_key(k));
        put_array(out, value);
        stats.action(Action::Read, 1, record_bytes(value.len()));
    }
    if !l.keys.is_empty() {
        // The loop resumes it once the client has taken what is buffered.
        l.woken = true;
        cx.wake(s.conn);
        return Step::Wait;
    }
    if l.ended {
        put_array(out, b"");
        put_array(out, b"");
        listens.forget(s.conn);
        return Step::Done;
    }
    Step::Wait
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use swarm_core::Step;
    use swarm_protocol::dht::DhtRequest;

    #[test]
    fn put_reaches_listener_in_write_order_and_removal_ends_it() {
        let mut t = Node::new();
        let mut listener = t.session(7);
        let (out, step) = t.request_on(&mut listener, &DhtRequest::Listen { channel: b"c" });
        assert_eq!((out, step), (OK.to_vec(), Step::Wait));
        t.request(&DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000001",
            value: b"a",
        });
        t.request(&DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000002",
            value: b"b",
        });
        t.request(&DhtRequest::Put {
            channel: b"other",
            key: b"0000000000000003",
            value: b"x",
        });
        assert_eq!(t.deliver_posted(&mut listener), 2);
        assert_eq!(t.woken(), vec![listener.conn], "one wake for two Puts");
        let (out, step) = t.resume(&mut listener);
        let expect = [
            arr(b"0000000000000001"),
            arr(b"a"),
            arr(b"0000000000000002"),
            arr(b"b"),
        ]
        .concat();
        assert_eq!((out, step), (expect, Step::Wait));
        t.request(&DhtRequest::RemoveChannel { channel: b"c" });
        assert_eq!(t.deliver_posted(&mut listener), 1);
        assert_eq!(t.woken(), vec![listener.conn]);
        let (out, step) = t.resume(&mut listener);
        assert_eq!((out, step), ([arr(b""), arr(b"")].concat(), Step::Done));
        assert!(t.service.listens.is_empty());
    }

    #[test]
    fn value_is_read_at_send_time() {
        let mut t = Node::new();
        let mut listener = t.session(3);
        t.request_on(&mut listener, &DhtRequest::Listen { channel: b"c" });
        t.request(&DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000001",
            value: b"a",
        });
        t.request(&DhtRequest::Remove {
            channel: b"c",
            key: b"0000000000000001",
        });
        t.deliver_posted(&mut listener);
        let (out, _) = t.resume(&mut listener);
        assert_eq!(out, [arr(b"0000000000000001"), arr(b"")].concat());
    }

    #[test]
    fn closing_the_connection_forgets_the_listen() {
        let mut t = Node::new();
        let mut listener = t.session(3);
        t.request_on(&mut listener, &DhtRequest::Listen { channel: b"c" });
        t.close(listener);
        t.request(&DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000001",
            value: b"a",
        });
        assert!(t.posted().is_empty());
        assert!(t.woken().is_empty());
    }

    #[test]
    fn a_full_queue_drops_keys_and_a_resume_stops_at_the_output_room() {
        let mut t = Node::new();
        let mut listener = t.session(4);
        t.request_on(&mut listener, &DhtRequest::Listen { channel: b"c" });
        let value = vec![1u8; 60_000];
        for k in 0..super::MAX_QUEUED_KEYS as u64 + 10 {
            let key = format!("{k:016x}");
            t.request(&DhtRequest::Put {
                channel: b"c",
                key: key.as_bytes(),
                value: &value,
            });
            t.deliver_posted(&mut listener);
        }
        let (out, step) = t.resume(&mut listener);
        assert_eq!(step, Step::Wait);
        // Stops at the high-water mark plus one record, not at 32,768 records.
        assert!(out.len() < 1024 * 1024 + 61_000, "{}", out.len());
        assert_eq!(
            t.woken(),
            vec![listener.conn, listener.conn],
            "more to send"
        );
    }
}
