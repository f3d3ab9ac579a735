//! One file per group of legacy logfiles requests: how each is validated, handled and
//! answered, in the original's order (spec/logfiles.md section 2, `dlsproto/node/request/*.d`
//! and `dlsnode/request/*.d`): every field was read (decoding), then the channel name (409),
//! then the request's own checks, then it executes.
//!
//! | file | requests |
//! |---|---|
//! | `put` | Put 3, PutBatch 36, and what writes share: bucket opens on workers, group commit, checkpoints |
//! | `scan` | GetRange 28, GetAll 29, GetAllFilter 31, GetRangeFilter 32, GetRangeRegex 34: the cursor a scan worker runs |
//! | `info` | GetChannels 17, GetChannelSize 18, GetSize 19, GetNumConnections 23, GetVersion 24 |
//!
//! RemoveChannel 22 and the dispatch live in `crate::service`; Redistribute 35 in
//! `crate::redistribute`.

pub mod info;
pub mod put;
pub mod scan;

use swarm_protocol::Status;

/// Appends a status code.
pub(crate) fn status(out: &mut Vec<u8>, s: Status) {
    s.put(out);
}

/// Whether `channel` is a valid channel name; if not, BadChannelName (409) is written.
pub(crate) use swarm_protocol::channel::check_name as channel_ok;
