//! `dlsredist`: the Redistribute driver of a logfiles cluster (the original's `dlsredist`,
//! spec/logfiles.md section 5). It reads the source and destination nodes files, runs the
//! GetVersion handshake on every node (with GetSize, for the plan), prints what each source
//! node will be asked, and only with `--execute` sends Redistribute (35) to every source node
//! in parallel with the destination list, printing the sizes of all nodes until every source
//! has answered. The original sent at once; the dry run by default is ours
//! (docs/DIFFERENCES.md).
//!
//! This file owns the whole tool: it is small.

#[path = "../redist.rs"]
#[allow(dead_code)] // the dht range cells are dhtredist's
mod redist;

use clap::Parser;
use redist::{rate, run_parallel, summary, table, Job, EXIT_USAGE};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use swarm_client::{read_nodes_file, ClientConfig, LogfilesClient, LogfilesSize};

/// The command line.
#[derive(Debug, Parser)]
#[command(
    name = "dlsredist",
    version,
    about = "Move a fraction of the bucket files of logfiles source nodes to destination nodes \
             (Redistribute 35). Prints what will be asked and sends nothing unless --execute \
             is given (the original dlsredist sent at once).",
    after_help = "Exit codes: 0 the plan was printed (dry run) or every source node answered \
                  Ok; 1 one or more source nodes answered an error or could not be reached \
                  during the move (they are named; what they did not send stays on them, so \
                  running the same command again moves more); 2 bad arguments, an unreadable \
                  nodes file or a failed handshake (nothing was sent)."
)]
struct Args {
    /// Nodes file of the source nodes: one ip:port per line.
    #[arg(short = 'S', long = "source", value_name = "SRC_FILE")]
    source: PathBuf,
    /// Nodes file of the destination nodes.
    #[arg(short = 'D', long = "dest", value_name = "DST_FILE")]
    dest: PathBuf,
    /// The probability with which each bucket file of a source node is moved, in (0, 1].
    #[arg(short = 'f', long = "fraction", value_parser = parse_fraction)]
    fraction: f64,
    /// Send the Redistribute requests (without it: print what would be asked only).
    #[arg(short = 'x', long)]
    execute: bool,
    /// Seconds between progress lines while the move runs.
    #[arg(long, value_name = "SECS", default_value_t = 1.0, value_parser = parse_secs)]
    progress: f64,
}

fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 1.0 => Ok(x),
        _ => Err(format!("{s:?} is not a fraction in (0, 1]")),
    }
}

fn parse_secs(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x <= 86_400.0 => Ok(x),
        _ => Err(format!("{s:?} is not a number of seconds in (0, 86400]")),
    }
}

/// A node with a client of its own (so sizes are per node) and its size at the handshake.
struct Node {
    addr: SocketAddr,
    client: LogfilesClient,
    size: LogfilesSize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let (sources, dests) = match handshake(&args) {
        Ok(nodes) => nodes,
        Err(e) => {
            eprintln!("dlsredist: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    print!("{}", plan_table(&sources, &dests, args.fraction));
    if !args.execute {
        println!("dry run: nothing was sent; add --execute to send these requests");
        return ExitCode::SUCCESS;
    }
    execute(
        &sources,
        &dests,
        args.fraction,
        Duration::from_secs_f64(args.progress),
    )
}

/// Sends every source its Redistribute, in parallel, printing the sizes of every node each
/// `period`; the exit code.
fn execute(sources: &[Node], dests: &[Node], fraction: f64, period: Duration) -> ExitCode {
    let started = Instant::now();
    let dst: Vec<SocketAddr> = dests.iter().map(|n| n.addr).collect();
    let jobs: Vec<Job<'_>> = sources
        .iter()
        .map(|n| {
            let dst = &dst;
            let job: Job<'_> = (
                n.addr,
                Box::new(move || n.client.redistribute(n.addr, fraction, dst)),
            );
            job
        })
        .collect();
    println!("sending Redistribute to {} source node(s)", jobs.len());
    let all: Vec<&Node> = sources.iter().chain(dests).collect();
    // The first rate is against the sizes of the handshake.
    let mut last: HashMap<SocketAddr, (u64, Instant)> = all
        .iter()
        .map(|n| (n.addr, (n.size.records, started)))
        .collect();
    let results = run_parallel(jobs, period, || progress(&all, started, &mut last));
    summary(
        "dlsredist",
        &results,
        started,
        "what a failed node did not send stays on it (its root.log says why it failed); run \
         the same command again to move more",
    )
}

/// Reads both nodes files and asks every node GetVersion (on connecting) and GetSize.
fn handshake(args: &Args) -> Result<(Vec<Node>, Vec<Node>), String> {
    let src = read_nodes_file(&args.source).map_err(|e| e.to_string())?;
    let dst = read_nodes_file(&args.dest).map_err(|e| e.to_string())?;
    for (i, a) in src.iter().chain(&dst).enumerate() {
        if src.iter().chain(&dst).take(i).any(|b| b == a) {
            return Err(format!("{a} is named twice (a node cannot send to itself)"));
        }
    }
    let open = |addr: SocketAddr| -> Result<Node, String> {
        let client =
            LogfilesClient::new(&[addr], ClientConfig::default()).map_err(|e| e.to_string())?;
        let size = client.size().map_err(|e| format!("handshake: {e}"))?;
        Ok(Node { addr, client, size })
    };
    let sources = src.into_iter().map(open).collect::<Result<_, _>>()?;
    let dests = dst.into_iter().map(open).collect::<Result<_, _>>()?;
    Ok((sources, dests))
}

/// What will be asked of whom, as a table.
fn plan_table(sources: &[Node], dests: &[Node], fraction: f64) -> String {
    let mut rows = Vec::new();
    for n in sources {
        rows.push(vec![
            n.addr.to_string(),
            "source".into(),
            n.size.records.to_string(),
            n.size.bytes.to_string(),
            format!(
                "Redistribute fraction {fraction} to {} node(s)",
                dests.len()
            ),
        ]);
    }
    for n in dests {
        rows.push(vec![
            n.addr.to_string(),
            "destination".into(),
            n.size.records.to_string(),
            n.size.bytes.to_string(),
            "receives PutBatch from the sources".into(),
        ]);
    }
    table(&["node", "role", "records", "bytes", "asked"], &rows)
}

/// One progress block: every node's records and bytes and its records/s since the last one.
fn progress(nodes: &[&Node], started: Instant, last: &mut HashMap<SocketAddr, (u64, Instant)>) {
    let t = started.elapsed().as_secs_f64();
    for n in nodes {
        match n.client.size() {
            Ok(s) => {
                let now = Instant::now();
                let per_s = last
                    .get(&n.addr)
                    .map(|&(before, at)| rate(before, s.records, now - at))
                    .unwrap_or(0.0);
                last.insert(n.addr, (s.records, now));
                println!(
                    "[{t:7.1} s] {}: {} records, {} bytes, {per_s:+.0} records/s",
                    n.addr, s.records, s.bytes
                );
            }
            Err(e) => println!("[{t:7.1} s] {}: GetSize failed: {e}", n.addr),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn arguments_as_the_original_and_fraction_checked() {
        Args::command().debug_assert();
        let a = Args::try_parse_from(["dlsredist", "-S", "s", "-D", "d", "-f", "0.5"]).unwrap();
        assert_eq!(a.fraction, 0.5);
        assert!(!a.execute);
        for bad in ["0", "1.5", "-0.1", "nan", "x"] {
            let r = Args::try_parse_from(["dlsredist", "-S", "s", "-D", "d", "-f", bad]);
            assert!(r.is_err(), "{bad}");
        }
        assert!(Args::try_parse_from(["dlsredist", "-S", "s", "-f", "1"]).is_err());
        let a = Args::try_parse_from(["dlsredist", "-S", "s", "-D", "d", "-f", "1", "-x"]).unwrap();
        assert!(a.execute);
    }

    #[test]
    fn help_documents_the_exit_codes_and_the_dry_run() {
        let help = Args::command().render_long_help().to_string();
        for needle in [
            "Exit codes: 0",
            "1 one or more",
            "2 bad arguments",
            "--execute",
            "sent at once",
        ] {
            assert!(help.contains(needle), "{needle}: {help}");
        }
    }
}
