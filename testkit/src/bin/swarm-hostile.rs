//! `swarm-hostile`: the hostile-client cases of [`swarm_testkit::hostile`] at the full
//! sizes (or the CI ones) against one node kind, printed as a markdown table; what
//! `scripts/hostile.sh` runs. Each case starts the node binary given over a temp directory with
//! the case's limits. Exits 1 when a case breaks a bound (listed after the table).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;
use std::time::Duration;
use swarm_testkit::hostile::{
    run, Bounds, Case, DhtTarget, LogfilesTarget, Pinning, QueueTarget, Report, Sizes, Target,
};

const USAGE: &str =
    "usage: swarm-hostile --kind dht|queue|logfiles --bin NODE_BINARY [--ci] [--p99-floor-ms MS]
                     [--no-pin] [--case NAME]...

Runs every hostile case (connection flood, slowloris, idle flood, never-reading stream,
mutated frames, held 10 MiB - 1 arrays) against NODE_BINARY at the issue's sizes (--ci: the
bounded test sizes) and prints one markdown table row per case. Bounds: RSS growth under the
input budget (input_buffer_limit + 64 KiB x connection_limit) + 64 MiB, control p99 <= 3 x baseline + floor (2 ms unless given), records unchanged.

On a machine with two cores or more, the node's threads and the control client run on core 0,
this driver and its attack threads on core 1 (sched_setaffinity), so what the control client
measures is the node's delay, not the attack's competition for the cores; --no-pin leaves the
scheduler to place them. --case (conn_flood, slowloris, idle_flood, never_reading_stream,
mutated_frames, held_arrays; repeatable) runs only the cases named.";

struct Args {
    kind: String,
    bin: String,
    sizes: Sizes,
    floor: Duration,
    pin: bool,
    cases: Vec<Case>,
}

/// The case whose label starts with `name`.
fn case_named(name: &str) -> Option<Case> {
    Case::ALL
        .into_iter()
        .find(|c| c.label(&Sizes::ci()).split('(').next() == Some(name))
}

fn parse() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut kind, mut bin, mut sizes, mut floor) =
        (None, None, Sizes::full(), Duration::from_millis(2));
    let (mut pin, mut cases) = (true, Vec::new());
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
            "--no-pin" => pin = false,
            "--case" => {
                let name = args.next().unwrap_or_default();
                cases.push(case_named(&name).ok_or(format!("unknown case {name}"))?);
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
        pin,
        cases: if cases.is_empty() {
            Case::ALL.to_vec()
        } else {
            cases
        },
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
    let pinning = args.pin.then(Pinning::two_cores).flatten();
    if let Some(p) = pinning {
        p.install().expect("cannot pin the driver to its core");
    }
    println!(
        "### {}\n\n{}\n\n{}",
        args.kind,
        match pinning {
            Some(p) => format!(
                "(node and control client on cpu {}, attack on cpu {})",
                p.node, p.attack
            ),
            None => "(not pinned)".to_owned(),
        },
        Report::header()
    );
    let mut broken = Vec::new();
    for &case in &args.cases {
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
