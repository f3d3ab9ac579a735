//! The dht node's [`swarm_core::Service::prepare`]: software prefetch of the records the
//! single-record requests (Get, Exists, Put, Remove) of a poll turn will touch, so the memory
//! misses of many connections overlap instead of following one another.
//!
//! Three rounds over all connections of the turn, one per dependent miss: the index line, then
//! the record's slot, then its value. A connection's scan stops at the first other request, a
//! partial one or a bad key (`handle` deals with those).

use crate::session::{Session, MAX_HINTS};
use crate::storage::Storage;
use swarm_core::Prepare;
use swarm_protocol::dht::DhtRequest;

/// Connections in a turn from which on all of them are prefetched: with fewer, a lone
/// request's misses have nothing to overlap with, and the rounds (which decode the requests
/// once more) cost more than they save. At pipeline 1 the node usually finds one to three
/// connections per turn (it is faster than its clients); the turns grow, and the prefetch
/// starts to pay, as the node gets busy.
const MIN_CONNS: usize = 8;
/// Input bytes from which a connection is prefetched even in a turn with few connections:
/// several pipelined requests (a Get is about 40 bytes).
const MIN_INPUT: usize = 256;
/// Rounds: index line, slot, value.
const ROUNDS: u32 = 3;

/// Runs the prefetch rounds over the batch; `active` is scratch space (kept by the caller so
/// no turn allocates).
pub(crate) fn prefetch(
    storage: &Storage,
    batch: &mut Prepare<'_, Session>,
    active: &mut Vec<usize>,
) {
    let many = batch.len() >= MIN_CONNS;
    active.clear();
    for i in 0..batch.len() {
        if let Some((s, input)) = batch.get(i) {
            s.hints.len = 0;
            if many || input.len() >= MIN_INPUT {
                first_round(storage, s, input);
                if s.hints.len > 0 {
                    active.push(i);
                }
            }
        }
    }
    for round in 1..ROUNDS {
        for &i in active.iter() {
            if let Some((s, _)) = batch.get(i) {
                later_round(storage, s, round);
            }
        }
    }
}

/// Decodes the requests at the front of `input` and prefetches their index lines.
fn first_round(storage: &Storage, s: &mut Session, input: &[u8]) {
    let hints = &mut s.hints;
    let mut rest = input;
    while hints.len < MAX_HINTS {
        let Ok((req, used)) = DhtRequest::decode(rest) else {
            break;
        };
        rest = &rest[used..];
        let (DhtRequest::Get { channel, key }
        | DhtRequest::Exists { channel, key }
        | DhtRequest::Remove { channel, key }
        | DhtRequest::Put { channel, key, .. }) = req
        else {
            break;
        };
        let Ok(key) = swarm_protocol::key::parse_key(key) else {
            break;
        };
        let Some(slot) = storage.slot_of(channel) else {
            continue;
        };
        if let Some(ch) = storage.channel_at(slot) {
            ch.prefetch_index(key);
            hints.at[hints.len] = (slot, key, None);
            hints.len += 1;
        }
    }
}

/// Round 1 prefetches the slots found in the index, round 2 the values.
fn later_round(storage: &Storage, s: &mut Session, round: u32) {
    let hints = &mut s.hints;
    for (slot, key, record) in hints.at[..hints.len].iter_mut() {
        if let Some(ch) = storage.channel_at(*slot) {
            match (round, *record) {
                (1, _) => *record = ch.prefetch_slot(*key),
                (_, Some(id)) => ch.prefetch_value(id, *key),
                (_, None) => {}
            }
        }
    }
}
