//! Which records a filtered read returns (spec/logfiles.md section 2.1): GetAllFilter and
//! GetRangeFilter keep records whose value contains the filter (case-sensitive bytes, never the
//! key); GetRangeRegex's mode 0 is the same substring match, mode 1 a regular expression
//! searched anywhere in the value, mode 2 the same ignoring case.
//!
//! The original used PCRE with a match limit of 10,000 steps, so a pattern could still take
//! exponential time up to the limit and then end the stream early. Ours is the `regex` crate: it
//! runs in time linear in the value for every pattern, so no match limit exists and no stream is
//! cut; a pattern whose compiled program would exceed [`REGEX_SIZE_LIMIT`] is refused like a
//! pattern that does not compile (the request answers Error, 500, before any data). PCRE-only
//! syntax (backreferences, look-around) does not compile here either and is refused the same
//! way.

use memchr::memmem::Finder;
use regex::bytes::{Regex, RegexBuilder};
use std::fmt;
use swarm_protocol::logfiles::FilterMode;

/// Bytes a compiled pattern may take (the `regex` crate's size limit).
pub const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Why a pattern was refused: it does not compile (or is too large); the engine's message.
/// (A mode byte other than 0, 1, 2 never gets here: the request decoder refuses it.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatcherError(pub String);

impl fmt::Display for MatcherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid pattern: {}", self.0)
    }
}

impl std::error::Error for MatcherError {}

/// A compiled filter.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Every record (GetAll, GetRange).
    All,
    /// The value contains these bytes.
    Substring(Box<Finder<'static>>),
    /// The value matches this expression somewhere.
    Regex(Regex),
}

impl Matcher {
    /// GetAllFilter and GetRangeFilter: a substring. An empty filter matches every value (as
    /// a search for nothing finds it at once).
    pub fn substring(filter: &[u8]) -> Matcher {
        Matcher::Substring(Box::new(Finder::new(filter).into_owned()))
    }

    /// GetRangeRegex: its mode and pattern.
    pub fn regex(mode: FilterMode, pattern: &[u8]) -> Result<Matcher, MatcherError> {
        let caseless = match mode {
            FilterMode::StringMatch => return Ok(Matcher::substring(pattern)),
            FilterMode::Pcre => false,
            FilterMode::PcreCaseInsensitive => true,
        };
        let text = std::str::from_utf8(pattern)
            .map_err(|_| MatcherError("the pattern is not UTF-8".into()))?;
        RegexBuilder::new(text)
            .case_insensitive(caseless)
            // Values are bytes, not text: `.` and classes match any byte, as PCRE without UTF-8.
            .unicode(false)
            .size_limit(REGEX_SIZE_LIMIT)
            .dfa_size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(Matcher::Regex)
            .map_err(|e| MatcherError(e.to_string()))
    }

    /// Whether a record with this value is returned.
    #[inline]
    pub fn matches(&self, value: &[u8]) -> bool {
        match self {
            Matcher::All => true,
            Matcher::Substring(f) => f.find(value).is_some(),
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substring_is_case_sensitive_bytes() {
        let m = Matcher::substring(b"ell");
        assert!(m.matches(b"Hello"));
        assert!(!m.matches(b"HELLO"));
        assert!(!m.matches(b""));
        assert!(Matcher::substring(b"").matches(b"anything"));
        assert!(Matcher::substring(b"\xff\x00").matches(b"a\xff\x00b"));
        assert!(Matcher::All.matches(b""));
    }

    #[test]
    fn the_three_modes() {
        let m0 = Matcher::regex(FilterMode::StringMatch, b"a.c").unwrap();
        assert!(
            m0.matches(b"xa.cx") && !m0.matches(b"abc"),
            "mode 0 is a plain substring"
        );
        let m1 = Matcher::regex(FilterMode::Pcre, b"a.c").unwrap();
        assert!(m1.matches(b"xabcx") && !m1.matches(b"xABCx"));
        let m2 = Matcher::regex(FilterMode::PcreCaseInsensitive, b"a.c").unwrap();
        assert!(m2.matches(b"xABCx"));
        // Unanchored search; anchors work when asked for.
        let anchored = Matcher::regex(FilterMode::Pcre, b"^id=[0-9]+$").unwrap();
        assert!(anchored.matches(b"id=42") && !anchored.matches(b"xid=42"));
        // Any byte, not only UTF-8.
        assert!(Matcher::regex(FilterMode::Pcre, b"a.b")
            .unwrap()
            .matches(b"a\xffb"));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for p in [&b"("[..], b"a{99999}{99999}", b"(a)\\1", b"(?=a)", b"\xff"] {
            assert!(Matcher::regex(FilterMode::Pcre, p).is_err(), "{p:?}");
        }
        // Mode 0 compiles nothing: any bytes are a valid filter.
        assert!(Matcher::regex(FilterMode::StringMatch, b"(").is_ok());
    }

    #[test]
    fn a_pathological_pattern_runs_in_linear_time() {
        // (a*)*b against a long run of a's: exponential for a backtracking engine.
        let m = Matcher::regex(FilterMode::Pcre, b"(a*)*b").unwrap();
        let value = vec![b'a'; 100_000];
        assert!(!m.matches(&value));
    }
}
