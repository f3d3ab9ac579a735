//! The periodic dump's writer thread: owns all file I/O of a dump cycle (create the temp file,
//! write the chunks the event loop serialized, fsync, rotate), so the loop never waits for the
//! disk. It reports back over a channel and wakes the loop through its `mio::Waker` after
//! every report; the loop then serializes the next chunk (see `periodic`).

use super::file::{DumpError, DumpFile, Written};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;

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
pub(super) enum Outcome {
    /// Committed.
    Written(Written),
    /// Not committed; the old files are untouched.
    Failed(DumpError),
    /// Aborted by the loop.
    Discarded,
}

/// What the writer tells the loop.
#[derive(Debug)]
pub(super) enum Report {
    /// A chunk was written; its buffer comes back for reuse.
    Buffer(Vec<u8>),
    /// A channel is done.
    Done {
        channel: Box<[u8]>,
        outcome: Outcome,
    },
}

/// Where the writer works and whom it tells.
pub(super) struct Writer {
    pub(super) data_dir: PathBuf,
    pub(super) jobs: Receiver<Job>,
    pub(super) reports: Sender<Report>,
    pub(super) waker: Arc<mio::Waker>,
}

/// The channel being written: its file, or the error that stopped it (later chunks are
/// dropped until Finish or Abort reports it).
struct Current {
    channel: Box<[u8]>,
    file: Result<DumpFile, std::io::Error>,
}

impl Writer {
    /// Runs until the loop drops its end of the job channel; an open file is then discarded.
    pub(super) fn run(self) {
        let mut current: Option<Current> = None;
        while let Ok(job) = self.jobs.recv() {
            match job {
                Job::Begin { channel, since } => {
                    let file = DumpFile::create(&self.data_dir, &channel, since);
                    current = Some(Current { channel, file });
                }
                Job::Chunk { bytes, records } => {
                    if let Some(c) = current.as_mut() {
                        let failed = match &mut c.file {
                            Ok(f) => f.write_encoded(&bytes, records).err(),
                            Err(_) => None,
                        };
                        if let Some(e) = failed {
                            c.file = Err(e); // drops the DumpFile: its temp file goes
                        }
                    }
                    self.report(Report::Buffer(bytes));
                }
                Job::Finish => {
                    if let Some(c) = current.take() {
                        let outcome = match c.file {
                            Ok(f) => match f.commit() {
                                Ok(w) => Outcome::Written(w),
                                Err(e) => Outcome::Failed(e),
                            },
                            Err(e) => Outcome::Failed(DumpError::Io(e)),
                        };
                        self.done(c.channel, outcome);
                    }
                }
                Job::Abort => {
                    if let Some(c) = current.take() {
                        self.done(c.channel, Outcome::Discarded);
                    }
                }
            }
        }
    }

    fn done(&self, channel: Box<[u8]>, outcome: Outcome) {
        self.report(Report::Done { channel, outcome });
    }

    fn report(&self, r: Report) {
        // The loop may have gone (shutdown cut the cycle): nobody is left to tell.
        if self.reports.send(r).is_ok() {
            if let Err(e) = self.waker.wake() {
                log::warn!("dump writer: cannot wake the event loop: {e}");
            }
        }
    }
}
