//! Load generator of `scripts/bench-dump.sh` (not a test): `fill` puts records of a fixed size
//! into a node over the legacy protocol (pipelined Puts on one connection), `probe` measures
//! the round-trip time of back-to-back Gets (the longest one shows how long the event loop was
//! held, e.g. by a periodic dump).
//!
//! ```text
//! dump_bench fill ADDR CHANNEL RECORDS VALUE_LEN
//! dump_bench probe ADDR CHANNEL SECONDS
//! dump_bench write FILE RECORDS VALUE_LEN   # the same records straight into a .tcm
//! dump_bench getall ADDR CHANNEL             # times a GetAll (scripts/bench-redistribute.sh)
//! dump_bench redistribute ADDR MIN MAX [IP:PORT:MIN:MAX ...]   # times a Redistribute
//! ```
//!
//! `getall` and `redistribute` print `records=N bytes=B secs=S` (bytes: keys of 8 bytes plus
//! values, the node's own count) for the script to compare.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::format_key;

const PIPELINE: u64 = 2000;

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_nodelay(true).unwrap();
    s
}

fn fill(addr: &str, channel: &str, records: u64, value_len: usize) {
    let mut s = connect(addr);
    let started = Instant::now();
    let mut out = Vec::new();
    let mut replies = vec![0u8; 4 * PIPELINE as usize];
    let mut value = vec![0u8; value_len];
    let mut done = 0;
    while done < records {
        let n = PIPELINE.min(records - done);
        out.clear();
        for k in done..done + n {
            let key = format_key(k.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            value[..8.min(value_len)].copy_from_slice(&k.to_le_bytes()[..8.min(value_len)]);
            let req = DhtRequest::Put {
                channel: channel.as_bytes(),
                key: &key,
                value: &value,
            };
            req.encode(&mut out);
        }
        s.write_all(&out).unwrap();
        s.read_exact(&mut replies[..4 * n as usize]).unwrap();
        assert!(
            replies[..4 * n as usize]
                .chunks(4)
                .all(|r| r == [0xc8, 0, 0, 0]),
            "Put failed"
        );
        done += n;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "filled {records} records of {value_len} bytes in {secs:.1} s ({:.0} puts/s)",
        records as f64 / secs
    );
}

fn probe(addr: &str, channel: &str, seconds: u64) {
    let mut s = connect(addr);
    let mut out = Vec::new();
    DhtRequest::Get {
        channel: channel.as_bytes(),
        key: &format_key(1),
    }
    .encode(&mut out);
    let mut times = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut head = [0u8; 4];
    while Instant::now() < deadline {
        let t = Instant::now();
        s.write_all(&out).unwrap();
        s.read_exact(&mut head).unwrap();
        if head == [0xc8, 0, 0, 0] {
            let mut len = [0u8; 8];
            s.read_exact(&mut len).unwrap();
            let mut v = vec![0u8; u64::from_le_bytes(len) as usize];
            s.read_exact(&mut v).unwrap();
        }
        times.push(t.elapsed());
    }
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_micros();
    println!(
        "probe: {} Gets, median {} us, p99 {} us, p99.9 {} us, max {} us",
        times.len(),
        pct(0.5),
        pct(0.99),
        pct(0.999),
        times.last().map_or(0, |d| d.as_micros())
    );
}

fn write(path: &str, records: u64, value_len: usize) {
    let file = std::fs::File::create(path).expect("create");
    let mut w =
        swarm_protocol::tcm::TcmWriter::new(std::io::BufWriter::with_capacity(4 << 20, file))
            .unwrap();
    let mut value = vec![0u8; value_len];
    for k in 0..records {
        value[..8.min(value_len)].copy_from_slice(&k.to_le_bytes()[..8.min(value_len)]);
        w.write_record(k.wrapping_mul(0x9e37_79b9_7f4a_7c15), &value)
            .unwrap();
    }
    let (_, bytes) = w.finish().unwrap();
    println!("wrote {records} records, {bytes} bytes to {path}");
}

/// One GetAll of `channel`, decompressing every batch as a client would.
fn getall(addr: &str, channel: &str) {
    let mut s = connect(addr);
    let mut out = Vec::new();
    DhtRequest::GetAll {
        channel: channel.as_bytes(),
    }
    .encode(&mut out);
    let started = Instant::now();
    s.write_all(&out).unwrap();
    let mut r = std::io::BufReader::with_capacity(1 << 20, s);
    let mut head = [0u8; 4];
    r.read_exact(&mut head).unwrap();
    assert_eq!(head, [0xc8, 0, 0, 0], "GetAll refused");
    let (mut records, mut bytes) = (0u64, 0u64);
    loop {
        let mut len = [0u8; 8];
        r.read_exact(&mut len).unwrap();
        let len = u64::from_le_bytes(len) as usize;
        if len == 0 {
            break;
        }
        let mut payload = vec![0u8; len];
        r.read_exact(&mut payload).unwrap();
        let raw = swarm_protocol::batch::decompress(&payload).unwrap();
        for pair in swarm_protocol::batch::Pairs::new(&raw) {
            let (_, v) = pair.unwrap();
            records += 1;
            bytes += 8 + v.len() as u64;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!("records={records} bytes={bytes} secs={secs:.3}");
}

/// One Redistribute, timed until its status; the records are counted by the script.
fn redistribute(addr: &str, min: &str, max: &str, nodes: &[String]) {
    let hex = |t: &str| u64::from_str_radix(t.trim_start_matches("0x"), 16).expect("hex bound");
    let parsed: Vec<(String, u16, u64, u64)> = nodes
        .iter()
        .map(|n| {
            let f: Vec<&str> = n.split(':').collect();
            assert_eq!(f.len(), 4, "node as IP:PORT:MIN:MAX");
            (
                f[0].to_string(),
                f[1].parse().unwrap(),
                hex(f[2]),
                hex(f[3]),
            )
        })
        .collect();
    let list = parsed
        .iter()
        .map(
            |(ip, port, min, max)| swarm_protocol::dht::RedistributeNode {
                address: ip.as_bytes(),
                port: *port,
                min: *min,
                max: *max,
            },
        )
        .collect();
    let mut s = connect(addr);
    let mut out = Vec::new();
    DhtRequest::Redistribute {
        min: hex(min),
        max: hex(max),
        nodes: list,
    }
    .encode(&mut out);
    let started = Instant::now();
    s.write_all(&out).unwrap();
    let mut st = [0u8; 4];
    s.read_exact(&mut st).unwrap();
    let secs = started.elapsed().as_secs_f64();
    println!("status={} secs={secs:.3}", i32::from_le_bytes(st));
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: dump_bench fill ADDR CHANNEL RECORDS VALUE_LEN | probe ADDR CHANNEL SECONDS | \
         write FILE RECORDS VALUE_LEN | getall ADDR CHANNEL | redistribute ADDR MIN MAX [IP:PORT:MIN:MAX ...]";
    match args.get(1).map(String::as_str) {
        Some("fill") if args.len() == 6 => fill(
            &args[2],
            &args[3],
            args[4].parse().expect(usage),
            args[5].parse().expect(usage),
        ),
        Some("write") if args.len() == 5 => write(
            &args[2],
            args[3].parse().expect(usage),
            args[4].parse().expect(usage),
        ),
        Some("probe") if args.len() == 5 => {
            probe(&args[2], &args[3], args[4].parse().expect(usage))
        }
        Some("getall") if args.len() == 4 => getall(&args[2], &args[3]),
        Some("redistribute") if args.len() >= 5 => {
            redistribute(&args[2], &args[3], &args[4], &args[5..])
        }
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    }
}
