//! A pipeline between two services over queue nodes that keeps running while one queue node
//! of two restarts: "orders" pushes numbered orders into one channel at a steady rate,
//! "billing" consumes them and pushes one invoice per order into a second channel, and the
//! sink (this program) consumes the invoices and checks that every order was invoiced.
//!
//! Against local nodes (the README's "Queue client examples" section):
//!
//! ```text
//! scripts/local-queue.sh start 2
//! cargo run -p swarm-client --example pipeline -- --nodes target/local-queue/nodes.txt
//! # meanwhile, in another terminal:
//! scripts/local-queue.sh restart 1
//! ```
//!
//! Options: `--orders N` (default 20000), `--rate N` orders per second (default 1000), so the
//! default run lasts about 20 s. It prints its progress every second and ends with what was
//! checked. The channels are named after the run and removed at the end. The test
//! `client/tests/examples.rs` runs [`run`] against two real nodes and restarts one of them a
//! third of the way through.
//!
//! While a node restarts, the client sends every push to the other node and the consumers
//! reconnect to the restarted one on their own: the services see no error. A push whose
//! connection broke after it was sent may be stored twice (the client cannot know whether the
//! node took it), so the sink counts invoices per order: every order at least once, and the
//! duplicates are reported. A restarted node keeps what its rings held only through its `.rq`
//! dump at a graceful shutdown (SIGTERM), never across a SIGKILL; here the consumers keep up,
//! so the rings are close to empty whenever the node restarts, and the sink accepts no loss.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::thread;
use std::time::{Duration, Instant};
use swarm_client::{ClientConfig, QueueClient};

/// How much to run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Orders to send.
    pub orders: u64,
    /// Orders sent per second.
    pub rate: u64,
}

/// Where the pipeline is, as the sink reports it.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Orders pushed so far.
    pub ordered: u64,
    /// Orders with an invoice so far.
    pub invoiced: u64,
}

/// What a run did.
#[derive(Debug)]
pub struct Report {
    /// Orders sent, each invoiced.
    pub orders: u64,
    /// Invoices that came more than once (see the module doc).
    pub duplicates: u64,
    /// Pushes the services had to repeat because the client returned an error.
    pub retries: u64,
    /// From the first order to the last invoice.
    pub elapsed: Duration,
}

/// Runs the two services and the sink; `progress` is called for every 100 invoices (and is
/// where the test restarts a node).
pub fn run(
    client: &QueueClient,
    opts: Options,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, String> {
    let tag = format!("{}-{}", std::process::id(), now_nanos());
    let (orders_ch, invoices_ch) = (format!("orders-{tag}"), format!("invoices-{tag}"));
    let (stop, ordered, retries) = (AtomicBool::new(false), AtomicU64::new(0), AtomicU64::new(0));
    let started = Instant::now();
    let sunk = thread::scope(|s| {
        let billing = s.spawn(|| billing(client, &orders_ch, &invoices_ch, &stop, &retries));
        let orders = s.spawn(|| orders(client, &orders_ch, opts, &stop, &ordered, &retries));
        let sunk = sink(client, &invoices_ch, opts, &ordered, progress);
        stop.store(true, Ordering::SeqCst);
        for (name, h) in [("orders", orders), ("billing", billing)] {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(format!("{name}: {e}")),
                Err(_) => return Err(format!("{name} panicked")),
            }
        }
        sunk
    });
    for ch in [&orders_ch, &invoices_ch] {
        client.remove_channel(ch).map_err(|e| e.to_string())?;
    }
    Ok(Report {
        orders: opts.orders,
        duplicates: sunk?,
        retries: retries.load(Ordering::SeqCst),
        elapsed: started.elapsed(),
    })
}

/// Pushes `record`, repeating after an error (counted) until `stop` or a minute has passed.
fn push_retrying(
    client: &QueueClient,
    channel: &str,
    record: &[u8],
    stop: &AtomicBool,
    retries: &AtomicU64,
) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.push(channel, record) {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() < deadline && !stop.load(Ordering::SeqCst) => {
                retries.fetch_add(1, Ordering::SeqCst);
                eprintln!("push to {channel} failed, retrying: {e}");
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The "orders" service: `opts.orders` orders at `opts.rate` per second.
fn orders(
    client: &QueueClient,
    channel: &str,
    opts: Options,
    stop: &AtomicBool,
    ordered: &AtomicU64,
    retries: &AtomicU64,
) -> Result<(), String> {
    let started = Instant::now();
    for id in 0..opts.orders {
        let due = started + Duration::from_secs_f64(id as f64 / opts.rate.max(1) as f64);
        thread::sleep(due.saturating_duration_since(Instant::now()));
        let order = format!("order {id} amount {}", id % 97 + 1);
        push_retrying(client, channel, order.as_bytes(), stop, retries)?;
        ordered.fetch_add(1, Ordering::SeqCst);
    }
    Ok(())
}

/// The "billing" service: an invoice per order, until `stop`.
fn billing(
    client: &QueueClient,
    orders: &str,
    invoices: &str,
    stop: &AtomicBool,
    retries: &AtomicU64,
) -> Result<(), String> {
    let consumer = client.consume(orders).map_err(|e| e.to_string())?;
    while !stop.load(Ordering::SeqCst) {
        let order = match consumer.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(order)) => order,
            Ok(Err(e)) => return Err(e.to_string()),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err("orders channel removed".into()),
        };
        let text = String::from_utf8_lossy(&order);
        let f: Vec<u64> = text.split(' ').filter_map(|x| x.parse().ok()).collect();
        let [id, amount] = f[..] else {
            return Err(format!("bad order {text:?}"));
        };
        let invoice = format!("invoice {id} total {}", amount * 119 / 100);
        push_retrying(client, invoices, invoice.as_bytes(), stop, retries)?;
    }
    Ok(())
}

/// Reads invoices until every order has one; the number of duplicates.
fn sink(
    client: &QueueClient,
    channel: &str,
    opts: Options,
    ordered: &AtomicU64,
    progress: &mut dyn FnMut(Progress),
) -> Result<u64, String> {
    let consumer = client.consume(channel).map_err(|e| e.to_string())?;
    let span = Duration::from_secs_f64(opts.orders as f64 / opts.rate.max(1) as f64);
    let deadline = Instant::now() + span + Duration::from_secs(60);
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    let mut duplicates = 0;
    while (seen.len() as u64) < opts.orders {
        if Instant::now() >= deadline {
            let missing: Vec<u64> = (0..opts.orders)
                .filter(|i| !seen.contains_key(i))
                .take(5)
                .collect();
            return Err(format!(
                "timed out: {} of {} orders invoiced, missing {missing:?}...",
                seen.len(),
                opts.orders
            ));
        }
        let invoice = match consumer.recv_timeout(Duration::from_millis(100)) {
            Ok(r) => r.map_err(|e| e.to_string())?,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Err("invoices channel removed".into()),
        };
        let text = String::from_utf8_lossy(&invoice);
        let f: Vec<u64> = text.split(' ').filter_map(|x| x.parse().ok()).collect();
        let [id, total] = f[..] else {
            return Err(format!("bad invoice {text:?}"));
        };
        if id >= opts.orders || total != (id % 97 + 1) * 119 / 100 {
            return Err(format!("wrong invoice {text:?}"));
        }
        let n = seen.entry(id).or_default();
        *n += 1;
        if *n > 1 {
            duplicates += 1;
        } else if seen.len() % 100 == 0 {
            let invoiced = seen.len() as u64;
            progress(Progress {
                ordered: ordered.load(Ordering::SeqCst),
                invoiced,
            });
        }
    }
    Ok(duplicates)
}

fn now_nanos() -> u128 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_nanos())
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
    let usage = "usage: pipeline --nodes FILE [--orders N] [--rate N]";
    let outcome = (|| -> Result<Report, String> {
        let nodes: String = arg(&args, "--nodes")?.ok_or(usage)?;
        let opts = Options {
            orders: arg(&args, "--orders")?.unwrap_or(20_000),
            rate: arg(&args, "--rate")?.unwrap_or(1000),
        };
        let client = QueueClient::from_nodes_file(&nodes, ClientConfig::default())
            .map_err(|e| e.to_string())?;
        let mut last = Instant::now();
        run(&client, opts, &mut |p| {
            if last.elapsed() >= Duration::from_secs(1) {
                println!("{} orders sent, {} invoiced", p.ordered, p.invoiced);
                last = Instant::now();
            }
        })
    })();
    match outcome {
        Ok(r) => {
            println!(
                "{} orders, every one invoiced, in {:.2?}: {} duplicate invoices, {} pushes repeated",
                r.orders, r.elapsed, r.duplicates, r.retries
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pipeline: {e}");
            ExitCode::FAILURE
        }
    }
}
