//! The periodic dump's writer: the worker (on a one-thread `swarm_core::work::Pool`, so jobs
//! run in order) that owns all file I/O of a dump cycle (create the temp file, write the chunks
//! the event loop serialized, fsync, rotate), so the loop never waits for the disk. Each job's
//! report goes back to the loop as an event; the loop then serializes the next chunk (see
//! `periodic`).

use super::file::{DumpError, DumpFile, Written};
use std::path::PathBuf;

/// What the loop asks the writer to do, in order.
#[derive(Debug)]
pub(super) enum Job {
    /// Start a channel's file (`since`: the retire generation when the channel was seen).
    Begin { channel: Box<[u8]>, since: u64 },
    /// Append records serialized with `tcm::encode_record`.
    Chunk { bytes: Vec<u8>, records: u64 },
    /// Finish, fsync and rotate the channel's file.
    Finish,
    /// Discard the channel's file (the channel was removed, or the cycle is cut).
    Abort,
}

/// How a channel's dump ended.
#[derive(Debug)]
pub enum Outcome {
    /// Committed.
    Written(Written),
    /// Not committed; the old files are untouched.
    Failed(DumpError),
    /// Aborted by the loop.
    Discarded,
}

/// What the writer tells the loop.
#[derive(Debug)]
pub enum Report {
    /// A channel's file was started.
    Begun,
    /// A chunk was written; its buffer comes back for reuse.
    Buffer(Vec<u8>),
    /// A channel is done.
    Done {
        /// The channel.
        channel: Box<[u8]>,
        /// What happened to its file.
        outcome: Outcome,
    },
}

/// The writer's state: where it works, and the channel file it is writing.
pub(super) struct Writer {
    data_dir: PathBuf,
    current: Option<Current>,
}

/// The channel being written: its file, or the error that stopped it (later chunks are
/// dropped until Finish or Abort reports it).
struct Current {
    channel: Box<[u8]>,
    file: Result<DumpFile, std::io::Error>,
}

impl Writer {
    pub(super) fn new(data_dir: PathBuf) -> Self {
        Writer {
            data_dir,
            current: None,
        }
    }

    /// Carries out one job. When the pool stops, the writer is dropped, and with it an open
    /// file (its temp file is deleted).
    pub(super) fn work(&mut self, job: Job) -> Option<Report> {
        match job {
            Job::Begin { channel, since } => {
                let file = DumpFile::create(&self.data_dir, &channel, since);
                self.current = Some(Current { channel, file });
                Some(Report::Begun)
            }
            Job::Chunk { bytes, records } => {
                if let Some(c) = self.current.as_mut() {
                    let failed = match &mut c.file {
                        Ok(f) => f.write_encoded(&bytes, records).err(),
                        Err(_) => None,
                    };
                    if let Some(e) = failed {
                        c.file = Err(e); // drops the DumpFile: its temp file goes
                    }
                }
                Some(Report::Buffer(bytes))
            }
            Job::Finish => {
                let c = self.current.take()?;
                let outcome = match c.file {
                    Ok(f) => match f.commit() {
                        Ok(w) => Outcome::Written(w),
                        Err(e) => Outcome::Failed(e),
                    },
                    Err(e) => Outcome::Failed(DumpError::Io(e)),
                };
                Some(Report::Done {
                    channel: c.channel,
                    outcome,
                })
            }
            Job::Abort => {
                let c = self.current.take()?;
                Some(Report::Done {
                    channel: c.channel,
                    outcome: Outcome::Discarded,
                })
            }
        }
    }
}
