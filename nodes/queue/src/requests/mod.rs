//! One file per group of legacy queue requests: how each is validated, handled and answered, in
//! the original's order (spec/queue.md section 2, Era A `queuenode/request/*Request.d`): every
//! field was read (decoding), then the checks in the order the original made them, then it
//! executes.
//!
//! Handlers are free functions that take exactly what they touch (the store, the stats, the
//! consumers, the output, the loop's context), so `service` calls into this module and nothing
//! here reaches back into it.
//!
//! | file | requests |
//! |---|---|
//! | `push` | Push 1, PushMulti 9, PushMulti2 13 |
//! | `pop` | Pop 2 |
//! | `info` | GetChannels 3, GetChannelSize 4, GetSize 5, GetSizeLimit 7, GetNumConnections 8 |
//! | `consume` | Consume 6, and the registry of consumers the pushes wake |
//! | `produce` | Produce 10, ProduceMulti 11 and the records of their streams |
//! | `remove_channel` | RemoveChannel 12 |

pub mod consume;
pub mod info;
pub mod pop;
pub mod produce;
pub mod push;
pub mod remove_channel;

use crate::storage::PushError;
use swarm_protocol::Status;

/// Appends a status code.
pub(crate) fn status(out: &mut Vec<u8>, s: Status) {
    s.put(out);
}

/// Whether `channel` is a valid channel name; if not, BadChannelName (409) is written.
pub(crate) use swarm_protocol::channel::check_name as channel_ok;

/// The status the original answered for a refused push.
pub(crate) fn refused(e: PushError) -> Status {
    match e {
        PushError::BadChannelName => Status::BadChannelName,
        PushError::NoMemory => Status::Error,
        _ => Status::OutOfMemory,
    }
}
