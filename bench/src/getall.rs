//! `--mix getall`: GetAll of the whole channel to one client, `--requests` times (default
//! once), timed from the request's write to the end-of-stream marker. Every batch is
//! decompressed and its records counted, so the figures are of delivered records. The stream
//! reader is shared with the logfiles scan (`scan::logfiles`), whose batch streams have the
//! same shape.

use super::cpu;
use super::opts::RunArgs;
use super::report::Json;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use swarm_protocol::batch::{decompress, Pairs};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::{DecodeError, Reader, Status};

/// Socket read size.
const READ_CHUNK: usize = 1 << 20;

/// Totals of the batch streams received.
#[derive(Debug, Default)]
pub struct Streamed {
    /// Stream requests completed.
    pub runs: u64,
    /// Compressed batches.
    pub batches: u64,
    /// Bytes of the batch arrays (u64 uncompressed length + LZO data), as on the wire.
    pub batch_bytes: u64,
    /// Uncompressed batch bytes.
    pub raw_bytes: u64,
    /// (key, value) records.
    pub records: u64,
    /// Bytes of their values.
    pub value_bytes: u64,
    /// Time from each request's write to its end marker, summed.
    pub elapsed: Duration,
}

/// Runs the GetAll measurement and prints its report.
pub fn run(args: &RunArgs) -> Result<(), String> {
    let mut s =
        TcpStream::connect(args.addr).map_err(|e| format!("connect to {}: {e}", args.addr))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let pid = args.node_pid.map(|p| p.to_string());
    let node_before = pid.as_deref().and_then(cpu::cpu_seconds);
    let self_before = cpu::cpu_seconds("self");
    let mut total = Streamed::default();
    for _ in 0..args.requests.unwrap_or(1).max(1) {
        let mut request = Vec::new();
        DhtRequest::GetAll {
            channel: args.channel.as_bytes(),
        }
        .encode(&mut request);
        stream_batches(&mut s, &request, &mut total).map_err(|e| format!("GetAll: {e}"))?;
        eprintln!("swarm-bench getall: {} records so far", total.records);
    }
    let node_cpu = node_before
        .zip(pid.as_deref().and_then(cpu::cpu_seconds))
        .map(|(a, b)| b - a);
    let client_cpu = self_before
        .zip(cpu::cpu_seconds("self"))
        .map(|(a, b)| b - a);
    let secs = total.elapsed.as_secs_f64();
    let figures = [
        ("runs", Some(total.runs as f64)),
        ("batches", Some(total.batches as f64)),
        ("batch_bytes", Some(total.batch_bytes as f64)),
        ("raw_bytes", Some(total.raw_bytes as f64)),
        ("records", Some(total.records as f64)),
        ("elapsed_s", Some(secs)),
        (
            "batch_mb_per_s",
            Some(total.batch_bytes as f64 / secs / 1e6),
        ),
        ("raw_mb_per_s", Some(total.raw_bytes as f64 / secs / 1e6)),
        ("records_per_s", Some(total.records as f64 / secs)),
        ("node_cpu_s", node_cpu),
        ("node_cpu_util", node_cpu.map(|c| c / secs)),
        ("client_cpu_s", client_cpu),
        ("client_cpu_util", client_cpu.map(|c| c / secs)),
    ];
    print_figures("getall", &figures, args.json);
    Ok(())
}

/// Prints `(name, value)` figures as text lines or as one JSON object.
pub fn print_figures(mode: &str, figures: &[(&str, Option<f64>)], json: bool) {
    if json {
        let mut j = Json::default();
        j.text("mode", Some(mode));
        for (name, v) in figures {
            j.num(name, *v);
        }
        println!("{}", j.finish());
    } else {
        println!("swarm-bench {mode}:");
        for (name, v) in figures {
            match v {
                Some(v) => println!("  {name:<24} {v:.3}"),
                None => println!("  {name:<24} -"),
            }
        }
    }
}

/// One batch-stream request (dht GetAll, logfiles GetRange...): write it, expect the `Ok`
/// status, count the batches until the empty array; adds to `total`.
pub fn stream_batches(s: &mut TcpStream, request: &[u8], total: &mut Streamed) -> io::Result<()> {
    let started = Instant::now();
    s.write_all(request)?;
    let mut buf = vec![0u8; READ_CHUNK];
    let (mut start, mut end) = (0usize, 0usize);
    let mut got_status = false;
    loop {
        let mut r = Reader::new(&buf[start..end]);
        let step = if got_status {
            r.read_array().map(Some)
        } else {
            r.read_i32().map(|_| None)
        };
        match step {
            Ok(None) => {
                let code = i32::from_le_bytes([
                    buf[start],
                    buf[start + 1],
                    buf[start + 2],
                    buf[start + 3],
                ]);
                if code != Status::Ok.code() {
                    return Err(invalid(format!("status {code}")));
                }
                got_status = true;
            }
            Ok(Some([])) => {
                start += r.position();
                break;
            }
            Ok(Some(batch)) => count_batch(batch, total)?,
            Err(DecodeError::Incomplete) => {
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                if end == buf.len() {
                    let len = buf.len() * 2;
                    buf.resize(len, 0);
                }
                let n = s.read(&mut buf[end..])?;
                if n == 0 {
                    return Err(invalid("the node closed the connection mid-stream".into()));
                }
                end += n;
                continue;
            }
            Err(DecodeError::Invalid(e)) => return Err(invalid(e.to_string())),
        }
        start += r.position();
    }
    total.elapsed += started.elapsed();
    total.runs += 1;
    if start != end {
        return Err(invalid("bytes after the end of the batch stream".into()));
    }
    Ok(())
}

fn count_batch(batch: &[u8], total: &mut Streamed) -> io::Result<()> {
    let raw = decompress(batch).map_err(|e| invalid(e.to_string()))?;
    for pair in Pairs::new(&raw) {
        let (_, value) = pair.map_err(|e| invalid(e.to_string()))?;
        total.records += 1;
        total.value_bytes += value.len() as u64;
    }
    total.batches += 1;
    total.batch_bytes += batch.len() as u64;
    total.raw_bytes += raw.len() as u64;
    Ok(())
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
