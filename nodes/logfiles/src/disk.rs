//! The node's disk work off the event loop, on three `swarm_core::work::Pool`s:
//!
//! | pool | threads | jobs |
//! |---|---|---|
//! | `bucket-open` | 2 | opening a bucket for a Put (directories made, the header read), after putting back a failed Redistribute's `.tmp` into it |
//! | `sync` | 1, in order | group-commit windows, fsyncs of files and directories, `checkpoint.dat` |
//! | `scan` | `number_of_thread_workers` | range scans (one turn of a cursor each), deleting a removed channel's files |
//!
//! so a cold scan or a slow fsync never delays a Put to an open bucket (which touches no pool),
//! and a Put that needs its bucket opened waits only for the open. Results come back as
//! [`LogfilesEvent`]s through the loop's mailbox.

mod journal;

pub use journal::Journal;

use crate::checkpoint::{self, Entry};
use crate::redistribute::putback::{self, PutBack};
use crate::requests::scan::{ScanCursor, ScanOutput};
use crate::storage::named;
use crate::storage::write::{open_bucket, OpenedBucket, SyncItem};
use std::fs::{self, File};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use swarm_core::work::{Full, Pool};
use swarm_core::{ConnRef, Mailbox};

/// Jobs waiting for a worker, per pool, before a submit is refused (and kept by the service
/// to submit again).
const QUEUE: usize = 4096;

/// What the workers report to the event loop.
#[derive(Debug)]
pub enum LogfilesEvent {
    /// A bucket was opened for `channel` (or could not be: the message names the file).
    Opened {
        /// The channel.
        channel: String,
        /// The bucket's first key.
        first_key: u64,
        /// The open bucket.
        result: Result<OpenedBucket, String>,
        /// For a Redistribute's put-back: the `.tmp` and how it went back (before the open).
        put_back: Option<(PathBuf, Result<PutBack, String>)>,
    },
    /// To a connection whose write waited for its bucket: the reply, or why the connection is
    /// closed (a malformed record).
    Written(Result<swarm_protocol::Status, String>),
    /// Sync mode `group`: a write that waited for its bucket was stored; its reply waits for
    /// the fsync of the current generation.
    Deferred(swarm_protocol::Status),
    /// Sync mode `group`: the fsync of `generation` finished (`ok`: it succeeded): the
    /// deferred replies it covers go out.
    SyncDone {
        /// The generation it covered.
        generation: u64,
        /// Whether it succeeded (if not, the replies are Error).
        ok: bool,
    },
    /// The group-commit window is over: time to fsync.
    GroupDue,
    /// An fsync (and a checkpoint, if asked) finished.
    Synced {
        /// The generation of writes it covers.
        generation: u64,
        /// Whether it wrote `checkpoint.dat`.
        checkpoint: bool,
        /// The error, naming the file.
        result: Result<(), String>,
    },
    /// One turn of a range scan.
    Scanned(Box<ScanOutput>),
    /// What a Redistribute's thread asks of, or tells, the loop.
    Redist(crate::redistribute::RedistEvent),
    /// To the connection that asked for a Redistribute: its reply.
    Redistributed(swarm_protocol::Status),
    /// A removed channel's files were deleted.
    Removed {
        /// The renamed channel directory.
        dir: PathBuf,
        /// The error, naming the directory.
        result: Result<(), String>,
    },
}

/// An fsync to make.
#[derive(Debug)]
pub struct SyncJob {
    /// The data directory (whose file system one `syncfs` syncs, for many files).
    pub data_dir: PathBuf,
    /// The generation of writes it covers.
    pub generation: u64,
    /// Files with bytes not yet covered.
    pub items: Vec<SyncItem>,
    /// Directories whose entries changed.
    pub dirs: Vec<PathBuf>,
    /// With a checkpoint: the data directory, the entries, and when the checkpoint's flush
    /// happened (ms since the epoch, for the journal).
    pub checkpoint: Option<(PathBuf, Vec<Entry>, u64)>,
}

/// A job of the open pool.
#[derive(Debug)]
pub struct OpenJob {
    /// The channel.
    pub channel: String,
    /// The data directory.
    pub data_dir: PathBuf,
    /// The channel's directory.
    pub channel_dir: PathBuf,
    /// A key of the bucket.
    pub key: u64,
    /// For a bucket found damaged at start: the length of its good records, cut to first.
    pub cut_to: Option<u64>,
    /// A Redistribute's `.tmp` of this bucket, put back into it first.
    pub put_back: Option<PathBuf>,
}

/// A job of the sync pool.
#[derive(Debug)]
pub enum SyncPoolJob {
    /// Sleep through the group-commit window, then report [`LogfilesEvent::GroupDue`].
    Window(Duration),
    /// fsync.
    Sync(Box<SyncJob>),
}

/// A job of the scan pool.
#[derive(Debug)]
pub enum ScanPoolJob {
    /// One turn of a range scan.
    Scan(Box<ScanCursor>),
    /// Delete a removed channel's renamed directory.
    Remove(PathBuf),
}

/// The three pools.
#[derive(Debug)]
pub struct Disk {
    open: Pool<OpenJob, LogfilesEvent>,
    sync: Pool<SyncPoolJob, LogfilesEvent>,
    scan: Pool<ScanPoolJob, LogfilesEvent>,
    mailbox: Mailbox<LogfilesEvent>,
}

/// Milliseconds since the epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Disk {
    /// Starts the pools; `scan_threads` for scans, `journal` the test hook of `[Testing]
    /// sync_journal`.
    pub fn start(
        mailbox: &Mailbox<LogfilesEvent>,
        scan_threads: usize,
        journal: Option<Arc<Journal>>,
    ) -> io::Result<Disk> {
        let j = journal.clone();
        let open = Pool::new("bucket-open", 2, QUEUE, mailbox.clone(), move || {
            let j = j.clone();
            move |job: OpenJob| Some(run_open(job, j.as_deref()))
        })?;
        let j = journal.clone();
        let sync = Pool::new("sync", 1, QUEUE, mailbox.clone(), move || {
            let j = j.clone();
            move |job: SyncPoolJob| Some(run_sync(job, j.as_deref()))
        })?;
        let scan = Pool::new("scan", scan_threads, QUEUE, mailbox.clone(), || {
            |job: ScanPoolJob| Some(run_scan(job))
        })?;
        Ok(Disk {
            open,
            sync,
            scan,
            mailbox: mailbox.clone(),
        })
    }

    /// Sends the service `event` in the loop's next turn, after the connections of this one
    /// were handled.
    pub fn next_turn(&self, event: LogfilesEvent) {
        self.mailbox.post_node(event);
    }

    /// Queues a bucket open (its result goes to the service).
    pub fn open(&self, job: OpenJob) -> Result<(), Full<OpenJob>> {
        self.open.submit_node(job)
    }

    /// Queues a sync-pool job.
    pub fn sync(&self, job: SyncPoolJob) -> Result<(), Full<SyncPoolJob>> {
        self.sync.submit_node(job)
    }

    /// Queues a scan turn for `conn`.
    pub fn scan(&self, conn: ConnRef, cursor: Box<ScanCursor>) -> Result<(), Box<ScanCursor>> {
        match self.scan.submit(conn, ScanPoolJob::Scan(cursor)) {
            Ok(()) => Ok(()),
            Err(Full(ScanPoolJob::Scan(c))) => Err(c),
            Err(Full(ScanPoolJob::Remove(_))) => unreachable!("a scan was submitted"),
        }
    }

    /// Queues the deletion of a removed channel's directory.
    pub fn remove(&self, dir: PathBuf) -> Result<(), PathBuf> {
        match self.scan.submit_node(ScanPoolJob::Remove(dir)) {
            Ok(()) => Ok(()),
            Err(Full(ScanPoolJob::Remove(d))) => Err(d),
            Err(Full(ScanPoolJob::Scan(_))) => unreachable!("a removal was submitted"),
        }
    }

    /// Lets the workers finish their queued jobs and stops them (shutdown: after this no
    /// checkpoint is being written).
    pub fn shutdown(&mut self) {
        self.scan.shutdown();
        self.open.shutdown();
        self.sync.shutdown();
    }

    /// Drops a closed connection's queued scan turns.
    pub fn cancel(&self, conn: ConnRef) {
        self.scan.cancel(conn);
    }
}

fn run_open(job: OpenJob, journal: Option<&Journal>) -> LogfilesEvent {
    let put_back = job.put_back.map(|tmp| {
        let went = putback::put_back(&tmp).map_err(|e| e.to_string());
        (tmp, went)
    });
    let result = match &put_back {
        Some((_, Err(e))) => Err(e.clone()),
        _ => open_bucket(&job.data_dir, &job.channel_dir, job.key, job.cut_to)
            .map_err(|e| e.to_string()),
    };
    if let (Some(j), Ok(b)) = (journal, &result) {
        if b.len == 0 {
            j.line(&format!("create {}", b.path.display()));
        }
    }
    LogfilesEvent::Opened {
        channel: job.channel,
        first_key: swarm_protocol::bucket::path::bucket_first_key(job.key),
        result,
        put_back,
    }
}

fn run_sync(job: SyncPoolJob, journal: Option<&Journal>) -> LogfilesEvent {
    match job {
        SyncPoolJob::Window(d) => {
            std::thread::sleep(d);
            LogfilesEvent::GroupDue
        }
        SyncPoolJob::Sync(job) => {
            let generation = job.generation;
            let checkpoint = job.checkpoint.is_some();
            let result = sync(*job, journal).map_err(|e| e.to_string());
            LogfilesEvent::Synced {
                generation,
                checkpoint,
                result,
            }
        }
    }
}

/// Files and directories from which one `syncfs(2)` of the data directory's file system is
/// cheaper than an fsync each (writes spread over many buckets close many of them).
pub const SYNCFS_FROM: usize = 64;

/// fsyncs the files, then the directories (or syncs the whole file system, for many), then
/// writes the checkpoint.
fn sync(job: SyncJob, journal: Option<&Journal>) -> io::Result<()> {
    if job.items.len() + job.dirs.len() >= SYNCFS_FROM {
        sync_fs(&job.data_dir)?;
        if let Some(j) = journal {
            for item in &job.items {
                j.line(&format!("sync {} {}", item.path.display(), item.len));
            }
            for dir in &job.dirs {
                j.line(&format!("dir {}", dir.display()));
            }
        }
    } else {
        sync_each(&job.items, &job.dirs, journal)?;
    }
    if let Some((data_dir, entries, at)) = job.checkpoint {
        checkpoint::write(&data_dir, &entries)?;
        if let Some(j) = journal {
            j.line(&format!("checkpoint {at}"));
        }
    }
    Ok(())
}

/// fsyncs each file, then each directory.
fn sync_each(items: &[SyncItem], dirs: &[PathBuf], journal: Option<&Journal>) -> io::Result<()> {
    for item in items {
        let opened;
        let file = match &item.file {
            Some(f) => f,
            None => match File::open(&item.path) {
                Ok(f) => {
                    opened = f;
                    &opened
                }
                // Its channel was removed meanwhile.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(named(&item.path, "open for fsync")(e)),
            },
        };
        file.sync_data().map_err(named(&item.path, "fsync"))?;
        if let Some(j) = journal {
            j.line(&format!("sync {} {}", item.path.display(), item.len));
        }
    }
    for dir in dirs {
        match swarm_core::files::sync_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(named(dir, "fsync the directory")(e)),
        }
        if let Some(j) = journal {
            j.line(&format!("dir {}", dir.display()));
        }
    }
    Ok(())
}

/// `syncfs(2)` on the file system holding `dir`: every file written there reaches the disk.
pub fn sync_fs(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let d = std::fs::File::open(dir).map_err(|e| named(dir, "open")(e))?;
    // SAFETY: `d` is an open file descriptor for the duration of the call; syncfs only reads
    // it.
    let r = unsafe { libc::syncfs(d.as_raw_fd()) };
    if r != 0 {
        return Err(named(dir, "syncfs")(std::io::Error::last_os_error()));
    }
    Ok(())
}

fn run_scan(job: ScanPoolJob) -> LogfilesEvent {
    match job {
        ScanPoolJob::Scan(cursor) => LogfilesEvent::Scanned(Box::new(cursor.run())),
        ScanPoolJob::Remove(dir) => {
            let result = fs::remove_dir_all(&dir)
                .map_err(|e| format!("cannot delete {}: {e}", dir.display()));
            LogfilesEvent::Removed { dir, result }
        }
    }
}
