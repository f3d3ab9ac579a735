//! A Redistribute in progress (request 33): the records of keys this node no longer owns,
//! collected from the channels on the event loop and handed to one forwarder thread per
//! target ([`forward`]); a record is removed here only after its target acknowledged it.
//!
//! The walk goes channel by channel in slot order ([`crate::storage::Channel::next_from`]): a
//! record that exists from start to end is visited exactly once, and the records that move
//! cannot change meanwhile (writes to keys outside the node's new range get WrongNode), so
//! one pass moves them all. Each call of [`Redistribution::pump`] visits a bounded number of
//! records and stops while any target's queue is full, so the loop keeps serving between
//! steps. A target the forwarder gave up on ([`RedistEvent::Sent`] with an error) gets
//! nothing more; its records stay here, and the request ends with Error once the walk is over
//! (a second Redistribute moves them). The records of a batch are removed when it is
//! acknowledged; records of a failed batch stay, even if the target stored some of them
//! (PutBatch is not atomic): sending them again overwrites the same values.

pub mod forward;
pub mod gain;
pub mod range_file;

use crate::event::DhtEvent;
use crate::stats::{Action, Stats};
use crate::storage::{record_bytes, Storage};
use forward::{Forwarder, Send};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use swarm_core::{ConnRef, Mailbox};
use swarm_protocol::batch::{pair_size, BatchBuilder};
use swarm_protocol::format_key;
use swarm_protocol::{HashRange, Status};

/// Records visited per [`Redistribution::pump`] call: a few hundred microseconds of work.
const VISITS_PER_STEP: usize = 16_384;

/// What reaches the service or the requester about a Redistribute.
#[derive(Debug)]
pub enum RedistEvent {
    /// The walk's next step (posted by the walk itself when its step's budget ran out).
    Pump,
    /// A forwarder's outcome for one job.
    Sent {
        target: usize,
        job: u64,
        result: Result<(), String>,
    },
    /// For the requesting connection: the move is over, answer this status.
    Finished(Status),
}

/// A node records are moved to, with its new range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub addr: SocketAddr,
    pub range: HashRange,
}

/// Records of one channel collected for one target, not yet handed to its forwarder (which
/// compresses the batch).
#[derive(Debug)]
struct Pending {
    batch: BatchBuilder,
    keys: Vec<u64>,
    bytes: u64,
}

impl Pending {
    fn new(batch_size: usize) -> Pending {
        Pending {
            batch: BatchBuilder::new(batch_size),
            keys: Vec::new(),
            bytes: 0,
        }
    }

    /// Adds a record; `false` (nothing added) when the batch is too full for it.
    fn try_push(&mut self, key: u64, hex: &[u8], value: &[u8]) -> bool {
        if !self.batch.try_push_pair(hex, value) {
            return false;
        }
        self.keys.push(key);
        self.bytes += record_bytes(value.len());
        true
    }
}

/// A target and what the move keeps for it.
#[derive(Debug)]
struct Link {
    target: Target,
    forwarder: Forwarder,
    /// Why the target was given up on.
    failed: Option<String>,
    /// Jobs handed to the forwarder whose outcome has not arrived.
    queued: usize,
    pending: Pending,
}

/// A job handed to a forwarder, until its outcome arrives.
#[derive(Debug)]
struct Job {
    channel: Box<[u8]>,
    channel_id: u64,
    keys: Vec<u64>,
    bytes: u64,
}

/// The state of the one Redistribute a node runs at a time.
#[derive(Debug)]
pub struct Redistribution {
    /// The connection that asked, answered at the end.
    pub requester: ConnRef,
    /// The targets, by the start of their ranges.
    links: Vec<Link>,
    jobs: HashMap<u64, Job>,
    next_job: u64,
    /// The channels at the start (name, id), and where the walk is.
    channels: Vec<(Box<[u8]>, u64)>,
    at: usize,
    cursor: usize,
    batch_size: usize,
    /// Incoming PutBatch may not take the node's bytes above this while the move runs.
    memory_limit: u64,
    /// A [`RedistEvent::Pump`] is on its way.
    pump_posted: bool,
    started: Instant,
    moved: (u64, u64),
    /// Records of keys neither this node nor any target owns (loaded out of range): kept.
    unowned: u64,
}

impl Redistribution {
    /// Starts the forwarders; the walk starts with the first [`Redistribution::pump`].
    /// `memory_limit` is the guard on incoming PutBatch while it runs.
    pub fn start(
        requester: ConnRef,
        mut targets: Vec<Target>,
        storage: &Storage,
        batch_size: usize,
        memory_limit: u64,
        retry: Duration,
        mailbox: &Mailbox<DhtEvent>,
    ) -> std::io::Result<Redistribution> {
        targets.sort_by_key(|t| t.range.min);
        let links = targets
            .into_iter()
            .enumerate()
            .map(|(i, target)| {
                Ok(Link {
                    forwarder: Forwarder::spawn(i, target.addr, retry, mailbox.clone())?,
                    target,
                    failed: None,
                    queued: 0,
                    pending: Pending::new(batch_size),
                })
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        let mut channels: Vec<(Box<[u8]>, u64)> = storage
            .iter()
            .map(|(name, entry)| (Box::from(name), entry.id))
            .collect();
        channels.sort();
        Ok(Redistribution {
            requester,
            links,
            jobs: HashMap::new(),
            next_job: 0,
            channels,
            at: 0,
            cursor: 0,
            batch_size,
            memory_limit,
            pump_posted: false,
            started: Instant::now(),
            moved: (0, 0),
            unowned: 0,
        })
    }

    /// Records and bytes moved so far (acknowledged by their targets).
    pub fn moved(&self) -> (u64, u64) {
        self.moved
    }

    /// The guard on incoming PutBatch: the node's bytes may not go above it.
    pub fn memory_limit(&self) -> u64 {
        self.memory_limit
    }

    /// The target owning `key`, if any.
    fn target_of(&self, key: u64) -> Option<usize> {
        let k = key.reverse_bits();
        let i = self.links.partition_point(|l| l.target.range.min <= k);
        // Empty ranges (min u64::MAX) were left out at the start, so the one before is it.
        i.checked_sub(1)
            .filter(|&i| self.links[i].target.range.contains(key))
    }

    fn full(&self, t: usize) -> bool {
        self.links[t].queued > forward::QUEUE
    }

    /// Walks on for one step. `Some(status)` when the move is over (answer the requester).
    pub fn pump(
        &mut self,
        storage: &Storage,
        own: HashRange,
        mailbox: &Mailbox<DhtEvent>,
    ) -> Option<Status> {
        self.pump_posted = false;
        let mut budget = VISITS_PER_STEP;
        while self.at < self.channels.len() {
            if (0..self.links.len()).any(|t| self.full(t)) {
                return None; // resumed by the next acknowledgement
            }
            let (name, id) = &self.channels[self.at];
            let channel = match storage.channel(name) {
                Some(entry) if entry.id == *id => &entry.data,
                _ => {
                    // Removed meanwhile: nothing of it to move.
                    self.next_channel();
                    continue;
                }
            };
            loop {
                if budget == 0 {
                    self.pump_posted = mailbox.post_node(DhtEvent::Redist(RedistEvent::Pump));
                    return None;
                }
                budget -= 1;
                let Some((pos, key, value)) = channel.next_from(self.cursor) else {
                    // The channel's last batches; a full target's waits for an acknowledgement
                    // (the walk comes back here, the cursor past the end).
                    for t in 0..self.links.len() {
                        if self.full(t) {
                            return None;
                        }
                        self.dispatch(t);
                    }
                    self.next_channel();
                    break;
                };
                self.cursor = pos + 1;
                let Some(t) = self.target_of(key) else {
                    if !own.contains(key) {
                        self.unowned += 1;
                    }
                    continue;
                };
                if self.links[t].failed.is_some() {
                    continue;
                }
                let hex = format_key(key);
                if self.links[t]
                    .pending
                    .batch
                    .too_large(pair_size(hex.len(), value.len()))
                {
                    self.send_put(t, key, value);
                } else if !self.links[t].pending.try_push(key, &hex, value) {
                    self.dispatch(t);
                    // An empty batch takes any record that is not too large.
                    let pushed = self.links[t].pending.try_push(key, &hex, value);
                    debug_assert!(pushed);
                }
                if self.full(t) {
                    return None;
                }
            }
        }
        if self.jobs.is_empty() {
            Some(self.finish())
        } else {
            None
        }
    }

    fn next_channel(&mut self) {
        self.at += 1;
        self.cursor = 0;
    }

    /// Hands target `t` its pending batch of the current channel.
    fn dispatch(&mut self, t: usize) {
        if self.links[t].pending.keys.is_empty() {
            return;
        }
        let p = std::mem::replace(&mut self.links[t].pending, Pending::new(self.batch_size));
        let (job, channel) = self.new_job(p.keys, p.bytes);
        self.send(
            t,
            job,
            Send::Batch {
                job,
                channel,
                batch: p.batch,
            },
        );
    }

    fn send_put(&mut self, t: usize, key: u64, value: &[u8]) {
        let (job, channel) = self.new_job(vec![key], record_bytes(value.len()));
        let send = Send::Put {
            job,
            channel,
            key,
            value: value.to_vec(),
        };
        self.send(t, job, send);
    }

    fn new_job(&mut self, keys: Vec<u64>, bytes: u64) -> (u64, Box<[u8]>) {
        let (name, id) = &self.channels[self.at];
        let job = self.next_job;
        self.next_job += 1;
        self.jobs.insert(
            job,
            Job {
                channel: name.clone(),
                channel_id: *id,
                keys,
                bytes,
            },
        );
        (job, name.clone())
    }

    fn send(&mut self, t: usize, job: u64, send: Send) {
        self.links[t].queued += 1;
        // Jobs are handed over only while `queued` is at most QUEUE (`full`), and the channel
        // holds QUEUE + 1, so it always has room; a closed channel is a thread gone.
        if self.links[t].forwarder.try_send(send).is_err() {
            self.fail_job(t, job, "its forwarder thread is gone".into());
        }
    }

    fn fail_job(&mut self, t: usize, job: u64, why: String) {
        self.links[t].queued = self.links[t].queued.saturating_sub(1);
        self.jobs.remove(&job);
        if self.links[t].failed.is_none() {
            log::error!(
                "Redistribute: giving up on {}: {why}; its records stay on this node",
                self.links[t].target.addr
            );
            self.links[t].failed = Some(why);
            self.links[t].pending = Pending::new(self.batch_size);
        }
    }

    /// A forwarder's outcome: the acknowledged records are removed here. Then the walk goes on.
    pub fn sent(
        &mut self,
        target: usize,
        job: u64,
        result: Result<(), String>,
        storage: &mut Storage,
        stats: &mut Stats,
    ) {
        if let Err(why) = result {
            self.fail_job(target, job, why);
            return;
        }
        self.links[target].queued = self.links[target].queued.saturating_sub(1);
        let Some(j) = self.jobs.remove(&job) else {
            return;
        };
        if storage.channel(&j.channel).map(|e| e.id) == Some(j.channel_id) {
            for k in &j.keys {
                storage.remove(&j.channel, *k);
            }
        }
        self.moved.0 += j.keys.len() as u64;
        self.moved.1 += j.bytes;
        stats.action(Action::Forwarded, j.keys.len() as u64, j.bytes);
    }

    /// Whether a [`RedistEvent::Pump`] is already on its way (then an acknowledgement need
    /// not pump: the posted step will).
    pub fn pump_posted(&self) -> bool {
        self.pump_posted
    }

    fn finish(&mut self) -> Status {
        let secs = self.started.elapsed().as_secs_f64();
        let (records, bytes) = self.moved;
        log::info!(
            "Redistribute finished: {records} records ({bytes} bytes) moved in {secs:.1} s \
             ({:.0} records/s, {:.1} MB/s)",
            records as f64 / secs.max(1e-6),
            bytes as f64 / 1e6 / secs.max(1e-6)
        );
        if self.unowned > 0 {
            log::warn!(
                "Redistribute: {} records belong to no node of the request (loaded out of \
                 range); kept",
                self.unowned
            );
        }
        let failed: Vec<String> = self
            .links
            .iter()
            .filter_map(|l| {
                l.failed
                    .as_ref()
                    .map(|why| format!("{}: {why}", l.target.addr))
            })
            .collect();
        if failed.is_empty() {
            Status::Ok
        } else {
            log::error!(
                "Redistribute failed for {} of {} targets ({}); the records for them are \
                 still here, a second Redistribute sends them",
                failed.len(),
                self.links.len(),
                failed.join("; ")
            );
            Status::Error
        }
    }
}
