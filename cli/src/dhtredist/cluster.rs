//! `dhtredist`'s cluster and plan: the nodes files read and checked, the handshake
//! (GetVersion, GetResponsibleRange and GetSize of every node), whether this run resumes an
//! interrupted one, and the plan (`swarm_client::redistribute_plan`).

use crate::redist::range_text;
use crate::{Args, Step};
use std::collections::HashMap;
use std::net::SocketAddr;
use swarm_client::redistribute_plan::{self, NodeRange, Strategy};
use swarm_client::{find_gaps, read_nodes_file, ClientConfig, DhtClient, HashRange};

/// Reads the nodes files, runs the handshake and makes the plan.
pub fn plan_cluster(args: &Args) -> Result<(DhtClient, Vec<Step>), String> {
    let (current, added) = read_nodes(args)?;
    let all: Vec<SocketAddr> = current.iter().chain(&added).copied().collect();
    let (client, old) = handshake(&all)?;
    let report = client.handshake_report();
    let records = records_per_node(&client)?;
    let resume = is_resume(
        &old[..current.len()],
        &old[current.len()..],
        report.is_complete(),
    )?;
    if !report.is_complete() {
        return Err(format!("the cluster's ranges are not usable: {report}"));
    }
    let steps = if resume {
        println!(
            "resuming: the added nodes hold the ranges of an earlier run; every node that has a \
             range or records is sent its range again, to forward what it still holds"
        );
        old.iter()
            .map(|n| Step::new(n.addr, n.range, n.range))
            .collect()
    } else {
        make_plan(
            &old[..current.len()],
            &added,
            &args.drain,
            args.strategy.into(),
        )?
    };
    let steps = steps
        .into_iter()
        .map(|s| Step {
            records: records.get(&s.addr).copied().unwrap_or(0),
            ..s
        })
        .collect();
    Ok((client, steps))
}

/// The current and the added nodes, checked: none twice, every drained node a current one.
fn read_nodes(args: &Args) -> Result<(Vec<SocketAddr>, Vec<SocketAddr>), String> {
    let current = read_nodes_file(&args.nodes).map_err(|e| e.to_string())?;
    let added = match &args.add {
        Some(path) => read_nodes_file(path).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    for d in &args.drain {
        if !current.contains(d) {
            return Err(format!("--drain {d}: not in {}", args.nodes.display()));
        }
    }
    for (i, a) in added.iter().enumerate() {
        if current.contains(a) || added[..i].contains(a) {
            return Err(format!("{a} is in both nodes files (or twice in one)"));
        }
    }
    Ok((current, added))
}

/// GetVersion and GetResponsibleRange of every node, which must all answer: a plan over part
/// of the cluster would lose keys. The ranges in the order of `all`.
fn handshake(all: &[SocketAddr]) -> Result<(DhtClient, Vec<NodeRange>), String> {
    let config = ClientConfig::default().with_require_full_coverage(false);
    let client = DhtClient::connect(all, config).map_err(|e| e.to_string())?;
    let report = client.handshake_report();
    if let Some((node, why)) = report.unreachable.first() {
        return Err(format!("{node} did not answer the handshake: {why}"));
    }
    let mut old = Vec::new();
    for a in all {
        let range = report
            .nodes
            .iter()
            .find(|(n, _)| n == a)
            .map(|(_, r)| *r)
            .ok_or_else(|| format!("{a} did not answer the handshake"))?;
        old.push(NodeRange { addr: *a, range });
    }
    Ok((client, old))
}

/// Records per node (GetSize), for the plan and for who must forward.
fn records_per_node(client: &DhtClient) -> Result<HashMap<SocketAddr, u64>, String> {
    let sizes = client.get_size().map_err(|e| format!("GetSize: {e}"))?;
    Ok(sizes.into_iter().map(|s| (s.node, s.records)).collect())
}

/// Whether this is a second run of an interrupted plan: some added node holds a range already.
/// That is accepted only when every added node does, the current nodes alone leave gaps (the
/// ranges they handed on) and all nodes together tile the key space; otherwise an added node
/// with a range is refused, naming it and its range.
fn is_resume(
    current: &[NodeRange],
    added: &[NodeRange],
    all_complete: bool,
) -> Result<bool, String> {
    let Some(busy) = added.iter().find(|n| !n.range.is_empty()) else {
        return Ok(false);
    };
    let ranges: Vec<HashRange> = current.iter().map(|n| n.range).collect();
    let current_whole = find_gaps(&ranges).is_empty();
    if added.iter().all(|n| !n.range.is_empty()) && !current_whole && all_complete {
        return Ok(true);
    }
    Err(format!(
        "{} is to be added but holds the range {} (a new node must start with the empty range: \
         minval = 0xffffffffffffffff, maxval = 0x0000000000000000)",
        busy.addr,
        range_text(busy.range)
    ))
}

/// The plan: drained nodes first give their keys away, then the added nodes take theirs.
fn make_plan(
    current: &[NodeRange],
    added: &[SocketAddr],
    drained: &[SocketAddr],
    strategy: Strategy,
) -> Result<Vec<Step>, String> {
    let mut new = current.to_vec();
    if !drained.is_empty() {
        new = redistribute_plan::drain(&new, drained, strategy).map_err(|e| e.to_string())?;
    }
    if !added.is_empty() {
        new = redistribute_plan::plan(&new, added, strategy).map_err(|e| e.to_string())?;
    }
    Ok(new
        .iter()
        .map(|n| {
            let old = current
                .iter()
                .find(|c| c.addr == n.addr)
                .map_or(HashRange::EMPTY, |c| c.range);
            Step::new(n.addr, old, n.range)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], n))
    }

    #[test]
    fn plan_adds_after_draining_and_marks_who_is_sent() {
        let half = u64::MAX / 2;
        let current = [
            NodeRange {
                addr: addr(1),
                range: HashRange { min: 0, max: half },
            },
            NodeRange {
                addr: addr(2),
                range: HashRange {
                    min: half + 1,
                    max: u64::MAX,
                },
            },
        ];
        let steps = make_plan(&current, &[addr(3)], &[addr(1)], Strategy::SplitLargest).unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0].new, HashRange::EMPTY);
        assert_eq!(steps[1].new, HashRange { min: 0, max: half });
        assert_eq!(steps[2].old, HashRange::EMPTY);
        assert_eq!(
            steps[2].new,
            HashRange {
                min: half + 1,
                max: u64::MAX
            }
        );
        assert!(steps.iter().all(Step::is_sent));
        let mut idle = Step::new(addr(9), HashRange::EMPTY, HashRange::EMPTY);
        assert!(!idle.is_sent());
        idle.records = 1; // a drained node that did not finish
        assert!(idle.is_sent());
        let t = crate::plan_table(&steps);
        assert!(t.starts_with("node "), "{t}");
        assert!(t.contains("127.0.0.1:3  empty"), "{t}");
        assert!(make_plan(&current, &[], &[addr(1), addr(2)], Strategy::SplitLargest).is_err());
    }

    #[test]
    fn a_second_run_resumes_only_when_the_added_nodes_fill_the_gaps_they_made() {
        let half = u64::MAX / 2;
        let low = HashRange { min: 0, max: half };
        let high = HashRange {
            min: half + 1,
            max: u64::MAX,
        };
        let n = |a: u16, range: HashRange| NodeRange {
            addr: addr(a),
            range,
        };
        // A fresh added node: the normal plan.
        assert_eq!(
            is_resume(&[n(1, HashRange::FULL)], &[n(2, HashRange::EMPTY)], true),
            Ok(false)
        );
        // After an interrupted run: the current nodes leave a gap the added node fills.
        assert_eq!(is_resume(&[n(1, low)], &[n(2, high)], true), Ok(true));
        // An added node with a range beside a whole cluster, or leaving gaps: refused, named.
        let e = is_resume(&[n(1, HashRange::FULL)], &[n(2, high)], false).unwrap_err();
        assert!(
            e.contains("127.0.0.1:2") && e.contains("0x8000000000000000-0xffffffffffffffff"),
            "{e}"
        );
        assert!(is_resume(&[n(1, low)], &[n(2, high)], false).is_err());
        assert!(is_resume(&[n(1, low)], &[n(2, high), n(3, HashRange::EMPTY)], true).is_err());
    }
}
