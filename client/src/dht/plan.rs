//! Planning a grown dht cluster (groundwork of the Redistribute driver, issue 11): given the
//! nodes and their hash ranges and the nodes to add, the new range of every node, by one of two
//! strategies:
//!
//! - [`Strategy::SplitLargest`] (the original `dhtredist --strategy subdivide`): each added node
//!   takes the upper half of the largest range at that moment, whose node keeps the lower half;
//!   only the split nodes move records.
//! - [`Strategy::SplitEvenly`] (`--ranges N`): the span the nodes cover is cut into equal
//!   contiguous ranges, the existing nodes first in the order of their ranges, then the added
//!   ones; every node may move records.
//!
//! [`drain`] is the other way round: the ranges of nodes leaving the cluster go to the others,
//! to the neighbouring ranges ([`Strategy::SplitLargest`]: the lower half to the range below,
//! the upper half to the range above) or by re-splitting the span evenly over the remaining
//! nodes ([`Strategy::SplitEvenly`]); the drained nodes get the empty range.
//!
//! Ranges are inclusive, over bit-reversed keys ([`HashRange`]). A node with the empty range
//! (drained) stays empty. The current ranges must not overlap and must cover one contiguous span
//! (a gap would leave keys without an owner), which the new ranges cover exactly.

use std::fmt;
use std::net::SocketAddr;
use swarm_protocol::HashRange;

/// How the new ranges are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Each added node takes the upper half of the largest range.
    SplitLargest,
    /// Every node gets an equal share of the span.
    SplitEvenly,
}

/// A node and its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeRange {
    /// The node.
    pub addr: SocketAddr,
    /// Its range.
    pub range: HashRange,
}

/// Why no plan could be made. `#[non_exhaustive]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// No node has a range to share.
    NothingToSplit,
    /// Two current ranges share keys.
    Overlap(SocketAddr, SocketAddr),
    /// The current ranges leave keys between them without an owner.
    Gap {
        /// The last key of the range before the gap.
        after: u64,
        /// The first key of the range after it.
        before: u64,
    },
    /// An added node is already in the cluster (or added twice).
    AlreadyThere(SocketAddr),
    /// A range is too small to split once more.
    TooSmall(SocketAddr),
    /// A node to drain is not in the cluster (or named twice).
    NotInCluster(SocketAddr),
    /// Draining would leave no node with a range.
    NoNodeLeft,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::NothingToSplit => write!(f, "no node has a non-empty hash range to share"),
            PlanError::Overlap(a, b) => write!(f, "the hash ranges of {a} and {b} overlap"),
            PlanError::Gap { after, before } => write!(
                f,
                "no node owns the keys 0x{:016x}..0x{:016x} (between two ranges)",
                after.wrapping_add(1),
                before.wrapping_sub(1)
            ),
            PlanError::AlreadyThere(a) => write!(f, "{a} is in the cluster already"),
            PlanError::TooSmall(a) => write!(f, "the hash range of {a} is too small to split"),
            PlanError::NotInCluster(a) => write!(f, "{a} is not in the cluster (or named twice)"),
            PlanError::NoNodeLeft => {
                write!(
                    f,
                    "draining these nodes would leave no node with a hash range"
                )
            }
        }
    }
}

impl std::error::Error for PlanError {}

/// Keys in a non-empty range.
fn size(r: HashRange) -> u128 {
    u128::from(r.max) - u128::from(r.min) + 1
}

/// The non-empty current ranges, in key order, checked to be disjoint and contiguous.
fn sorted_span(current: &[NodeRange]) -> Result<Vec<NodeRange>, PlanError> {
    let mut live: Vec<NodeRange> = current
        .iter()
        .copied()
        .filter(|n| !n.range.is_empty())
        .collect();
    live.sort_by_key(|n| n.range.min);
    if live.is_empty() {
        return Err(PlanError::NothingToSplit);
    }
    for w in live.windows(2) {
        if w[1].range.min <= w[0].range.max {
            return Err(PlanError::Overlap(w[0].addr, w[1].addr));
        }
        if w[1].range.min != w[0].range.max + 1 {
            return Err(PlanError::Gap {
                after: w[0].range.max,
                before: w[1].range.min,
            });
        }
    }
    Ok(live)
}

/// The new range of every node: the current ones (in their order) and then the added ones.
pub fn plan(
    current: &[NodeRange],
    added: &[SocketAddr],
    strategy: Strategy,
) -> Result<Vec<NodeRange>, PlanError> {
    let live = sorted_span(current)?;
    for (i, a) in added.iter().enumerate() {
        if current.iter().any(|n| n.addr == *a) || added[..i].contains(a) {
            return Err(PlanError::AlreadyThere(*a));
        }
    }
    let mut nodes: Vec<NodeRange> = current.to_vec();
    match strategy {
        Strategy::SplitLargest => {
            for &addr in added {
                let (i, _) = nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| !n.range.is_empty())
                    .max_by_key(|(i, n)| (size(n.range), std::cmp::Reverse(*i)))
                    .ok_or(PlanError::NothingToSplit)?;
                let r = nodes[i].range;
                if size(r) < 2 {
                    return Err(PlanError::TooSmall(nodes[i].addr));
                }
                let half = (size(r) / 2) as u64; // < 2^64: size is at most 2^64
                let lower_max = r.min + (half - 1);
                nodes[i].range = HashRange::new(r.min, lower_max).unwrap_or(HashRange::EMPTY);
                let upper = HashRange::new(lower_max + 1, r.max).unwrap_or(HashRange::EMPTY);
                nodes.push(NodeRange { addr, range: upper });
            }
        }
        Strategy::SplitEvenly => {
            let (lo, hi) = (live[0].range.min, live[live.len() - 1].range.max);
            let span = u128::from(hi) - u128::from(lo) + 1;
            // The nodes that share the span: the live ones in key order, then the added.
            let mut order: Vec<SocketAddr> = live.iter().map(|n| n.addr).collect();
            order.extend_from_slice(added);
            let n = order.len() as u128;
            if span < n {
                return Err(PlanError::TooSmall(live[0].addr));
            }
            for &addr in added {
                nodes.push(NodeRange {
                    addr,
                    range: HashRange::EMPTY,
                });
            }
            for (k, addr) in order.iter().enumerate() {
                if let Some(node) = nodes.iter_mut().find(|x| x.addr == *addr) {
                    node.range = even_share(lo, span, k, order.len());
                }
            }
        }
    }
    Ok(nodes)
}

/// The new range of every node of `current` (in its order) once the `drained` nodes have left:
/// they get the empty range and their keys go to the others, by `strategy` (see the module
/// docs). A drained node whose range is empty already changes nothing.
pub fn drain(
    current: &[NodeRange],
    drained: &[SocketAddr],
    strategy: Strategy,
) -> Result<Vec<NodeRange>, PlanError> {
    let live = sorted_span(current)?;
    for (i, d) in drained.iter().enumerate() {
        if !current.iter().any(|n| n.addr == *d) || drained[..i].contains(d) {
            return Err(PlanError::NotInCluster(*d));
        }
    }
    let mut nodes: Vec<NodeRange> = current.to_vec();
    // The remaining live nodes in key order, with ranges as they grow.
    let mut kept: Vec<NodeRange> = live
        .iter()
        .copied()
        .filter(|n| !drained.contains(&n.addr))
        .collect();
    if kept.is_empty() {
        return Err(PlanError::NoNodeLeft);
    }
    match strategy {
        Strategy::SplitLargest => {
            for block in drained_blocks(&live, drained) {
                give_to_neighbours(block, &mut kept)?;
            }
        }
        Strategy::SplitEvenly => {
            let (lo, hi) = (live[0].range.min, live[live.len() - 1].range.max);
            let span = u128::from(hi) - u128::from(lo) + 1;
            if span < kept.len() as u128 {
                return Err(PlanError::TooSmall(kept[0].addr));
            }
            let n = kept.len();
            for (k, node) in kept.iter_mut().enumerate() {
                node.range = even_share(lo, span, k, n);
            }
        }
    }
    for node in &mut nodes {
        node.range = match kept.iter().find(|k| k.addr == node.addr) {
            Some(k) => k.range,
            None => HashRange::EMPTY,
        };
    }
    Ok(nodes)
}

/// The `k`th of `n` equal contiguous shares of the `span` keys from `lo`:
/// `[lo + span*k/n, lo + span*(k+1)/n - 1]` (`span >= n`, so no share is empty).
fn even_share(lo: u64, span: u128, k: usize, n: usize) -> HashRange {
    let (k, n) = (k as u128, n as u128);
    let start = u128::from(lo) + span * k / n;
    let end = u128::from(lo) + span * (k + 1) / n - 1;
    // Both < 2^64: the span ends at most at u64::MAX.
    HashRange::new(start as u64, end as u64).unwrap_or(HashRange::EMPTY)
}

/// The ranges of the drained nodes, runs of neighbouring ones merged (they leave as one block).
fn drained_blocks(live: &[NodeRange], drained: &[SocketAddr]) -> Vec<HashRange> {
    let mut blocks: Vec<HashRange> = Vec::new();
    let mut in_block = false;
    for n in live {
        if !drained.contains(&n.addr) {
            in_block = false;
        } else if let (true, Some(b)) = (in_block, blocks.last_mut()) {
            b.max = n.range.max;
        } else {
            blocks.push(n.range);
            in_block = true;
        }
    }
    blocks
}

/// Hands a drained block to the kept ranges beside it: the lower half to the one below, the
/// upper half to the one above, all of it to the only one at an end of the span.
fn give_to_neighbours(r: HashRange, kept: &mut [NodeRange]) -> Result<(), PlanError> {
    // The span is contiguous, so the neighbours are the kept range ending just below the block
    // and the one starting just above it.
    let below = kept
        .iter()
        .position(|k| r.min > 0 && k.range.max == r.min - 1);
    let above = kept
        .iter()
        .position(|k| r.max < u64::MAX && k.range.min == r.max + 1);
    match (below, above) {
        (Some(b), Some(a)) => {
            let half = (size(r) / 2) as u64; // < 2^64: size is at most 2^64
            if half == 0 {
                kept[a].range.min = r.min;
            } else {
                kept[b].range.max = r.min + (half - 1);
                kept[a].range.min = r.min + half;
            }
        }
        (Some(b), None) => kept[b].range.max = r.max,
        (None, Some(a)) => kept[a].range.min = r.min,
        // Unreachable: the span is contiguous and another node is kept.
        (None, None) => return Err(PlanError::NoNodeLeft),
    }
    Ok(())
}

#[cfg(test)]
#[path = "plan_drain_tests.rs"]
mod drain_tests;

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
