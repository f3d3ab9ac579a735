//! The reads: every record of a channel, the records of an inclusive key range, and either one
//! filtered on the value ([`Filter`]). This file picks the request each call sends; every one
//! is read from all nodes at once by [`Records`].
//!
//! | call | filter | request |
//! |---|---|---|
//! | `get_all` | – | GetAll 29 |
//! | `get_range` | – | GetRange 28 |
//! | `get_all_filter` | substring | GetAllFilter 31 |
//! | `get_all_filter` | regex | GetRangeRegex 34 over `0..=u64::MAX` (the protocol has no regex GetAll) |
//! | `get_range_filter` | substring | GetRangeFilter 32 |
//! | `get_range_filter` | regex | GetRangeRegex 34, mode 1 (case-sensitive) or 2 (case-insensitive) |
//!
//! An empty substring matches every value and is sent as the unfiltered request, as the
//! original client does.

use super::records::Records;
use super::{check_channel, encode, LogfilesClient};
use crate::error::ClientError;
use swarm_protocol::format_key;
use swarm_protocol::logfiles::{FilterMode, LogfilesCommand, LogfilesRequest};

/// Which values a filtered read returns; the node applies it, so only matching records travel.
/// `#[non_exhaustive]`: a new kind of filter is not a breaking change.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filter {
    /// Values that contain these bytes (case-sensitive, anywhere in the value; never the key).
    Substring(Vec<u8>),
    /// Values in which the regular expression finds a match (unanchored). Our node runs a
    /// linear-time engine (no backreferences or look-around; the original ran PCRE); a pattern
    /// the node cannot compile makes it answer Error (500), which the read yields as an error
    /// naming the node.
    Regex {
        /// The pattern.
        pattern: String,
        /// Whether letters match either case (PCRE's `CASELESS`, GetRangeRegex mode 2).
        case_insensitive: bool,
    },
}

impl Filter {
    /// [`Filter::Substring`].
    pub fn substring(bytes: impl Into<Vec<u8>>) -> Filter {
        Filter::Substring(bytes.into())
    }

    /// A case-sensitive [`Filter::Regex`].
    pub fn regex(pattern: impl Into<String>) -> Filter {
        Filter::Regex {
            pattern: pattern.into(),
            case_insensitive: false,
        }
    }
}

impl LogfilesClient {
    /// Every record of `channel` on every node. A channel that does not exist has none.
    pub fn get_all(&self, channel: &str) -> Result<Records, ClientError> {
        check_channel(channel)?;
        let ch = channel.as_bytes();
        self.read(
            LogfilesCommand::GetAll,
            encode(&LogfilesRequest::GetAll { channel: ch }),
        )
    }

    /// The records of `channel` whose key is in `lo..=hi` (both inclusive; none when
    /// `lo > hi`), on every node.
    pub fn get_range(&self, channel: &str, lo: u64, hi: u64) -> Result<Records, ClientError> {
        check_channel(channel)?;
        let (lower, upper) = (format_key(lo), format_key(hi));
        let req = LogfilesRequest::GetRange {
            channel: channel.as_bytes(),
            lower: &lower,
            upper: &upper,
        };
        self.read(LogfilesCommand::GetRange, encode(&req))
    }

    /// Every record of `channel` whose value passes `filter`, on every node.
    pub fn get_all_filter(&self, channel: &str, filter: &Filter) -> Result<Records, ClientError> {
        match filter {
            Filter::Substring(s) if s.is_empty() => self.get_all(channel),
            Filter::Substring(s) => {
                check_channel(channel)?;
                let req = LogfilesRequest::GetAllFilter {
                    channel: channel.as_bytes(),
                    filter: s,
                };
                self.read(LogfilesCommand::GetAllFilter, encode(&req))
            }
            Filter::Regex { .. } => self.get_range_filter(channel, 0, u64::MAX, filter),
        }
    }

    /// The records of `channel` whose key is in `lo..=hi` and whose value passes `filter`, on
    /// every node.
    pub fn get_range_filter(
        &self,
        channel: &str,
        lo: u64,
        hi: u64,
        filter: &Filter,
    ) -> Result<Records, ClientError> {
        check_channel(channel)?;
        let (channel, lower, upper) = (channel.as_bytes(), &format_key(lo), &format_key(hi));
        let (cmd, req) = match filter {
            Filter::Substring(s) if s.is_empty() => (
                LogfilesCommand::GetRange,
                LogfilesRequest::GetRange {
                    channel,
                    lower,
                    upper,
                },
            ),
            Filter::Substring(s) => (
                LogfilesCommand::GetRangeFilter,
                LogfilesRequest::GetRangeFilter {
                    channel,
                    lower,
                    upper,
                    filter: s,
                },
            ),
            Filter::Regex {
                pattern,
                case_insensitive,
            } => (
                LogfilesCommand::GetRangeRegex,
                LogfilesRequest::GetRangeRegex {
                    channel,
                    lower,
                    upper,
                    mode: if *case_insensitive {
                        FilterMode::PcreCaseInsensitive
                    } else {
                        FilterMode::Pcre
                    },
                    pattern: pattern.as_bytes(),
                },
            ),
        };
        self.read(cmd, encode(&req))
    }

    /// Starts `req` on every node.
    fn read(&self, cmd: LogfilesCommand, req: Vec<u8>) -> Result<Records, ClientError> {
        Records::start(&self.nodes, cmd, req)
    }
}
