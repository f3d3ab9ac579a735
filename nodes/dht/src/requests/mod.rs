//! One file per legacy dht request: how it is validated, handled and answered. Every handler
//! follows the original's order: all fields were read (decoding), then the channel name is
//! checked, then the key's range, then the request-specific checks, then it executes.
//!
//! Handlers are free functions that take exactly what they touch (the storage, the stats, the
//! `ChannelCheck`, the output, and for some the Listen registry, the loop's context or the
//! session), so `service` calls into this module and nothing here reaches back into it. The
//! hot ones (Get, Exists, Put, Remove) are `#[inline]`, so they are inlined into
//! `DhtService::handle` whichever of the release build's 4 codegen units they land in.

pub mod get;
pub mod get_all;
pub mod info;
pub mod listen;
pub mod put;
pub mod put_batch;
pub mod redistribute;
pub mod remove;
pub mod remove_channel;

#[cfg(test)]
pub(crate) mod testing;

use swarm_protocol::channel::is_valid_channel_name;
use swarm_protocol::wire::put_i32;
use swarm_protocol::{parse_key, Status};

/// Appends a status code.
pub(crate) fn status(out: &mut Vec<u8>, s: Status) {
    put_i32(out, s.code());
}

/// The channel check of every channel request, remembering the last name found valid, as
/// requests come in runs on one channel (then the check is one comparison).
#[derive(Debug, Default)]
pub(crate) struct ChannelCheck {
    /// The last channel name found valid; empty at first.
    valid: Vec<u8>,
}

impl ChannelCheck {
    /// `false` (and BadChannelName written) if `channel` is invalid.
    pub(crate) fn ok(&mut self, channel: &[u8], out: &mut Vec<u8>) -> bool {
        // The cache starts empty and the empty name is invalid: never let them match.
        if !channel.is_empty() && *self.valid == *channel {
            return true;
        }
        let ok = is_valid_channel_name(channel);
        if ok {
            self.valid.clear();
            self.valid.extend_from_slice(channel);
        } else {
            status(out, Status::BadChannelName);
        }
        ok
    }

    /// The common start of the single-record requests: the channel check (`Ok(None)`, with
    /// BadChannelName written), then the key (malformed: `Err`, the connection closes).
    pub(crate) fn and_key(
        &mut self,
        channel: &[u8],
        hex: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Option<u64>, String> {
        if !self.ok(channel, out) {
            return Ok(None);
        }
        key(hex).map(Some)
    }
}

/// Parses a wire key; a malformed key closes the connection, as in the original.
pub(crate) fn key(hex: &[u8]) -> Result<u64, String> {
    parse_key(hex).map_err(|e| format!("{e}: {:?}", String::from_utf8_lossy(hex)))
}
