//! Tests of [`super::drain`]: the ranges of drained nodes go to their neighbours or are
//! re-split evenly, and the result always partitions the old span.

use super::*;

fn addr(n: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10_000 + n))
}

fn node(n: u16, min: u64, max: u64) -> NodeRange {
    NodeRange {
        addr: addr(n),
        range: HashRange::new(min, max).unwrap(),
    }
}

fn empty(n: u16) -> NodeRange {
    NodeRange {
        addr: addr(n),
        range: HashRange::EMPTY,
    }
}

/// The non-empty new ranges are disjoint, contiguous and cover the old span exactly.
fn assert_partition(old: &[NodeRange], new: &[NodeRange]) {
    let span = sorted_span(old).unwrap();
    let covered = sorted_span(new).unwrap();
    assert_eq!(covered[0].range.min, span[0].range.min);
    assert_eq!(
        covered[covered.len() - 1].range.max,
        span[span.len() - 1].range.max
    );
}

#[test]
fn a_middle_range_is_halved_between_its_neighbours() {
    let old = [node(0, 0, 99), node(1, 100, 199), node(2, 200, 299)];
    let new = drain(&old, &[addr(1)], Strategy::SplitLargest).unwrap();
    assert_eq!(new, [node(0, 0, 149), empty(1), node(2, 150, 299)]);
    assert_partition(&old, &new);
}

#[test]
fn an_edge_range_goes_to_its_only_neighbour_and_odd_sizes_fit() {
    let old = [node(0, 0, 99), node(1, 100, 199), node(2, 200, 299)];
    let first = drain(&old, &[addr(0)], Strategy::SplitLargest).unwrap();
    assert_eq!(first, [empty(0), node(1, 0, 199), node(2, 200, 299)]);
    let last = drain(&old, &[addr(2)], Strategy::SplitLargest).unwrap();
    assert_eq!(last, [node(0, 0, 99), node(1, 100, 299), empty(2)]);
    // Two neighbouring drained nodes, and a one-key range between two kept ones.
    let two = drain(&old, &[addr(0), addr(1)], Strategy::SplitLargest).unwrap();
    assert_eq!(two, [empty(0), empty(1), node(2, 0, 299)]);
    let tiny = [node(0, 0, 9), node(1, 10, 10), node(2, 11, 20)];
    let new = drain(&tiny, &[addr(1)], Strategy::SplitLargest).unwrap();
    assert_eq!(new, [node(0, 0, 9), empty(1), node(2, 10, 20)]);
    let full = [
        node(0, 0, u64::MAX / 2),
        node(1, u64::MAX / 2 + 1, u64::MAX),
    ];
    let new = drain(&full, &[addr(0)], Strategy::SplitLargest).unwrap();
    assert_eq!(new, [empty(0), node(1, 0, u64::MAX)]);
}

#[test]
fn split_evenly_resplits_the_span_over_the_nodes_left() {
    let old = [
        node(0, 0, 99),
        node(1, 100, 199),
        node(2, 200, 299),
        empty(3),
    ];
    let new = drain(&old, &[addr(1)], Strategy::SplitEvenly).unwrap();
    assert_eq!(
        new,
        [node(0, 0, 149), empty(1), node(2, 150, 299), empty(3)]
    );
    assert_partition(&old, &new);
}

#[test]
fn unknown_repeated_and_last_nodes_are_refused() {
    let old = [node(0, 0, 99), node(1, 100, 199)];
    assert_eq!(
        drain(&old, &[addr(7)], Strategy::SplitLargest),
        Err(PlanError::NotInCluster(addr(7)))
    );
    assert_eq!(
        drain(&old, &[addr(1), addr(1)], Strategy::SplitEvenly),
        Err(PlanError::NotInCluster(addr(1)))
    );
    assert_eq!(
        drain(&old, &[addr(0), addr(1)], Strategy::SplitLargest),
        Err(PlanError::NoNodeLeft)
    );
    // An already empty node drains to nothing.
    let with_empty = [node(0, 0, 99), empty(1)];
    let new = drain(&with_empty, &[addr(1)], Strategy::SplitLargest).unwrap();
    assert_eq!(new, with_empty);
}
