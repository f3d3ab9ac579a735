//! `config.ini` basics shared by the nodes: loading, typed getters whose errors name the file,
//! section and key, and `[Server]`/`[Performance]`. The warnings about keys a node does not use
//! are in `warnings`, re-exported here.
//!
//! The original's section and key names are kept so existing config files keep working. Keys we
//! do not use are accepted with a warning rather than refused (DECISIONS, "All nodes").

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use ini::{Ini, ParseOption};

use crate::metrics::HttpConfig;

mod warnings;
pub use warnings::{
    log_warnings, print_warnings, unknown_key_warnings, unknown_keys, warn_unknown_keys,
    ConfigWarning,
};

/// Why a configuration could not be loaded.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Io {
        /// The file.
        file: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The file is not valid INI.
    Parse {
        /// The file.
        file: String,
        /// 1-based line of the error.
        line: usize,
        /// Column of the error.
        col: usize,
        /// What is wrong.
        msg: String,
    },
    /// A required key is absent (or empty).
    Missing {
        /// The file.
        file: String,
        /// The section.
        section: String,
        /// The key.
        key: String,
    },
    /// A key's value cannot be used.
    Invalid {
        /// The file.
        file: String,
        /// The section.
        section: String,
        /// The key.
        key: String,
        /// The value as written.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Io { file, source } => write!(f, "{file}: {source}"),
            ConfigError::Parse {
                file,
                line,
                col,
                msg,
            } => write!(f, "{file}:{line}:{col}: {msg}"),
            ConfigError::Missing { file, section, key } => {
                write!(f, "{file}: [{section}] {key} is required but missing")
            }
            ConfigError::Invalid {
                file,
                section,
                key,
                value,
                reason,
            } => {
                write!(
                    f,
                    "{file}: [{section}] {key} = '{value}' is invalid: {reason}"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Backslashes are literal (the original's parser has no escapes; paths may contain them).
fn parse_option() -> ParseOption {
    ParseOption {
        enabled_escape: false,
        ..ParseOption::default()
    }
}

/// Reads and parses an INI file.
pub fn load_ini(path: &Path) -> Result<Ini, ConfigError> {
    let file = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| ConfigError::Io {
        file: file.clone(),
        source,
    })?;
    parse_named(&text, file)
}

/// Parses INI text (errors name the file as `<string>`).
pub fn parse_ini(text: &str) -> Result<Ini, ConfigError> {
    parse_named(text, "<string>".to_owned())
}

/// How a node's embedded default configuration is named in messages.
pub const EMBEDDED_CONFIG_NAME: &str = "<embedded default config>";

/// A node's configuration: `path` read, or without it the node's `embedded` default text; the
/// config from `read` and the warnings from `warnings`, both given the INI and the name to use
/// in messages. The warnings come with the result also when the config is refused: an unknown
/// key is often the typo behind a missing one.
pub fn load_node_config<C>(
    path: Option<&Path>,
    embedded: &str,
    read: impl FnOnce(&Ini, &str) -> Result<C, ConfigError>,
    warnings: impl FnOnce(&Ini, &str) -> Vec<ConfigWarning>,
) -> (Result<C, ConfigError>, Vec<ConfigWarning>) {
    let (ini, file) = match path {
        Some(p) => (load_ini(p), p.display().to_string()),
        None => (parse_ini(embedded), EMBEDDED_CONFIG_NAME.to_owned()),
    };
    match ini {
        Ok(ini) => (read(&ini, &file), warnings(&ini, &file)),
        Err(e) => (Err(e), Vec::new()),
    }
}

fn parse_named(text: &str, file: String) -> Result<Ini, ConfigError> {
    Ini::load_from_str_opt(text, parse_option()).map_err(|e| ConfigError::Parse {
        file,
        line: e.line,
        col: e.col,
        msg: e.msg.into_owned(),
    })
}

/// Typed access to a parsed INI file; every error names the file, section and key.
#[derive(Debug, Clone, Copy)]
pub struct IniView<'a> {
    ini: &'a Ini,
    file: &'a str,
}

impl<'a> IniView<'a> {
    /// Wraps `ini`, loaded from `file` (used in error messages).
    pub fn new(ini: &'a Ini, file: &'a str) -> Self {
        IniView { ini, file }
    }

    /// The raw value of `[section] key`, if present.
    pub fn get(&self, section: &str, key: &str) -> Option<&'a str> {
        self.ini.section(Some(section))?.get(key)
    }

    /// The raw value of `[section] key`; absent or empty is an error.
    pub fn require_str(&self, section: &str, key: &str) -> Result<&'a str, ConfigError> {
        match self.get(section, key) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(ConfigError::Missing {
                file: self.file.to_owned(),
                section: section.to_owned(),
                key: key.to_owned(),
            }),
        }
    }

    /// `[section] key` parsed as `T`, or `None` if absent.
    pub fn parse<T>(&self, section: &str, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        match self.get(section, key) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|e: T::Err| self.invalid(section, key, v, e.to_string())),
        }
    }

    /// `[section] key` parsed as `T`, or `default` if absent.
    pub fn parse_or<T>(&self, section: &str, key: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        Ok(self.parse(section, key)?.unwrap_or(default))
    }

    /// `[section] key` parsed as `T`; absent is an error.
    pub fn require<T>(&self, section: &str, key: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: fmt::Display,
    {
        let v = self.require_str(section, key)?;
        v.parse()
            .map_err(|e: T::Err| self.invalid(section, key, v, e.to_string()))
    }

    /// `[section] key` as a boolean (`true/false`, `yes/no`, `on/off`, `1/0`, any case), or
    /// `default` if absent.
    pub fn bool_or(&self, section: &str, key: &str, default: bool) -> Result<bool, ConfigError> {
        let Some(v) = self.get(section, key) else {
            return Ok(default);
        };
        match v.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            _ => Err(self.invalid(section, key, v, "expected true or false")),
        }
    }

    /// An [`ConfigError::Invalid`] for `[section] key = value`, for checks beyond parsing.
    pub fn invalid(
        &self,
        section: &str,
        key: &str,
        value: &str,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_owned(),
            section: section.to_owned(),
            key: key.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// `[section] key` parsed as an integer of at least `min`, or `default` if absent.
    pub fn at_least<T>(
        &self,
        section: &str,
        key: &str,
        min: T,
        default: T,
    ) -> Result<T, ConfigError>
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
        T::Err: fmt::Display,
    {
        let v = self.parse_or(section, key, default)?;
        if v < min {
            return Err(self.invalid(
                section,
                key,
                &v.to_string(),
                format!("must be at least {min}"),
            ));
        }
        Ok(v)
    }
}

/// `[Server] connection_limit` default (the original's).
pub const DEFAULT_CONNECTION_LIMIT: usize = 5000;
/// `[Server] backlog` default (the original's).
pub const DEFAULT_BACKLOG: i32 = 2048;
/// `[Performance] write_flush_ms` default (the original's Listen flush period).
pub const DEFAULT_WRITE_FLUSH_MS: u64 = 250;
/// `[Performance] write_timeout_ms` default: a client that reads nothing for this long is closed.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// `[Server] input_buffer_limit` default (ours): bytes all connections' partially received
/// requests may hold beyond a small buffer each.
pub const DEFAULT_INPUT_BUFFER_LIMIT: usize = 256 * 1024 * 1024;
/// `[Server] request_timeout_ms` default (ours): a request that started arriving must be whole
/// within this time.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// `[Server] receive_buffer` default (ours): the socket receive buffer of client connections.
pub const DEFAULT_RECEIVE_BUFFER: usize = 256 * 1024;
/// Smallest `[Server] receive_buffer` other than 0.
pub const MIN_RECEIVE_BUFFER: usize = 4096;
/// Period of stats.log lines (fixed in the original).
pub const DEFAULT_STATS_INTERVAL: Duration = Duration::from_secs(30);
/// `[STATS] file_name` default.
pub const DEFAULT_STATS_FILE: &str = "log/stats.log";

/// Environment variable that shortens the stats.log period of a node binary (milliseconds),
/// for tests that compare a stats line with `/metrics`; not an operator setting.
pub const STATS_INTERVAL_ENV: &str = "SWARM_STATS_INTERVAL_MS";

/// The stats period [`STATS_INTERVAL_ENV`] asks for, if it is set to a positive number.
pub fn stats_interval_override() -> Option<Duration> {
    let ms: u64 = std::env::var(STATS_INTERVAL_ENV).ok()?.parse().ok()?;
    (ms > 0).then(|| Duration::from_millis(ms))
}

/// What the shared loop needs from `config.ini`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `[Server] address`: address to listen on (an IP or host name).
    pub address: String,
    /// `[Server] port`: 0 picks a free port (tests).
    pub port: u16,
    /// `[Server] connection_limit`: more connections are accepted and closed at once.
    pub connection_limit: usize,
    /// `[Server] backlog`: the listen queue length.
    pub backlog: i32,
    /// `[Performance] write_flush_ms`: period of [`crate::Service::tick`].
    pub write_flush_ms: u64,
    /// `[Performance] write_timeout_ms`: a connection whose pending output makes no progress
    /// for this long is closed.
    pub write_timeout: Duration,
    /// `[Server] input_buffer_limit` (ours): bytes of partially received requests all
    /// connections together may hold beyond 64 KiB each; past it, connections that need more
    /// wait unread until it frees.
    pub input_buffer_limit: usize,
    /// `[Server] request_timeout_ms` (ours): a connection whose request started arriving but
    /// is not whole after this long is closed.
    pub request_timeout: Duration,
    /// `[Server] idle_timeout_s` (ours, 0 = off): a connection with no request in progress and
    /// no traffic for this long is closed.
    pub idle_timeout: Option<Duration>,
    /// `[Server] receive_buffer` (ours, bytes; 0 = the kernel's autotuning): the socket
    /// receive buffer (`SO_RCVBUF`) of every client connection, set on the listening socket so
    /// that the window the connection opens with is sized for it. With autotuning a socket
    /// may buffer up to `net.ipv4.tcp_rmem`'s maximum (often 6 or 32 MiB), and a client
    /// sending a large request pushes a burst of that size through the kernel in the node's
    /// own `read` call each time the node makes room, which holds every other client for
    /// milliseconds.
    pub receive_buffer: usize,
    /// Period of stats.log lines (not in the INI; tests shorten it).
    pub stats_interval: Duration,
    /// `[STATS] file_name`: where stats lines go; `None` writes none.
    pub stats_file: Option<PathBuf>,
    /// Whether the loop handles SIGINT/SIGTERM/SIGQUIT (shutdown) and SIGHUP (reopen logs).
    pub handle_signals: bool,
    /// `[Stats]`/`[STATS] http_port` and `http_address`: where `/metrics` and `/health` are
    /// served; `None` (no `http_port`) serves nothing and measures nothing.
    pub metrics: Option<HttpConfig>,
}

impl ServerConfig {
    /// The keys [`ServerConfig::from_ini`] reads, for [`unknown_key_warnings`] (the
    /// `[STATS]`/`[Stats]` keys are not listed: that section is never warned about).
    pub const KNOWN_KEYS: &'static [(&'static str, &'static str)] = &[
        ("Server", "address"),
        ("Server", "port"),
        ("Server", "connection_limit"),
        ("Server", "backlog"),
        ("Server", "input_buffer_limit"),
        ("Server", "request_timeout_ms"),
        ("Server", "idle_timeout_s"),
        ("Server", "receive_buffer"),
        ("Performance", "write_flush_ms"),
        ("Performance", "write_timeout_ms"),
    ];

    /// Reads `[Server] address port connection_limit backlog input_buffer_limit
    /// request_timeout_ms idle_timeout_s receive_buffer`, `[Performance] write_flush_ms write_timeout_ms`,
    /// `[STATS] file_name` and `[Stats]`/`[STATS] http_port http_address`; `file_name` names
    /// the file in errors.
    pub fn from_ini(ini: &Ini, file_name: &str) -> Result<ServerConfig, ConfigError> {
        let v = IniView::new(ini, file_name);
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let timeout_default = millis(DEFAULT_WRITE_TIMEOUT);
        let idle_s: u64 = v.parse_or("Server", "idle_timeout_s", 0)?;
        let receive_buffer = v.parse_or("Server", "receive_buffer", DEFAULT_RECEIVE_BUFFER)?;
        if receive_buffer != 0 && receive_buffer < MIN_RECEIVE_BUFFER {
            return Err(v.invalid(
                "Server",
                "receive_buffer",
                &receive_buffer.to_string(),
                format!("must be 0 (the kernel's autotuning) or at least {MIN_RECEIVE_BUFFER}"),
            ));
        }
        let address = v.require_str("Server", "address")?;
        Ok(ServerConfig {
            address: address.to_owned(),
            port: v.require("Server", "port")?,
            connection_limit: v.at_least(
                "Server",
                "connection_limit",
                1,
                DEFAULT_CONNECTION_LIMIT,
            )?,
            backlog: v.at_least("Server", "backlog", 1, DEFAULT_BACKLOG)?,
            write_flush_ms: v.at_least(
                "Performance",
                "write_flush_ms",
                1,
                DEFAULT_WRITE_FLUSH_MS,
            )?,
            write_timeout: Duration::from_millis(v.at_least(
                "Performance",
                "write_timeout_ms",
                1,
                timeout_default,
            )?),
            input_buffer_limit: v.at_least(
                "Server",
                "input_buffer_limit",
                1024 * 1024,
                DEFAULT_INPUT_BUFFER_LIMIT,
            )?,
            request_timeout: Duration::from_millis(v.at_least(
                "Server",
                "request_timeout_ms",
                1,
                millis(DEFAULT_REQUEST_TIMEOUT),
            )?),
            idle_timeout: (idle_s > 0).then(|| Duration::from_secs(idle_s)),
            receive_buffer,
            stats_interval: stats_interval_override().unwrap_or(DEFAULT_STATS_INTERVAL),
            stats_file: Some(PathBuf::from(
                v.get("STATS", "file_name").unwrap_or(DEFAULT_STATS_FILE),
            )),
            handle_signals: true,
            metrics: HttpConfig::from_ini(ini, file_name, address)?,
        })
    }

    /// Defaults on 127.0.0.1:`port` for tests: no stats file, no signal handling (several
    /// servers in one test process must not fight over signals).
    pub fn local(port: u16) -> ServerConfig {
        ServerConfig {
            address: "127.0.0.1".to_owned(),
            port,
            connection_limit: DEFAULT_CONNECTION_LIMIT,
            backlog: DEFAULT_BACKLOG,
            write_flush_ms: DEFAULT_WRITE_FLUSH_MS,
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            input_buffer_limit: DEFAULT_INPUT_BUFFER_LIMIT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            idle_timeout: None,
            receive_buffer: DEFAULT_RECEIVE_BUFFER,
            stats_interval: DEFAULT_STATS_INTERVAL,
            stats_file: None,
            handle_signals: false,
            metrics: None,
        }
    }
}

#[cfg(test)]
mod tests;
