//! The main thread's part: signals, `stats.log` every 30 s, and a prompt exit. The dump runs on
//! its own thread ([`DumpProcess`]); this thread polls its result, and meanwhile reopens the
//! logs on SIGHUP and writes stats lines. On SIGINT/SIGTERM/SIGQUIT it sets the stop flag,
//! which the dump thread sees between records and while waiting; if that thread is stuck in a
//! network call past [`STOP_GRACE`], this thread deletes the temp file being written and exits
//! without it.

use crate::channel::ActiveTemp;
use crate::process::{DumpProcess, Outcome, RunError};
use crate::stats::DumpStats;
use crate::stop::Stop;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};
use swarm_core::config::{stats_interval_override, DEFAULT_STATS_INTERVAL};
use swarm_core::stats::StatsLog;

/// How long the dump thread may take to stop before the process exits without it (under the
/// upstart job's 5 s kill timeout).
pub const STOP_GRACE: Duration = Duration::from_secs(2);
/// How often the main thread looks at signals, the stats timer and the dump thread.
const TICK: Duration = Duration::from_millis(50);

/// Exit code when the process exits without its dump thread (see [`run`]).
const EXIT_STOPPED: i32 = 0;

/// Makes SIGINT, SIGTERM and SIGQUIT set `stop`; returns the flag SIGHUP sets. Called first
/// thing, so a stop signal at any later moment ends the process cleanly.
pub fn install_signals(stop: &Stop) -> io::Result<Arc<AtomicBool>> {
    for sig in [SIGINT, SIGTERM, SIGQUIT] {
        signal_hook::flag::register(sig, stop.flag())?;
    }
    let hup = Arc::new(AtomicBool::new(false));
    signal_hook::flag::register(SIGHUP, Arc::clone(&hup))?;
    Ok(hup)
}

/// Runs `process` on a thread until it ends or a stop signal arrives (see
/// [`install_signals`]); `stats_log` receives a line every 30 s and a last one at the end.
pub fn run(
    process: DumpProcess,
    oneshot: bool,
    mut stats_log: StatsLog,
    hup: &AtomicBool,
) -> io::Result<Result<Outcome, RunError>> {
    let stop = process.stop.clone();
    let stats = Arc::clone(&process.stats);
    let active = Arc::clone(&process.active);
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name("dump".to_owned())
        .spawn(move || {
            // The receiver outlives this thread unless the process is exiting anyway.
            let _ = tx.send(process.run(oneshot));
        })?;
    // The period is fixed (as the original's); tests shorten it through the environment.
    let interval = stats_interval_override().unwrap_or(DEFAULT_STATS_INTERVAL);
    let mut next_stats = Instant::now() + interval;
    let mut stop_deadline: Option<Instant> = None;
    loop {
        match rx.recv_timeout(TICK) {
            Ok(result) => {
                write_stats(&mut stats_log, &stats);
                return Ok(result);
            }
            Err(RecvTimeoutError::Disconnected) => {
                write_stats(&mut stats_log, &stats);
                return Err(io::Error::other("the dump thread panicked (see stderr)"));
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        if hup.swap(false, Ordering::Relaxed) {
            reopen_logs(&mut stats_log);
        }
        if Instant::now() >= next_stats {
            write_stats(&mut stats_log, &stats);
            next_stats += interval;
        }
        let give_up = stop
            .is_set()
            .then(|| *stop_deadline.get_or_insert_with(stop_requested));
        if give_up.is_some_and(|t| Instant::now() >= t) {
            exit_without_dump_thread(&active, &mut stats_log, &stats);
        }
    }
}

/// The first tick that sees the stop flag: logs it, returns when to give up on the dump thread.
fn stop_requested() -> Instant {
    log::info!("Stop signal received, stopping");
    Instant::now() + STOP_GRACE
}

/// The dump thread did not stop in time: delete its temp file and exit, holding the temp file
/// registry so that it cannot start or commit another file meanwhile.
fn exit_without_dump_thread(active: &ActiveTemp, stats_log: &mut StatsLog, stats: &DumpStats) -> ! {
    let _registry = active.abandon();
    log::warn!(
        "The dump thread did not stop within {}s (waiting on the node); exiting without it",
        STOP_GRACE.as_secs()
    );
    write_stats(stats_log, stats);
    log::info!("Exiting with return code {EXIT_STOPPED}");
    std::process::exit(EXIT_STOPPED);
}

fn write_stats(stats_log: &mut StatsLog, stats: &DumpStats) {
    if let Err(e) = stats_log.write_line(&stats.take_line()) {
        log::error!("Cannot write {}: {e}", stats_log.path().display());
    }
}

fn reopen_logs(stats_log: &mut StatsLog) {
    if let Err(e) = swarm_core::logging::reopen() {
        log::error!("SIGHUP: cannot reopen root.log: {e}");
    }
    if let Err(e) = stats_log.reopen() {
        log::error!("SIGHUP: cannot reopen {}: {e}", stats_log.path().display());
    }
    log::info!("SIGHUP: log files reopened");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn stats_lines_carry_the_counters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log/stats.log");
        let mut log = StatsLog::open_file(&path).unwrap();
        let stats = DumpStats::default();
        stats.record_written(4);
        write_stats(&mut log, &stats);
        let text = std::fs::read_to_string(&path).unwrap();
        // "YYYY-MM-DD HH:MM:SS,mmm records_written:1 bytes_written:36 last_time_ms:0"
        assert_eq!(
            &text[23..],
            " records_written:1 bytes_written:36 last_time_ms:0\n"
        );
    }
}
