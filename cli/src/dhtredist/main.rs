//! `dhtredist`: the Redistribute driver of a dht cluster (the original's `dhtredist`, issue
//! 11). It reads the current and the added nodes, runs the handshake on all of them, plans the
//! new hash ranges (`swarm_client::redistribute_plan`), prints the plan, and only with
//! `--execute` sends every node that must change or forward records its Redistribute (33), all
//! in parallel, printing progress until every node has answered.
//!
//! This file owns the command line and the checks before the plan; `run.rs` the execution.

#[path = "../redist.rs"]
mod redist;
mod run;

use clap::{Parser, ValueEnum};
use redist::{range_text, share_text, table, EXIT_USAGE};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use swarm_client::redistribute_plan::{self, NodeRange, Strategy};
use swarm_client::{find_gaps, read_nodes_file, ClientConfig, DhtClient, HashRange};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "dhtredist",
    version,
    about = "Plan and run a Redistribute of a dht cluster: add nodes (--add) or drain nodes \
             (--drain). Prints the plan and sends nothing unless --execute is given.",
    after_help = "Exit codes: 0 the plan was printed (dry run) or every node answered Ok; \
                  1 one or more nodes answered an error or could not be reached during the \
                  move (they are named; running the same command again resumes it, since a node \
                  keeps what it did not send); 2 bad arguments, an unreadable nodes file, a \
                  failed handshake or a plan that cannot be made (nothing was sent)."
)]
struct Args {
    /// Nodes file of the current cluster: one ip:port per line.
    #[arg(long = "nodes", value_name = "CURRENT_FILE")]
    nodes: PathBuf,
    /// Nodes file of the nodes to add; each must hold the empty range now.
    #[arg(
        long = "add",
        value_name = "NEW_FILE",
        required_unless_present = "drain"
    )]
    add: Option<PathBuf>,
    /// A node of the current cluster to empty (repeatable): its keys go to the others.
    #[arg(long = "drain", value_name = "ADDR")]
    drain: Vec<SocketAddr>,
    /// How the new ranges are made.
    #[arg(long, value_enum, default_value_t = StrategyArg::SplitLargest)]
    strategy: StrategyArg,
    /// Send the Redistribute requests (without it: print the plan only).
    #[arg(short = 'x', long)]
    execute: bool,
    /// Seconds between progress lines while the move runs.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_secs)]
    progress: f64,
}

/// `--strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StrategyArg {
    /// Added nodes take the upper half of the largest range; a drained range is halved
    /// between its neighbours. Only the nodes concerned move records.
    SplitLargest,
    /// Every node gets an equal share of the key space; every node may move records.
    SplitEvenly,
}

impl From<StrategyArg> for Strategy {
    fn from(s: StrategyArg) -> Strategy {
        match s {
            StrategyArg::SplitLargest => Strategy::SplitLargest,
            StrategyArg::SplitEvenly => Strategy::SplitEvenly,
        }
    }
}

/// A positive number of seconds.
fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 86_400.0 => Ok(x),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 86400]")),
    }
}

/// One node of the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub addr: SocketAddr,
    pub old: HashRange,
    pub new: HashRange,
    /// Its records at the handshake (GetSize).
    pub records: u64,
}

impl Step {
    fn new(addr: SocketAddr, old: HashRange, new: HashRange) -> Step {
        Step {
            addr,
            old,
            new,
            records: 0,
        }
    }

    /// Whether this node gets a Redistribute: its range changes, or it may hold records to
    /// forward (every node that had a non-empty range, and any node holding records: a
    /// drained node that did not finish).
    pub fn is_sent(&self) -> bool {
        self.old != self.new || !self.old.is_empty() || self.records > 0
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match plan_cluster(&args) {
        Err(e) => {
            eprintln!("dhtredist: {e}");
            ExitCode::from(EXIT_USAGE)
        }
        Ok((client, steps)) => {
            print!("{}", plan_table(&steps));
            if !args.execute {
                println!("dry run: nothing was sent; add --execute to run this plan");
                return ExitCode::SUCCESS;
            }
            run::execute(&client, &steps, Duration::from_secs_f64(args.progress))
        }
    }
}

/// Reads the nodes files, runs the handshake and makes the plan.
fn plan_cluster(args: &Args) -> Result<(DhtClient, Vec<Step>), String> {
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
    let mut all = current.clone();
    for a in &added {
        if all.contains(a) {
            return Err(format!("{a} is in both nodes files (or twice in one)"));
        }
        all.push(*a);
    }
    let config = ClientConfig::default().with_require_full_coverage(false);
    let client = DhtClient::connect(&all, config).map_err(|e| e.to_string())?;
    let report = client.handshake_report();
    // Every node must answer: a plan over part of the cluster would lose keys.
    if let Some((node, why)) = report.unreachable.first() {
        return Err(format!("{node} did not answer the handshake: {why}"));
    }
    let range_of = |a: &SocketAddr| report.nodes.iter().find(|(n, _)| n == a).map(|(_, r)| *r);
    let mut old = Vec::new();
    for a in &all {
        let range = range_of(a).ok_or_else(|| format!("{a} did not answer the handshake"))?;
        old.push(NodeRange { addr: *a, range });
    }
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

/// The plan as a table.
fn plan_table(steps: &[Step]) -> String {
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            vec![
                s.addr.to_string(),
                range_text(s.old),
                range_text(s.new),
                share_text(s.new),
                s.records.to_string(),
                if s.is_sent() { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    table(
        &["node", "old range", "new range", "share", "records", "sent"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn addr(n: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], n))
    }

    #[test]
    fn cli_definition_is_valid_and_add_or_drain_is_required() {
        Args::command().debug_assert();
        assert!(Args::try_parse_from(["dhtredist", "--nodes", "a"]).is_err());
        let a =
            Args::try_parse_from(["dhtredist", "--nodes", "a", "--drain", "1.2.3.4:5"]).unwrap();
        assert_eq!(a.drain, [SocketAddr::from(([1, 2, 3, 4], 5))]);
        assert!(!a.execute);
        assert_eq!(a.progress, 1.0);
        assert_eq!(a.strategy, StrategyArg::SplitLargest);
        let a = Args::try_parse_from([
            "dhtredist",
            "--nodes",
            "a",
            "--add",
            "b",
            "-x",
            "--strategy",
            "split-evenly",
            "--progress",
            "0.5",
        ])
        .unwrap();
        assert!(a.execute);
        assert_eq!(a.strategy, StrategyArg::SplitEvenly);
        assert_eq!(a.progress, 0.5);
        for bad in ["0", "-1", "nan", "x"] {
            let r = Args::try_parse_from([
                "dhtredist",
                "--nodes",
                "a",
                "--add",
                "b",
                "--progress",
                bad,
            ]);
            assert!(r.is_err(), "{bad}");
        }
        assert!(Args::try_parse_from(["dhtredist", "--nodes", "a", "--drain", "host"]).is_err());
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
        let t = plan_table(&steps);
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
