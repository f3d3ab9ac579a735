//! Listen (25): creates the channel if missing, answers Ok, then streams a (key, value) pair for
//! every record Put into the channel, until the channel is removed (two empty arrays end the
//! stream) or the client hangs up.
//!
//! As in the original, the node queues changed keys and reads the value when it sends, so a
//! key put twice may be sent twice with the latest value, and a record removed before sending
//! goes out with an empty value; at most [`MAX_QUEUED_KEYS`] keys wait per Listen, more are
//! dropped with a warning. Unlike the original, keys go out in the order they were written
//! (DECISIONS.md), and they are sent in the loop turn they were written in.

use super::status;
use crate::service::{DhtService, Ongoing, Session};
use crate::stats::Action;
use crate::storage::record_bytes;
use hashbrown::HashMap;
use std::collections::VecDeque;
use swarm_core::{ConnId, Context, Step};
use swarm_protocol::wire::put_array;
use swarm_protocol::{format_key, Status};

/// Keys that may wait to be sent on one Listen (the original's cap).
pub const MAX_QUEUED_KEYS: usize = 32_768;

/// Output a Listen appends per resume before letting other connections run.
const SEND_CHUNK: usize = 64 * 1024;

#[derive(Debug)]
struct Queue {
    channel: Box<[u8]>,
    channel_id: u64,
    keys: VecDeque<u64>,
    ended: bool,
    woken: bool,
    dropped: u64,
}

/// Every active Listen, by connection, and the listeners of each channel incarnation.
#[derive(Debug, Default)]
pub struct Listens {
    queues: HashMap<ConnId, Queue>,
    by_channel: HashMap<u64, Vec<ConnId>>,
}

impl Listens {
    fn wake(cx: &mut Context<'_>, id: ConnId, q: &mut Queue) {
        if !q.woken {
            q.woken = true;
            cx.wake(id);
        }
    }

    /// A record of channel `channel_id` was Put.
    pub fn notify(&mut self, cx: &mut Context<'_>, channel_id: u64, key: u64) {
        let Some(ids) = self.by_channel.get(&channel_id) else {
            return;
        };
        for &id in ids {
            let Some(q) = self.queues.get_mut(&id) else {
                continue;
            };
            if q.keys.len() >= MAX_QUEUED_KEYS {
                q.dropped += 1;
                if q.dropped == 1 {
                    log::warn!(
                        "Listen request on channel '{}', hash buffer reached maximum length -- record discarded",
                        String::from_utf8_lossy(&q.channel)
                    );
                }
                continue;
            }
            q.keys.push_back(key);
            Self::wake(cx, id, q);
        }
    }

    /// Channel `channel_id` was removed: its Listens send their end marker.
    pub fn end_channel(&mut self, cx: &mut Context<'_>, channel_id: u64) {
        for id in self.by_channel.remove(&channel_id).unwrap_or_default() {
            if let Some(q) = self.queues.get_mut(&id) {
                q.ended = true;
                q.keys.clear();
                Self::wake(cx, id, q);
            }
        }
    }

    /// The connection is gone (or its Listen ended).
    pub fn forget(&mut self, id: ConnId) {
        if let Some(q) = self.queues.remove(&id) {
            if let Some(ids) = self.by_channel.get_mut(&q.channel_id) {
                ids.retain(|&other| other != id);
                if ids.is_empty() {
                    self.by_channel.remove(&q.channel_id);
                }
            }
        }
    }

    /// Active Listens.
    pub fn len(&self) -> usize {
        self.queues.len()
    }

    /// Whether no Listen is active.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }
}

impl DhtService {
    pub(crate) fn listen(&mut self, s: &mut Session, channel: &[u8], out: &mut Vec<u8>) -> Step {
        if !self.channel_ok(channel, out) {
            return Step::Done;
        }
        let channel_id = self.storage.channel_or_create(channel).id;
        status(out, Status::Ok);
        let q = Queue {
            channel: channel.into(),
            channel_id,
            keys: VecDeque::new(),
            ended: false,
            woken: false,
            dropped: 0,
        };
        self.listens.queues.insert(s.id, q);
        self.listens
            .by_channel
            .entry(channel_id)
            .or_default()
            .push(s.id);
        s.ongoing = Ongoing::Listen;
        Step::Wait
    }

    pub(crate) fn resume_listen(
        &mut self,
        cx: &mut Context<'_>,
        s: &mut Session,
        out: &mut Vec<u8>,
    ) -> Step {
        let Some(q) = self.listens.queues.get_mut(&s.id) else {
            return Step::Done;
        };
        q.woken = false;
        let start = out.len();
        while out.len() - start < SEND_CHUNK {
            let Some(k) = q.keys.pop_front() else { break };
            let value = self.storage.get(&q.channel, k).unwrap_or_default();
            put_array(out, &format_key(k));
            put_array(out, value);
            self.stats
                .action(Action::Read, 1, record_bytes(value.len()));
        }
        if !q.keys.is_empty() {
            Listens::wake(cx, s.id, q);
            return Step::Wait;
        }
        if q.ended {
            put_array(out, b"");
            put_array(out, b"");
            self.listens.forget(s.id);
            return Step::Done;
        }
        Step::Wait
    }
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
        assert_eq!(t.woken(), vec![7]);
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
        assert_eq!(t.woken(), vec![7]);
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
        assert!(t.woken().is_empty());
    }
}
