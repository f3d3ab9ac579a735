//! The examples' logic (client/examples/*.rs, included here as modules) run against real
//! queuenode binaries, bounded in time, so CI runs them as tests: the job queue with three
//! workers on three nodes, and the pipeline on two nodes with one of them restarted gracefully
//! a third of the way through.
#![allow(clippy::unwrap_used)]

mod common;

#[allow(dead_code)] // its main is the example's
#[path = "../examples/job_queue.rs"]
mod job_queue;
#[allow(dead_code)]
#[path = "../examples/pipeline.rs"]
mod pipeline;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn job_queue_does_every_job_exactly_once() {
    let ns = nodes(3);
    let client = client(&ns);
    let started = Instant::now();
    let report = job_queue::run(&client, 3000, 3).unwrap();
    assert_eq!(report.per_worker.iter().sum::<usize>(), 3000);
    assert!(
        report.per_worker.iter().all(|&n| n > 0),
        "every worker did jobs: {:?}",
        report.per_worker
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(client.channels().unwrap().is_empty(), "channels removed");
}

#[test]
fn pipeline_keeps_running_while_a_node_restarts() {
    let mut ns = nodes(2);
    let client = client(&ns);
    let opts = pipeline::Options {
        orders: 3000,
        rate: 1500,
    };
    let mut restarted = false;
    let report = pipeline::run(&client, opts, &mut |p| {
        if !restarted && p.invoiced >= opts.orders / 3 {
            ns[0].restart();
            restarted = true;
        }
    })
    .unwrap();
    assert!(restarted);
    assert_eq!(report.retries, 0, "no service saw an error");
    assert!(report.elapsed < Duration::from_secs(60));
    eprintln!("{report:?}");
}
