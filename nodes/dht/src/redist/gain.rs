//! The keys a node gained in its last Redistribute, while their old owners may still be
//! sending them: there, records that arrive by PutBatch never undo what clients did here.
//!
//! During a move a client with a fresh routing table writes a moved key on its new owner
//! before the old owner has forwarded its (older) record. The old owner's record is frozen
//! (writes to it get WrongNode), so when the new owner already holds the key, its value is
//! either that same record (sent before, now sent again) or a newer one a client wrote: in
//! both cases the incoming record is not applied. A key a client removed here since the gain
//! is remembered (a tombstone, up to [`MAX_TOMBSTONES`]), so the old owner's copy does not
//! bring it back. This lasts [`WINDOW`] after the Redistribute that gained the keys (the
//! service drops it on its first tick after that, [`Gained::expired`]), or until the next one
//! that changes the range; outside gained ranges PutBatch overwrites, as in the original.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use swarm_protocol::HashRange;

/// How long after a gain incoming records defer to what clients did.
pub const WINDOW: Duration = Duration::from_secs(3600);

/// Removals remembered at most (about 16 bytes each); past it, a warning, and further
/// removals are not remembered.
pub const MAX_TOMBSTONES: usize = 1 << 20;

/// Ranges gained and what clients removed in them.
#[derive(Debug)]
pub struct Gained {
    ranges: Vec<HashRange>,
    until: Instant,
    /// Keys removed by clients since the gain, by channel name (a channel need not exist
    /// for a Remove).
    removed: HashMap<Box<[u8]>, HashSet<u64>>,
    tombstones: usize,
    warned: bool,
}

impl Gained {
    /// What a change from `old` to `new` gains (`None` when nothing).
    pub fn new(old: HashRange, new: HashRange, now: Instant) -> Option<Gained> {
        if new.is_empty() {
            return None;
        }
        let ranges = if old.is_empty() || !old.overlaps(&new) {
            vec![new]
        } else {
            let mut r = Vec::new();
            if new.min < old.min {
                r.extend(HashRange::new(new.min, old.min - 1));
            }
            if new.max > old.max {
                r.extend(HashRange::new(old.max + 1, new.max));
            }
            r
        };
        (!ranges.is_empty()).then(|| Gained {
            ranges,
            until: now + WINDOW,
            removed: HashMap::new(),
            tombstones: 0,
            warned: false,
        })
    }

    /// Whether `key` is in a gained range.
    pub fn covers(&self, key: u64) -> bool {
        self.ranges.iter().any(|r| r.contains(key))
    }

    /// Whether the window is over at `now` (the service then drops this, on its tick).
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.until
    }

    /// A client removed `key` of `channel` (call only when [`Gained::covers`]).
    pub fn removed(&mut self, channel: &[u8], key: u64) {
        if self.tombstones < MAX_TOMBSTONES {
            if let Some(keys) = self.removed.get_mut(channel) {
                self.tombstones += usize::from(keys.insert(key));
            } else {
                self.removed.insert(channel.into(), HashSet::from([key]));
                self.tombstones += 1;
            }
        } else if !self.warned {
            self.warned = true;
            log::warn!(
                "Redistribute: {MAX_TOMBSTONES} keys removed since the last range gain; later \
                 removals may be undone by records still arriving from their old owner"
            );
        }
    }

    /// Whether a client removed `key` of `channel` since the gain.
    pub fn was_removed(&self, channel: &[u8], key: u64) -> bool {
        self.removed.get(channel).is_some_and(|k| k.contains(&key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gains_are_the_new_range_less_the_old() {
        let now = Instant::now();
        let r = |a, b| HashRange::new(a, b).unwrap();
        let g = Gained::new(HashRange::EMPTY, r(10, 20), now).unwrap();
        assert!(g.covers(10) == r(10, 20).contains(10));
        assert!(Gained::new(r(0, 100), r(0, 50), now).is_none());
        assert!(Gained::new(r(0, 100), HashRange::EMPTY, now).is_none());
        let g = Gained::new(r(40, 60), r(0, 100), now).unwrap();
        assert_eq!(g.ranges, vec![r(0, 39), r(61, 100)]);
        let key_at = |bits: u64| bits.reverse_bits();
        assert!(g.covers(key_at(39)) && g.covers(key_at(61)));
        assert!(!g.covers(key_at(50)));
        assert!(!g.expired(now) && g.expired(now + WINDOW));
    }
}
