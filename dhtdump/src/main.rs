//! `dhtdump`: parses the command line, loads the configuration, starts logging and runs the dump
//! process; errors become exit codes ([`swarm_dhtdump::EXIT_OK`] and siblings).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use swarm_core::stats::StatsLog;
use swarm_dhtdump::config::{unknown_keys, DumpConfig};
use swarm_dhtdump::process::{DumpProcess, Outcome, RunError};
use swarm_dhtdump::stop::Stop;
use swarm_dhtdump::{supervise, EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE};

/// Dumps every channel of one dht node to .tcm files, periodically or once.
#[derive(Debug, Parser)]
#[command(name = "dhtdump", version, about)]
struct Args {
    /// config.ini to use ([Dht] address port, [Dump] data_dir period_s ...).
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Dump once, immediately, then exit (0 when every channel was dumped).
    #[arg(short, long)]
    oneshot: bool,
    /// Log level of root.log (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", value_parser = parse_level)]
    log_level: log::LevelFilter,
}

fn parse_level(s: &str) -> Result<log::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not one of off, error, warn, info, debug, trace"))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let stop = Stop::default();
    let hup = match supervise::install_signals(&stop) {
        Ok(hup) => hup,
        Err(e) => {
            eprintln!("dhtdump: cannot install signal handlers: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let file = args.config.display().to_string();
    let loaded = DumpConfig::load(&args.config)
        .and_then(|(config, ini)| config.check_data_dir(&file).map(|()| (config, ini)));
    let (config, ini) = match loaded {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dhtdump: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = swarm_core::logging::init(&config.log_dir, args.log_level, true) {
        eprintln!(
            "dhtdump: cannot open the log in {}: {e}",
            config.log_dir.display()
        );
        return ExitCode::from(EXIT_FAILED);
    }
    let stats_log = match StatsLog::open_file(&config.stats_file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dhtdump: cannot open {}: {e}", config.stats_file.display());
            return ExitCode::from(EXIT_FAILED);
        }
    };
    log::info!("Starting dhtdump ------------------------------");
    for (section, key) in unknown_keys(&ini) {
        log::warn!("{file}: unknown key [{section}] {key} ignored");
    }
    log::info!(
        "Dumping node {}:{} to {} ({}, period {}s, min wait {}s, retry wait {}s)",
        config.address,
        config.port,
        config.data_dir.display(),
        if args.oneshot { "once" } else { "periodically" },
        config.period.as_secs(),
        config.min_wait.as_secs(),
        config.retry_wait.as_secs()
    );
    if config.disable_direct_io {
        log::info!("[Dump] disable_direct_io has no effect: files are always fsynced before use");
    }
    let process = DumpProcess {
        config,
        stats: Arc::default(),
        active: Arc::default(),
        stop,
    };
    let code = match supervise::run(process, args.oneshot, stats_log, &hup) {
        Ok(Ok(Outcome::Done | Outcome::Stopped)) => EXIT_OK,
        Ok(Err(e)) => {
            log::error!("{e}");
            eprintln!("dhtdump: {e}");
            match e {
                RunError::Unreachable(_) => EXIT_UNREACHABLE,
                RunError::DumpFailed(_) => EXIT_FAILED,
            }
        }
        Err(e) => {
            log::error!("{e}");
            eprintln!("dhtdump: {e}");
            EXIT_FAILED
        }
    };
    log::info!("Exiting with return code {code}");
    ExitCode::from(code)
}
