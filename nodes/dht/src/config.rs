//! The dht node's `config.ini`: the original's sections and keys, one typed struct, defaults as
//! named consts, validated on load with the file and key in every message; keys and sections it
//! does not use are returned as [`ConfigWarning`]s for `main` to print and log. Without `-c`, the
//! node runs on [`DEFAULT_CONFIG`] (127.0.0.1:10000, the full hash range, `data/`).

use ini::Ini;
use std::path::PathBuf;
use swarm_core::config::{self, ConfigWarning, IniView};
use swarm_core::{ConfigError, ServerConfig};
use swarm_protocol::batch::DEFAULT_BATCH_SIZE;
use swarm_protocol::HashRange;

/// The configuration used when no `-c FILE` is given.
pub const DEFAULT_CONFIG: &str = include_str!("default_config.ini");

/// `[Server] data_dir` default.
pub const DEFAULT_DATA_DIR: &str = "data";
/// `[Options_Memory] batch_size` minimum (as in the original).
pub const MIN_BATCH_SIZE: usize = 1024;
/// `[Options_Memory] abort_after_all_out_of_range` default.
pub const DEFAULT_ABORT_AFTER_ALL_OUT_OF_RANGE: u64 = 10_000;
/// `[LOG.Root] file` default.
pub const DEFAULT_ROOT_LOG: &str = "log/root.log";

/// What to do with a dumped record outside the node's hash range (`allow_out_of_range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutOfRange {
    /// Load it anyway (the default).
    Load,
    /// Skip it with a warning.
    Ignore,
    /// Refuse to start.
    Fatal,
}

/// The dht node's configuration.
#[derive(Debug, Clone)]
pub struct DhtConfig {
    /// `[Server]`, `[Performance]`: what the event loop needs.
    pub server: ServerConfig,
    /// `[Server] minval`, `maxval`: the node's range of bit-reversed keys.
    pub range: HashRange,
    /// `[Server] data_dir`: dump files.
    pub data_dir: PathBuf,
    /// `[Options_Memory] size_limit`: bytes (0 = unlimited).
    pub size_limit: u64,
    /// `[Options_Memory] batch_size`: GetAll batch capacity; values may be 32 bytes less.
    pub batch_size: usize,
    /// `[Options_Memory] allow_out_of_range`.
    pub allow_out_of_range: OutOfRange,
    /// `[Options_Memory] abort_after_all_out_of_range` (0 disables).
    pub abort_after_all_out_of_range: u64,
    /// `[Options_Memory] dump_period_s` (ours; 0 = dump only at shutdown).
    pub dump_period_s: u64,
    /// The directory of `[LOG.Root] file`: root.log, and stats.log unless `[STATS] file_name`
    /// says otherwise.
    pub log_dir: PathBuf,
    /// `[PidLock] path`: a lock file taken besides `<data_dir>/node.lock` (see
    /// `swarm_core::lock`).
    pub pid_lock: Option<PathBuf>,
    /// `[Performance] redist_memory_limit_mulitplier` (the original's spelling), default 1.1.
    pub redist_memory_limit: f64,
    /// `[Performance] redistribute_retry_s` (ours), default 60.
    pub redistribute_retry_s: u64,
    /// The file this was loaded from (`None`: the embedded default); a Redistribute writes the
    /// new range to it.
    pub file: Option<PathBuf>,
}

/// Keys the node reads, and keys of the original it accepts without using them, besides
/// `ServerConfig::KNOWN_KEYS` (public so `cli/tests/etc_files.rs` can check that the example
/// config.ini documents every one).
pub const KNOWN_KEYS: &[(&str, &str)] = &[
    ("Server", "minval"),
    ("Server", "maxval"),
    ("Server", "data_dir"),
    ("Server", "unix_socket_path"),
    ("Performance", "redist_memory_limit_mulitplier"),
    ("Performance", "redistribute_retry_s"),
    ("Options_Memory", "size_limit"),
    ("Options_Memory", "batch_size"),
    ("Options_Memory", "allow_out_of_range"),
    ("Options_Memory", "abort_after_all_out_of_range"),
    ("Options_Memory", "dump_period_s"),
    ("Options_Memory", "lock_memory"),
    ("Options_Memory", "disable_direct_io"),
    ("Options_Memory", "bnum"),
    ("PidLock", "path"),
];

/// Parses a range bound: exactly 16 hex digits, optionally after `0x`.
fn parse_bound(v: &IniView<'_>, key: &str) -> Result<u64, ConfigError> {
    let raw = v.require_str("Server", key)?;
    let digits = raw
        .strip_prefix("0x")
        .or_else(|| raw.strip_prefix("0X"))
        .unwrap_or(raw);
    if digits.len() != 16 {
        return Err(v.invalid(
            "Server",
            key,
            raw,
            "expected 16 hex digits, optionally after 0x",
        ));
    }
    u64::from_str_radix(digits, 16).map_err(|e| v.invalid("Server", key, raw, e.to_string()))
}

impl DhtConfig {
    /// The keys and sections of `ini` (loaded from `file`) the node does not use.
    pub fn warnings(ini: &Ini, file: &str) -> Vec<ConfigWarning> {
        let mut known = ServerConfig::KNOWN_KEYS.to_vec();
        known.extend_from_slice(KNOWN_KEYS);
        config::unknown_key_warnings(ini, file, &known)
    }

    /// Reads a configuration; `file` names it in errors. Unused keys are not checked here (see
    /// [`DhtConfig::warnings`]).
    pub fn from_ini(ini: &Ini, file: &str) -> Result<DhtConfig, ConfigError> {
        let v = IniView::new(ini, file);

        let min = parse_bound(&v, "minval")?;
        let max = parse_bound(&v, "maxval")?;
        // The empty range is the original's magic pair (a node that owns no key yet, waiting
        // for a Redistribute, or one drained by it); any other maxval below minval is an error.
        let range = HashRange::from_bounds(min, max).ok_or_else(|| {
            v.invalid(
                "Server",
                "maxval",
                v.get("Server", "maxval").unwrap_or(""),
                "maxval is below minval (the empty range is minval = 0xffffffffffffffff, \
                 maxval = 0x0000000000000000)",
            )
        })?;
        let allow = match v
            .get("Options_Memory", "allow_out_of_range")
            .unwrap_or("load")
        {
            "load" => OutOfRange::Load,
            "ignore" => OutOfRange::Ignore,
            "fatal" => OutOfRange::Fatal,
            other => {
                return Err(v.invalid(
                    "Options_Memory",
                    "allow_out_of_range",
                    other,
                    "expected load, ignore or fatal",
                ))
            }
        };
        let redist_memory_limit: f64 =
            v.parse_or("Performance", "redist_memory_limit_mulitplier", 1.1)?;
        if !(redist_memory_limit >= 1.0 && redist_memory_limit.is_finite()) {
            return Err(v.invalid(
                "Performance",
                "redist_memory_limit_mulitplier",
                &redist_memory_limit.to_string(),
                "expected a number of at least 1",
            ));
        }
        let mut server = ServerConfig::from_ini(ini, file)?;
        let root_log = PathBuf::from(v.get("LOG.Root", "file").unwrap_or(DEFAULT_ROOT_LOG));
        let log_dir = root_log.parent().map(PathBuf::from).unwrap_or_default();
        if v.get("STATS", "file_name").is_none() {
            server.stats_file = Some(log_dir.join("stats.log"));
        }
        Ok(DhtConfig {
            server,
            range,
            data_dir: PathBuf::from(v.get("Server", "data_dir").unwrap_or(DEFAULT_DATA_DIR)),
            size_limit: v.parse_or("Options_Memory", "size_limit", 0)?,
            batch_size: v.at_least(
                "Options_Memory",
                "batch_size",
                MIN_BATCH_SIZE,
                DEFAULT_BATCH_SIZE,
            )?,
            allow_out_of_range: allow,
            abort_after_all_out_of_range: v.parse_or(
                "Options_Memory",
                "abort_after_all_out_of_range",
                DEFAULT_ABORT_AFTER_ALL_OUT_OF_RANGE,
            )?,
            dump_period_s: v.parse_or("Options_Memory", "dump_period_s", 0)?,
            log_dir,
            pid_lock: v
                .get("PidLock", "path")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
            redist_memory_limit,
            redistribute_retry_s: v.at_least("Performance", "redistribute_retry_s", 1, 60)?,
            file: None,
        })
    }

    /// The embedded default configuration.
    pub fn default_config() -> Result<DhtConfig, ConfigError> {
        let ini = config::parse_ini(DEFAULT_CONFIG)?;
        DhtConfig::from_ini(&ini, "<embedded default config>")
    }

    /// Loads `path` (`None`: the embedded default). The warnings come with the result, also
    /// when the config is refused: an unknown key is often the typo behind a missing one.
    pub fn load(
        path: Option<&std::path::Path>,
    ) -> (Result<DhtConfig, ConfigError>, Vec<ConfigWarning>) {
        let (config, warnings) = config::load_node_config(
            path,
            DEFAULT_CONFIG,
            DhtConfig::from_ini,
            DhtConfig::warnings,
        );
        let config = config.map(|c| DhtConfig {
            file: path.map(PathBuf::from),
            ..c
        });
        (config, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DhtConfig, ConfigError> {
        DhtConfig::from_ini(&config::parse_ini(text).unwrap(), "test.ini")
    }

    #[test]
    fn embedded_default() {
        let c = DhtConfig::default_config().unwrap();
        assert_eq!(c.server.address, "127.0.0.1");
        assert_eq!(c.server.port, 10000);
        assert_eq!(c.range, HashRange::FULL);
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert_eq!(c.batch_size, 65_536);
        assert_eq!(c.allow_out_of_range, OutOfRange::Load);
        assert_eq!(c.pid_lock, None);
    }

    #[test]
    fn original_example_config_loads() {
        let text = include_str!("../../../etc/dht/config.ini");
        let c = parse(text).unwrap();
        assert_eq!(c.batch_size, 65_535);
        let ini = config::parse_ini(text).unwrap();
        assert_eq!(DhtConfig::warnings(&ini, "x"), []);
    }

    #[test]
    fn unused_keys_are_warnings_not_errors() {
        let text = "[Server]\naddress=a\nport=1\nminval=0000000000000000\n\
                    maxval=ffffffffffffffff\n[Options_Memory]\nsize_limt=1\n";
        let ini = config::parse_ini(text).unwrap();
        assert!(DhtConfig::from_ini(&ini, "t.ini").is_ok());
        let w: Vec<String> = DhtConfig::warnings(&ini, "t.ini")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            w,
            ["t.ini: unknown key [Options_Memory] size_limt ignored (did you mean size_limit?)"]
        );
    }

    #[test]
    fn load_keeps_the_warnings_of_a_refused_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.ini");
        std::fs::write(&path, "[Server]\nadress=a\nport=1\n").unwrap();
        let (config, warnings) = DhtConfig::load(Some(&path));
        assert!(config.is_err());
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let (config, warnings) = DhtConfig::load(None);
        assert!(config.is_ok() && warnings.is_empty());
    }

    #[test]
    fn errors_name_file_section_and_key() {
        let base = "[Server]\naddress=127.0.0.1\nport=1\nminval=0x0000000000000000\n";
        let e = parse(base).unwrap_err().to_string();
        assert!(
            e.contains("test.ini") && e.contains("[Server] maxval"),
            "{e}"
        );
        let e = parse(&format!("{base}maxval=0xffff\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("16 hex digits"), "{e}");
        let e = parse(&format!(
            "{base}maxval=ffffffffffffffff\n[Options_Memory]\nbatch_size=10\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("batch_size"), "{e}");
        let e = parse(
            "[Server]\naddress=a\nport=1\nminval=0000000000000010\nmaxval=0000000000000001\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("below minval"), "{e}");
    }

    #[test]
    fn the_magic_pair_is_the_empty_range() {
        let c = parse(
            "[Server]\naddress=a\nport=1\nminval=0xffffffffffffffff\nmaxval=0x0000000000000000\n",
        )
        .unwrap();
        assert!(c.range.is_empty());
        assert!(!c.range.contains(0) && !c.range.contains(u64::MAX));
    }
}
