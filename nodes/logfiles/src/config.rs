//! The logfiles node's `config.ini` (spec/logfiles.md section 6): the original dlsnode's
//! sections and keys, one typed struct, defaults as named consts, validated on load with the
//! file, section and key in every message; keys it does not use come back as
//! [`ConfigWarning`]s. `etc/logfiles/config.ini` documents every key.
//!
//! `[Options_Dls]` is the section the original node reads; its own example configs spell it
//! `[Options_LogFiles]`, which the original silently ignored. Both are read here: a key in
//! `[Options_Dls]` wins, and a key set in both with different values is a warning.

use ini::Ini;
use std::path::{Path, PathBuf};
use swarm_core::config::{self, ConfigWarning, IniView};
use swarm_core::{ConfigError, ServerConfig};

/// The embedded configuration `logfilesnode` runs with when no file is given.
pub const DEFAULT_CONFIG: &str = include_str!("default_config.ini");
/// How [`DEFAULT_CONFIG`] is named in messages.
pub const DEFAULT_CONFIG_NAME: &str = config::EMBEDDED_CONFIG_NAME;

/// `[Server] data_dir` default.
pub const DEFAULT_DATA_DIR: &str = "data";
/// `[LOG.Root] file` default.
pub const DEFAULT_ROOT_LOG: &str = "log/root.log";
/// `[Performance] file_buffer_size` default: read-ahead per bucket read, bytes.
pub const DEFAULT_FILE_BUFFER_SIZE: usize = 10 * 1024 * 1024;
/// `[Performance] checkpoint_commit_seconds` default.
pub const DEFAULT_CHECKPOINT_COMMIT_SECONDS: u64 = 300;
/// `[Performance] number_of_thread_workers` default.
pub const DEFAULT_WORKERS: usize = 20;
/// `[Options_Dls] write_buffer_size` default: bytes buffered per open bucket writer.
pub const DEFAULT_WRITE_BUFFER_SIZE: usize = 65_536;
/// `[Options_Dls] group_commit_ms` default (ours): 0, the fsync of a group starts at the loop's
/// next turn, covering every write read in this one (and every write arriving while an fsync
/// runs waits for the next). Measured on the development machine, a 2 ms window halved group
/// throughput at 50 connections and doubled p50 latency, with no better batching.
pub const DEFAULT_GROUP_COMMIT_MS: u64 = 0;
/// `[Options_Dls] redistribute_retry_s` default (ours): a Redistribute fails when no
/// destination has taken a batch for this long.
pub const DEFAULT_REDISTRIBUTE_RETRY_S: u64 = crate::redistribute::DEFAULT_RETRY_S;
/// The section the original node reads.
pub const OPTIONS_SECTION: &str = "Options_Dls";
/// The spelling of the original's example configs, read as well.
pub const OPTIONS_ALIAS: &str = "Options_LogFiles";

/// When a Put is answered relative to the disk (`[Options_Dls] sync_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// The original's: answered once buffered; every `checkpoint_commit_seconds` the open
    /// buckets are fsynced and the checkpoint written, and a crash truncates to it.
    Checkpoint,
    /// Ours: answered only after an fsync covering the write, shared by every write of a
    /// `group_commit_ms` window, so an acknowledged record survives a power loss.
    Group,
}

impl std::str::FromStr for SyncMode {
    type Err = String;

    fn from_str(s: &str) -> Result<SyncMode, String> {
        match s {
            "checkpoint" => Ok(SyncMode::Checkpoint),
            "group" => Ok(SyncMode::Group),
            _ => Err("expected checkpoint or group".into()),
        }
    }
}

/// The logfiles node's configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LogfilesConfig {
    /// `[Server]`, `[Performance]`: what the event loop needs.
    pub server: ServerConfig,
    /// `[Server] data_dir`: the channel directories and `checkpoint.dat`.
    pub data_dir: PathBuf,
    /// `[Performance] file_buffer_size`: read-ahead of a bucket read, bytes (0: unbuffered
    /// reads, as in the original).
    pub file_buffer_size: usize,
    /// `[Performance] checkpoint_commit_seconds`: the checkpoint period.
    pub checkpoint_commit_seconds: u64,
    /// `[Performance] number_of_thread_workers`: disk worker threads.
    pub workers: usize,
    /// `[Options_Dls] write_buffer_size`: bytes buffered per open bucket writer.
    pub write_buffer_size: usize,
    /// `[Options_Dls] sync_mode`.
    pub sync_mode: SyncMode,
    /// `[Options_Dls] group_commit_ms`: how long the first write of a group waits for others
    /// before the fsync starts (0: the loop's next turn).
    pub group_commit_ms: u64,
    /// `[Options_Dls] redistribute_retry_s` (ours): how long a Redistribute goes on trying
    /// when no destination takes a batch, before it fails.
    pub redistribute_retry_s: u64,
    /// The directory of `[LOG.Root] file`: root.log, and stats.log unless `[STATS] file_name`
    /// says otherwise.
    pub log_dir: PathBuf,
    /// `[PidLock] path`: an optional lock file.
    pub pid_lock: Option<PathBuf>,
    /// `[Testing]`: fault injection for the node's own tests; off unless set.
    pub testing: Testing,
}

/// `[Testing]`: hooks for the node's tests, never needed in production (both off by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Testing {
    /// `read_delay_ms`: every bucket a range scan opens first sleeps this long on its worker
    /// thread (a slow disk).
    pub read_delay_ms: u64,
    /// `sync_journal`: a file to which every completed fsync is appended as a line
    /// (`sync <path> <length>`, `dir <path>`, `create <path>`, `checkpoint <unix ms>`), so a test
    /// can rebuild what a power loss would have left on disk.
    pub sync_journal: Option<PathBuf>,
    /// `redistribute_delay_ms`: a Redistribute pauses this long after each acknowledged batch
    /// (a slow move, so a test can kill the node in the middle).
    pub redistribute_delay_ms: u64,
}

/// Keys the node reads, and keys of the original it accepts without using them, besides
/// `ServerConfig::KNOWN_KEYS` (public so `cli/tests/etc_files.rs` can check that the example
/// config.ini documents every one).
pub const KNOWN_KEYS: &[(&str, &str)] = &[
    ("Server", "data_dir"),
    ("Server", "cpu"),
    ("Server", "neoport"),
    ("Server", "unix_socket_path"),
    ("Server", "credentials_path"),
    ("Performance", "file_buffer_size"),
    ("Performance", "checkpoint_commit_seconds"),
    ("Performance", "number_of_thread_workers"),
    (OPTIONS_SECTION, "write_buffer_size"),
    (OPTIONS_SECTION, "sync_mode"),
    (OPTIONS_SECTION, "group_commit_ms"),
    (OPTIONS_SECTION, "redistribute_retry_s"),
    (OPTIONS_ALIAS, "write_buffer_size"),
    (OPTIONS_ALIAS, "sync_mode"),
    (OPTIONS_ALIAS, "group_commit_ms"),
    (OPTIONS_ALIAS, "redistribute_retry_s"),
    ("PidLock", "path"),
    ("Testing", "read_delay_ms"),
    ("Testing", "sync_journal"),
    ("Testing", "redistribute_delay_ms"),
];

/// The `[Options_Dls]` key, or else its `[Options_LogFiles]` spelling, with the section it
/// came from.
fn option<'a>(v: &IniView<'a>, key: &str) -> Option<(&'static str, &'a str)> {
    v.get(OPTIONS_SECTION, key)
        .map(|raw| (OPTIONS_SECTION, raw))
        .or_else(|| v.get(OPTIONS_ALIAS, key).map(|raw| (OPTIONS_ALIAS, raw)))
}

/// Parses an option key of either spelling, `default` when neither has it.
fn parse_option<T>(v: &IniView<'_>, key: &str, default: T) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match option(v, key) {
        Some((section, _)) => Ok(v.parse(section, key)?.unwrap_or(default)),
        None => Ok(default),
    }
}

impl LogfilesConfig {
    /// The keys and sections of `ini` (loaded from `file`) the node does not use, and the
    /// option keys set in both `[Options_Dls]` and `[Options_LogFiles]` with different values.
    pub fn warnings(ini: &Ini, file: &str) -> Vec<ConfigWarning> {
        let mut known = ServerConfig::KNOWN_KEYS.to_vec();
        known.extend_from_slice(KNOWN_KEYS);
        let mut warnings = config::unknown_key_warnings(ini, file, &known);
        let v = IniView::new(ini, file);
        for key in [
            "write_buffer_size",
            "sync_mode",
            "group_commit_ms",
            "redistribute_retry_s",
        ] {
            if let (Some(a), Some(b)) = (v.get(OPTIONS_SECTION, key), v.get(OPTIONS_ALIAS, key)) {
                if a != b {
                    warnings.push(ConfigWarning::Conflict {
                        file: file.to_owned(),
                        text: format!(
                            "[{OPTIONS_SECTION}] {key} = {a} and [{OPTIONS_ALIAS}] {key} = {b}: \
                             using [{OPTIONS_SECTION}]'s"
                        ),
                    });
                }
            }
        }
        warnings
    }

    /// Reads a configuration; `file` names it in errors.
    pub fn from_ini(ini: &Ini, file: &str) -> Result<LogfilesConfig, ConfigError> {
        let v = IniView::new(ini, file);
        let mut server = ServerConfig::from_ini(ini, file)?;
        let root_log = PathBuf::from(v.get("LOG.Root", "file").unwrap_or(DEFAULT_ROOT_LOG));
        let log_dir = root_log.parent().map(PathBuf::from).unwrap_or_default();
        if v.get("STATS", "file_name").is_none() {
            server.stats_file = Some(log_dir.join("stats.log"));
        }
        let write_buffer_size = parse_option(&v, "write_buffer_size", DEFAULT_WRITE_BUFFER_SIZE)?;
        if write_buffer_size == 0 {
            let (section, raw) = option(&v, "write_buffer_size").unwrap_or((OPTIONS_SECTION, "0"));
            return Err(v.invalid(section, "write_buffer_size", raw, "must be at least 1"));
        }
        Ok(LogfilesConfig {
            server,
            data_dir: PathBuf::from(v.get("Server", "data_dir").unwrap_or(DEFAULT_DATA_DIR)),
            file_buffer_size: v.parse_or(
                "Performance",
                "file_buffer_size",
                DEFAULT_FILE_BUFFER_SIZE,
            )?,
            checkpoint_commit_seconds: v.at_least(
                "Performance",
                "checkpoint_commit_seconds",
                1,
                DEFAULT_CHECKPOINT_COMMIT_SECONDS,
            )?,
            workers: v.at_least(
                "Performance",
                "number_of_thread_workers",
                1,
                DEFAULT_WORKERS,
            )?,
            write_buffer_size,
            sync_mode: parse_option(&v, "sync_mode", SyncMode::Checkpoint)?,
            group_commit_ms: parse_option(&v, "group_commit_ms", DEFAULT_GROUP_COMMIT_MS)?,
            redistribute_retry_s: parse_option(
                &v,
                "redistribute_retry_s",
                DEFAULT_REDISTRIBUTE_RETRY_S,
            )?,
            log_dir,
            pid_lock: v
                .get("PidLock", "path")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            testing: Testing {
                read_delay_ms: v.parse_or("Testing", "read_delay_ms", 0)?,
                sync_journal: v
                    .get("Testing", "sync_journal")
                    .filter(|p| !p.is_empty())
                    .map(PathBuf::from),
                redistribute_delay_ms: v.parse_or("Testing", "redistribute_delay_ms", 0)?,
            },
        })
    }

    /// Loads `path` (`None`: [`DEFAULT_CONFIG`]). The warnings come with the result, also when
    /// the config is refused: an unknown key is often the typo behind a missing one.
    pub fn load(path: Option<&Path>) -> (Result<LogfilesConfig, ConfigError>, Vec<ConfigWarning>) {
        config::load_node_config(
            path,
            DEFAULT_CONFIG,
            LogfilesConfig::from_ini,
            LogfilesConfig::warnings,
        )
    }
}

#[cfg(test)]
mod tests;
