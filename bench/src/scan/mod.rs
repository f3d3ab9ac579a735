//! `swarm-bench scan`: fill a log with `--records` records, then time reading all of them back,
//! `--rounds` times, on one connection: a logfiles node (prefill by PutBatch, read by one
//! GetRange over the whole key range, every batch decompressed and its records counted) or
//! Redis (prefill by pipelined `XADD key * v value`, read by `XRANGE key - + COUNT n` pages,
//! each page starting after the last id of the one before). Every round must return exactly
//! the prefilled records, so a figure is of records delivered. Keys are the timestamp-like
//! counter of the load runs: record j has key `--key-base + j / 100`.

mod logfiles;
mod redis;

use super::cpu;
use super::getall::print_figures;
use clap::{Args, ValueEnum};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What `swarm-bench scan` reads from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanTarget {
    /// A logfiles node: PutBatch, then GetRange.
    Logfiles,
    /// Redis: XADD, then XRANGE pages.
    Redis,
}

/// Options of `swarm-bench scan`.
#[derive(Debug, Clone, Args)]
pub struct ScanArgs {
    /// Server kind.
    #[arg(long, value_enum, default_value = "logfiles")]
    pub target: ScanTarget,
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:10000")]
    pub addr: SocketAddr,
    /// Channel (logfiles) or stream key (Redis); removed before the prefill.
    #[arg(long, default_value = "bench_scan")]
    pub channel: String,
    /// Records to prefill, and to expect from every read.
    #[arg(long, default_value_t = 1_000_000)]
    pub records: u64,
    /// Value size in bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Timed reads of all the records (0: prefill only).
    #[arg(long, default_value_t = 3)]
    pub rounds: u32,
    /// Do not prefill: read what an earlier `scan` with the same --records and --key-base put.
    #[arg(long)]
    pub no_prefill: bool,
    /// Key of the first record.
    #[arg(long, default_value_t = 0x5727_5000)]
    pub key_base: u64,
    /// Logfiles prefill: uncompressed bytes per PutBatch.
    #[arg(long, default_value_t = swarm_protocol::batch::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Redis prefill: XADD commands per write, their replies read before the next write.
    #[arg(long, default_value_t = 1000)]
    pub redis_pipeline: usize,
    /// Redis read: entries per `XRANGE ... COUNT n` page.
    #[arg(long, default_value_t = 10_000)]
    pub redis_count: usize,
    /// The server's pid: its CPU time over the timed reads (/proc/PID/stat).
    #[arg(long)]
    pub node_pid: Option<u32>,
    /// Print one JSON object with every figure on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
}

impl ScanArgs {
    /// Checks what clap cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.records == 0 || self.value_size == 0 {
            return Err("--records and --value-size must be at least 1".into());
        }
        if self.redis_pipeline == 0 || self.redis_count == 0 {
            return Err("--redis-pipeline and --redis-count must be at least 1".into());
        }
        if self.channel.is_empty() {
            return Err("--channel must not be empty".into());
        }
        let pair = swarm_protocol::batch::pair_size(16, self.value_size);
        if self.target == ScanTarget::Logfiles && self.batch_size < pair {
            return Err(format!(
                "--batch-size {} cannot hold one record of --value-size {} ({pair} bytes)",
                self.batch_size, self.value_size
            ));
        }
        Ok(())
    }

    /// Key of the last record.
    pub fn last_key(&self) -> u64 {
        self.key_base + (self.records - 1) / super::codec_log::RECORDS_PER_KEY
    }
}

/// What the timed reads returned, summed over the rounds.
#[derive(Debug, Default)]
pub struct Read {
    /// Records received.
    pub records: u64,
    /// Bytes of the values among them.
    pub value_bytes: u64,
    /// Bytes read from the socket.
    pub wire_bytes: u64,
    /// Requests sent (one GetRange per round; XRANGE pages).
    pub requests: u64,
    /// Time from each round's first write to its last record.
    pub elapsed: Duration,
}

/// Runs the scan measurement and prints its report.
pub fn run(args: &ScanArgs) -> Result<(), String> {
    args.validate()?;
    let mut s =
        TcpStream::connect(args.addr).map_err(|e| format!("connect to {}: {e}", args.addr))?;
    s.set_nodelay(true)
        .map_err(|e| format!("TCP_NODELAY: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let prefill_s = if args.no_prefill {
        None
    } else {
        let started = std::time::Instant::now();
        match args.target {
            ScanTarget::Logfiles => logfiles::prefill(&mut s, args),
            ScanTarget::Redis => redis::prefill(&mut s, args),
        }
        .map_err(|e| format!("prefill: {e}"))?;
        let secs = started.elapsed().as_secs_f64();
        eprintln!(
            "swarm-bench scan: prefilled {} records in {secs:.2} s",
            args.records
        );
        Some(secs)
    };
    let pid = args.node_pid.map(|p| p.to_string());
    let node_before = pid.as_deref().and_then(cpu::cpu_seconds);
    let self_before = cpu::cpu_seconds("self");
    let mut total = Read::default();
    for round in 1..=args.rounds {
        let before = total.records;
        match args.target {
            ScanTarget::Logfiles => logfiles::read_all(&mut s, args, &mut total),
            ScanTarget::Redis => redis::read_all(&mut s, args, &mut total),
        }
        .map_err(|e| format!("read, round {round}: {e}"))?;
        let got = total.records - before;
        if got != args.records {
            return Err(format!(
                "read, round {round}: {got} records instead of {}",
                args.records
            ));
        }
        eprintln!("swarm-bench scan: round {round}: {got} records");
    }
    let node_cpu = node_before
        .zip(pid.as_deref().and_then(cpu::cpu_seconds))
        .map(|(a, b)| b - a);
    let client_cpu = self_before
        .zip(cpu::cpu_seconds("self"))
        .map(|(a, b)| b - a);
    let secs = total.elapsed.as_secs_f64();
    // Per second of the timed reads; none without reads (--rounds 0).
    let per_s = |v: f64| Some(v / secs).filter(|r| r.is_finite());
    let figures = [
        ("rounds", Some(f64::from(args.rounds))),
        ("records", Some(total.records as f64)),
        ("requests", Some(total.requests as f64)),
        ("prefill_s", prefill_s),
        (
            "prefill_records_per_s",
            prefill_s.map(|p| args.records as f64 / p),
        ),
        ("elapsed_s", Some(secs)),
        ("records_per_s", per_s(total.records as f64)),
        ("value_mb_per_s", per_s(total.value_bytes as f64 / 1e6)),
        ("wire_mb_per_s", per_s(total.wire_bytes as f64 / 1e6)),
        ("node_cpu_s", node_cpu),
        ("node_cpu_util", node_cpu.and_then(per_s)),
        (
            "node_cpu_us_per_record",
            node_cpu
                .filter(|_| total.records > 0)
                .map(|c| c * 1e6 / total.records as f64),
        ),
        ("client_cpu_s", client_cpu),
        ("client_cpu_util", client_cpu.and_then(per_s)),
    ];
    let mode = match args.target {
        ScanTarget::Logfiles => "scan-logfiles",
        ScanTarget::Redis => "scan-redis",
    };
    print_figures(mode, &figures, args.json);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::opts::{Cli, Command};
    use super::*;
    use clap::Parser;

    #[test]
    fn scan_subcommand() {
        let cli = Cli::try_parse_from([
            "swarm-bench",
            "scan",
            "--target",
            "redis",
            "--records",
            "250",
        ])
        .expect("parses");
        let Some(Command::Scan(args)) = cli.command else {
            panic!("not the scan mode: {:?}", cli.command);
        };
        assert_eq!(args.target, ScanTarget::Redis);
        assert_eq!(args.validate(), Ok(()));
        // 250 records at 100 a key: keys base, base + 1, base + 2.
        assert_eq!(args.last_key(), 0x5727_5002);
        let cli = Cli::try_parse_from(["swarm-bench", "scan", "--records", "0"]).expect("parses");
        let Some(Command::Scan(args)) = cli.command else {
            panic!("not the scan mode");
        };
        assert!(args.validate().is_err());
        assert!(Cli::try_parse_from(["swarm-bench", "scan", "--target", "queue"]).is_err());
    }
}
