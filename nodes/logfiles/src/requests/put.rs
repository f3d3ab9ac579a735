//! Put (3) and PutBatch (36), and what every write shares ([`Writes`]): the buckets being
//! opened on workers and the connections waiting for them, the group-commit fsyncs of sync mode
//! `group`, and the periodic checkpoint.
//!
//! Put, in the original's order (spec/logfiles.md section 2.1): a bad channel name is 409, an
//! empty value 408, a value too large 407 (ours: over 65,504 bytes, the largest a read batch can
//! return; the original took up to 65,536 and could never send 65,505 to 65,536 back), a
//! malformed key closes the connection. PutBatch: 409, then each record of the batch in order;
//! the first empty value answers 408 and the first too-large one 407, with the records before
//! it kept (the original's batch was not atomic either); a malformed key or batch closes the
//! connection.
//!
//! A record goes into its bucket's write buffer at once when the bucket is open. Otherwise the
//! connection waits ([`Ongoing::Writing`]) while a worker opens the bucket, its records kept
//! with the open; every write that needs the same bucket meanwhile waits for the same open, and
//! all of them are written the moment it is installed (so no other bucket's install can evict
//! it first). In sync mode `checkpoint` the reply goes out once the record is buffered (the
//! original's); in `group` mode the reply waits in the session for an fsync that covers the
//! write while the connection goes on with its next requests ([`Writes::defer`]): the first
//! write of a group schedules the fsync for the loop's next turn (or after
//! `group_commit_ms`, if set), and one fsync covers every write made until it started; writes
//! arriving while it runs are covered by the next, which starts as soon as it ends.

use crate::config::SyncMode;
use crate::disk::{unix_ms, Disk, LogfilesEvent, OpenJob, SyncJob, SyncPoolJob};
use crate::requests::scan::MAX_BATCH_VALUE;
use crate::requests::{channel_ok, status};
use crate::session::{Ongoing, Session};
use crate::stats::Stats;
use crate::storage::write::PutError;
use crate::storage::Storage;
use std::collections::{HashMap, VecDeque};
use std::time::Duration;
use swarm_core::{ConnRef, Context, Step};
use swarm_protocol::batch::{announced_len, Inflater, Pairs};
use swarm_protocol::key::parse_key;
use swarm_protocol::logfiles::LogfilesCommand;
use swarm_protocol::Status;

/// The records of a write still to be stored.
#[derive(Debug)]
enum Records {
    /// A Put's record.
    One { key: u64, value: Vec<u8> },
    /// A PutBatch's uncompressed batch, and where the next record starts.
    Batch { raw: Vec<u8>, pos: usize },
}

/// A Put or PutBatch waiting for a bucket.
#[derive(Debug)]
struct PendingWrite {
    command: LogfilesCommand,
    channel: String,
    records: Records,
    /// Whether some record of it was stored already.
    wrote: bool,
}

/// Group-commit state (sync mode `group`).
#[derive(Debug, Default)]
struct Group {
    /// The generation the writes made now belong to.
    next: u64,
    /// Connections with deferred replies, and the generation they wait for.
    waiting: Vec<(ConnRef, u64)>,
    /// The generation of the fsync running.
    in_flight: Option<u64>,
    /// Whether a window is running.
    window: bool,
}

/// A write's reply in sync mode `group`, kept in the session until the fsync of its
/// generation.
#[derive(Debug, Clone, Copy)]
pub struct Deferred {
    /// The fsync generation that covers the write.
    pub generation: u64,
    /// The request.
    pub command: LogfilesCommand,
    /// The reply once durable.
    pub status: Status,
    /// When the request started (Put's timing in stats.log).
    pub started: std::time::Instant,
}

/// How a write went on.
enum Went {
    /// Every record was handled: the reply, and whether anything was stored.
    Written(Status, bool),
    /// It waits for a bucket to open.
    Waiting,
    /// A malformed record: close the connection.
    Close(String),
}

/// Where storing a write's records stopped.
enum Outcome {
    /// A record needs the bucket starting at this key opened.
    NeedOpen(u64),
    /// Every record was handled; the reply.
    Done(Status),
}

/// What the writes of every connection share.
#[derive(Debug)]
pub struct Writes {
    /// The channels.
    pub storage: Storage,
    mode: SyncMode,
    window: Duration,
    /// Buckets being opened, and the writes waiting for each.
    opening: HashMap<(String, u64), Vec<(ConnRef, PendingWrite)>>,
    /// Opens the full pool refused, submitted again as opens finish.
    open_backlog: VecDeque<OpenJob>,
    group: Group,
    checkpoint_in_flight: bool,
    /// Checkpoints started (each one's number is its job's generation).
    checkpoints_started: u64,
    /// The buffer PutBatch batches are inflated into, kept between them; a batch's records
    /// are stored from it, and only those that must wait for a bucket are copied out.
    inflater: Inflater,
}

/// How a write request went on: its step, or a reason to close the connection.
pub type WriteStep = Result<Step, String>;

impl Writes {
    /// The writes over `storage`.
    pub fn new(storage: Storage, mode: SyncMode, group_commit_ms: u64) -> Writes {
        Writes {
            storage,
            mode,
            window: Duration::from_millis(group_commit_ms),
            opening: HashMap::new(),
            open_backlog: VecDeque::new(),
            group: Group {
                next: 1,
                ..Group::default()
            },
            checkpoint_in_flight: false,
            inflater: Inflater::default(),
            checkpoints_started: 0,
        }
    }

    /// Put.
    #[allow(clippy::too_many_arguments)]
    pub fn put(
        &mut self,
        disk: &Disk,
        stats: &mut Stats,
        s: &mut Session,
        channel: &[u8],
        key: &[u8],
        value: &[u8],
        out: &mut Vec<u8>,
    ) -> WriteStep {
        if !channel_ok(channel, out) {
            return Ok(Step::Done);
        }
        if value.is_empty() {
            status(out, Status::EmptyValue);
            return Ok(Step::Done);
        }
        if value.len() > MAX_BATCH_VALUE {
            status(out, Status::OutOfMemory);
            return Ok(Step::Done);
        }
        let key = parse_key(key).map_err(|e| format!("Put: {e}"))?;
        let ch = channel_str(channel);
        // The fast path: the bucket is open, nothing is copied.
        let first_key = match self.storage.put(ch, key, value) {
            Ok(()) => {
                stats.handled(1, value.len() as u64);
                return Ok(self.reply(disk, s, LogfilesCommand::Put, Status::Ok, true, out));
            }
            Err(PutError::NotOpen { first_key }) => first_key,
            Err(PutError::Io(e)) => {
                log::error!("Put to '{ch}': {e}");
                status(out, Status::Error);
                return Ok(Step::Done);
            }
        };
        let pending = PendingWrite {
            command: LogfilesCommand::Put,
            channel: ch.to_owned(),
            records: Records::One {
                key,
                value: value.to_vec(),
            },
            wrote: false,
        };
        Ok(self.wait(disk, s, pending, first_key))
    }

    /// PutBatch: the batch is inflated into the kept buffer and its records stored from
    /// there; the rest is copied out only when a record must wait for a bucket.
    #[expect(
        clippy::too_many_arguments,
        reason = "the handler takes exactly what it touches, as every request file"
    )]
    pub fn put_batch(
        &mut self,
        disk: &Disk,
        stats: &mut Stats,
        cx: &mut Context<'_, LogfilesEvent>,
        s: &mut Session,
        channel: &[u8],
        batch: &[u8],
        out: &mut Vec<u8>,
    ) -> WriteStep {
        if !channel_ok(channel, out) {
            return Ok(Step::Done);
        }
        // What inflating costs the loop, counted before: a batch that fails half way cost as
        // much.
        cx.spend(announced_len(batch).map_err(|e| format!("PutBatch: {e}"))?);
        let raw = self
            .inflater
            .inflate(batch)
            .map_err(|e| format!("PutBatch: {e}"))?;
        let name = channel_str(channel);
        let mut wrote = false;
        let (outcome, pos) = store_pairs(&mut self.storage, stats, name, raw, &mut wrote)?;
        match outcome {
            Outcome::NeedOpen(first_key) => {
                let pending = PendingWrite {
                    command: LogfilesCommand::PutBatch,
                    channel: name.to_owned(),
                    records: Records::Batch {
                        raw: raw[pos..].to_vec(),
                        pos: 0,
                    },
                    wrote,
                };
                Ok(self.wait(disk, s, pending, first_key))
            }
            Outcome::Done(reply) => {
                Ok(self.reply(disk, s, LogfilesCommand::PutBatch, reply, wrote, out))
            }
        }
    }

    /// A Put's or PutBatch's records that could not all be stored: the connection waits
    /// ([`Ongoing::Writing`]) until the bucket starting at `first_key` is open.
    fn wait(&mut self, disk: &Disk, s: &mut Session, w: PendingWrite, first_key: u64) -> Step {
        s.ongoing = Ongoing::Writing(w.command);
        self.wait_for_bucket(disk, s.conn, w, first_key);
        Step::Wait
    }

    /// Stores the records of `w` until one needs a bucket that is not open (then `w` waits for
    /// it) or all are handled.
    fn go_on(
        &mut self,
        disk: &Disk,
        stats: &mut Stats,
        conn: ConnRef,
        mut w: PendingWrite,
    ) -> Went {
        let outcome = match self.store(stats, &mut w) {
            Ok(outcome) => outcome,
            Err(reason) => return Went::Close(reason),
        };
        match outcome {
            Outcome::NeedOpen(first_key) => {
                self.wait_for_bucket(disk, conn, w, first_key);
                Went::Waiting
            }
            Outcome::Done(reply) => Went::Written(reply, w.wrote),
        }
    }

    /// The storing part of [`Writes::go_on`].
    fn store(&mut self, stats: &mut Stats, w: &mut PendingWrite) -> Result<Outcome, String> {
        Ok(match &mut w.records {
            Records::One { key, value } => match self.storage.put(&w.channel, *key, value) {
                Ok(()) => {
                    stats.handled(1, value.len() as u64);
                    w.wrote = true;
                    Outcome::Done(Status::Ok)
                }
                Err(PutError::NotOpen { first_key }) => Outcome::NeedOpen(first_key),
                Err(PutError::Io(e)) => {
                    log::error!("Put to '{}': {e}", w.channel);
                    Outcome::Done(Status::Error)
                }
            },
            Records::Batch { raw, pos } => {
                let (outcome, stored) = store_pairs(
                    &mut self.storage,
                    stats,
                    &w.channel,
                    &raw[*pos..],
                    &mut w.wrote,
                )?;
                *pos += stored;
                outcome
            }
        })
    }

    /// A write's records were handled: answer now (nothing written, or sync mode
    /// `checkpoint`) or after the fsync (`group`).
    fn reply(
        &mut self,
        disk: &Disk,
        s: &mut Session,
        command: LogfilesCommand,
        reply: Status,
        wrote: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        if !wrote || self.mode == SyncMode::Checkpoint {
            status(out, reply);
            return Step::Done;
        }
        self.defer(disk, s, command, reply, s.started);
        Step::Done
    }

    /// Sync mode `group`: the reply waits in the session for the fsync of the current
    /// generation, and the connection goes on with its next request, so the writes a client
    /// pipelines share one fsync (requests that are not writes wait for the replies first,
    /// which keeps replies in order).
    pub fn defer(
        &mut self,
        disk: &Disk,
        s: &mut Session,
        command: LogfilesCommand,
        reply: Status,
        started: std::time::Instant,
    ) {
        let generation = self.group.next;
        if s.unsynced.back().map(|d| d.generation) != Some(generation) {
            self.group.waiting.push((s.conn, generation));
        }
        s.unsynced.push_back(Deferred {
            generation,
            command,
            status: reply,
            started,
        });
        self.kick_group(disk);
    }

    fn wait_for_bucket(&mut self, disk: &Disk, conn: ConnRef, w: PendingWrite, first_key: u64) {
        let id = (w.channel.clone(), first_key);
        if let Some(waiting) = self.opening.get_mut(&id) {
            waiting.push((conn, w));
            return;
        }
        let channel_dir = self.storage.channel_dir(&w.channel);
        let cut_to = self
            .storage
            .take_damaged(&crate::storage::write::bucket_file(&channel_dir, first_key));
        let job = OpenJob {
            channel: w.channel.clone(),
            data_dir: self.storage.data_dir().to_path_buf(),
            channel_dir,
            key: first_key,
            cut_to,
            put_back: None,
        };
        self.opening.insert(id, vec![(conn, w)]);
        if let Err(swarm_core::work::Full(job)) = disk.open(job) {
            self.open_backlog.push_back(job);
        }
    }

    /// A worker opened a bucket (or failed to): install it and write every record waiting
    /// for it at once; each connection learns its reply through [`LogfilesEvent::Written`].
    pub fn opened(
        &mut self,
        cx: &mut Context<'_, LogfilesEvent>,
        disk: &Disk,
        stats: &mut Stats,
        channel: String,
        first_key: u64,
        result: Result<crate::storage::write::OpenedBucket, String>,
    ) {
        let result =
            result.and_then(|b| self.storage.install(&channel, b).map_err(|e| e.to_string()));
        let waiting = self
            .opening
            .remove(&(channel, first_key))
            .unwrap_or_default();
        for (conn, w) in waiting {
            if let Err(e) = &result {
                log::error!("{} to '{}': {e}", w.command.name(), w.channel);
                cx.post(conn, LogfilesEvent::Written(Ok(Status::Error)));
                continue;
            }
            match self.go_on(disk, stats, conn, w) {
                Went::Written(reply, wrote) => {
                    if wrote && self.mode == SyncMode::Group {
                        // The session takes the reply as deferred (Service::deliver).
                        cx.post(conn, LogfilesEvent::Deferred(reply));
                    } else {
                        cx.post(conn, LogfilesEvent::Written(Ok(reply)));
                    }
                }
                Went::Waiting => {}
                Went::Close(reason) => cx.post(conn, LogfilesEvent::Written(Err(reason))),
            }
        }
        while let Some(job) = self.open_backlog.pop_front() {
            if let Err(swarm_core::work::Full(job)) = disk.open(job) {
                self.open_backlog.push_front(job);
                break;
            }
        }
    }

    /// Starts a group window, or the fsync at once, unless one is running.
    fn kick_group(&mut self, disk: &Disk) {
        if self.group.in_flight.is_some() || self.group.window || self.group.waiting.is_empty() {
            return;
        }
        if self.window.is_zero() {
            // At the end of this loop turn: every write read in it shares the fsync.
            disk.next_turn(LogfilesEvent::GroupDue);
            self.group.window = true;
        } else if disk.sync(SyncPoolJob::Window(self.window)).is_ok() {
            self.group.window = true;
        } else {
            self.start_group_sync(disk);
        }
    }

    /// The loop's timer: a group fsync that could not be queued is tried again.
    pub fn tick(&mut self, disk: &Disk) {
        self.kick_group(disk);
    }

    /// The group window is over.
    pub fn group_due(&mut self, disk: &Disk) {
        self.group.window = false;
        self.start_group_sync(disk);
    }

    fn start_group_sync(&mut self, disk: &Disk) {
        let generation = self.group.next;
        self.group.next += 1;
        let (items, dirs) = match self.storage.take_unsynced() {
            Ok(x) => x,
            Err(e) => {
                log::error!("group commit: {e}");
                (Vec::new(), Vec::new())
            }
        };
        let job = SyncJob {
            data_dir: self.storage.data_dir().to_path_buf(),
            generation,
            items,
            dirs,
            checkpoint: None,
        };
        match disk.sync(SyncPoolJob::Sync(Box::new(job))) {
            Ok(()) => self.group.in_flight = Some(generation),
            Err(_) => log::error!("group commit: the sync queue is full"),
        }
    }

    /// An fsync finished: answer the writes it covers; start the next group's at once.
    pub fn synced(
        &mut self,
        cx: &mut Context<'_, LogfilesEvent>,
        disk: &Disk,
        generation: u64,
        checkpoint: bool,
        result: Result<(), String>,
    ) {
        if checkpoint {
            self.checkpoint_in_flight = false;
            match &result {
                Ok(()) => log::debug!("checkpoint written"),
                Err(e) => log::error!("checkpoint failed: {e}"),
            }
            return;
        }
        if self.group.in_flight != Some(generation) {
            return;
        }
        self.group.in_flight = None;
        if let Err(e) = &result {
            log::error!("group commit fsync failed, the writes it covered answer Error: {e}");
        }
        let ok = result.is_ok();
        self.group.waiting.retain(|&(conn, g)| {
            if g <= generation {
                cx.post(conn, LogfilesEvent::SyncDone { generation, ok });
                false
            } else {
                true
            }
        });
        if !self.group.waiting.is_empty() {
            self.start_group_sync(disk);
        }
    }

    /// A connection closed: it waits for nothing any more.
    pub fn forget(&mut self, conn: ConnRef) {
        self.group.waiting.retain(|&(c, _)| c != conn);
        for waiting in self.opening.values_mut() {
            waiting.retain(|(c, _)| *c != conn);
        }
    }

    /// Starts a checkpoint (unless one is running): every buffer flushed, the fsyncs and then
    /// `checkpoint.dat` on the sync worker.
    pub fn checkpoint(&mut self, disk: &Disk) {
        if self.checkpoint_in_flight {
            return;
        }
        let (items, dirs) = match self.storage.take_unsynced() {
            Ok(x) => x,
            Err(e) => {
                log::error!("checkpoint: {e}");
                return;
            }
        };
        let entries = self.storage.take_checkpoint();
        let job = SyncJob {
            data_dir: self.storage.data_dir().to_path_buf(),
            generation: self.checkpoints_started + 1,
            items,
            dirs,
            checkpoint: Some((self.storage.data_dir().to_path_buf(), entries, unix_ms())),
        };
        if disk.sync(SyncPoolJob::Sync(Box::new(job))).is_ok() {
            self.checkpoint_in_flight = true;
            self.checkpoints_started += 1;
        }
    }

    /// Checkpoints started so far; a checkpoint's `Synced` event carries its number.
    pub fn checkpoints_started(&self) -> u64 {
        self.checkpoints_started
    }

    /// A failed Redistribute's `tmp` of `channel`'s bucket starting at `first_key` goes back
    /// into the bucket on the open pool, which then opens the bucket: writes to it meanwhile
    /// wait for that open, as for any. `false` (nothing done) while the bucket is being opened.
    pub fn put_back(
        &mut self,
        disk: &Disk,
        channel: &str,
        first_key: u64,
        tmp: std::path::PathBuf,
    ) -> std::io::Result<bool> {
        if self.is_opening(channel, first_key) {
            return Ok(false);
        }
        self.storage.detach(channel, first_key)?;
        let job = OpenJob {
            channel: channel.to_owned(),
            data_dir: self.storage.data_dir().to_path_buf(),
            channel_dir: self.storage.channel_dir(channel),
            key: first_key,
            cut_to: None,
            put_back: Some(tmp),
        };
        self.opening
            .insert((channel.to_owned(), first_key), Vec::new());
        if let Err(swarm_core::work::Full(job)) = disk.open(job) {
            self.open_backlog.push_back(job);
        }
        Ok(true)
    }

    /// Whether `channel`'s bucket starting at `first_key` is being opened for a write.
    pub fn is_opening(&self, channel: &str, first_key: u64) -> bool {
        self.opening.contains_key(&(channel.to_owned(), first_key))
    }
}

impl Writes {
    /// Shutdown (after the workers stopped): every bucket flushed and closed, the data
    /// directory's file system synced (one `syncfs(2)` instead of an fsync per bucket written
    /// since the last checkpoint, which may be thousands), then `checkpoint.dat` removed:
    /// nothing is to be cut at the next start.
    pub fn close_and_sync(&mut self) -> std::io::Result<()> {
        self.storage.close()?;
        // Everything is on its way to the disk now; the ledgers are not needed any more.
        let _ = self.storage.take_unsynced()?;
        crate::disk::sync_fs(self.storage.data_dir())?;
        crate::checkpoint::remove(self.storage.data_dir())
    }
}

/// The channel name as text (it passed [`channel_ok`]: ASCII only).
fn channel_str(channel: &[u8]) -> &str {
    std::str::from_utf8(channel).unwrap_or_default()
}

/// Stores the (key, value) pairs of an uncompressed batch in order into `channel`, until one is
/// refused (an empty value, one too large, a write error: the reply), one needs a bucket that
/// is not open, or all are stored; also returns the bytes of `raw` past the records stored. A
/// malformed pair or key is an error (the connection closes, the records before it stay).
fn store_pairs(
    storage: &mut Storage,
    stats: &mut Stats,
    channel: &str,
    raw: &[u8],
    wrote: &mut bool,
) -> Result<(Outcome, usize), String> {
    let mut pairs = Pairs::new(raw);
    let mut stored = 0;
    let mut outcome = Outcome::Done(Status::Ok);
    let mut ch = storage.channel_put(channel);
    while let Some(pair) = pairs.next() {
        let (key, value) = pair.map_err(|e| format!("PutBatch: {e}"))?;
        let key = parse_key(key).map_err(|e| format!("PutBatch: {e}"))?;
        if value.is_empty() {
            outcome = Outcome::Done(Status::EmptyValue);
            break;
        }
        if value.len() > MAX_BATCH_VALUE {
            outcome = Outcome::Done(Status::OutOfMemory);
            break;
        }
        match ch.put(key, value) {
            Ok(()) => {
                stats.handled(1, value.len() as u64);
                *wrote = true;
            }
            Err(PutError::NotOpen { first_key }) => {
                outcome = Outcome::NeedOpen(first_key);
                break;
            }
            Err(PutError::Io(e)) => {
                log::error!("PutBatch to '{channel}': {e}");
                outcome = Outcome::Done(Status::Error);
                break;
            }
        }
        // Past this record: where a wait for a bucket goes on.
        stored = raw.len() - pairs.remaining();
    }
    Ok((outcome, stored))
}
