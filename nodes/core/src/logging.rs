//! `root.log`: the process-wide [`log`] backend of the nodes.
//!
//! Lines read `YYYY-MM-DD HH:MM:SS,mmm Level [module] message`, appended to `<log_dir>/root.log`;
//! warnings and errors are mirrored to stderr when asked (the original's `console = true`).
//!
//! While an event loop runs ([`set_buffered`], which [`crate::Server::run`] sets for its
//! duration), lines are collected in memory and written in blocks, so a slow disk does not
//! stall the loop on every line: the loop calls [`flush`] on its tick and at shutdown; an error
//! line, a full block, or a line more than [`FLUSH_AFTER`] after the last write goes out at
//! once. Otherwise (start-up, tools without a loop) every line is written as it is logged.
//! [`reopen`] reopens the file after logrotate moved it (SIGHUP). The logger is a static that
//! [`init`] (re)configures, so a second `init` in one process (tests) retargets it instead of
//! failing.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use log::{Level, LevelFilter, Log, Metadata, Record};

use crate::timestamp::write_timestamp;

/// File name of the activity log inside the log directory.
pub const ROOT_LOG: &str = "root.log";
/// Bytes of log lines collected before they are written regardless of the clock.
const BLOCK: usize = 64 * 1024;
/// Longest time a line waits in memory when nobody calls [`flush`] (a line logged later than
/// this after the last write takes the waiting ones with it).
pub const FLUSH_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct State {
    path: Option<PathBuf>,
    file: Option<File>,
    console: bool,
    /// Reused line buffer: no allocation per line.
    line: String,
    /// Lines not written to the file yet.
    pending: Vec<u8>,
    /// When `pending` was last written out.
    flushed: Option<Instant>,
}

impl State {
    fn write_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // A full disk must not take the node down; there is nowhere left to report it.
        if let Some(file) = self.file.as_mut() {
            let _ = file.write_all(&self.pending);
        }
        self.pending.clear();
        self.flushed = Some(Instant::now());
    }
}

#[derive(Debug)]
struct RootLogger {
    state: Mutex<State>,
}

static LOGGER: OnceLock<RootLogger> = OnceLock::new();
/// Lines wait in memory for [`flush`] (an event loop is running).
static BUFFERED: AtomicBool = AtomicBool::new(false);

/// Whether lines wait in memory until [`flush`] (see the module doc). Switching it off
/// flushes.
pub fn set_buffered(on: bool) {
    BUFFERED.store(on, Ordering::SeqCst);
    if !on {
        flush();
    }
}

impl RootLogger {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while logging must not silence the log for the rest of the process.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Creates `log_dir`, opens `<log_dir>/root.log` for appending and installs the logger at
/// `level`. When `console` is true, warnings and errors also go to stderr. Calling it again
/// switches the existing logger to the new file and settings.
pub fn init(log_dir: &Path, level: LevelFilter, console: bool) -> io::Result<()> {
    fs::create_dir_all(log_dir)?;
    let path = log_dir.join(ROOT_LOG);
    let file = open_append(&path)?;
    let logger = LOGGER.get_or_init(|| RootLogger {
        state: Mutex::new(State::default()),
    });
    {
        let mut st = logger.lock();
        st.write_pending();
        st.path = Some(path);
        st.file = Some(file);
        st.console = console;
    }
    // Fails when a logger is already installed: ours from an earlier `init` (now retargeted
    // above) or a test harness's, which then keeps receiving the records.
    let _ = log::set_logger(logger);
    log::set_max_level(level);
    Ok(())
}

/// Reopens `root.log` under its path (after logrotate renamed it). Does nothing before
/// [`init`]. On error the old file stays in use.
pub fn reopen() -> io::Result<()> {
    let Some(logger) = LOGGER.get() else {
        return Ok(());
    };
    let mut st = logger.lock();
    st.write_pending();
    if let Some(path) = st.path.clone() {
        st.file = Some(open_append(&path)?);
    }
    Ok(())
}

/// Writes the collected log lines to root.log (the loop's tick, shutdown, before exit).
pub fn flush() {
    if let Some(logger) = LOGGER.get() {
        logger.lock().write_pending();
    }
}

pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Level names as the original's log layout spells them.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "Error",
        Level::Warn => "Warn",
        Level::Info => "Info",
        Level::Debug => "Debug",
        Level::Trace => "Trace",
    }
}

impl Log for RootLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let mut guard = self.lock();
        let st = &mut *guard;
        st.line.clear();
        write_timestamp(&mut st.line, SystemTime::now());
        // Writing into a String cannot fail.
        let _ = writeln!(
            st.line,
            " {} [{}] {}",
            level_name(record.level()),
            record.target(),
            record.args()
        );
        st.pending.extend_from_slice(st.line.as_bytes());
        let stale = st.flushed.is_none_or(|t| t.elapsed() >= FLUSH_AFTER);
        let now = !BUFFERED.load(Ordering::Relaxed) || record.level() <= Level::Error;
        if now || st.pending.len() >= BLOCK || stale {
            st.write_pending();
        }
        if st.console && record.level() <= Level::Warn {
            let _ = io::stderr().write_all(st.line.as_bytes());
        }
    }

    fn flush(&self) {
        let mut st = self.lock();
        st.write_pending();
        if let Some(file) = st.file.as_mut() {
            let _ = file.flush();
        }
    }
}

/// Parses a `--log-level` argument (off, error, warn, info, debug, trace), for the nodes' and
/// tools' command lines.
pub fn parse_level(s: &str) -> Result<log::LevelFilter, String> {
    s.parse()
        .map_err(|_| format!("'{s}' is not one of off, error, warn, info, debug, trace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // One test for the whole lifecycle: the logger is process-global, so parallel tests would
    // race on it.
    #[test]
    fn init_log_reinit_and_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = dir.path().join("first");
        init(&first, LevelFilter::Info, false).expect("init");
        log::info!(target: "swarm_core::test", "hello {}", 42);
        log::debug!("filtered out");
        let text = fs::read_to_string(first.join(ROOT_LOG)).expect("root.log");
        let line = text
            .lines()
            .find(|l| l.contains("hello 42"))
            .expect("logged line");
        // "YYYY-MM-DD HH:MM:SS,mmm Info [swarm_core::test] hello 42"
        assert_eq!(line.len(), 23 + " Info [swarm_core::test] hello 42".len());
        assert_eq!(&line[10..11], " ");
        assert_eq!(&line[19..20], ",");
        assert!(
            line.ends_with(" Info [swarm_core::test] hello 42"),
            "{line}"
        );
        assert!(!text.contains("filtered out"));

        // A second init retargets instead of panicking.
        let second = dir.path().join("second");
        init(&second, LevelFilter::Debug, false).expect("second init");
        log::warn!("to the second file");
        let text = fs::read_to_string(second.join(ROOT_LOG)).expect("root.log");
        assert!(text.contains(" Warn [") && text.contains("to the second file"));

        // logrotate: rename the file, reopen, and the next line lands in a new root.log.
        fs::rename(second.join(ROOT_LOG), second.join("root.log.1")).expect("rename");
        reopen().expect("reopen");
        log::error!("after rotation");
        let fresh = fs::read_to_string(second.join(ROOT_LOG)).expect("new root.log");
        assert!(fresh.contains(" Error [") && fresh.contains("after rotation"));
        let rotated = fs::read_to_string(second.join("root.log.1")).expect("rotated");
        assert!(!rotated.contains("after rotation"));

        // Lines wait in memory until a flush (the first line after a write went out at once).
        set_buffered(true);
        log::info!("first");
        log::info!("held back");
        let before = fs::read_to_string(second.join(ROOT_LOG)).expect("root.log");
        assert!(!before.contains("held back"), "{before}");
        flush();
        let after = fs::read_to_string(second.join(ROOT_LOG)).expect("root.log");
        assert!(after.contains("held back"));
        set_buffered(false);
    }
}
