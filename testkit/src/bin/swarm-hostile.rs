//! `swarm-hostile`: the hostile-client cases of [`swarm_testkit::hostile`] at the full
//! sizes (or the CI ones) against one node kind, printed as a markdown table; what
//! `scripts/hostile.sh` runs. Each case starts the node binary given over a temp directory with
//! the case's limits. Exits 1 when a case breaks a bound (listed after the table).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::time::Duration;
use swarm_testkit::hostile::{
    run, Bounds, Case, DhtTarget, LogfilesTarget, QueueTarget, Report, Sizes, Target,
};

const USAGE: &str =
    "usage: swarm-hostile --kind dht|queue|logfiles --bin NODE_BINARY [--ci] [--p99-floor-ms MS]

Runs every hostile case (connection flood, slowloris, idle flood, never-reading stream,
mutated frames, held 10 MiB - 1 arrays) against NODE_BINARY at the issue's sizes (--ci: the
bounded test sizes) and prints one markdown table row per case. Bounds: RSS growth under the
input budget (input_buffer_limit + 64 KiB x connection_limit) + 64 MiB, control p99 <= 3 x baseline + floor (2 ms unless given), records unchanged.";

struct Args {
    kind: String,
    bin: String,
    sizes: Sizes,
    floor: Duration,
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut kind, mut bin, mut sizes, mut floor) =
        (None, None, Sizes::full(), Duration::from_millis(2));
    while let Some(a) = args.next() {
        match a.as_str() {
            "--kind" => kind = args.next(),
            "--bin" => bin = args.next(),
            "--ci" => sizes = Sizes::ci(),
            "--p99-floor-ms" => {
                let ms = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .ok_or("--p99-floor-ms takes a number")?;
                floor = Duration::from_millis(ms);
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        kind: kind.ok_or("--kind is required")?,
        bin: bin.ok_or("--bin is required")?,
        sizes,
        floor,
    })
}

fn start(kind: &str, bin: &str, case: Case, sizes: &Sizes) -> Box<dyn Target> {
    let limits = case.limits(sizes);
    match kind {
        "dht" => Box::new(DhtTarget::start(bin, &limits)),
        "queue" => Box::new(QueueTarget::start(bin, &limits)),
        _ => Box::new(LogfilesTarget::start(bin, &limits)),
    }
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(a) if ["dht", "queue", "logfiles"].contains(&a.kind.as_str()) => a,
        Ok(a) => {
            eprintln!("unknown kind {}\n{USAGE}", a.kind);
            return ExitCode::from(2);
        }
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    println!("### {}\n\n{}", args.kind, Report::header());
    let mut broken = Vec::new();
    for case in Case::ALL {
        let mut target = start(&args.kind, &args.bin, case, &args.sizes);
        let report = run(case, target.as_mut(), &args.sizes);
        println!("{}", report.row());
        let bounds = Bounds::of(&case.limits(&args.sizes)).with_p99_floor(args.floor);
        for v in report.violations(&bounds) {
            broken.push(format!("{} {}: {v}", args.kind, report.case));
        }
    }
    println!();
    for b in &broken {
        println!("BOUND BROKEN: {b}");
    }
    if broken.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
