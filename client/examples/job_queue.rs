//! A job queue on queue nodes: one producer, three workers consuming one channel, each job done
//! exactly once, the results on a second channel, all checked at the end.
//!
//! Against local nodes (the README's "Queue client examples" section):
//!
//! ```text
//! scripts/local-queue.sh start 3
//! cargo run -p swarm-client --example job_queue -- --nodes target/local-queue/nodes.txt
//! scripts/local-queue.sh stop
//! ```
//!
//! Options: `--jobs N` (default 10000), `--workers N` (default 3). The channels are named after
//! the run (`jobs-<pid>-<time>`, `results-...`) and removed at the end. The test
//! `client/tests/examples.rs` runs [`run`] against three real nodes.
//!
//! Why these calls: the producer streams the jobs ([`swarm_client::Producer`], no reply per
//! record; `finish` says whether a stream broke); each worker's `consume` gets its share of the
//! jobs, since a node hands each record of a channel to one of its consumers; results go back
//! with `push`, which is acknowledged, so a result is never silently dropped.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};
use swarm_client::{ClientConfig, QueueClient};

/// What a run did.
#[derive(Debug)]
pub struct Report {
    /// Jobs produced, each done once.
    pub jobs: usize,
    /// Jobs each worker did.
    pub per_worker: Vec<usize>,
    /// From the first job sent to the last result read.
    pub elapsed: Duration,
}

/// Job `id`'s operands: the job is to multiply them.
fn operands(id: u64) -> (u64, u64) {
    (id % 1009, id / 7 + 1)
}

/// Produces `jobs` jobs, lets `workers` workers do them and checks every result.
pub fn run(client: &QueueClient, jobs: usize, workers: usize) -> Result<Report, String> {
    let tag = run_tag();
    let (jobs_ch, results_ch) = (format!("jobs-{tag}"), format!("results-{tag}"));
    let stop = AtomicBool::new(false);
    // Every worker is consuming before the first job goes out, so each gets its share (a
    // worker whose thread started late on a busy machine once found every job taken).
    let ready = Barrier::new(workers + 1);
    let started = Instant::now();
    let checked = thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (jobs_ch, results_ch, stop, ready) = (&jobs_ch, &results_ch, &stop, &ready);
                s.spawn(move || worker(client, w, jobs_ch, results_ch, stop, ready))
            })
            .collect();
        ready.wait();
        let checked = produce(client, &jobs_ch, jobs)
            .and_then(|()| collect(client, &results_ch, jobs, workers));
        stop.store(true, Ordering::SeqCst);
        for h in handles {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err("a worker panicked".to_string()),
            }
        }
        checked
    });
    for ch in [&jobs_ch, &results_ch] {
        client.remove_channel(ch).map_err(|e| e.to_string())?;
    }
    Ok(Report {
        jobs,
        per_worker: checked?,
        elapsed: started.elapsed(),
    })
}

fn produce(client: &QueueClient, channel: &str, jobs: usize) -> Result<(), String> {
    let mut producer = client.produce(channel).map_err(|e| e.to_string())?;
    for id in 0..jobs as u64 {
        let (a, b) = operands(id);
        producer
            .send(format!("{id} {a} {b}").as_bytes())
            .map_err(|e| e.to_string())?;
    }
    producer.finish().map_err(|e| e.to_string())
}

/// Does jobs until `stop`: reads `id a b`, pushes `id product worker`.
fn worker(
    client: &QueueClient,
    me: usize,
    jobs: &str,
    results: &str,
    stop: &AtomicBool,
    ready: &Barrier,
) -> Result<(), String> {
    let consumer = client.consume(jobs).map_err(|e| e.to_string());
    ready.wait();
    let consumer = consumer?;
    while !stop.load(Ordering::SeqCst) {
        let job = match consumer.recv_timeout(Duration::from_millis(100)) {
            Ok(job) => job.map_err(|e| e.to_string())?,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err("jobs channel removed".into()),
        };
        let text = String::from_utf8_lossy(&job);
        let f: Vec<u64> = text.split(' ').filter_map(|x| x.parse().ok()).collect();
        let [id, a, b] = f[..] else {
            return Err(format!("worker {me}: bad job {text:?}"));
        };
        let result = format!("{id} {} {me}", a * b);
        client
            .push(results, result.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Reads results until every job has one, checks each, and makes sure no job came twice.
fn collect(
    client: &QueueClient,
    channel: &str,
    jobs: usize,
    workers: usize,
) -> Result<Vec<usize>, String> {
    let consumer = client.consume(channel).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(60) + Duration::from_millis(jobs as u64);
    let mut done: BTreeMap<u64, usize> = BTreeMap::new();
    let mut per_worker = vec![0; workers];
    // After the last job's result, wait a little more: a duplicate would show up here.
    let mut quiet_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        if quiet_until.is_some_and(|t| now >= t) {
            return Ok(per_worker);
        }
        if now >= deadline {
            return Err(format!("timed out with {} of {jobs} results", done.len()));
        }
        let result = match consumer.recv_timeout(Duration::from_millis(50)) {
            Ok(r) => r.map_err(|e| e.to_string())?,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err("results channel removed".into()),
        };
        let text = String::from_utf8_lossy(&result);
        let f: Vec<u64> = text.split(' ').filter_map(|x| x.parse().ok()).collect();
        let [id, product, worker] = f[..] else {
            return Err(format!("bad result {text:?}"));
        };
        let (a, b) = operands(id);
        if product != a * b || id >= jobs as u64 || worker >= workers as u64 {
            return Err(format!("wrong result {text:?}"));
        }
        if let Some(first) = done.insert(id, worker as usize) {
            return Err(format!(
                "job {id} done twice (workers {first} and {worker})"
            ));
        }
        per_worker[worker as usize] += 1;
        if done.len() == jobs {
            quiet_until = Some(Instant::now() + Duration::from_millis(500));
        }
    }
}

/// A name part unique to this run, so runs never share a channel.
fn run_tag() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}", std::process::id())
}

/// `--name value` from the command line, parsed.
fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => {
            let v = args.get(i + 1).ok_or(format!("{name} needs a value"))?;
            v.parse().map(Some).map_err(|_| format!("bad {name} {v:?}"))
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let parsed = (|| -> Result<(String, usize, usize), String> {
        let nodes = arg(&args, "--nodes")?
            .ok_or("usage: job_queue --nodes FILE [--jobs N] [--workers N]")?;
        Ok((
            nodes,
            arg(&args, "--jobs")?.unwrap_or(10_000),
            arg(&args, "--workers")?.unwrap_or(3),
        ))
    })();
    let outcome = parsed.and_then(|(nodes, jobs, workers)| {
        let client = QueueClient::from_nodes_file(&nodes, ClientConfig::default())
            .map_err(|e| e.to_string())?;
        run(&client, jobs, workers)
    });
    match outcome {
        Ok(r) => {
            let per_s = r.jobs as f64 / r.elapsed.as_secs_f64();
            println!(
                "{} jobs done exactly once in {:.2?} ({per_s:.0}/s); per worker: {:?}",
                r.jobs, r.elapsed, r.per_worker
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("job_queue: {e}");
            ExitCode::FAILURE
        }
    }
}
