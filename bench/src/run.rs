//! A load run: connect (and check the server speaks the target's protocol), optionally load
//! the key space, then measure: spread the connections over the client threads, print progress
//! once a second on stderr, read the server's and our own CPU time around the measured phase.

use super::codec::Codec;
use super::conn::Conn;
use super::cpu;
use super::engine::{self, Budget, Plan, Source, Tally};
use super::mix::{Family, Mix, Op};
use super::opts::{RunArgs, Target};
use super::records::Values;
use super::report::Measured;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use swarm_protocol::dht::{DhtReply, DhtRequest, API_VERSION};
use swarm_protocol::logfiles::{self, LogfilesReply, LogfilesRequest};
use swarm_protocol::queue::{QueueCommand, QueueReply, QueueRequest};

/// The two phases of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `--load`: every key once.
    Load,
    /// The measured requests.
    Measure,
}

/// Requests per connection in flight while loading.
const LOAD_PIPELINE: usize = 64;
/// Measured time when neither --requests nor --duration is given.
const DEFAULT_DURATION_S: f64 = 10.0;

/// Runs `--load` (if asked) and the measured phase; returns the measured phase's figures
/// (`None` for a load-only run, `--requests 0`).
pub fn run(args: &RunArgs) -> Result<Option<Measured>, String> {
    let values = Values::of_kind(args.value_size, args.values);
    let key_base = args.key_base.unwrap_or_else(unix_seconds);
    let codec = Codec::new(args, &values, key_base);
    if args.load {
        let conns = connect(args)?;
        let started = Instant::now();
        let tally = run_phase(
            args,
            (&codec, &values, key_base),
            conns,
            Phase::Load,
            "load",
        )?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "swarm-bench: loaded {} records in {secs:.2} s ({:.0} records/s, {} errors, {} failed connections)",
            tally.replies(),
            tally.replies() as f64 / secs,
            tally.errors,
            tally.conn_failures
        );
        if let Some(why) = &tally.first_failure {
            return Err(format!("load failed: {why}"));
        }
    }
    if args.requests == Some(0) {
        return Ok(None);
    }
    let conns = connect(args)?;
    let pid = args.node_pid.map(|p| p.to_string());
    let node_before = pid.as_deref().and_then(cpu::cpu_seconds);
    let self_before = cpu::cpu_seconds("self");
    let machine_before = cpu::machine_busy_seconds();
    let tally = run_phase(
        args,
        (&codec, &values, key_base),
        conns,
        Phase::Measure,
        "run",
    )?;
    let machine_busy = machine_before
        .zip(cpu::machine_busy_seconds())
        .map(|(a, b)| b - a);
    let node_cpu = node_before
        .zip(pid.as_deref().and_then(cpu::cpu_seconds))
        .map(|(a, b)| b - a);
    let client_cpu = self_before
        .zip(cpu::cpu_seconds("self"))
        .map(|(a, b)| b - a);
    let node_rss = pid.as_deref().and_then(cpu::rss_bytes);
    Ok(Some(Measured {
        tally,
        node_cpu,
        node_rss,
        client_cpu,
        machine_busy,
        codec,
    }))
}

/// Now as a Unix time in seconds: the default base of a log's timestamp-like keys.
fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Opens `--connections` connections, checks the first one speaks the target's protocol.
fn connect(args: &RunArgs) -> Result<Vec<Conn>, String> {
    let mut conns = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        let mut s =
            TcpStream::connect(args.addr).map_err(|e| format!("connect to {}: {e}", args.addr))?;
        s.set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        if i == 0 {
            check_server(args.target, &mut s)?;
        }
        s.set_nonblocking(true)
            .map_err(|e| format!("non-blocking: {e}"))?;
        conns.push(Conn::new(mio::net::TcpStream::from_std(s)));
    }
    Ok(conns)
}

/// GetVersion for a dht or logfiles node, GetNumConnections for a queue node (the queue protocol has no
/// GetVersion, and this one changes nothing), PING for Redis: a wrong --target fails here, not
/// mid-run.
fn check_server(target: Target, s: &mut TcpStream) -> Result<(), String> {
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let (request, want) = match target {
        Target::Echo => return Ok(()),
        Target::Queue => return check_queue(s),
        Target::Redis => (b"*1\r\n$4\r\nPING\r\n".to_vec(), b"+PONG\r\n".to_vec()),
        Target::Dht => {
            let (mut request, mut reply) = (Vec::new(), Vec::new());
            DhtRequest::GetVersion.encode(&mut request);
            DhtReply::Version(API_VERSION).encode(&mut reply);
            (request, reply)
        }
        Target::Logfiles => {
            let (mut request, mut reply) = (Vec::new(), Vec::new());
            LogfilesRequest::GetVersion.encode(&mut request);
            LogfilesReply::Version(logfiles::API_VERSION).encode(&mut reply);
            (request, reply)
        }
    };
    s.write_all(&request)
        .map_err(|e| format!("{target:?} check: {e}"))?;
    let mut got = vec![0; want.len()];
    s.read_exact(&mut got)
        .map_err(|e| format!("{target:?} check: no proper answer ({e}); is --target right?"))?;
    if got != want {
        return Err(format!(
            "{target:?} check: unexpected answer {got:?}; is --target right?"
        ));
    }
    s.set_read_timeout(None).map_err(|e| e.to_string())
}

/// Sends GetNumConnections and expects `Ok` with its fields.
fn check_queue(s: &mut TcpStream) -> Result<(), String> {
    let mut request = Vec::new();
    QueueRequest::GetNumConnections.encode(&mut request);
    s.write_all(&request)
        .map_err(|e| format!("Queue check: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 256];
    loop {
        match QueueReply::decode(QueueCommand::GetNumConnections, &buf) {
            Ok((QueueReply::NumConnections { .. }, used)) if used == buf.len() => {
                return s.set_read_timeout(None).map_err(|e| e.to_string())
            }
            Ok((reply, _)) => {
                return Err(format!(
                "Queue check: unexpected answer {reply:?} to GetNumConnections; is --target right?"
            ))
            }
            Err(swarm_protocol::DecodeError::Incomplete) if buf.len() < 4096 => {}
            Err(e) => {
                return Err(format!(
                    "Queue check: bad answer to GetNumConnections ({e}); is --target right?"
                ))
            }
        }
        let n = s
            .read(&mut chunk)
            .map_err(|e| format!("Queue check: no proper answer ({e}); is --target right?"))?;
        if n == 0 {
            return Err("Queue check: the server closed the connection; is --target right?".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Spreads the connections over the threads, runs them, prints progress; merges the tallies.
fn run_phase(
    args: &RunArgs,
    (codec, values, key_base): (&Codec, &Values, u64),
    conns: Vec<Conn>,
    phase: Phase,
    label: &str,
) -> Result<Tally, String> {
    let threads = args.threads.min(conns.len()).max(1);
    let mut groups: Vec<Vec<Conn>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, c) in conns.into_iter().enumerate() {
        groups[i % threads].push(c);
    }
    let done = AtomicU64::new(0);
    let failed = AtomicU64::new(0);
    let finished = AtomicUsize::new(0);
    let deadline =
        Instant::now() + Duration::from_secs_f64(args.duration.unwrap_or(DEFAULT_DURATION_S));
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .into_iter()
            .enumerate()
            .map(|(t, group)| {
                let plan = Plan {
                    codec,
                    values,
                    source: source(args, phase, t, threads),
                    budget: budget(args, phase, t, threads, deadline),
                    pipeline: if phase == Phase::Load {
                        LOAD_PIPELINE.max(args.pipeline)
                    } else {
                        args.pipeline
                    },
                    rate: args
                        .rate
                        .filter(|_| phase == Phase::Measure)
                        .map(|r| r / threads as f64),
                    seed: args.seed.wrapping_add(t as u64),
                    key_base,
                    done: &done,
                    failed: &failed,
                };
                let finished = &finished;
                scope.spawn(move || {
                    let r = engine::run(group, plan);
                    finished.fetch_add(1, Ordering::Release);
                    r
                })
            })
            .collect();
        progress(label, &done, &failed, &finished, threads);
        handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
    });
    let mut total = Tally::default();
    for r in results {
        match r {
            Ok(Ok(t)) => total.merge(t),
            Ok(Err(e)) => return Err(format!("event loop: {e}")),
            Err(_) => return Err("a client thread panicked".into()),
        }
    }
    Ok(total)
}

fn source(args: &RunArgs, phase: Phase, t: usize, threads: usize) -> Source {
    match (phase, &args.mix) {
        (Phase::Load, _) | (_, Mix::GetAll) => Source::Load {
            next: args.keys * t as u64 / threads as u64,
            end: args.keys * (t as u64 + 1) / threads as u64,
            op: match args.mix.family() {
                Family::Queue => Op::Push,
                Family::Log => Op::Append,
                Family::Dht => Op::Put,
            },
        },
        (Phase::Measure, Mix::Weighted(weights)) => Source::Random {
            keys: args.keys,
            weights: *weights,
        },
    }
}

fn budget(args: &RunArgs, phase: Phase, t: usize, threads: usize, deadline: Instant) -> Budget {
    match (phase, args.requests) {
        (Phase::Measure, Some(n)) => {
            Budget::Requests(n * (t as u64 + 1) / threads as u64 - n * t as u64 / threads as u64)
        }
        (Phase::Measure, None) => Budget::Until(deadline),
        (Phase::Load, _) => Budget::Requests(u64::MAX),
    }
}

/// Prints replies per second on stderr once a second until every thread finished.
fn progress(
    label: &str,
    done: &AtomicU64,
    failed: &AtomicU64,
    finished: &AtomicUsize,
    threads: usize,
) {
    let start = Instant::now();
    let mut last = (start, 0u64);
    let mut next_print = start + Duration::from_secs(1);
    while finished.load(Ordering::Acquire) < threads {
        std::thread::sleep(Duration::from_millis(20));
        let now = Instant::now();
        if now < next_print {
            continue;
        }
        next_print += Duration::from_secs(1);
        let n = done.load(Ordering::Relaxed);
        let rate = (n - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
        last = (now, n);
        eprintln!(
            "swarm-bench {label}: {:>4.0} s  {n:>10} replies  {rate:>9.0}/s  {} errors",
            now.duration_since(start).as_secs_f64(),
            failed.load(Ordering::Relaxed)
        );
    }
}
