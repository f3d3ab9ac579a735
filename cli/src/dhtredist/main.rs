//! `dhtredist`: the Redistribute driver of a dht cluster (the original's `dhtredist`, issue
//! 11). It reads the current and the added nodes, runs the handshake on all of them, plans the
//! new hash ranges (`swarm_client::redistribute_plan`), prints the plan, and only with
//! `--execute` sends every node that must change or forward records its Redistribute (33), all
//! in parallel, printing progress until every node has answered.
//!
//! This file owns the command line, the plan's steps and its table; `cluster.rs` reads the
//! nodes, runs the handshake and makes the plan; `run.rs` executes it.

mod cluster;
#[path = "../redist.rs"]
mod redist;
mod run;

use clap::{Parser, ValueEnum};
use redist::{range_text, share_text, table, EXIT_USAGE};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use swarm_client::redistribute_plan::Strategy;
use swarm_client::HashRange;

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
    pub fn new(addr: SocketAddr, old: HashRange, new: HashRange) -> Step {
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
    match cluster::plan_cluster(&args) {
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
    fn help_documents_the_exit_codes_and_the_dry_run() {
        let help = Args::command().render_long_help().to_string();
        for needle in [
            "Exit codes: 0",
            "1 one or more",
            "2 bad arguments",
            "--execute",
        ] {
            assert!(help.contains(needle), "{needle}: {help}");
        }
    }
}
