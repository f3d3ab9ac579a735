//! The metrics keys of `config.ini`: `http_port` and `http_address`, in `[Stats]` (the spelling
//! of issue 12) or `[STATS]` (where the original's `file_name` lives; our parser's section
//! names are case-sensitive). Either spelling means the same; a key set in both is refused
//! with both named, so an operator never wonders which one won.

use ini::Ini;

use crate::config::{ConfigError, IniView};

/// The two spellings of the section the keys may be in.
pub const SECTIONS: [&str; 2] = ["Stats", "STATS"];

/// Where `/metrics` and `/health` are served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `http_address`: an IP or host name (default: the program's own address).
    pub address: String,
    /// `http_port`: 0 picks a free port (the root.log line names it).
    pub port: u16,
    /// The key the port came from, for errors (`[STATS] http_port`).
    pub key: &'static str,
}

impl HttpConfig {
    /// Serving on `address:port`.
    pub fn new(address: impl Into<String>, port: u16) -> HttpConfig {
        HttpConfig {
            address: address.into(),
            port,
            key: "[Stats] http_port",
        }
    }

    /// Reads the keys; `None` when `http_port` is absent (no HTTP server). `default_address`
    /// is used when `http_address` is absent; `file` names the file in errors.
    pub fn from_ini(
        ini: &Ini,
        file: &str,
        default_address: &str,
    ) -> Result<Option<HttpConfig>, ConfigError> {
        let v = IniView::new(ini, file);
        let Some((section, port)) = one_of(&v, "http_port")? else {
            return Ok(None);
        };
        let port: u16 = v.require(section, "http_port").map_err(|_| {
            v.invalid(
                section,
                "http_port",
                port,
                "expected a port number (0-65535)",
            )
        })?;
        let address = match one_of(&v, "http_address")? {
            Some((_, a)) if !a.is_empty() => a.to_owned(),
            _ => default_address.to_owned(),
        };
        let key = if section == SECTIONS[0] {
            "[Stats] http_port"
        } else {
            "[STATS] http_port"
        };
        Ok(Some(HttpConfig { address, port, key }))
    }
}

/// The section and value of `key`, from whichever spelling of the section has it; both is an
/// error naming both.
fn one_of<'a>(v: &IniView<'a>, key: &str) -> Result<Option<(&'static str, &'a str)>, ConfigError> {
    match (v.get(SECTIONS[0], key), v.get(SECTIONS[1], key)) {
        (Some(a), Some(b)) => Err(v.invalid(
            SECTIONS[0],
            key,
            a,
            format!(
                "[{}] {key} = '{b}' is set too; set only one of [{}] {key} and [{}] {key}",
                SECTIONS[1], SECTIONS[0], SECTIONS[1]
            ),
        )),
        (Some(a), None) => Ok(Some((SECTIONS[0], a))),
        (None, Some(b)) => Ok(Some((SECTIONS[1], b))),
        (None, None) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_ini;

    fn read(text: &str) -> Result<Option<HttpConfig>, String> {
        let ini = parse_ini(text).map_err(|e| e.to_string())?;
        HttpConfig::from_ini(&ini, "c.ini", "10.0.0.1").map_err(|e| e.to_string())
    }

    #[test]
    fn absent_is_off_either_spelling_works() {
        assert_eq!(read("[Stats]\nfile_name = x\n"), Ok(None));
        assert_eq!(
            read("[Stats]\nhttp_port = 9100\n"),
            Ok(Some(HttpConfig::new("10.0.0.1", 9100)))
        );
        assert_eq!(
            read("[STATS]\nhttp_port = 0\nhttp_address = 127.0.0.1\n"),
            Ok(Some(HttpConfig {
                key: "[STATS] http_port",
                ..HttpConfig::new("127.0.0.1", 0)
            }))
        );
        assert_eq!(
            read("[STATS]\nhttp_port = 1\n[Stats]\nhttp_address = ::1\n"),
            Ok(Some(HttpConfig {
                key: "[STATS] http_port",
                ..HttpConfig::new("::1", 1)
            }))
        );
    }

    #[test]
    fn both_spellings_or_a_bad_port_are_refused() {
        let both = read("[Stats]\nhttp_port = 1\n[STATS]\nhttp_port = 2\n").unwrap_err();
        assert!(
            both.contains("[Stats] http_port") && both.contains("[STATS] http_port"),
            "{both}"
        );
        let bad = read("[STATS]\nhttp_port = 70000\n").unwrap_err();
        assert!(bad.contains("[STATS] http_port = '70000'"), "{bad}");
    }
}
