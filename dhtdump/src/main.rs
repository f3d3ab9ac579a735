//! `dhtdump`: parses the command line, loads the configuration, starts logging and runs the dump
//! process; errors become exit codes ([`swarm_dhtdump::EXIT_OK`] and siblings).

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use swarm_core::stats::StatsLog;
use swarm_core::{config, metrics};
use swarm_dhtdump::config::DumpConfig;
use swarm_dhtdump::metrics::handler;
use swarm_dhtdump::process::{DumpProcess, Outcome, RunError};
use swarm_dhtdump::stop::Stop;
use swarm_dhtdump::{supervise, EXIT_CONFIG, EXIT_FAILED, EXIT_OK, EXIT_UNREACHABLE};

/// Dumps every channel of one dht node to .tcm files, periodically or once.
#[derive(Debug, Parser)]
#[command(name = "dhtdump", version, about)]
struct Args {
    /// config.ini to use (sections Dht: address, port; Dump: data_dir, period_s, ...).
    #[arg(short, long, value_name = "FILE")]
    config: PathBuf,
    /// Dump once, immediately, then exit (0 when every channel was dumped).
    #[arg(short, long)]
    oneshot: bool,
    /// Log level of root.log (error, warn, info, debug, trace).
    #[arg(long, default_value = "info", value_parser = swarm_core::logging::parse_level)]
    log_level: log::LevelFilter,
}

fn main() -> ExitCode {
    let args = Args::parse();
    ExitCode::from(match run(&args) {
        Ok(code) | Err(code) => code,
    })
}

/// Everything after argument parsing; `Err` carries the exit code of a failed start.
fn run(args: &Args) -> Result<u8, u8> {
    let stop = Stop::default();
    let hup = supervise::install_signals(&stop)
        .map_err(|e| fail(EXIT_FAILED, format!("cannot install signal handlers: {e}")))?;
    let file = args.config.display().to_string();
    let ini = config::load_ini(&args.config).map_err(|e| fail(EXIT_CONFIG, e.to_string()))?;
    // Printed on stderr directly only if dhtdump stops before its log is up; otherwise logged
    // (and mirrored to stderr by the console logger) once it is.
    let warnings = swarm_dhtdump::config::warnings(&ini, &file);
    let early_fail = |code: u8, msg: String| {
        config::print_warnings("dhtdump", &warnings);
        fail(code, msg)
    };
    let config =
        DumpConfig::from_ini(&ini, &file).map_err(|e| early_fail(EXIT_CONFIG, e.to_string()))?;
    swarm_core::logging::init(&config.log_dir, args.log_level, true).map_err(|e| {
        let dir = config.log_dir.display();
        early_fail(EXIT_FAILED, format!("cannot open the log in {dir}: {e}"))
    })?;
    log::info!("Starting dhtdump ------------------------------");
    config::log_warnings(&warnings);
    // After the log is up, so root.log says it too.
    config
        .check_data_dir(&file)
        .map_err(|e| logged_failure(EXIT_CONFIG, e.to_string()))?;
    let stats_log = StatsLog::open_file(&config.stats_file).map_err(|e| {
        let path = config.stats_file.display();
        fail(EXIT_FAILED, format!("cannot open {path}: {e}"))
    })?;
    log_settings(&config, args.oneshot);
    let stats = Arc::default();
    // Kept until the process ends; dropping it stops the HTTP thread.
    let _http = match &config.metrics {
        Some(cfg) => Some(
            metrics::http::bind(cfg)
                .and_then(|l| metrics::http::HttpServer::spawn(l, handler(Arc::clone(&stats))))
                .map_err(|e| logged_failure(EXIT_FAILED, e.to_string()))?,
        ),
        None => None,
    };
    let process = DumpProcess {
        config,
        stats,
        active: Arc::default(),
        stop,
    };
    let code = match supervise::run(process, args.oneshot, stats_log, &hup) {
        Ok(Ok(Outcome::Done | Outcome::Stopped)) => EXIT_OK,
        Ok(Err(e)) => {
            let code = match e {
                RunError::Unreachable(_) => EXIT_UNREACHABLE,
                RunError::DumpFailed(_) => EXIT_FAILED,
            };
            logged_failure(code, e.to_string())
        }
        Err(e) => logged_failure(EXIT_FAILED, e.to_string()),
    };
    log::info!("Exiting with return code {code}");
    Ok(code)
}

/// Prints why the process cannot start; returns `code`.
fn fail(code: u8, msg: String) -> u8 {
    eprintln!("dhtdump: {msg}");
    code
}

/// Logs and prints why the run failed; returns `code`.
fn logged_failure(code: u8, msg: String) -> u8 {
    log::error!("{msg}");
    fail(code, msg)
}

fn log_settings(config: &DumpConfig, oneshot: bool) {
    log::info!(
        "Dumping node {}:{} to {} ({}, period {}s, min wait {}s, retry wait {}s)",
        config.address,
        config.port,
        config.data_dir.display(),
        if oneshot { "once" } else { "periodically" },
        config.period.as_secs(),
        config.min_wait.as_secs(),
        config.retry_wait.as_secs()
    );
    swarm_dht::dump::file::set_direct_io(!config.disable_direct_io);
    if config.disable_direct_io {
        log::info!("[Dump] disable_direct_io: dump files are written through the page cache");
    }
}
