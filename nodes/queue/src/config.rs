//! The queue node's `config.ini` (spec section 7): the original's sections and keys, one typed
//! struct, defaults as named consts, validated on load with the file, section and key in every
//! message; keys it does not use come back as [`ConfigWarning`]s. `etc/queue/config.ini`
//! documents every key.
//!
//! `[ChannelSizeById]` follows the original (`dmqnode` `ChannelSizeConfig`): each key is a
//! channel-name prefix whose channels get that ring size; prefixes may not overlap (one being a
//! prefix of another is refused), so at most one matches a channel and their order is moot.

use ini::Ini;
use std::path::{Path, PathBuf};
use swarm_core::config::{self, ConfigWarning, IniView};
use swarm_core::{ConfigError, ServerConfig};

/// The configuration used when no `-c FILE` is given: 127.0.0.1:11000, 64 MiB rings, `data/`,
/// `log/`.
pub const DEFAULT_CONFIG: &str = include_str!("default_config.ini");
/// How [`DEFAULT_CONFIG`] is named in messages.
pub const DEFAULT_CONFIG_NAME: &str = config::EMBEDDED_CONFIG_NAME;

/// `[Server] data_dir` default.
pub const DEFAULT_DATA_DIR: &str = "data";
/// `[Server] size_limit` default: no node-wide limit.
pub const DEFAULT_SIZE_LIMIT: u64 = 0;
/// `[LOG.Root] file` default.
pub const DEFAULT_ROOT_LOG: &str = "log/root.log";
/// The section of per-prefix ring sizes.
pub const CHANNEL_SIZE_SECTION: &str = "ChannelSizeById";

/// Ring capacities: a default and per-prefix overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelSizes {
    /// `[Server] channel_size_limit`: bytes per ring.
    pub default: usize,
    /// `[ChannelSizeById]`: `(prefix, bytes)`, no prefix a prefix of another.
    prefixes: Vec<(String, usize)>,
}

/// Why [`ChannelSizes::add`] refused a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PrefixError {
    /// The prefix is empty.
    Empty,
    /// The prefix overlaps (is, or starts, or is the start of) this configured one.
    Overlaps(String),
}

impl std::fmt::Display for PrefixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrefixError::Empty => f.write_str("empty channel name prefix"),
            PrefixError::Overlaps(other) => write!(f, "overlaps the prefix {other:?}"),
        }
    }
}

impl std::error::Error for PrefixError {}

impl ChannelSizes {
    /// Every channel gets `default` bytes.
    pub fn new(default: usize) -> ChannelSizes {
        ChannelSizes {
            default,
            prefixes: Vec::new(),
        }
    }

    /// Channels whose names start with `prefix` get `size` bytes.
    pub fn add(&mut self, prefix: &str, size: usize) -> Result<(), PrefixError> {
        if prefix.is_empty() {
            return Err(PrefixError::Empty);
        }
        if let Some((other, _)) = self
            .prefixes
            .iter()
            .find(|(p, _)| p.starts_with(prefix) || prefix.starts_with(p.as_str()))
        {
            return Err(PrefixError::Overlaps(other.clone()));
        }
        self.prefixes.push((prefix.to_owned(), size));
        Ok(())
    }

    /// The ring capacity of channel `name`.
    pub fn size_of(&self, name: &[u8]) -> usize {
        self.prefixes
            .iter()
            .find(|(p, _)| name.starts_with(p.as_bytes()))
            .map_or(self.default, |&(_, size)| size)
    }

    /// The configured `(prefix, bytes)` overrides.
    pub fn prefixes(&self) -> impl Iterator<Item = (&str, usize)> {
        self.prefixes.iter().map(|(p, s)| (p.as_str(), *s))
    }
}

/// The queue node's configuration.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueueConfig {
    /// `[Server]`, `[Performance]`: what the event loop needs.
    pub server: ServerConfig,
    /// `[Server] data_dir`: the `.rq` dump files.
    pub data_dir: PathBuf,
    /// `[Server] channel_size_limit` and `[ChannelSizeById]`.
    pub channel_sizes: ChannelSizes,
    /// `[Server] size_limit`: bytes all rings may hold together (0 = no limit).
    pub size_limit: u64,
    /// The directory of `[LOG.Root] file`: root.log, and stats.log unless `[STATS] file_name`
    /// says otherwise.
    pub log_dir: PathBuf,
    /// `[PidLock] path`: an optional lock file.
    pub pid_lock: Option<PathBuf>,
}

/// Keys the node reads, and keys of the original it accepts without using them, besides
/// `ServerConfig::KNOWN_KEYS` (public so `cli/tests/etc_files.rs` can check that the example
/// config.ini documents every one).
pub const KNOWN_KEYS: &[(&str, &str)] = &[
    ("Server", "data_dir"),
    ("Server", "channel_size_limit"),
    ("Server", "size_limit"),
    ("Server", "cpu"),
    ("Server", "neoport"),
    ("Server", "unix_socket_path"),
    ("Performance", "no_delay"),
    ("Overflow", "write_index_ms"),
    (CHANNEL_SIZE_SECTION, "*"),
    ("PidLock", "path"),
];

/// A byte count of at least 1 that fits `usize`.
fn ring_size(v: &IniView<'_>, section: &str, key: &str, raw: &str) -> Result<usize, ConfigError> {
    let n: u64 = raw
        .parse()
        .map_err(|e: std::num::ParseIntError| v.invalid(section, key, raw, e.to_string()))?;
    if n == 0 {
        return Err(v.invalid(section, key, raw, "must be at least 1"));
    }
    usize::try_from(n).map_err(|_| v.invalid(section, key, raw, "too large for this machine"))
}

fn channel_sizes(ini: &Ini, v: &IniView<'_>) -> Result<ChannelSizes, ConfigError> {
    let raw = v.require_str("Server", "channel_size_limit")?;
    let mut sizes = ChannelSizes::new(ring_size(v, "Server", "channel_size_limit", raw)?);
    let Some(section) = ini.section(Some(CHANNEL_SIZE_SECTION)) else {
        return Ok(sizes);
    };
    for (prefix, raw) in section.iter() {
        let size = ring_size(v, CHANNEL_SIZE_SECTION, prefix, raw)?;
        if !prefix
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
        {
            return Err(v.invalid(
                CHANNEL_SIZE_SECTION,
                prefix,
                raw,
                "a channel name prefix holds only ASCII letters, digits, _ and -",
            ));
        }
        sizes
            .add(prefix, size)
            .map_err(|e| v.invalid(CHANNEL_SIZE_SECTION, prefix, raw, e.to_string()))?;
    }
    Ok(sizes)
}

impl QueueConfig {
    /// The keys and sections of `ini` (loaded from `file`) the node does not use.
    pub fn warnings(ini: &Ini, file: &str) -> Vec<ConfigWarning> {
        let mut known = ServerConfig::KNOWN_KEYS.to_vec();
        known.extend_from_slice(KNOWN_KEYS);
        config::unknown_key_warnings(ini, file, &known)
    }

    /// Reads a configuration; `file` names it in errors.
    pub fn from_ini(ini: &Ini, file: &str) -> Result<QueueConfig, ConfigError> {
        let v = IniView::new(ini, file);
        let mut server = ServerConfig::from_ini(ini, file)?;
        let channel_sizes = channel_sizes(ini, &v)?;
        let root_log = PathBuf::from(v.get("LOG.Root", "file").unwrap_or(DEFAULT_ROOT_LOG));
        let log_dir = root_log.parent().map(PathBuf::from).unwrap_or_default();
        if v.get("STATS", "file_name").is_none() {
            server.stats_file = Some(log_dir.join("stats.log"));
        }
        Ok(QueueConfig {
            server,
            data_dir: PathBuf::from(v.get("Server", "data_dir").unwrap_or(DEFAULT_DATA_DIR)),
            channel_sizes,
            size_limit: v.parse_or("Server", "size_limit", DEFAULT_SIZE_LIMIT)?,
            log_dir,
            pid_lock: v
                .get("PidLock", "path")
                .filter(|p| !p.is_empty())
                .map(PathBuf::from),
        })
    }

    /// Loads `path` (`None`: [`DEFAULT_CONFIG`]). The warnings come with the result, also when
    /// the config is refused: an unknown key is often the typo behind a missing one.
    pub fn load(path: Option<&Path>) -> (Result<QueueConfig, ConfigError>, Vec<ConfigWarning>) {
        config::load_node_config(
            path,
            DEFAULT_CONFIG,
            QueueConfig::from_ini,
            QueueConfig::warnings,
        )
    }
}

#[cfg(test)]
mod tests;
