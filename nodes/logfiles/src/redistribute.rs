//! Redistribute (35): moving a fraction of the node's bucket files to other logfiles nodes
//! (spec/logfiles.md section 5), the loop's side. This file owns the request's validation,
//! the one move that may run, and what the move's thread asks of the loop; the thread is in
//! `transfer`, putting a bucket back in `putback`.
//!
//! Validation, as the original: a second Redistribute while one runs, a fraction not in (0, 1]
//! (or NaN), no destination, or a destination that is not an IP address and port, answer
//! Error (500) at once, with a log line. Otherwise the requesting connection waits (nothing
//! more is read from it) until the move ends: Ok (200) when every chosen bucket was moved,
//! Error when it failed; other connections are served throughout.
//!
//! The thread never touches a bucket the loop may write: for each chosen bucket it asks the
//! loop ([`RedistEvent::Detach`]) to close the bucket's writer (its buffer flushed) and rename
//! it to `<bucket>.tmp`; a Put to that key range afterwards opens a new bucket file, which
//! stays here as new data. A bucket being opened for a Put is `Busy` and asked for again. After
//! each acknowledged batch the loop subtracts the batch from the channel's size
//! ([`RedistEvent::Moved`]); when a move fails, the `.tmp` is put back ([`RedistEvent::PutBack`])
//! on the open pool, as part of opening the bucket (its writer closed first), so writes to it
//! wait for that open and nothing writes it meanwhile.

pub mod putback;
pub mod transfer;

use crate::config::SyncMode;
use crate::disk::{Disk, LogfilesEvent};
use crate::requests::put::Writes;
use crate::requests::status;
use crate::session::{Ongoing, Session};
use crate::stats::Stats;
use putback::PutBack;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;
use std::time::Duration;
use swarm_core::{ConnRef, Context, Step};
use swarm_protocol::bucket::path::parse_bucket_path;
use swarm_protocol::logfiles::RedistributeNode;
use swarm_protocol::Status;
use transfer::{Job, Totals};

/// `[Options_Dls] redistribute_retry_s` default: how long a move goes on trying when no
/// destination takes a batch.
pub const DEFAULT_RETRY_S: u64 = 30;

/// What the move's thread asks of, or tells, the loop.
#[derive(Debug)]
pub enum RedistEvent {
    /// Close `bucket`'s writer and rename it to `<bucket>.tmp`.
    Detach {
        /// The channel.
        channel: String,
        /// The bucket file.
        bucket: PathBuf,
        /// The answer.
        reply: Sender<Detached>,
    },
    /// A batch of `channel` was acknowledged by a destination.
    Moved {
        /// The channel.
        channel: String,
        /// Records in the batch.
        records: u64,
        /// Their value bytes.
        bytes: u64,
    },
    /// The move failed: put `tmp` back (`Ok(false)`: busy, ask again).
    PutBack {
        /// The channel.
        channel: String,
        /// The `.tmp` file.
        tmp: PathBuf,
        /// The answer.
        reply: Sender<Result<bool, String>>,
    },
    /// The move ended.
    Done(Result<Totals, String>),
}

/// The loop's answer to [`RedistEvent::Detach`].
#[derive(Debug)]
pub enum Detached {
    /// Renamed: the `.tmp`.
    Tmp(PathBuf),
    /// Being opened for a Put: ask again.
    Busy,
    /// Not there any more (its channel was removed).
    Gone,
    /// The rename failed.
    Failed(String),
}

/// What the service needs from the configuration for moves.
#[derive(Debug, Clone)]
pub struct RedistSettings {
    /// The data directory.
    pub data_dir: PathBuf,
    /// `[Options_Dls] redistribute_retry_s`.
    pub retry: Duration,
    /// `[Testing] redistribute_delay_ms`: a pause after each acknowledged batch.
    pub batch_delay: Duration,
    /// The sync mode (whether a put-back must wait for a checkpoint before its `.tmp` goes).
    pub mode: SyncMode,
}

/// The move running, if any, and the put-backs whose `.tmp` waits for a checkpoint.
#[derive(Debug)]
pub struct Redistribution {
    settings: RedistSettings,
    running: Option<Running>,
    /// Put-back `.tmp`s, deleted once a checkpoint started after the put-back is written (in
    /// sync mode `checkpoint`, an older checkpoint could cut the appended records).
    waiting_checkpoint: Vec<(PathBuf, u64)>,
    /// The move's thread waits for this put-back's outcome.
    put_back_reply: Option<Sender<Result<bool, String>>>,
}

#[derive(Debug)]
struct Running {
    conn: ConnRef,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The destinations of a request, or why they are refused.
pub fn destinations(nodes: &[RedistributeNode<'_>]) -> Result<Vec<SocketAddr>, String> {
    if nodes.is_empty() {
        return Err("no destination node".into());
    }
    nodes
        .iter()
        .map(|n| {
            let text = String::from_utf8_lossy(n.address);
            match text.parse::<IpAddr>() {
                Ok(ip) => Ok(SocketAddr::new(ip, n.port)),
                Err(_) => Err(format!(
                    "destination {text:?}:{} is not an IP address",
                    n.port
                )),
            }
        })
        .collect()
}

impl Redistribution {
    /// No move running.
    pub fn new(settings: RedistSettings) -> Redistribution {
        Redistribution {
            settings,
            running: None,
            waiting_checkpoint: Vec::new(),
            put_back_reply: None,
        }
    }

    /// Redistribute: validates, starts the move's thread and makes the connection wait.
    pub fn start(
        &mut self,
        cx: &mut Context<'_, LogfilesEvent>,
        s: &mut Session,
        fraction: f32,
        nodes: &[RedistributeNode<'_>],
        out: &mut Vec<u8>,
    ) -> Step {
        let refuse = |why: String, out: &mut Vec<u8>| {
            log::error!("Redistribute from {}: {why}; answered Error", s.peer);
            status(out, Status::Error);
            Step::Done
        };
        if self.running.is_some() {
            return refuse("another Redistribute is running".into(), out);
        }
        if fraction.is_nan() || fraction <= 0.0 || fraction > 1.0 {
            return refuse(format!("fraction {fraction} is not in (0, 1]"), out);
        }
        let dests = match destinations(nodes) {
            Ok(d) => d,
            Err(why) => return refuse(why, out),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let job = Job {
            data_dir: self.settings.data_dir.clone(),
            fraction,
            destinations: dests.clone(),
            retry: self.settings.retry,
            batch_delay: self.settings.batch_delay,
            seed: transfer::seed(),
            mailbox: cx.mailbox(),
            stop: Arc::clone(&stop),
        };
        let mut client = match job.client() {
            Ok(c) => c,
            Err(why) => return refuse(why, out),
        };
        let mailbox = cx.mailbox();
        let spawned = std::thread::Builder::new()
            .name("redistribute".into())
            .spawn(move || {
                let result = transfer::run(&job, &mut client);
                mailbox.post_node(LogfilesEvent::Redist(RedistEvent::Done(result)));
            });
        let thread = match spawned {
            Ok(t) => t,
            Err(e) => return refuse(format!("cannot start the thread: {e}"), out),
        };
        log::info!(
            "Redistribute from {}: moving a fraction {fraction} of the buckets to {dests:?}",
            s.peer
        );
        self.running = Some(Running {
            conn: s.conn,
            stop,
            thread: Some(thread),
        });
        s.ongoing = Ongoing::Redistribute;
        Step::Wait
    }

    /// An event of the move's thread.
    pub fn on_event(
        &mut self,
        cx: &mut Context<'_, LogfilesEvent>,
        writes: &mut Writes,
        stats: &mut Stats,
        disk: &Disk,
        event: RedistEvent,
    ) {
        match event {
            RedistEvent::Detach {
                channel,
                bucket,
                reply,
            } => {
                let _ = reply.send(detach(writes, &channel, &bucket));
            }
            RedistEvent::Moved {
                channel,
                records,
                bytes,
            } => {
                writes.storage.subtract(&channel, records, bytes);
                stats.redistributed(records, bytes);
            }
            RedistEvent::PutBack {
                channel,
                tmp,
                reply,
            } => match self.start_put_back(writes, disk, &channel, &tmp) {
                Ok(true) => self.put_back_reply = Some(reply),
                answer => {
                    let _ = reply.send(answer);
                }
            },
            RedistEvent::Done(result) => self.done(cx, result),
        }
    }

    fn done(&mut self, cx: &mut Context<'_, LogfilesEvent>, result: Result<Totals, String>) {
        let Some(mut running) = self.running.take() else {
            return;
        };
        if let Some(t) = running.thread.take() {
            let _ = t.join();
        }
        let reply = match result {
            Ok(t) => {
                let secs = t.elapsed.as_secs_f64();
                log::info!(
                    "Redistribute finished: {} records ({} bytes) in {} buckets moved in {secs:.1} \
                     s ({:.0} records/s)",
                    t.records,
                    t.bytes,
                    t.buckets,
                    t.records as f64 / secs.max(1e-9)
                );
                Status::Ok
            }
            Err(why) => {
                log::error!(
                    "Redistribute failed: {why}; what was not acknowledged stays on this node"
                );
                Status::Error
            }
        };
        cx.post(running.conn, LogfilesEvent::Redistributed(reply));
    }

    /// A move's put-back: handed to the open pool (`Ok(true)`; the answer follows with
    /// [`Redistribution::put_back_done`]), or `Ok(false)` while the bucket is being opened.
    fn start_put_back(
        &mut self,
        writes: &mut Writes,
        disk: &Disk,
        channel: &str,
        tmp: &Path,
    ) -> Result<bool, String> {
        let bucket = putback::bucket_of_tmp(tmp);
        let Some(first_key) = parse_bucket_path(&bucket).map(|r| *r.start()) else {
            return Err(format!("{}: not a bucket", tmp.display()));
        };
        writes
            .put_back(disk, channel, first_key, tmp.to_path_buf())
            .map_err(|e| e.to_string())
    }

    /// The open pool put `tmp` back (`went`) and opened its bucket: the `.tmp` goes now (sync
    /// mode `group`) or after the next checkpoint, and the move's thread learns the outcome.
    pub fn put_back_done(
        &mut self,
        writes: &mut Writes,
        disk: &Disk,
        tmp: &Path,
        went: Result<PutBack, String>,
    ) {
        let result = went.and_then(|how| {
            log::warn!("{}: put back ({how:?})", tmp.display());
            // Only acknowledged records were subtracted from the size: the put-back adds none.
            match how {
                PutBack::Renamed => {}
                _ if self.settings.mode == SyncMode::Group => {
                    putback::finish(tmp).map_err(|e| e.to_string())?;
                }
                _ => {
                    self.waiting_checkpoint
                        .push((tmp.to_path_buf(), writes.checkpoints_started() + 1));
                    writes.checkpoint(disk);
                }
            }
            Ok(true)
        });
        match self.put_back_reply.take() {
            Some(reply) => {
                let _ = reply.send(result);
            }
            None => {
                if let Err(e) = result {
                    log::error!("{e}");
                }
            }
        }
    }

    /// A checkpoint finished (`seq`, `ok`): the put-backs it covers lose their `.tmp`; one
    /// more checkpoint is started for those it does not.
    pub fn checkpointed(&mut self, writes: &mut Writes, disk: &Disk, seq: u64, ok: bool) {
        if !ok || self.waiting_checkpoint.is_empty() {
            return;
        }
        self.waiting_checkpoint.retain(|(tmp, needs)| {
            if *needs > seq {
                return true;
            }
            if let Err(e) = putback::finish(tmp) {
                log::error!("{e}");
            }
            false
        });
        if !self.waiting_checkpoint.is_empty() {
            writes.checkpoint(disk);
        }
    }

    /// Shutdown: the move stops after its current batch; what it did not finish is put back
    /// at the next start.
    pub fn stop(&mut self) {
        if let Some(r) = &self.running {
            r.stop.store(true, Ordering::SeqCst);
        }
    }
}

/// The loop's part of [`RedistEvent::Detach`].
fn detach(writes: &mut Writes, channel: &str, bucket: &Path) -> Detached {
    let Some(first_key) = parse_bucket_path(bucket).map(|r| *r.start()) else {
        return Detached::Failed(format!("{}: not a bucket", bucket.display()));
    };
    if writes.is_opening(channel, first_key) {
        return Detached::Busy;
    }
    if let Err(e) = writes.storage.detach(channel, first_key) {
        return Detached::Failed(e.to_string());
    }
    let tmp = putback::with_suffix(bucket, putback::TMP_SUFFIX);
    if tmp.exists() {
        // An earlier put-back's `.tmp` waits for a checkpoint: this bucket waits for a later move.
        log::info!(
            "{}: skipped, an earlier move's put-back is not finished",
            bucket.display()
        );
        return Detached::Gone;
    }
    // Ours, and nothing acknowledged yet: a `.tmp` without it is the original node's.
    if let Err(e) = putback::write_sent(&tmp, 0) {
        return Detached::Failed(e.to_string());
    }
    match std::fs::rename(bucket, &tmp) {
        Ok(()) => Detached::Tmp(tmp),
        Err(e) => {
            let _ = std::fs::remove_file(putback::with_suffix(&tmp, putback::SENT_SUFFIX));
            if e.kind() == std::io::ErrorKind::NotFound {
                return Detached::Gone;
            }
            Detached::Failed(format!("cannot rename {}: {e}", bucket.display()))
        }
    }
}

/// The requesting connection gets the move's answer.
pub fn answer(s: &mut Session, reply: Status, out: &mut Vec<u8>) -> Step {
    status(out, reply);
    s.ongoing = Ongoing::Idle;
    Step::Done
}

#[cfg(test)]
mod tests;
