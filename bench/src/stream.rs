//! `swarm-bench stream`: one producer connection and one consumer connection through a queue
//! node (Produce to Consume) or Redis (LPUSH pipelined to a loop of `RPOP key count`), timed
//! from the producer's first write to the consumer's `--records`-th record, so the figure is
//! of records actually received, end to end. The channel or list is emptied first (Redis DEL;
//! a queue channel that holds records is removed, an empty one kept, so its ring, and the pages
//! the ring has touched, are reused as a long-lived channel's would be), and the consumer is in
//! place before the producer starts.

use super::cpu;
use super::getall::print_figures;
use super::opts::{StreamArgs, StreamTarget};
use super::records::Values;
use super::resp::Reply;
use super::stream_io::{self, Received, STALL};
use super::stream_redis;
use std::net::TcpStream;
use std::time::Instant;
use swarm_protocol::queue::QueueRequest;

/// Runs the stream measurement and prints its report.
pub fn run(args: &StreamArgs) -> Result<(), String> {
    args.validate()?;
    let values = Values::new(args.value_size);
    let channel = args.channel.as_bytes();
    let mut consumer = connect(args)?;
    // Empty the channel first, then subscribe: Consume would hand out a previous run's records.
    match args.target {
        StreamTarget::Queue => {
            let left = stream_io::queue_channel_records(&mut consumer, channel)?;
            if left > 0 {
                eprintln!("swarm-bench stream: channel holds {left} records; removing it");
                stream_io::queue_request_ok(
                    &mut consumer,
                    &QueueRequest::RemoveChannel { channel },
                )
                .map_err(|e| format!("RemoveChannel: {e}"))?;
            }
            stream_io::queue_request_ok(&mut consumer, &QueueRequest::Consume { channel })
                .map_err(|e| format!("Consume: {e}"))?;
        }
        StreamTarget::Redis => match stream_redis::redis_command(&mut consumer, &[b"DEL", channel])
            .map_err(|e| format!("DEL: {e}"))?
        {
            Reply::Int(_) => {}
            other => return Err(format!("DEL answered {other:?}")),
        },
    }
    let mut producer = connect(args)?;
    let pid = args.node_pid.map(|p| p.to_string());
    let node_before = pid.as_deref().and_then(cpu::cpu_seconds);
    let self_before = cpu::cpu_seconds("self");
    let machine_before = cpu::machine_busy_seconds();
    let start = Instant::now();
    let (produced, received) = std::thread::scope(|scope| {
        let values = &values;
        let producer = scope.spawn(move || {
            let r = match args.target {
                StreamTarget::Queue => stream_io::produce_queue(
                    &mut producer,
                    channel,
                    values,
                    args.records,
                    args.value_size,
                    start,
                ),
                StreamTarget::Redis => stream_redis::produce_redis(
                    &mut producer,
                    channel,
                    values,
                    (args.records, args.redis_pipeline),
                    args.value_size,
                    start,
                ),
            };
            r.map(|()| start.elapsed())
        });
        let received = match args.target {
            StreamTarget::Queue => stream_io::consume_queue(&mut consumer, args.records, start),
            StreamTarget::Redis => stream_redis::consume_redis(
                &mut consumer,
                channel,
                (args.redis_count, args.redis_plain_rpop),
                args.records,
                start,
            ),
        };
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err("the producer thread panicked".into()));
        (produced, received)
    });
    let producer_secs = produced
        .map_err(|e| format!("producer: {e}"))?
        .as_secs_f64();
    let got = received.map_err(|e| format!("consumer: {e}"))?;
    let node_cpu = node_before
        .zip(pid.as_deref().and_then(cpu::cpu_seconds))
        .map(|(a, b)| b - a);
    let client_cpu = self_before
        .zip(cpu::cpu_seconds("self"))
        .map(|(a, b)| b - a);
    let machine_busy = machine_before
        .zip(cpu::machine_busy_seconds())
        .map(|(a, b)| b - a);
    let secs = got
        .last_at
        .map_or(0.0, |t| t.duration_since(start).as_secs_f64());
    let cpu = Cpu {
        node: node_cpu,
        client: client_cpu,
        machine: machine_busy,
    };
    let figures = figures(args, &got, secs, producer_secs, &cpu);
    print_figures(
        match args.target {
            StreamTarget::Queue => "stream-queue",
            StreamTarget::Redis => "stream-redis",
        },
        &figures,
        args.json,
    );
    if got.out_of_order > 0 {
        return Err(format!("{} records arrived out of order", got.out_of_order));
    }
    Ok(())
}

fn connect(args: &StreamArgs) -> Result<TcpStream, String> {
    let s = TcpStream::connect(args.addr).map_err(|e| format!("connect to {}: {e}", args.addr))?;
    s.set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    s.set_read_timeout(Some(STALL)).map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(STALL))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// CPU seconds read around the run.
struct Cpu {
    node: Option<f64>,
    client: Option<f64>,
    machine: Option<f64>,
}

fn figures(
    args: &StreamArgs,
    got: &Received,
    secs: f64,
    producer_secs: f64,
    cpu: &Cpu,
) -> Vec<(&'static str, Option<f64>)> {
    let n = got.records as f64;
    let rate = Some(n / secs).filter(|r| r.is_finite());
    let us = |q: f64| Some(got.latency.value_at_quantile(q) as f64 / 1000.0).filter(|_| n > 0.0);
    vec![
        ("records", Some(n)),
        ("value_size", Some(args.value_size as f64)),
        ("elapsed_s", Some(secs)),
        ("records_per_s", rate),
        ("mb_per_s", rate.map(|r| r * args.value_size as f64 / 1e6)),
        ("producer_s", Some(producer_secs)),
        (
            "producer_records_per_s",
            Some(n / producer_secs).filter(|r| r.is_finite()),
        ),
        ("out_of_order", Some(got.out_of_order as f64)),
        ("empty_polls", Some(got.empty_polls as f64)),
        ("lat_p50_us", us(0.5)),
        ("lat_p99_us", us(0.99)),
        (
            "lat_max_us",
            Some(got.latency.max() as f64 / 1000.0).filter(|_| n > 0.0),
        ),
        ("node_cpu_s", cpu.node),
        ("node_cpu_us_per_record", cpu.node.map(|c| c * 1e6 / n)),
        ("node_cpu_util", cpu.node.map(|c| c / secs)),
        ("client_cpu_s", cpu.client),
        ("client_cpu_util", cpu.client.map(|c| c / secs)),
        (
            "other_cpu_cores",
            cpu.machine
                .zip(cpu.client)
                .map(|(busy, client)| (busy - client - cpu.node.unwrap_or(0.0)) / secs),
        ),
    ]
}
