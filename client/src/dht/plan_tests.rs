//! Tests of [`super::plan`]: split-largest and split-evenly partition the old span, and the
//! clusters no plan can be made for are refused.

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

/// The new ranges are disjoint and cover exactly the span of the old ones.
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
fn split_largest_halves_the_largest_range_each_time() {
    let old = [node(0, 0, u64::MAX)];
    let new = plan(&old, &[addr(1)], Strategy::SplitLargest).unwrap();
    assert_eq!(new, [node(0, 0, (1 << 63) - 1), node(1, 1 << 63, u64::MAX)]);
    let new2 = plan(&new, &[addr(2), addr(3)], Strategy::SplitLargest).unwrap();
    assert_eq!(
        new2,
        [
            node(0, 0, (1 << 62) - 1),
            node(1, 1 << 63, (1 << 63) + (1 << 62) - 1),
            node(2, 1 << 62, (1 << 63) - 1),
            node(3, (1 << 63) + (1 << 62), u64::MAX)
        ]
    );
    assert_partition(&old, &new2);
}

#[test]
fn split_evenly_gives_equal_contiguous_shares() {
    let old = [node(0, 0, 99), node(1, 100, 299)];
    let new = plan(&old, &[addr(2), addr(3)], Strategy::SplitEvenly).unwrap();
    assert_eq!(
        new,
        [
            node(0, 0, 74),
            node(1, 75, 149),
            node(2, 150, 224),
            node(3, 225, 299)
        ]
    );
    assert_partition(&old, &new);
    let full = plan(
        &[node(0, 0, u64::MAX)],
        &[addr(1), addr(2)],
        Strategy::SplitEvenly,
    )
    .unwrap();
    assert_partition(&[node(0, 0, u64::MAX)], &full);
    let sizes: Vec<u128> = full.iter().map(|n| size(n.range)).collect();
    assert!(sizes.iter().max().unwrap() - sizes.iter().min().unwrap() <= 1);
}

#[test]
fn drained_nodes_stay_empty_and_bad_clusters_are_refused() {
    let drained = NodeRange {
        addr: addr(9),
        range: HashRange::EMPTY,
    };
    let new = plan(
        &[node(0, 0, 9), drained],
        &[addr(1)],
        Strategy::SplitLargest,
    )
    .unwrap();
    assert_eq!(new[1].range, HashRange::EMPTY);
    assert_eq!(new[2], node(1, 5, 9));
    assert_eq!(
        plan(
            &[node(0, 0, 10), node(1, 5, 20)],
            &[addr(2)],
            Strategy::SplitLargest
        ),
        Err(PlanError::Overlap(addr(0), addr(1)))
    );
    let gap = plan(
        &[node(0, 0, 10), node(1, 20, 30)],
        &[addr(2)],
        Strategy::SplitEvenly,
    );
    assert_eq!(
        gap,
        Err(PlanError::Gap {
            after: 10,
            before: 20
        })
    );
    assert!(gap
        .unwrap_err()
        .to_string()
        .contains("0x000000000000000b..0x0000000000000013"));
    assert_eq!(
        plan(&[node(0, 0, 10)], &[addr(0)], Strategy::SplitEvenly),
        Err(PlanError::AlreadyThere(addr(0)))
    );
    assert_eq!(
        plan(&[node(0, 7, 7)], &[addr(1)], Strategy::SplitLargest),
        Err(PlanError::TooSmall(addr(0)))
    );
    assert_eq!(
        plan(&[drained], &[addr(1)], Strategy::SplitLargest),
        Err(PlanError::NothingToSplit)
    );
}
