//! Produce (10) and ProduceMulti (11): client-to-node record streams. The opening request is
//! answered with one status; on Ok every following array the client sends is a record for the
//! channel (or every listed channel), until an empty array ends the stream. Nothing is sent per
//! record, nor at the end.
//!
//! As in the original memory-only node, a record that does not fit a channel (full ring, a
//! record larger than the ring, the node-wide size limit) is dropped for that channel and
//! counted; the first drop of a stream is logged as a warning, and the count when the stream
//! ends. Unlike the original's ProduceMulti, which checked no names at all, a list with an
//! invalid name is answered BadChannelName (409) and no stream starts (the final dmqnode's
//! behaviour), rather than dropping every record for that channel silently.

use super::consume::Consumers;
use super::{refused, status};
use crate::session::{Ongoing, Session};
use crate::stats::Stats;
use crate::storage::{MemoryStore, QueueStore};
use swarm_core::{Context, Step};
use swarm_protocol::channel::is_valid_channel_name;
use swarm_protocol::queue::QueueCommand;
use swarm_protocol::Status;

/// A Produce or ProduceMulti stream in progress, in its connection's session.
#[derive(Debug)]
pub struct ProduceState {
    /// The channels each record goes to (one for Produce).
    channels: Vec<Box<[u8]>>,
    multi: bool,
    /// Records (counted once per channel) dropped so far.
    dropped: u64,
    /// Records taken.
    records: u64,
}

impl ProduceState {
    /// Produce or ProduceMulti.
    pub fn command(&self) -> QueueCommand {
        if self.multi {
            QueueCommand::ProduceMulti
        } else {
            QueueCommand::Produce
        }
    }
}

/// Produce and ProduceMulti: 409 if a name is invalid; otherwise the channels are created,
/// Ok is sent and the connection's following arrays are records.
pub(crate) fn produce(
    store: &mut MemoryStore,
    s: &mut Session,
    channels: &[&[u8]],
    multi: bool,
    out: &mut Vec<u8>,
) -> Step {
    if !channels.iter().all(|c| is_valid_channel_name(c)) {
        status(out, Status::BadChannelName);
        return Step::Done;
    }
    for c in channels {
        if let Err(e) = store.create_channel(c) {
            status(out, refused(e));
            return Step::Done;
        }
    }
    status(out, Status::Ok);
    s.ongoing = Ongoing::Produce(ProduceState {
        channels: channels.iter().map(|c| Box::<[u8]>::from(*c)).collect(),
        multi,
        dropped: 0,
        records: 0,
    });
    Step::Done
}

/// One record of the stream: pushed into each channel where it fits, dropped (and counted)
/// where it does not. `None` (the empty array) ends the stream.
pub(crate) fn record<E>(
    store: &mut MemoryStore,
    stats: &mut Stats,
    consumers: &mut Consumers,
    cx: &mut Context<'_, E>,
    s: &mut Session,
    record: Option<&[u8]>,
) -> Step {
    let Ongoing::Produce(p) = &mut s.ongoing else {
        return Step::Done;
    };
    let Some(record) = record else {
        if p.dropped > 0 {
            log::warn!(
                "{}: {} stream ended: {} of {} records dropped (channels full)",
                s.peer,
                p.command().name(),
                p.dropped,
                p.records
            );
        }
        s.ongoing = Ongoing::Idle;
        return Step::Done;
    };
    p.records += 1;
    for channel in &p.channels {
        match store.push_valid(channel, record) {
            Ok(()) => {
                stats.pushed(1, record.len() as u64);
                consumers.notify(cx, channel);
            }
            Err(e) => {
                p.dropped += 1;
                stats.dropped(1, record.len() as u64);
                if p.dropped == 1 {
                    log::warn!(
                        "{}: {} stream: record of {} bytes dropped for channel '{}': {e} \
                         (further drops of this stream are counted, not logged)",
                        s.peer,
                        p.command().name(),
                        record.len(),
                        String::from_utf8_lossy(channel)
                    );
                }
            }
        }
    }
    Step::Done
}

/// The connection closed during a stream: say how many records were dropped.
pub(crate) fn closed(s: &Session) {
    if let Ongoing::Produce(p) = &s.ongoing {
        if p.dropped > 0 {
            log::warn!(
                "{}: {} stream cut by the client: {} of {} records dropped (channels full)",
                s.peer,
                p.command().name(),
                p.dropped,
                p.records
            );
        }
    }
}
