//! dhtdump's `config.ini`: the original's sections and keys (`[Dht]`, `[Dump]`, `[LOG.Root]`,
//! `[STATS]`), one typed struct, defaults as named consts, every error naming the file, section
//! and key. Keys dhtdump does not know are reported by [`warnings`] (printed and logged, not
//! refused).

use ini::Ini;
use std::path::PathBuf;
use std::time::Duration;
use swarm_core::config::{self, ConfigWarning, IniView};
use swarm_core::metrics::HttpConfig;
use swarm_core::ConfigError;

/// `[Dump] data_dir` default.
pub const DEFAULT_DATA_DIR: &str = "data";
/// `[Dump] period_s` default: 4 hours (the original's code default).
pub const DEFAULT_PERIOD_S: u64 = 4 * 60 * 60;
/// `[Dump] min_wait_s` default.
pub const DEFAULT_MIN_WAIT_S: u64 = 60;
/// `[Dump] retry_wait_s` default.
pub const DEFAULT_RETRY_WAIT_S: u64 = 30;
/// `[LOG.Root] file` default; its directory receives `root.log`.
pub const DEFAULT_ROOT_LOG: &str = "log/root.log";
/// `[STATS] file_name` default.
pub const DEFAULT_STATS_FILE: &str = "log/stats.log";

/// Keys dhtdump reads (`LOG*` and `STATS` sections are never warned about); public so
/// `cli/tests/etc_files.rs` can check that the example config.ini documents every one.
pub const KNOWN_KEYS: &[(&str, &str)] = &[
    ("Dht", "address"),
    ("Dht", "port"),
    ("Dump", "data_dir"),
    ("Dump", "period_s"),
    ("Dump", "min_wait_s"),
    ("Dump", "retry_wait_s"),
    ("Dump", "disable_direct_io"),
];

/// dhtdump's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpConfig {
    /// `[Dht] address`: host name or IP address of the node to dump.
    pub address: String,
    /// `[Dht] port`: its legacy protocol port.
    pub port: u16,
    /// `[Dump] data_dir`: where the `.tcm` files go; must exist.
    pub data_dir: PathBuf,
    /// `[Dump] period_s`: time from the start of one cycle to the start of the next (at least 1).
    pub period: Duration,
    /// `[Dump] min_wait_s`: shortest wait after a successful cycle.
    pub min_wait: Duration,
    /// `[Dump] retry_wait_s`: wait after a failed cycle.
    pub retry_wait: Duration,
    /// `[Dump] disable_direct_io`: write the files through the page cache instead of with
    /// `O_DIRECT` (as the original); either way they are fsynced before they are renamed into
    /// place.
    pub disable_direct_io: bool,
    /// The directory of `[LOG.Root] file`; it receives `root.log`.
    pub log_dir: PathBuf,
    /// `[STATS] file_name` (the original also read `[Stats]`).
    pub stats_file: PathBuf,
    /// `[Stats]`/`[STATS] http_port` and `http_address` (default: `[Dht] address`, the
    /// machine dhtdump runs on beside its node): where `/metrics` and `/health` are served;
    /// `None` serves nothing.
    pub metrics: Option<HttpConfig>,
}

impl DumpConfig {
    /// Reads and validates `path`.
    pub fn load(path: &std::path::Path) -> Result<(DumpConfig, Ini), ConfigError> {
        let ini = config::load_ini(path)?;
        let config = DumpConfig::from_ini(&ini, &path.display().to_string())?;
        Ok((config, ini))
    }

    /// Reads a parsed configuration; `file` names it in errors.
    pub fn from_ini(ini: &Ini, file: &str) -> Result<DumpConfig, ConfigError> {
        let v = IniView::new(ini, file);
        let seconds = |key: &str, min: u64, default: u64| {
            v.at_least("Dump", key, min, default)
                .map(Duration::from_secs)
        };
        let root_log = PathBuf::from(v.get("LOG.Root", "file").unwrap_or(DEFAULT_ROOT_LOG));
        let stats_file = v
            .get("STATS", "file_name")
            .or_else(|| v.get("Stats", "file_name"))
            .unwrap_or(DEFAULT_STATS_FILE);
        let address = v.require_str("Dht", "address")?;
        Ok(DumpConfig {
            address: address.to_owned(),
            port: v.require("Dht", "port")?,
            data_dir: PathBuf::from(v.get("Dump", "data_dir").unwrap_or(DEFAULT_DATA_DIR)),
            period: seconds("period_s", 1, DEFAULT_PERIOD_S)?,
            min_wait: seconds("min_wait_s", 0, DEFAULT_MIN_WAIT_S)?,
            retry_wait: seconds("retry_wait_s", 0, DEFAULT_RETRY_WAIT_S)?,
            disable_direct_io: v.bool_or("Dump", "disable_direct_io", false)?,
            log_dir: root_log.parent().map(PathBuf::from).unwrap_or_default(),
            stats_file: PathBuf::from(stats_file),
            metrics: HttpConfig::from_ini(ini, file, address)?,
        })
    }

    /// Checks what can only be checked on the machine: `data_dir` must be an existing
    /// directory (dhtdump never creates it, so a typo cannot scatter dumps around) that dhtdump
    /// can write in (a probe file is made and deleted), so a read-only one fails the start
    /// instead of every cycle.
    pub fn check_data_dir(&self, file: &str) -> Result<(), ConfigError> {
        let reason = if self.data_dir.is_dir() {
            match probe(&self.data_dir) {
                Ok(()) => return Ok(()),
                Err(e) => format!("cannot write in it: {e}"),
            }
        } else if self.data_dir.exists() {
            "not a directory".to_owned()
        } else {
            "the directory does not exist (dhtdump does not create it)".to_owned()
        };
        let shown = self.data_dir.display().to_string();
        Err(ConfigError::Invalid {
            file: file.to_owned(),
            section: "Dump".to_owned(),
            key: "data_dir".to_owned(),
            value: shown,
            reason,
        })
    }
}

/// Creates and deletes `<dir>/.dhtdump-probe-<pid>`.
fn probe(dir: &std::path::Path) -> std::io::Result<()> {
    let path = dir.join(format!(".dhtdump-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)
}

/// `(section, key)` pairs of `ini` that dhtdump does not use.
pub fn unknown_keys(ini: &Ini) -> Vec<(String, String)> {
    config::unknown_keys(ini, KNOWN_KEYS)
}

/// The keys and sections of `ini` (loaded from `file`) that dhtdump does not use, as warnings
/// with the likely intended name.
pub fn warnings(ini: &Ini, file: &str) -> Vec<ConfigWarning> {
    config::unknown_key_warnings(ini, file, KNOWN_KEYS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use swarm_core::config::parse_ini;

    fn parse(text: &str) -> Result<DumpConfig, ConfigError> {
        DumpConfig::from_ini(&parse_ini(text).unwrap(), "test.ini")
    }

    #[test]
    fn defaults_are_the_originals() {
        let c = parse("[Dht]\naddress = 127.0.0.1\nport = 10000\n").unwrap();
        assert_eq!(c.address, "127.0.0.1");
        assert_eq!(c.port, 10000);
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert_eq!(c.period, Duration::from_secs(14_400));
        assert_eq!(c.min_wait, Duration::from_secs(60));
        assert_eq!(c.retry_wait, Duration::from_secs(30));
        assert!(!c.disable_direct_io);
        assert_eq!(c.log_dir, PathBuf::from("log"));
        assert_eq!(c.stats_file, PathBuf::from("log/stats.log"));
    }

    #[test]
    fn every_key_is_read() {
        let c = parse(
            "[Dht]\naddress = node1\nport = 1\n[Dump]\ndata_dir = /d\nperiod_s = 7\n\
             min_wait_s = 2\nretry_wait_s = 3\ndisable_direct_io = true\n\
             [LOG.Root]\nfile = /l/root.log\n[STATS]\nfile_name = /s/st.log\n",
        )
        .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert_eq!(c.period, Duration::from_secs(7));
        assert_eq!(c.min_wait, Duration::from_secs(2));
        assert_eq!(c.retry_wait, Duration::from_secs(3));
        assert!(c.disable_direct_io);
        assert_eq!(c.log_dir, PathBuf::from("/l"));
        assert_eq!(c.stats_file, PathBuf::from("/s/st.log"));
    }

    #[test]
    fn errors_name_the_file_section_and_key() {
        let e = parse("[Dht]\nport = 1\n").unwrap_err().to_string();
        assert_eq!(e, "test.ini: [Dht] address is required but missing");
        let e = parse("[Dht]\naddress = a\nport = 70000\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("test.ini: [Dht] port = '70000' is invalid"),
            "{e}"
        );
        let e = parse("[Dht]\naddress = a\nport = 1\n[Dump]\nperiod_s = 0\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("[Dump] period_s = '0' is invalid: must be at least 1"),
            "{e}"
        );
    }

    #[test]
    fn unknown_keys_are_listed_not_refused() {
        let ini = parse_ini(
            "[Dht]\naddress = a\nport = 1\nfoo = 2\n[Dump]\nperiod = 3\n[LOG.Root]\nlevel = info\n",
        )
        .unwrap();
        assert!(DumpConfig::from_ini(&ini, "x").is_ok());
        let unknown = unknown_keys(&ini);
        assert_eq!(
            unknown,
            [
                ("Dht".to_owned(), "foo".to_owned()),
                ("Dump".to_owned(), "period".to_owned())
            ]
        );
        let w: Vec<String> = warnings(&ini, "x").iter().map(|w| w.to_string()).collect();
        assert_eq!(
            w,
            [
                "x: unknown key [Dht] foo ignored",
                "x: unknown key [Dump] period ignored (did you mean period_s?)"
            ]
        );
    }

    #[test]
    fn the_example_config_reads_without_unknown_keys() {
        let ini = parse_ini(include_str!("../../etc/dhtdump/config.ini")).unwrap();
        let c = DumpConfig::from_ini(&ini, "etc/dhtdump/config.ini").unwrap();
        assert_eq!(c.data_dir, PathBuf::from("../data"));
        assert_eq!(c.period, Duration::from_secs(21_600));
        assert_eq!(unknown_keys(&ini), Vec::<(String, String)>::new());
    }

    #[test]
    fn a_missing_data_dir_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = parse("[Dht]\naddress = a\nport = 1\n").unwrap();
        c.data_dir = dir.path().join("nope");
        let e = c.check_data_dir("x.ini").unwrap_err().to_string();
        assert!(e.contains("[Dump] data_dir"), "{e}");
        assert!(e.contains("does not exist"), "{e}");
        c.data_dir = dir.path().to_path_buf();
        assert!(c.check_data_dir("x.ini").is_ok());
    }
}
