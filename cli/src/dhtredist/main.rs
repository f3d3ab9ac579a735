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
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use swarm_client::redistribute_plan::{self, NodeRange, Strategy};
use swarm_client::{read_nodes_file, ClientConfig, DhtClient, HashRange};

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
}

impl Step {
    /// Whether this node gets a Redistribute: its range changes, or it may hold records to
    /// forward (every node that had a non-empty range).
    pub fn is_sent(&self) -> bool {
        self.old != self.new || !self.old.is_empty()
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
    // Every node must answer: a plan over part of the cluster would lose keys.
    let config = ClientConfig::default().with_require_full_coverage(true);
    let client = DhtClient::connect(&all, config).map_err(|e| e.to_string())?;
    let ranges = &client.handshake_report().nodes;
    let range_of = |a: &SocketAddr| ranges.iter().find(|(n, _)| n == a).map(|(_, r)| *r);
    let mut old = Vec::new();
    for a in &all {
        let range = range_of(a).ok_or_else(|| format!("{a} did not answer the handshake"))?;
        if added.contains(a) && !range.is_empty() {
            return Err(format!(
                "{a} is to be added but holds the range {} (a new node must start with the \
                 empty range: minval = 0xffffffffffffffff, maxval = 0x0000000000000000)",
                range_text(range)
            ));
        }
        old.push(NodeRange { addr: *a, range });
    }
    let steps = make_plan(
        &old[..current.len()],
        &added,
        &args.drain,
        args.strategy.into(),
    )?;
    Ok((client, steps))
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
        .map(|n| Step {
            addr: n.addr,
            old: current
                .iter()
                .find(|c| c.addr == n.addr)
                .map_or(HashRange::EMPTY, |c| c.range),
            new: n.range,
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
                if s.is_sent() { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    table(&["node", "old range", "new range", "share", "sent"], &rows)
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
        let idle = Step {
            addr: addr(9),
            old: HashRange::EMPTY,
            new: HashRange::EMPTY,
        };
        assert!(!idle.is_sent());
        let t = plan_table(&steps);
        assert!(t.starts_with("node "), "{t}");
        assert!(t.contains("127.0.0.1:3  empty"), "{t}");
        assert!(make_plan(&current, &[], &[addr(1), addr(2)], Strategy::SplitLargest).is_err());
    }
}
