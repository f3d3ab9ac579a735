//! The periodic dump (`[Options_Memory] dump_period_s`, ours), run by the event loop in bounded
//! steps so serving never stops for more than a step (a fraction of a millisecond).
//!
//! A cycle snapshots the channel names, then walks each channel by slot with
//! `Channel::next_from` (the iteration GetAll uses: a record present for the whole walk is
//! dumped exactly once, records changed meanwhile may be dumped old or new, or not at all if
//! added or removed). Each step serializes about [`STEP_BYTES`] of `.tcm` records into a buffer
//! and hands it to the writer (`writer`, on a one-thread worker pool with a bounded queue),
//! which does every file operation. Every job's report comes back to the loop as an event
//! ([`DumpEvent::Report`]), on which the next step is made; while the queue has room the loop
//! posts itself a [`DumpEvent::Step`], so the dump runs as fast as the disk allows with the
//! loop polling its sockets between any two steps. A channel removed during its walk is
//! aborted (its temp file deleted) and not written.

use super::file::{DumpError, Written};
use super::retire_generation;
use super::writer::{Job, Outcome, Writer};
use crate::event::DhtEvent;
use crate::storage::Storage;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use swarm_core::work::{Full, Pool};
use swarm_core::Mailbox;
use swarm_protocol::tcm::encode_record;

pub use super::writer::Report;

/// What the periodic dump sends itself through the loop's mailbox.
#[derive(Debug)]
pub enum DumpEvent {
    /// The writer finished a job.
    Report(Report),
    /// Make the next step (the writer's queue had room after the last one).
    Step,
}

/// `.tcm` bytes serialized per loop step.
pub const STEP_BYTES: usize = 512 * 1024;
/// A step longer than this is counted in the cycle's last log line (the loop's budget for
/// holding its sockets: issue 14's target for the longest step).
const SLOW_STEP: Duration = Duration::from_millis(2);
/// Room past [`STEP_BYTES`] in a chunk buffer for the record that crosses it.
const BUFFER_SLACK: usize = 128 * 1024;
/// Jobs the writer may have queued: bounds the memory of a dump to a few steps.
const QUEUE: usize = 4;

/// A channel being walked.
#[derive(Debug)]
struct Walk {
    name: Box<[u8]>,
    id: u64,
    cursor: usize,
}

/// One dump cycle over every channel.
#[derive(Debug)]
struct Cycle {
    started: Instant,
    writer: Pool<Job, DhtEvent>,
    mailbox: Mailbox<DhtEvent>,
    /// Jobs of the last step the writer's queue has not taken yet.
    queue: VecDeque<Job>,
    /// Channels not started yet (taken from the back).
    todo: Vec<Box<[u8]>>,
    current: Option<Walk>,
    /// Channels begun whose outcome the writer has not reported.
    outstanding: usize,
    spare: Vec<Vec<u8>>,
    written: Written,
    channels: usize,
    failed: usize,
    steps: u64,
    longest_step: Duration,
    /// Time in steps, and steps longer than [`SLOW_STEP`].
    step_time: Duration,
    slow_steps: u64,
    /// What the slow steps spent: CPU, involuntary context switches, page faults.
    slow_usage: Usage,
    /// A [`DumpEvent::Step`] is in the mailbox.
    step_posted: bool,
}

/// The periodic dump's state on the loop thread.
#[derive(Debug)]
pub struct Dumper {
    data_dir: PathBuf,
    period: Option<Duration>,
    next_due: Option<Instant>,
    cycle: Option<Cycle>,
}

impl Dumper {
    /// A dumper for `data_dir` running every `period_s` seconds (0: never).
    pub fn new(data_dir: PathBuf, period_s: u64) -> Self {
        Dumper {
            data_dir,
            period: (period_s > 0).then(|| Duration::from_secs(period_s)),
            next_due: None,
            cycle: None,
        }
    }

    /// Whether a cycle is running.
    pub fn is_running(&self) -> bool {
        self.cycle.is_some()
    }

    /// The loop's tick: starts a cycle when one is due, and moves a running one on (in case a
    /// step was missed).
    pub fn tick(&mut self, now: Instant, storage: &Storage, mailbox: &Mailbox<DhtEvent>) {
        let Some(period) = self.period else { return };
        if self.cycle.is_none() {
            let due = *self.next_due.get_or_insert(now + period);
            if now < due {
                return;
            }
            self.start(now, storage, mailbox);
        }
        self.pump(storage, false);
    }

    /// The writer reported, or a step is due: take the report; on a Step, make the next step. A report of
    /// a cycle already cut (at shutdown) is only logged.
    pub fn on_event(&mut self, event: DumpEvent, storage: &Storage) {
        match self.cycle.as_mut() {
            Some(c) => {
                let step = match event {
                    DumpEvent::Report(r) => {
                        c.take_report(r);
                        false
                    }
                    DumpEvent::Step => {
                        c.step_posted = false;
                        true
                    }
                };
                self.pump(storage, step);
            }
            None => {
                if let DumpEvent::Report(Report::Done { channel, outcome }) = event {
                    log_outcome(&channel, &outcome);
                }
            }
        }
    }

    /// Cuts a running cycle (at shutdown, before the full dump): channels already handed to
    /// the writer in full are still committed, a half-written one is discarded. The writer's
    /// last reports arrive as events after this.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.cycle.take() {
            log::info!("Stopping the periodic dump in progress");
            c.queue.clear();
            c.writer.shutdown();
        }
    }

    fn start(&mut self, now: Instant, storage: &Storage, mailbox: &Mailbox<DhtEvent>) {
        let t0 = Instant::now();
        let period = self.period.unwrap_or_default();
        self.next_due = Some(now + period);
        let data_dir = self.data_dir.clone();
        let writer = Pool::new("dump-writer", 1, QUEUE, mailbox.clone(), || {
            let mut w = Writer::new(data_dir.clone());
            move |job| w.work(job).map(|r| DhtEvent::Dump(DumpEvent::Report(r)))
        });
        let writer = match writer {
            Ok(w) => w,
            Err(e) => {
                log::error!("Periodic dump skipped: cannot start the writer thread: {e}");
                return;
            }
        };
        let mut todo: Vec<Box<[u8]>> = storage.channel_names().into_iter().map(Box::from).collect();
        todo.reverse();
        log::info!("Periodic dump of {} channels started", todo.len());
        self.cycle = Some(Cycle {
            started: now,
            writer,
            mailbox: mailbox.clone(),
            queue: VecDeque::new(),
            todo,
            current: None,
            outstanding: 0,
            spare: Vec::new(),
            written: Written {
                records: 0,
                bytes: 0,
            },
            channels: 0,
            failed: 0,
            steps: 0,
            longest_step: t0.elapsed(), // spawning the writer, listing the channels
            step_time: Duration::ZERO,
            slow_steps: 0,
            slow_usage: Usage::default(),
            step_posted: false,
        });
    }

    /// Hands the writer queued jobs; on a [`DumpEvent::Step`] (`step`), makes one step. A step
    /// is only ever made on a Step event, and at most one Step is posted at a time, so a loop
    /// turn makes at most one step however many reports it delivers (each report used to make
    /// one, and a turn that took five reports serialized 2.5 MiB).
    fn pump(&mut self, storage: &Storage, step: bool) {
        let Some(c) = self.cycle.as_mut() else { return };
        let t0 = Instant::now();
        let u0 = Usage::now();
        // `false`: the writer's queue is full; its next report brings us back.
        let mut room = c.send_queued();
        if room && step {
            c.step(storage);
            room = c.send_queued();
        }
        if room && !c.step_posted && (c.current.is_some() || !c.todo.is_empty()) {
            // Come back after the loop has polled its sockets.
            c.step_posted = c.mailbox.post_node(DhtEvent::Dump(DumpEvent::Step));
        }
        let took = t0.elapsed();
        c.steps += u64::from(step);
        c.longest_step = c.longest_step.max(took);
        c.step_time += took;
        if took > SLOW_STEP {
            c.slow_steps += 1;
            c.slow_usage.add(&Usage::now().since(&u0));
        }
        if c.queue.is_empty() && c.current.is_none() && c.todo.is_empty() && c.outstanding == 0 {
            self.finish(t0);
        }
    }

    /// Ends the cycle (its last step began at `t0`: joining the writer counts in it).
    fn finish(&mut self, t0: Instant) {
        let Some(mut c) = self.cycle.take() else {
            return;
        };
        c.writer.shutdown();
        c.longest_step = c.longest_step.max(t0.elapsed());
        log::info!(
            "Periodic dump finished in {:.3} s: {} channels ({} failed), {} records, {} bytes \
             written; longest event-loop step {} us over {} steps (mean {} us, {} over {} ms: \
             {} us on the CPU, {} preemptions, {} page faults)",
            c.started.elapsed().as_secs_f64(),
            c.channels,
            c.failed,
            c.written.records,
            c.written.bytes,
            c.longest_step.as_micros(),
            c.steps,
            c.step_time.as_micros() / u128::from(c.steps.max(1)),
            c.slow_steps,
            SLOW_STEP.as_millis(),
            c.slow_usage.cpu.as_micros(),
            c.slow_usage.preempted,
            c.slow_usage.faults
        );
    }
}

/// The loop thread's resource use (`getrusage(RUSAGE_THREAD)`): tells a step that worked long
/// from one the kernel held (preempted, or faulting pages in).
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    cpu: Duration,
    preempted: u64,
    faults: u64,
}

impl Usage {
    fn now() -> Usage {
        // SAFETY: all-zero bytes are a valid `rusage` (integers and timevals).
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `ru` is a valid, writable `rusage`; RUSAGE_THREAD reads the calling thread.
        if unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) } != 0 {
            return Usage::default();
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Usage {
            cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
            preempted: ru.ru_nivcsw.max(0) as u64,
            faults: (ru.ru_minflt.max(0) + ru.ru_majflt.max(0)) as u64,
        }
    }

    fn since(&self, before: &Usage) -> Usage {
        Usage {
            cpu: self.cpu.saturating_sub(before.cpu),
            preempted: self.preempted.saturating_sub(before.preempted),
            faults: self.faults.saturating_sub(before.faults),
        }
    }

    fn add(&mut self, other: &Usage) {
        self.cpu += other.cpu;
        self.preempted += other.preempted;
        self.faults += other.faults;
    }
}

impl Cycle {
    fn take_report(&mut self, r: Report) {
        match r {
            Report::Begun => {}
            Report::Buffer(b) if self.spare.len() <= QUEUE => self.spare.push(b),
            Report::Buffer(_) => {}
            Report::Done { channel, outcome } => {
                self.outstanding -= 1;
                match &outcome {
                    Outcome::Written(w) => {
                        self.channels += 1;
                        self.written.records += w.records;
                        self.written.bytes += w.bytes;
                    }
                    Outcome::Failed(DumpError::ChannelRemoved) | Outcome::Discarded => {}
                    Outcome::Failed(_) => self.failed += 1,
                }
                log_outcome(&channel, &outcome);
            }
        }
    }

    /// Hands queued jobs to the writer: `true` when all were taken, `false` when its queue is
    /// full.
    fn send_queued(&mut self) -> bool {
        while let Some(job) = self.queue.pop_front() {
            if let Err(Full(job)) = self.writer.submit_node(job) {
                self.queue.push_front(job);
                return false;
            }
        }
        true
    }

    /// One step: starts the next channel and/or serializes up to [`STEP_BYTES`] of it into
    /// queued jobs. `false` when there is nothing left to walk.
    fn step(&mut self, storage: &Storage) -> bool {
        if self.current.is_none() && !self.begin_next(storage) {
            return false;
        }
        let Some(walk) = self.current.as_mut() else {
            return false;
        };
        let channel = match storage.channel(&walk.name) {
            Some(entry) if entry.id == walk.id => &entry.data,
            _ => {
                log::warn!(
                    "Channel '{}' was removed during its dump; not written",
                    String::from_utf8_lossy(&walk.name)
                );
                self.queue.push_back(Job::Abort);
                self.current = None;
                return true;
            }
        };
        // Full capacity from the start: growing a buffer step by step would copy it.
        let mut buf = self
            .spare
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(STEP_BYTES + BUFFER_SLACK));
        buf.clear();
        let (mut records, mut end) = (0u64, false);
        while buf.len() < STEP_BYTES {
            match channel.next_from(walk.cursor) {
                Some((pos, key, value)) => {
                    encode_record(&mut buf, key, value);
                    walk.cursor = pos + 1;
                    records += 1;
                }
                None => {
                    end = true;
                    break;
                }
            }
        }
        if records > 0 {
            self.queue.push_back(Job::Chunk {
                bytes: buf,
                records,
            });
        } else {
            self.spare.push(buf);
        }
        if end {
            self.queue.push_back(Job::Finish);
            self.current = None;
        }
        true
    }

    /// Starts the next channel that still exists; `false` when none is left.
    fn begin_next(&mut self, storage: &Storage) -> bool {
        while let Some(name) = self.todo.pop() {
            let Some(entry) = storage.channel(&name) else {
                continue;
            };
            log::info!(
                "Dumping channel '{}' to disk",
                String::from_utf8_lossy(&name)
            );
            self.queue.push_back(Job::Begin {
                channel: name.clone(),
                since: retire_generation(),
            });
            self.current = Some(Walk {
                name,
                id: entry.id,
                cursor: 0,
            });
            self.outstanding += 1;
            return true;
        }
        false
    }
}

/// The root.log line for a channel's dump.
pub(super) fn log_outcome(channel: &[u8], outcome: &Outcome) {
    let name = String::from_utf8_lossy(channel);
    match outcome {
        Outcome::Written(w) => log::info!(
            "Finished dumping channel '{name}': {} records, {} bytes written",
            w.records,
            w.bytes
        ),
        Outcome::Failed(DumpError::ChannelRemoved) => {
            log::info!("Dump of channel '{name}' discarded: the channel was removed")
        }
        Outcome::Failed(e) => log::error!("Dumping channel '{name}' failed: {e}"),
        Outcome::Discarded => log::info!("Dump of channel '{name}' discarded"),
    }
}

#[cfg(test)]
mod tests;
