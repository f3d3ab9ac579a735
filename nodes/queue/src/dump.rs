//! The queue node's files in `data_dir` (spec 5.4): the directory's creation and lock, the dump
//! of every non-empty ring at graceful shutdown (`write`) and the load at start, which deletes
//! the files it loaded (`load`). Between a start and the next graceful shutdown the records
//! live only in memory, as in the original memory-only node: a crash loses them, but never
//! brings back records that were popped after the start.
//!
//! | name in `data_dir` | what it is |
//! |---|---|
//! | `<ch>.rq` | channel `<ch>`'s records in pop order, written at graceful shutdown if the ring is not empty (format in `swarm_protocol::rq`); loaded, then deleted, at start |
//! | `@<ch>.rq` | the original's storage of channel `<ch>` for legacy Consume (Era C subscriber `""`): loaded as channel `<ch>` and deleted, unless `<ch>.rq` is there too (then warned and left in place) |
//! | `<sub>@<ch>.rq` | an Era C subscriber storage: subscribers are not supported; warned and left in place |
//! | `<ch>.rq.XXXXXX.dumping` | a dump being written; left over only by a crash or kill during a shutdown, never loaded, deleted at the next start |
//! | `<name>.rq.torn-<unix time>` | a `.rq` found torn or unusable at a start: its complete records were loaded; kept for the operator, never loaded again |
//! | `node.lock` | the lock that keeps a second node out ([`lock_data_dir`]) |
//! | `*.dat`, `*.csv` | the original's disk overflow (`overflow.dat`, `ofchannels.csv`): not read by this node (warned) |
//! | anything else | warned, ignored |

pub mod load;
pub mod write;

pub use load::{load_data_dir, LoadReport};
pub use write::{dump_all, withdraw};

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Suffix of a channel's dump file.
pub const RQ_SUFFIX: &str = ".rq";
/// Suffix of a dump being written (`<ch>.rq.XXXXXX.dumping`).
pub const DUMPING_SUFFIX: &str = ".dumping";
/// What follows `.rq` in the name of a file set aside at a start (`.torn-<unix time>`).
pub const TORN_SUFFIX: &str = ".torn-";

/// `<data_dir>/<channel>.rq`.
pub fn rq_path(data_dir: &Path, channel: &[u8]) -> PathBuf {
    data_dir.join(format!("{}{RQ_SUFFIX}", String::from_utf8_lossy(channel)))
}

pub use swarm_core::files::sync_dir;

/// `e` with `what` and `path` in front, keeping its kind.
fn naming<'a>(path: &'a Path, what: &'a str) -> impl FnOnce(io::Error) -> io::Error + 'a {
    move |e| io::Error::new(e.kind(), format!("{what} {}: {e}", path.display()))
}

/// Creates the data directory if missing; the error names the path.
pub fn prepare_data_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir).map_err(naming(dir, "cannot create data directory"))
}

/// Takes `[PidLock] path` and `<dir>/node.lock` (see `swarm_core::lock::lock_data_dir`). Call
/// it after [`prepare_data_dir`] and before [`load_data_dir`].
pub use swarm_core::lock::lock_data_dir;

#[cfg(test)]
mod tests;
