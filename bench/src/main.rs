//! `swarm-bench`, the load generator of issues 4, 9 and 10 (the original's dhtperformance):
//! drives a dht node, a queue node, a logfiles node, Redis or swarm-echo with the same
//! connections, key space, values and request counts, and reports throughput, latency, errors
//! and the server's CPU per request. It speaks the protocols itself (`swarm_protocol` for the
//! dht, the queue and the logfiles node) to control exactly what is in flight.
//!
//! | module | owns |
//! |---|---|
//! | `opts`, `mix` | the command line; the operations and `--mix` parsing |
//! | `records` | keys, values and the RNG shared by load, runs, GetAll and `lzo` |
//! | `codec`, `codec_log`, `resp` | requests and replies per target (`codec_log`: the logfiles node's) |
//! | `conn`, `engine` | one connection's buffers; the mio loop of one client thread |
//! | `run` | connect, load, measure over threads, progress |
//! | `report`, `cpu` | figures, text and JSON; /proc CPU and memory |
//! | `getall`, `lzo` | GetAll streaming; LZO alone over the same batches |
//! | `stream`, `stream_io`, `stream_redis` | `stream`: one producer to one consumer; the records and the queue's ends; Redis's ends |
//! | `scan` | `scan`: prefill a log, then time reading it back (logfiles GetRange, Redis XRANGE) |
//!
//! Example: `swarm-bench --addr 127.0.0.1:10000 --mix get:put=9:1 --duration 10 --node-pid PID`.
//! The crate's other binaries: `swarm-echo` (`src/bin/swarm-echo.rs`), the echo server it
//! measures the floor against, and `swarm-soak` (`src/bin/swarm-soak/`), the load driver of
//! `scripts/soak.sh`, which goes through the client library instead.

mod codec;
mod codec_log;
mod conn;
mod cpu;
mod engine;
mod getall;
mod lzo;
mod mix;
mod opts;
mod records;
mod report;
mod resp;
mod run;
mod scan;
mod stream;
mod stream_io;
mod stream_redis;

use clap::Parser;
use mix::Mix;
use opts::{Cli, Command};
use std::process::ExitCode;

/// Parses the command line and runs the requested mode; errors go to stderr, exit code 1.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Lzo(args)) => lzo::run(args),
        Some(Command::Stream(args)) => stream::run(args),
        Some(Command::Scan(args)) => scan::run(args),
        None => run_load(&cli.run.normalized()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swarm-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_load(args: &opts::RunArgs) -> Result<(), String> {
    args.validate()?;
    if args.mix == Mix::GetAll {
        return getall::run(args);
    }
    let Some(measured) = run::run(args)? else {
        return Ok(());
    };
    if args.json {
        println!("{}", report::json(args, &measured));
    } else {
        print!("{}", report::text(args, &measured));
    }
    if measured.tally.replies() == 0 {
        return Err(measured
            .tally
            .first_failure
            .unwrap_or_else(|| "no reply received".into()));
    }
    Ok(())
}
