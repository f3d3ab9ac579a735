//! What `dhtredist` and `dlsredist` share: the plan table's cells, and running one
//! Redistribute per node in parallel (one thread each) while the caller prints progress at a
//! fixed period. Each tool includes this file as a module of its own binary.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};
use swarm_client::{ClientError, HashRange};

/// Exit code: a node refused or failed its Redistribute.
pub const EXIT_NODE_FAILED: u8 = 1;
/// Exit code: bad arguments, unreadable nodes file, failed handshake, or refused plan.
pub const EXIT_USAGE: u8 = 2;

/// A range as the table shows it: `0x…-0x…` or `empty`.
pub fn range_text(r: HashRange) -> String {
    if r.is_empty() {
        "empty".into()
    } else {
        format!("0x{:016x}-0x{:016x}", r.min, r.max)
    }
}

/// The share of the key space a range holds, in percent with two decimals.
pub fn share_text(r: HashRange) -> String {
    if r.is_empty() {
        return "0.00%".into();
    }
    let keys = (u128::from(r.max) - u128::from(r.min) + 1) as f64;
    format!("{:.2}%", keys * 100.0 / 18_446_744_073_709_551_616.0)
}

/// A table: the header row and the rows, columns padded to their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (cell, w) in cells.iter().zip(&widths) {
            let _ = write!(l, "{cell:<w$}  ");
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// One node's Redistribute to run.
pub type Job<'a> = (
    SocketAddr,
    Box<dyn FnOnce() -> Result<(), ClientError> + Send + 'a>,
);

/// Runs every job on a thread of its own, calls `progress` every `period` while any runs, and
/// prints each node's end as it comes. The results in job order.
pub fn run_parallel(
    jobs: Vec<Job<'_>>,
    period: Duration,
    mut progress: impl FnMut(),
) -> Vec<(SocketAddr, Result<(), ClientError>)> {
    let started = Instant::now();
    let nodes: Vec<SocketAddr> = jobs.iter().map(|j| j.0).collect();
    let mut results: Vec<Option<Result<(), ClientError>>> = nodes.iter().map(|_| None).collect();
    thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for (i, (_, job)) in jobs.into_iter().enumerate() {
            let tx = tx.clone();
            s.spawn(move || {
                let _ = tx.send((i, job()));
            });
        }
        drop(tx);
        let mut next = Instant::now() + period;
        let mut left = nodes.len();
        while left > 0 {
            let wait = next.saturating_duration_since(Instant::now());
            match rx.recv_timeout(wait) {
                Ok((i, result)) => {
                    let secs = started.elapsed().as_secs_f64();
                    match &result {
                        Ok(()) => println!("{}: done after {secs:.1} s", nodes[i]),
                        Err(e) => println!("{}: failed after {secs:.1} s: {e}", nodes[i]),
                    }
                    results[i] = Some(result);
                    left -= 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    progress();
                    next = Instant::now() + period;
                }
                // A thread panicked without sending: its slot stays empty.
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
    });
    nodes
        .into_iter()
        .zip(results)
        .map(|(n, r)| {
            let r = r.unwrap_or_else(|| {
                Err(ClientError::Handshake(format!(
                    "the Redistribute thread of {n} panicked"
                )))
            });
            (n, r)
        })
        .collect()
}

/// The summary after [`run_parallel`]: the time taken, and on stderr every node that failed
/// with `hint` (how to resume). Exit code 0, or [`EXIT_NODE_FAILED`].
pub fn summary(
    tool: &str,
    results: &[(SocketAddr, Result<(), ClientError>)],
    started: Instant,
    hint: &str,
) -> ExitCode {
    let secs = started.elapsed().as_secs_f64();
    if results.iter().all(|(_, r)| r.is_ok()) {
        println!("redistribution finished in {secs:.1} s: every node answered Ok");
        return ExitCode::SUCCESS;
    }
    eprintln!("{tool}: redistribution ended after {secs:.1} s with errors:");
    for (node, r) in results {
        if let Err(e) = r {
            eprintln!("  {node}: {e}");
        }
    }
    eprintln!("{tool}: {hint}");
    ExitCode::from(EXIT_NODE_FAILED)
}

/// Records per second between two samples `dt` apart (signed: sources lose records).
pub fn rate(before: u64, now: u64, dt: Duration) -> f64 {
    let secs = dt.as_secs_f64().max(1e-3);
    (now as f64 - before as f64) / secs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_and_table() {
        assert_eq!(range_text(HashRange::EMPTY), "empty");
        assert_eq!(
            range_text(HashRange::FULL),
            "0x0000000000000000-0xffffffffffffffff"
        );
        assert_eq!(share_text(HashRange::FULL), "100.00%");
        assert_eq!(
            share_text(HashRange {
                min: 0,
                max: u64::MAX / 4
            }),
            "25.00%"
        );
        assert_eq!(share_text(HashRange::EMPTY), "0.00%");
        let t = table(&["a", "bb"], &[vec!["xxx".into(), "y".into()]]);
        assert_eq!(t, "a    bb\nxxx  y\n");
        assert_eq!(rate(100, 50, Duration::from_secs(2)), -25.0);
    }

    #[test]
    fn parallel_jobs_report_in_order_and_progress_ticks() {
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let b: SocketAddr = "127.0.0.1:2".parse().unwrap();
        let mut ticks = 0;
        let jobs: Vec<Job<'_>> = vec![
            (
                a,
                Box::new(|| {
                    thread::sleep(Duration::from_millis(120));
                    Ok(())
                }),
            ),
            (b, Box::new(|| Err(ClientError::EmptyValue))),
        ];
        let r = run_parallel(jobs, Duration::from_millis(20), || ticks += 1);
        assert_eq!(r[0].0, a);
        assert!(r[0].1.is_ok());
        assert!(matches!(r[1].1, Err(ClientError::EmptyValue)));
        assert!(ticks >= 2, "{ticks}");
    }
}
