//! Config warnings: keys and sections of a `config.ini` that a node does not use. They are
//! accepted, never refused (DECISIONS, "All nodes"), but an operator must see every one: a typo
//! such as `size_limt` or `[Options_memory]` otherwise silently leaves a setting at its default.
//!
//! The warnings are data ([`ConfigWarning`]) rather than log calls, because a node reads its
//! config before its log exists (the config says where the log goes): the program prints them
//! on stderr when it cannot log, and logs them once logging is up ([`log_warnings`]).

use ini::Ini;
use std::fmt;

/// A part of a config file the node does not use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigWarning {
    /// `[section] key` is not a key of a section the node reads (`section` is empty for a key
    /// before any section header).
    UnknownKey {
        /// The file.
        file: String,
        /// The section.
        section: String,
        /// The key.
        key: String,
        /// A known key of the section it may be a typo of.
        hint: Option<String>,
    },
    /// `[section]` is not a section the node reads; none of its keys is used.
    UnknownSection {
        /// The file.
        file: String,
        /// The section.
        section: String,
        /// A known section it may be a typo of.
        hint: Option<String>,
    },
    /// Two settings the node reads disagree (the same key under two spellings of a section);
    /// the text says which one is used.
    Conflict {
        /// The file.
        file: String,
        /// What disagrees and what is used.
        text: String,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hint = match self {
            ConfigWarning::UnknownKey {
                file,
                section,
                key,
                hint,
            } => {
                if section.is_empty() {
                    write!(f, "{file}: unknown key {key} (before any section) ignored")?;
                } else {
                    write!(f, "{file}: unknown key [{section}] {key} ignored")?;
                }
                hint.as_ref().map(|h| h.to_string())
            }
            ConfigWarning::UnknownSection {
                file,
                section,
                hint,
            } => {
                write!(f, "{file}: unknown section [{section}] ignored")?;
                hint.as_ref().map(|h| format!("[{h}]"))
            }
            ConfigWarning::Conflict { file, text } => return write!(f, "{file}: {text}"),
        };
        match hint {
            Some(h) => write!(f, " (did you mean {h}?)"),
            None => Ok(()),
        }
    }
}

/// Sections the original's config files carry that logging and stats handle elsewhere (or that
/// we drop): never warned about. `[PidLock]` is not one: a node that takes it lists
/// `("PidLock", "path")` among its keys, and for one that does not, the warning is true.
fn ignored_section(name: &str) -> bool {
    name.starts_with("LOG") || name.eq_ignore_ascii_case("stats") || name == "VERSION"
}

/// `(section, key)` pairs present in `ini` but not in `known` (a key of `"*"` accepts every key of
/// its section). Ignored sections (`LOG*`, `STATS`, `VERSION`) are skipped; a section
/// with no keys and no known key is reported with an empty key.
pub fn unknown_keys(ini: &Ini, known: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut unknown = Vec::new();
    for (section, props) in ini.iter() {
        let name = section.unwrap_or("");
        if ignored_section(name) {
            continue;
        }
        let section_known = known.iter().any(|(s, _)| *s == name);
        if props.is_empty() && !section_known && section.is_some() {
            unknown.push((name.to_owned(), String::new()));
        }
        for (key, _) in props.iter() {
            if !known
                .iter()
                .any(|(s, k)| *s == name && (*k == key || *k == "*"))
            {
                unknown.push((name.to_owned(), key.to_owned()));
            }
        }
    }
    unknown
}

/// The warnings for `ini` (loaded from `file`) against the `(section, key)` pairs a node reads:
/// one per section none of whose keys is known (whatever keys it holds), one per unknown key of
/// a known section, each with the known name it is likely a typo of.
pub fn unknown_key_warnings(ini: &Ini, file: &str, known: &[(&str, &str)]) -> Vec<ConfigWarning> {
    let sections: Vec<&str> = known.iter().map(|(s, _)| *s).collect();
    let mut warnings = Vec::new();
    let mut reported: Vec<String> = Vec::new();
    for (section, key) in unknown_keys(ini, known) {
        let known_section = sections.contains(&section.as_str()) || section.is_empty();
        if known_section {
            let keys = known.iter().filter(|(s, _)| *s == section).map(|(_, k)| *k);
            warnings.push(ConfigWarning::UnknownKey {
                file: file.to_owned(),
                hint: closest(&key, keys),
                section,
                key,
            });
        } else if !reported.contains(&section) {
            reported.push(section.clone());
            warnings.push(ConfigWarning::UnknownSection {
                file: file.to_owned(),
                hint: closest(&section, sections.iter().copied()),
                section,
            });
        }
    }
    warnings
}

/// Logs a warning for every key (and empty section) of `ini` not in `known`; returns how many.
pub fn warn_unknown_keys(ini: &Ini, file: &str, known: &[(&str, &str)]) -> usize {
    let warnings = unknown_key_warnings(ini, file, known);
    log_warnings(&warnings);
    warnings.len()
}

/// Logs every warning at `Warn` level, also when the log level filter is lower (`--log-level
/// error`): a config mistake must reach root.log whatever the operator chose to see.
pub fn log_warnings(warnings: &[ConfigWarning]) {
    if warnings.is_empty() {
        return;
    }
    let level = log::max_level();
    log::set_max_level(level.max(log::LevelFilter::Warn));
    for w in warnings {
        log::warn!("{w}");
    }
    log::set_max_level(level);
}

/// Prints every warning on stderr as `<program>: warning: ...` (before logging is set up, or
/// when it cannot be).
pub fn print_warnings(program: &str, warnings: &[ConfigWarning]) {
    for w in warnings {
        eprintln!("{program}: warning: {w}");
    }
}

/// The candidate `name` is most likely a typo of: equal ignoring case, or at most two edits
/// away (one for names of up to four letters, so short names do not match everything).
fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let limit = if name.len() <= 4 { 1 } else { 2 };
    candidates
        .filter(|c| *c != "*")
        .map(|c| {
            let d = if c.eq_ignore_ascii_case(name) {
                0
            } else if c.len().abs_diff(name.len()) > limit {
                // The distance is at least the length difference: skip the quadratic table
                // (a long unknown key against every known one made the check cost ~3 ms, fuzzing).
                usize::MAX
            } else {
                edit_distance(&name.to_ascii_lowercase(), &c.to_ascii_lowercase())
            };
            (d, c)
        })
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_owned())
}

/// Levenshtein distance over bytes (config names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_ini;

    const KNOWN: &[(&str, &str)] = &[
        ("Server", "address"),
        ("Server", "port"),
        ("Options_Memory", "size_limit"),
        ("Options_Memory", "batch_size"),
        ("Any", "*"),
    ];

    fn warnings(text: &str) -> Vec<String> {
        let ini = parse_ini(text).expect("parses");
        let w = unknown_key_warnings(&ini, "c.ini", KNOWN);
        w.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn typos_get_the_known_name() {
        assert_eq!(
            warnings("[Options_Memory]\nsize_limt = 1\n[Options_memory]\nsize_limit = 1\nbatch_size = 2\n"),
            [
                "c.ini: unknown key [Options_Memory] size_limt ignored (did you mean size_limit?)",
                "c.ini: unknown section [Options_memory] ignored (did you mean [Options_Memory]?)",
            ]
        );
        assert_eq!(
            warnings("[Server]\nPORT = 1\nprt = 2\nfoo = 3\n"),
            [
                "c.ini: unknown key [Server] PORT ignored (did you mean port?)",
                "c.ini: unknown key [Server] prt ignored (did you mean port?)",
                "c.ini: unknown key [Server] foo ignored",
            ]
        );
    }

    #[test]
    fn sections_known_ignored_empty_or_stray() {
        assert_eq!(
            warnings(
                "stray = 1\n[Any]\nx = 1\n[LOG.Root]\nfile = f\n[Mystery]\n[Other]\na = 1\nb = 2\n"
            ),
            [
                "c.ini: unknown key stray (before any section) ignored",
                "c.ini: unknown section [Mystery] ignored",
                "c.ini: unknown section [Other] ignored",
            ]
        );
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("size_limt", "size_limit"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(
            closest("pot", ["port", "address"].into_iter()),
            Some("port".into())
        );
        assert_eq!(closest("x", ["port"].into_iter()), None);
    }
}
