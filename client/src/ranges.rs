//! Hash ranges on the client side: routing a key to the node whose inclusive range holds its
//! bit-reversed value, and the handshake's check that the ranges cover the whole key space
//! with no gaps and no overlaps ([`HandshakeReport`]).

use std::fmt;
use std::net::SocketAddr;
use swarm_protocol::HashRange;

/// Two nodes claiming the same keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overlap {
    /// One node.
    pub first: SocketAddr,
    /// The other node.
    pub second: SocketAddr,
    /// The bit-reversed keys both claim.
    pub range: HashRange,
}

/// What the handshake (GetVersion and GetResponsibleRange on every node) found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeReport {
    /// The usable nodes (right version, range known), in nodes-file order, with their ranges.
    pub nodes: Vec<(SocketAddr, HashRange)>,
    /// Nodes that could not be reached, with the reason; they are not used.
    pub unreachable: Vec<(SocketAddr, String)>,
    /// Bit-reversed key ranges no usable node covers.
    pub gaps: Vec<HashRange>,
    /// Key ranges more than one node claims.
    pub overlaps: Vec<Overlap>,
}

impl HandshakeReport {
    /// Builds the report for the usable nodes, computing gaps and overlaps.
    pub fn new(
        nodes: Vec<(SocketAddr, HashRange)>,
        unreachable: Vec<(SocketAddr, String)>,
    ) -> Self {
        let ranges: Vec<HashRange> = nodes.iter().map(|(_, r)| *r).collect();
        HandshakeReport {
            gaps: find_gaps(&ranges),
            overlaps: find_overlaps(&nodes),
            nodes,
            unreachable,
        }
    }

    /// Whether every node answered and the ranges tile the key space exactly.
    pub fn is_complete(&self) -> bool {
        self.unreachable.is_empty() && self.gaps.is_empty() && self.overlaps.is_empty()
    }
}

impl fmt::Display for HandshakeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_complete() {
            return write!(f, "{} nodes cover the whole key space", self.nodes.len());
        }
        let mut parts = Vec::new();
        for (node, why) in &self.unreachable {
            parts.push(format!("node {node} unreachable ({why})"));
        }
        for g in &self.gaps {
            parts.push(format!("gap {:016x}..={:016x}", g.min, g.max));
        }
        for o in &self.overlaps {
            parts.push(format!(
                "nodes {} and {} overlap on {:016x}..={:016x}",
                o.first, o.second, o.range.min, o.range.max
            ));
        }
        f.write_str(&parts.join("; "))
    }
}

/// The bit-reversed key ranges that none of `ranges` covers (empty ranges cover nothing).
pub fn find_gaps(ranges: &[HashRange]) -> Vec<HashRange> {
    let mut sorted: Vec<HashRange> = ranges.iter().copied().filter(|r| !r.is_empty()).collect();
    sorted.sort_by_key(|r| r.min);
    let mut gaps = Vec::new();
    // The smallest value not covered so far; `None` once u64::MAX is covered.
    let mut next = Some(0u64);
    for r in sorted {
        let Some(n) = next else { break };
        if r.min > n {
            gaps.push(HashRange {
                min: n,
                max: r.min - 1,
            });
        }
        next = r.max.checked_add(1).map(|after| after.max(n));
    }
    if let Some(n) = next {
        gaps.push(HashRange {
            min: n,
            max: u64::MAX,
        });
    }
    gaps
}

/// Every pair of nodes whose ranges share keys.
pub fn find_overlaps(nodes: &[(SocketAddr, HashRange)]) -> Vec<Overlap> {
    let mut overlaps = Vec::new();
    for (i, (a, ra)) in nodes.iter().enumerate() {
        for (b, rb) in &nodes[i + 1..] {
            if ra.overlaps(rb) {
                overlaps.push(Overlap {
                    first: *a,
                    second: *b,
                    range: HashRange {
                        min: ra.min.max(rb.min),
                        max: ra.max.min(rb.max),
                    },
                });
            }
        }
    }
    overlaps
}

/// The index of the first node whose range contains `key.reverse_bits()`.
pub(crate) fn route(nodes: &[(SocketAddr, HashRange)], key: u64) -> Option<usize> {
    nodes.iter().position(|(_, r)| r.contains(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn range(min: u64, max: u64) -> HashRange {
        HashRange { min, max }
    }

    const HALF: u64 = 0x7fff_ffff_ffff_ffff;

    #[test]
    fn spec_example_even_keys_to_node_one_odd_to_node_two() {
        let nodes = vec![
            (node(1), range(0, HALF)),
            (node(2), range(HALF + 1, u64::MAX)),
        ];
        for k in 0..1000u64 {
            assert_eq!(route(&nodes, k), Some((k % 2) as usize), "key {k}");
        }
        let r = HandshakeReport::new(nodes, vec![]);
        assert!(r.is_complete(), "{r}");
    }

    #[test]
    fn three_ranges_route_on_the_top_bits() {
        let third = u64::MAX / 3;
        let nodes = vec![
            (node(1), range(0, third)),
            (node(2), range(third + 1, 2 * third)),
            (node(3), range(2 * third + 1, u64::MAX)),
        ];
        // Bit-reversed, the low bits of a key become the high bits of its position.
        assert_eq!(route(&nodes, 0), Some(0));
        assert_eq!(route(&nodes, 0b10), Some(0)); // reversed: 0x4000..
        assert_eq!(route(&nodes, 0b1), Some(1)); // reversed: 0x8000..
        assert_eq!(route(&nodes, 0b11), Some(2)); // reversed: 0xc000..
        assert_eq!(route(&nodes, u64::MAX), Some(2));
        assert!(find_gaps(&nodes.iter().map(|n| n.1).collect::<Vec<_>>()).is_empty());
        assert!(find_overlaps(&nodes).is_empty());
    }

    #[test]
    fn gaps_are_found_at_start_middle_and_end() {
        let gaps = find_gaps(&[range(10, 20), range(30, 40)]);
        assert_eq!(gaps, vec![range(0, 9), range(21, 29), range(41, u64::MAX)]);
        assert_eq!(find_gaps(&[]), vec![HashRange::FULL]);
        assert_eq!(find_gaps(&[HashRange::EMPTY]), vec![HashRange::FULL]);
        assert!(find_gaps(&[HashRange::FULL, HashRange::EMPTY]).is_empty());
        // A range inside another does not hide a later gap.
        assert_eq!(
            find_gaps(&[range(0, 100), range(5, 6), range(102, u64::MAX)]),
            vec![range(101, 101)]
        );
    }

    #[test]
    fn overlaps_and_unreachable_nodes_make_the_report_incomplete() {
        let nodes = vec![(node(1), range(0, 100)), (node(2), range(50, u64::MAX))];
        let r = HandshakeReport::new(nodes.clone(), vec![]);
        assert!(r.gaps.is_empty());
        assert_eq!(
            r.overlaps,
            vec![Overlap {
                first: node(1),
                second: node(2),
                range: range(50, 100)
            }]
        );
        assert!(!r.is_complete());
        assert!(r
            .to_string()
            .contains("overlap on 0000000000000032..=0000000000000064"));
        // With an overlap, the first node in list order wins.
        assert_eq!(route(&nodes, 60u64.reverse_bits()), Some(0));

        let r = HandshakeReport::new(
            vec![(node(1), HashRange::FULL)],
            vec![(node(2), "refused".into())],
        );
        assert!(!r.is_complete());
        assert_eq!(r.to_string(), "node 127.0.0.1:2 unreachable (refused)");
    }

    #[test]
    fn no_node_for_a_key_in_a_gap() {
        let nodes = vec![(node(1), range(0, HALF))];
        assert_eq!(route(&nodes, 1), None);
        assert_eq!(route(&[], 0), None);
    }
}
