//! The dht client's routing table ([`Table`]) and how it follows hash-range changes: a refresh
//! (GetResponsibleRange on every node given at connect, in parallel) swaps in a new table; one
//! that changed the ranges keeps the routing it replaced for `moved_key_window` (the last
//! [`MAX_PREVIOUS`] such), so that a miss at a key's new owner can also ask its previous
//! owners (`moved.rs`). A history rather than one table: a refresh may see a move half done
//! (one node's range changed, not yet the other's), and the change after it must not forget
//! the node that held the keys before.
//!
//! Refreshes happen on demand ([`DhtClient::refresh`]), after a WrongNode answer (the threads
//! that hit WrongNode together refresh once: each names the table generation it routed with,
//! and a refresh newer than that is enough) and every `range_refresh`, checked when a request
//! starts. Only one thread refreshes at a time; a periodic refresh that finds another one
//! running is skipped, and every other request goes on with the table it has.

use super::{handshake_node, on_pools_in_parallel, read_range, DhtClient};
use crate::error::ClientError;
use crate::pool::{NodePool, Retry};
use crate::ranges::{route, HandshakeReport};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::HashRange;

/// How many replaced routings a table keeps (those older than `moved_key_window` are ignored).
pub(super) const MAX_PREVIOUS: usize = 8;

/// Which node owns which keys, as of one handshake or refresh.
#[derive(Debug)]
pub(super) struct Table {
    /// The usable nodes and their ranges, in nodes-file order, with gaps and overlaps.
    pub(super) report: HandshakeReport,
    /// The index in the client's pools of each of `report.nodes`.
    pub(super) pool_of: Vec<usize>,
    /// The routings that range changes replaced, newest first, with when.
    previous: Vec<Previous>,
    /// Counts refreshes, changed or not.
    pub(super) generation: u64,
}

/// A replaced routing: (pool index, range) per usable node.
#[derive(Debug, Clone)]
struct Previous {
    nodes: Vec<(usize, HashRange)>,
    replaced: Instant,
}

impl Table {
    /// The handshake's table: `usable` has (pool index, range) in pool order.
    pub(super) fn new(
        pools: &[NodePool],
        usable: Vec<(usize, HashRange)>,
        unreachable: Vec<(SocketAddr, String)>,
    ) -> Table {
        let nodes = usable.iter().map(|&(i, r)| (pools[i].addr(), r)).collect();
        Table {
            report: HandshakeReport::new(nodes, unreachable),
            pool_of: usable.into_iter().map(|(i, _)| i).collect(),
            previous: Vec::new(),
            generation: 0,
        }
    }

    /// The pool index of the node that owns `key`.
    pub(super) fn owner(&self, key: u64) -> Option<usize> {
        route(&self.report.nodes, key).map(|i| self.pool_of[i])
    }

    /// The pool indices of the nodes that owned `key` in the routings replaced less than
    /// `window` ago, newest first, each once (every node whose range held the key, overlaps
    /// included).
    pub(super) fn previous_owners(&self, key: u64, window: Duration) -> Vec<usize> {
        let mut owners = Vec::new();
        for p in self
            .previous
            .iter()
            .filter(|p| p.replaced.elapsed() < window)
        {
            for &(i, r) in &p.nodes {
                if r.contains(key) && !owners.contains(&i) {
                    owners.push(i);
                }
            }
        }
        owners
    }

    fn routing(&self) -> Vec<(usize, HashRange)> {
        self.pool_of
            .iter()
            .zip(&self.report.nodes)
            .map(|(&i, &(_, r))| (i, r))
            .collect()
    }
}

/// When the next periodic refresh is due: nanoseconds since the client was made, in an
/// atomic, so that the check at the start of every request is a clock read and a load.
#[derive(Debug)]
pub(super) struct RefreshClock {
    every: Option<Duration>,
    epoch: Instant,
    next: AtomicU64,
}

impl RefreshClock {
    pub(super) fn new(every: Option<Duration>) -> RefreshClock {
        RefreshClock {
            every,
            epoch: Instant::now(),
            next: AtomicU64::new(every.map_or(u64::MAX, nanos)),
        }
    }

    fn due(&self) -> bool {
        self.every.is_some() && nanos(self.epoch.elapsed()) >= self.next.load(Ordering::Relaxed)
    }

    /// A refresh just ended: the next one is due a full interval from now.
    fn restart(&self) {
        if let Some(every) = self.every {
            let next = nanos(self.epoch.elapsed()).saturating_add(nanos(every));
            self.next.store(next, Ordering::Relaxed);
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl DhtClient {
    /// Asks every node given at connect for its hash range again (in parallel) and routes by
    /// the answers from now on. Nodes that were unreachable so far join when they answer
    /// GetVersion and GetResponsibleRange. When the ranges changed, the routing they replace
    /// is kept for [`crate::ClientConfig::moved_key_window`]: a Get or Exists that misses at a
    /// key's owner then also asks the key's previous owners, which may still hold the record.
    ///
    /// Each node gets one attempt, without waiting for a node that is down (a refresh never
    /// stalls on one). A node that was usable and does not answer keeps its old range, and the
    /// call returns its error after the table was updated with what the others answered. Gaps
    /// and overlaps are logged, not refused (the nodes pass through them during a
    /// Redistribute), whatever [`crate::ClientConfig::require_full_coverage`] says.
    pub fn refresh(&self) -> Result<(), ClientError> {
        let _running = lock(&self.refreshing);
        self.refresh_locked()
    }

    /// The current table.
    pub(super) fn table(&self) -> Arc<Table> {
        // A panic cannot leave the `Arc` half-written.
        Arc::clone(&self.table.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Refreshes if the periodic refresh is due and no other thread is refreshing; a failure
    /// is logged, and the request goes on with the table it has.
    pub(super) fn maybe_refresh(&self) {
        if !self.clock.due() {
            return;
        }
        let _running = match self.refreshing.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        // Another thread may have refreshed between the check and the lock.
        if self.clock.due() {
            if let Err(e) = self.refresh_locked() {
                log::warn!("dht range refresh: {e}");
            }
        }
    }

    /// Refreshes after a WrongNode answer to a request routed with table `generation`, unless
    /// a refresh since has already done it. A failure is logged: the caller retries on
    /// whatever the table then says.
    pub(super) fn refresh_after(&self, generation: u64) {
        let _running = lock(&self.refreshing);
        if self.table().generation != generation {
            return;
        }
        if let Err(e) = self.refresh_locked() {
            log::warn!("dht range refresh after WrongNode: {e}");
        }
    }

    fn refresh_locked(&self) -> Result<(), ClientError> {
        let old = self.table();
        let results = on_pools_in_parallel(&self.pools, |i, pool| {
            if old.pool_of.contains(&i) {
                pool.request(DhtCommand::GetResponsibleRange, Retry::Failover, |c| {
                    c.send(&super::encode(&DhtRequest::GetResponsibleRange))?;
                    read_range(c)
                })
            } else {
                handshake_node(pool, Retry::Failover)
            }
        });
        let old_routing = old.routing();
        let mut usable = Vec::new();
        let mut unreachable = Vec::new();
        let mut first_error = None;
        for (i, result) in results.into_iter().enumerate() {
            match (result, old_routing.iter().find(|(p, _)| *p == i)) {
                (Ok(range), _) => usable.push((i, range)),
                (Err(e), Some(&(_, range))) => {
                    log::warn!("dht range refresh: {e}; keeping its range");
                    usable.push((i, range));
                    first_error.get_or_insert(e);
                }
                (Err(e), None) => unreachable.push((self.pools[i].addr(), e.to_string())),
            }
        }
        let mut table = Table::new(&self.pools, usable, unreachable);
        table.generation = old.generation + 1;
        table.previous = old.previous.clone();
        if table.routing() != old_routing {
            log::info!("dht ranges changed: {}", table.report);
            table.previous.truncate(MAX_PREVIOUS - 1);
            table.previous.insert(
                0,
                Previous {
                    nodes: old_routing,
                    replaced: Instant::now(),
                },
            );
        }
        *self.table.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(table);
        self.clock.restart();
        first_error.map_or(Ok(()), Err)
    }
}

/// Locks the refresh mutex; it guards no data, so a poisoned lock is as good as any.
fn lock(m: &Mutex<()>) -> MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
