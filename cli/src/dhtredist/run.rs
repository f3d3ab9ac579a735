//! `dhtredist --execute`: one Redistribute per node that is sent (its range changes or it had
//! records), all at once, each with its new range and every other node with its new range;
//! progress from GetSize of every node while they run; the summary and the exit code.

use crate::redist::{rate, run_parallel, summary, Job};
use crate::Step;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use swarm_client::{DhtClient, HashRange};

/// Runs the plan; 0 when every node answered Ok, 1 otherwise (each failed node named).
pub fn execute(client: &DhtClient, steps: &[Step], period: Duration) -> ExitCode {
    let started = Instant::now();
    let jobs: Vec<Job<'_>> = steps
        .iter()
        .filter(|s| s.is_sent())
        .map(|s| {
            let others: Vec<(SocketAddr, HashRange)> = steps
                .iter()
                .filter(|o| o.addr != s.addr)
                .map(|o| (o.addr, o.new))
                .collect();
            let (node, range) = (s.addr, s.new);
            let job: Job<'_> = (
                node,
                Box::new(move || client.redistribute(node, range, &others)),
            );
            job
        })
        .collect();
    println!(
        "sending Redistribute to {} node(s); progress every {:.1} s",
        jobs.len(),
        period.as_secs_f64()
    );
    // The first rate is against the sizes the plan was made with.
    let mut last: HashMap<SocketAddr, (u64, Instant)> = steps
        .iter()
        .map(|s| (s.addr, (s.records, started)))
        .collect();
    let results = run_parallel(jobs, period, || progress(client, started, &mut last));
    summary(
        "dhtredist",
        &results,
        started,
        "a node that failed keeps the records it did not send (its root.log says why it \
         failed); run the same command again to resume the move",
    )
}

/// One progress block: every node's records and bytes and its records/s since the last one.
fn progress(client: &DhtClient, started: Instant, last: &mut HashMap<SocketAddr, (u64, Instant)>) {
    let t = started.elapsed().as_secs_f64();
    match client.get_size() {
        Ok(sizes) => {
            for s in sizes {
                let now = Instant::now();
                let per_s = last
                    .get(&s.node)
                    .map(|&(before, at)| rate(before, s.records, now - at))
                    .unwrap_or(0.0);
                last.insert(s.node, (s.records, now));
                println!(
                    "[{t:7.1} s] {}: {} records, {} bytes, {per_s:+.0} records/s",
                    s.node, s.records, s.bytes
                );
            }
        }
        Err(e) => println!("[{t:7.1} s] GetSize failed: {e}"),
    }
}
