//! `logfiles_check`: checks the bucket files of a logfiles data directory, a channel directory
//! or single files (legacy and v1: record lengths, parity, keys inside the range the file's path
//! implies), reports each damaged file and a total, and with `--repair` truncates each damaged
//! file after its last good record, keeping the cut tail beside it as `<file>.cut-<unix time>`.
//! Run it on a stopped node (a running node appends to its buckets).
//!
//! Exit codes: 0 every file is sound; 1 damage was found (also with `--repair` when every
//! damaged file was repaired, so scripts notice); 2 a usage error; 3 a file or directory could
//! not be read or repaired.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use swarm_logfiles::check::{bucket_files, check_file, range_of, repair};

/// Check (and repair) logfiles bucket files.
#[derive(Debug, Parser)]
#[command(
    name = "logfiles_check",
    version,
    about = "Checks (and with --repair, repairs) the bucket files of a logfiles node's data \
             directory, a channel directory or single files. Run it on a stopped node.",
    after_help = "Exit codes: 0 every file is sound; 1 damage found (also after --repair); \
                  2 usage error; 3 a file or directory could not be read or repaired."
)]
struct Args {
    /// Data directories, channel directories or bucket files.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Truncate each damaged file after its last good record (the cut bytes are kept beside it
    /// as `<file>.cut-<unix time>`).
    #[arg(long)]
    repair: bool,
    /// Also list the sound files.
    #[arg(short, long)]
    verbose: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut files = Vec::new();
    for p in &args.paths {
        match bucket_files(p) {
            Ok(f) => files.extend(f),
            Err(e) => {
                eprintln!("logfiles_check: {e}");
                return ExitCode::from(3);
            }
        }
    }
    let (mut records, mut damaged, mut repaired, mut lost, mut failed) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    let mut next_progress = started + Duration::from_secs(5);
    for (i, file) in files.iter().enumerate() {
        if Instant::now() >= next_progress {
            eprintln!("logfiles_check: {i} of {} files checked", files.len());
            next_progress += Duration::from_secs(5);
        }
        let report = match check_file(file, range_of(file)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                failed += 1;
                continue;
            }
        };
        records += report.records;
        let Some(fault) = &report.fault else {
            if args.verbose {
                println!("{}: ok, {} records", file.display(), report.records);
            }
            continue;
        };
        damaged += 1;
        lost += report.len - report.good_len;
        println!(
            "{}: DAMAGED at byte {} of {}: {fault}; {} good records before it",
            file.display(),
            report.good_len,
            report.len,
            report.records
        );
        if args.repair {
            match repair(&report) {
                Ok(Some(tail)) => {
                    repaired += 1;
                    println!(
                        "{}: repaired: cut to {} bytes, the {} bytes after kept in {}",
                        file.display(),
                        report.good_len,
                        report.len - report.good_len,
                        tail.display()
                    );
                }
                Ok(None) => println!("{}: not repaired (left as it is)", file.display()),
                Err(e) => {
                    eprintln!("{e}");
                    failed += 1;
                }
            }
        }
    }
    println!(
        "{} files, {records} good records, {damaged} damaged ({lost} bytes after the last good \
         record){}",
        files.len(),
        if args.repair {
            format!(", {repaired} repaired")
        } else {
            String::new()
        }
    );
    if failed > 0 {
        ExitCode::from(3)
    } else if damaged > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
