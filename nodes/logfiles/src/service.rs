//! The logfiles node's [`Service`]: decodes each request, dispatches it to its handler in
//! `requests/`, and owns what outlives a request: the channels and their writers
//! ([`Writes`]), the disk worker pools ([`Disk`]), the checkpoint timer, the Redistribute
//! running ([`Redistribution`]) and the stats. A connection's own state is its [`Session`].
//!
//! Every request but a scan, a Put whose bucket must be opened, a write in sync mode `group`
//! and a Redistribute is answered in the call that decoded it. Those wait ([`Step::Wait`]) for
//! a worker's (or the move's thread's) event, delivered to the connection
//! ([`Service::deliver`]).

use crate::disk::{Disk, LogfilesEvent};
use crate::redistribute::{self, RedistSettings, Redistribution};
use crate::requests::info::{self, Echo};
use crate::requests::put::{WriteStep, Writes};
use crate::requests::scan::{Filter, ScanCursor, ScanSpec};
use crate::requests::{channel_ok, status};
use crate::session::{Ongoing, Session};
use crate::stats::Stats;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use swarm_core::{ConnRef, Context, Handled, Out, Service, Step};
use swarm_protocol::key::parse_key;
use swarm_protocol::logfiles::{LogfilesCommand, LogfilesRequest};
use swarm_protocol::{DecodeError, Status};

/// Input bytes from which an incomplete request's announced length is passed to the loop
/// ([`Handled::NeedMore`]), so its buffer is reserved at once under the input budget.
const NEED_HINT_FROM: usize = 4096;

/// What the service needs from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Echoed in the size and connection replies.
    pub echo: Echo,
    /// `[Performance] file_buffer_size`.
    pub read_buffer: usize,
    /// `[Performance] checkpoint_commit_seconds`.
    pub checkpoint_every: Duration,
    /// `[Testing] read_delay_ms`.
    pub read_delay: Duration,
}

/// The logfiles node's storage and request handling.
#[derive(Debug)]
pub struct LogfilesService {
    writes: Writes,
    disk: Disk,
    settings: Settings,
    stats: Stats,
    next_checkpoint: Instant,
    redist: Redistribution,
    /// The last shutdown could not flush the write buffers (a full disk): the node serves on.
    unflushed_at_shutdown: bool,
    /// The tick's flush failed last time (its error is logged once per failing stretch).
    flush_failing: bool,
}

/// Whether the session's request is over.
fn is_idle(s: &Session) -> bool {
    matches!(s.ongoing, Ongoing::Idle)
}

impl LogfilesService {
    /// The service over `writes`, its disk work on `disk`.
    pub fn new(writes: Writes, disk: Disk, settings: Settings, redist: RedistSettings) -> Self {
        let next_checkpoint = Instant::now() + settings.checkpoint_every;
        LogfilesService {
            writes,
            disk,
            settings,
            stats: Stats::default(),
            next_checkpoint,
            redist: Redistribution::new(redist),
            unflushed_at_shutdown: false,
            flush_failing: false,
        }
    }

    /// Sets the port echoed in replies (the bound port, when the configured one was 0).
    pub fn set_port(&mut self, port: u16) {
        self.settings.echo.port = port;
    }

    /// The writes and channels.
    pub fn writes(&self) -> &Writes {
        &self.writes
    }

    fn dispatch(
        &mut self,
        cx: &mut Context<'_, LogfilesEvent>,
        s: &mut Session,
        req: LogfilesRequest<'_>,
        out: &mut Out<'_>,
    ) -> WriteStep {
        let storage = &self.writes.storage;
        let echo = &self.settings.echo;
        match req {
            LogfilesRequest::Put {
                channel,
                key,
                value,
            } => self
                .writes
                .put(&self.disk, &mut self.stats, s, channel, key, value, out),
            LogfilesRequest::PutBatch { channel, batch } => {
                self.writes
                    .put_batch(&self.disk, &mut self.stats, cx, s, channel, batch, out)
            }
            LogfilesRequest::GetChannels => {
                info::get_channels(storage, out);
                Ok(Step::Done)
            }
            LogfilesRequest::GetChannelSize { channel } => {
                info::get_channel_size(storage, echo, channel, out);
                Ok(Step::Done)
            }
            LogfilesRequest::GetSize => {
                info::get_size(storage, echo, out);
                Ok(Step::Done)
            }
            LogfilesRequest::GetNumConnections => {
                info::get_num_connections(echo, cx.num_connections(), out);
                Ok(Step::Done)
            }
            LogfilesRequest::GetVersion => {
                info::get_version(out);
                Ok(Step::Done)
            }
            LogfilesRequest::RemoveChannel { channel } => {
                self.remove_channel(channel, out);
                Ok(Step::Done)
            }
            LogfilesRequest::GetAll { channel } => {
                self.scan(s, LogfilesCommand::GetAll, channel, None, Filter::All, out)
            }
            LogfilesRequest::GetAllFilter { channel, filter } => self.scan(
                s,
                LogfilesCommand::GetAllFilter,
                channel,
                None,
                Filter::Substring(filter.to_vec()),
                out,
            ),
            LogfilesRequest::GetRange {
                channel,
                lower,
                upper,
            } => self.scan(
                s,
                LogfilesCommand::GetRange,
                channel,
                Some((lower, upper)),
                Filter::All,
                out,
            ),
            LogfilesRequest::GetRangeFilter {
                channel,
                lower,
                upper,
                filter,
            } => self.scan(
                s,
                LogfilesCommand::GetRangeFilter,
                channel,
                Some((lower, upper)),
                Filter::Substring(filter.to_vec()),
                out,
            ),
            LogfilesRequest::GetRangeRegex {
                channel,
                lower,
                upper,
                mode,
                pattern,
            } => self.scan(
                s,
                LogfilesCommand::GetRangeRegex,
                channel,
                Some((lower, upper)),
                Filter::Regex(mode, pattern.to_vec()),
                out,
            ),
            LogfilesRequest::Redistribute { fraction, nodes } => {
                Ok(self.redist.start(cx, s, fraction, &nodes, out))
            }
        }
    }

    /// RemoveChannel: 409 for a bad name; otherwise the channel is gone from the node at once
    /// (its directory renamed) and Ok is answered; a worker deletes its files. A channel that
    /// does not exist is Ok too, as in the original.
    fn remove_channel(&mut self, channel: &[u8], out: &mut Vec<u8>) {
        if !channel_ok(channel, out) {
            return;
        }
        let name = std::str::from_utf8(channel).unwrap_or_default();
        match self.writes.storage.remove_channel(name) {
            Ok(Some(dir)) => {
                if let Err(dir) = self.disk.remove(dir) {
                    log::warn!(
                        "{}: not deleted now (the worker queue is full); the next start deletes it",
                        dir.display()
                    );
                }
                status(out, Status::Ok);
            }
            Ok(None) => status(out, Status::Ok),
            Err(e) => {
                log::error!("RemoveChannel '{name}': {e}");
                status(out, Status::Error);
            }
        }
    }

    /// The range and "all" requests: 409 for a bad name, a malformed key closes the
    /// connection; then the channel's buffers are flushed and a worker runs the scan.
    fn scan(
        &mut self,
        s: &mut Session,
        command: LogfilesCommand,
        channel: &[u8],
        range: Option<(&[u8], &[u8])>,
        filter: Filter,
        out: &mut Vec<u8>,
    ) -> WriteStep {
        if !channel_ok(channel, out) {
            return Ok(Step::Done);
        }
        let (min, max) = match range {
            None => (0, u64::MAX),
            Some((lower, upper)) => {
                let bad = |e| format!("{}: {e}", command.name());
                (
                    parse_key(lower).map_err(bad)?,
                    parse_key(upper).map_err(bad)?,
                )
            }
        };
        let name = std::str::from_utf8(channel).unwrap_or_default();
        if let Err(e) = self.writes.storage.flush_channel(name) {
            // A full disk must not stop the reads: they serve what the files hold.
            log::error!(
                "{} on '{name}': {e}; the records still in the write buffers are not in its reply",
                command.name()
            );
        }
        let cursor = Box::new(ScanCursor::new(ScanSpec {
            command,
            channel_dir: self.writes.storage.channel_dir(name),
            min,
            max,
            filter,
            read_buffer: self.settings.read_buffer,
            read_delay: self.settings.read_delay,
        }));
        s.ongoing = Ongoing::Scan {
            command,
            parked: None,
        };
        Ok(self.send_scan(s, cursor))
    }

    /// Hands a scan's next turn to a worker; when the queue is full it stays parked and the
    /// connection is woken once there is room.
    fn send_scan(&mut self, s: &mut Session, cursor: Box<ScanCursor>) -> Step {
        if let Err(mut cursor) = self.disk.scan(s.conn, cursor) {
            cursor.park();
            if let Ongoing::Scan { parked, .. } = &mut s.ongoing {
                *parked = Some(cursor);
            }
        }
        Step::Wait
    }

    fn scanned(
        &mut self,
        s: &mut Session,
        output: crate::requests::scan::ScanOutput,
        out: &mut Out<'_>,
    ) -> Step {
        out.extend_from_slice(&output.wire);
        if let Some(reason) = output.failed {
            s.ongoing = Ongoing::Idle;
            return Step::Close(reason);
        }
        let Some(cursor) = output.cursor else {
            self.stats.handled(output.sent.0, output.sent.1);
            s.ongoing = Ongoing::Idle;
            return Step::Done;
        };
        if out.room() > 0 {
            return self.send_scan(s, cursor);
        }
        let mut cursor = cursor;
        cursor.park();
        if let Ongoing::Scan { parked, .. } = &mut s.ongoing {
            *parked = Some(cursor);
        }
        Step::More
    }

    /// A long partial request tells the loop its length.
    fn incomplete(input: &[u8]) -> Handled {
        if input.len() < NEED_HINT_FROM {
            return Handled::Incomplete;
        }
        match LogfilesRequest::needed_len(input) {
            Some(n) if n > input.len() => Handled::NeedMore(n),
            _ => Handled::Incomplete,
        }
    }

    fn finished(&mut self, s: &Session, cmd: Option<LogfilesCommand>, started: Instant) {
        if let (Some(cmd), true) = (cmd, is_idle(s)) {
            self.stats.finished(cmd, started.elapsed());
        }
    }
}

impl Service for LogfilesService {
    type Session = Session;
    type Event = LogfilesEvent;

    fn open(&mut self, conn: ConnRef, peer: SocketAddr) -> Session {
        Session::new(conn, peer)
    }

    fn handle(
        &mut self,
        cx: &mut Context<'_, LogfilesEvent>,
        s: &mut Session,
        input: &[u8],
        out: &mut Out<'_>,
    ) -> Handled {
        let (req, consumed) = match LogfilesRequest::decode(input) {
            Ok(decoded) => decoded,
            Err(DecodeError::Incomplete) => return Self::incomplete(input),
            Err(DecodeError::Invalid(e)) => return Handled::Close(e.to_string()),
        };
        let cmd = req.command();
        if cmd == LogfilesCommand::PutBatch && !cx.may_work() {
            // Inflating it waits for a turn with room (the others are served first).
            return Handled::Later;
        }
        let write = matches!(cmd, LogfilesCommand::Put | LogfilesCommand::PutBatch);
        if !write && !s.unsynced.is_empty() {
            // Earlier writes' replies wait for their fsync: this request waits for them, so
            // the replies stay in order (SyncDone wakes it).
            return Handled::Request {
                consumed: 0,
                step: Step::Wait,
            };
        }
        self.stats.started(cmd);
        s.started = cx.now();
        let deferred = s.unsynced.len();
        let step = match self.dispatch(cx, s, req, out) {
            Ok(step) => step,
            Err(reason) => return Handled::Close(reason),
        };
        // A deferred write is finished when its reply goes out.
        if step == Step::Done && s.unsynced.len() == deferred {
            self.stats.finished(cmd, s.started.elapsed());
        }
        Handled::Request { consumed, step }
    }

    fn resume(
        &mut self,
        _cx: &mut Context<'_, LogfilesEvent>,
        s: &mut Session,
        _out: &mut Out<'_>,
    ) -> Step {
        match &mut s.ongoing {
            Ongoing::Scan { parked, .. } => match parked.take() {
                Some(cursor) => self.send_scan(s, cursor),
                None => Step::Wait,
            },
            Ongoing::Idle => Step::Done,
            _ => Step::Wait,
        }
    }

    fn deliver(
        &mut self,
        _cx: &mut Context<'_, LogfilesEvent>,
        s: &mut Session,
        event: LogfilesEvent,
        out: &mut Out<'_>,
    ) -> Step {
        let cmd = s.ongoing.command();
        let step = match event {
            LogfilesEvent::Written(result) => {
                s.ongoing = Ongoing::Idle;
                match result {
                    Ok(reply) => {
                        status(out, reply);
                        Step::Done
                    }
                    Err(reason) => Step::Close(reason),
                }
            }
            LogfilesEvent::Deferred(reply) => {
                let (command, started) = (cmd.unwrap_or(LogfilesCommand::Put), s.started);
                s.ongoing = Ongoing::Idle;
                self.writes.defer(&self.disk, s, command, reply, started);
                return Step::Done;
            }
            LogfilesEvent::SyncDone { generation, ok } => {
                while let Some(d) = s.unsynced.front().copied() {
                    if d.generation > generation {
                        break;
                    }
                    s.unsynced.pop_front();
                    status(out, if ok { d.status } else { Status::Error });
                    self.stats.finished(d.command, d.started.elapsed());
                }
                return if is_idle(s) { Step::Done } else { Step::Wait };
            }
            LogfilesEvent::Scanned(output) => self.scanned(s, *output, out),
            LogfilesEvent::Redistributed(reply) => redistribute::answer(s, reply, out),
            _ => {
                if is_idle(s) {
                    Step::Done
                } else {
                    Step::Wait
                }
            }
        };
        self.finished(s, cmd, s.started);
        step
    }

    fn on_event(&mut self, cx: &mut Context<'_, LogfilesEvent>, event: LogfilesEvent) {
        match event {
            LogfilesEvent::Opened {
                channel,
                first_key,
                result,
                put_back,
            } => {
                self.writes
                    .opened(cx, &self.disk, &mut self.stats, channel, first_key, result);
                if let Some((tmp, went)) = put_back {
                    self.redist
                        .put_back_done(&mut self.writes, &self.disk, &tmp, went);
                }
            }
            LogfilesEvent::GroupDue => self.writes.group_due(&self.disk),
            LogfilesEvent::Synced {
                generation,
                checkpoint,
                result,
            } => {
                let ok = result.is_ok();
                self.writes
                    .synced(cx, &self.disk, generation, checkpoint, result);
                if checkpoint {
                    self.redist
                        .checkpointed(&mut self.writes, &self.disk, generation, ok);
                }
            }
            LogfilesEvent::Redist(event) => {
                self.redist
                    .on_event(cx, &mut self.writes, &mut self.stats, &self.disk, event)
            }
            LogfilesEvent::Removed { dir, result } => match result {
                Ok(()) => log::info!("Deleted the files of a removed channel ({})", dir.display()),
                Err(e) => log::error!("{e}"),
            },
            _ => {}
        }
    }

    fn close(&mut self, _cx: &mut Context<'_, LogfilesEvent>, s: Session) {
        self.disk.cancel(s.conn);
        self.writes.forget(s.conn);
        for d in &s.unsynced {
            self.stats.finished(d.command, d.started.elapsed());
        }
        if let Some(cmd) = s.ongoing.command() {
            self.stats.finished(cmd, s.started.elapsed());
        }
    }

    fn tick(&mut self, cx: &mut Context<'_, LogfilesEvent>) {
        self.writes.tick(&self.disk);
        // Once per failing stretch, not every tick: a full disk would fill root.log 4 lines a
        // second (and root.log may be on the full disk).
        match self.writes.storage.flush_all() {
            Err(e) if !self.flush_failing => {
                log::error!("flushing the write buffers: {e} (logged once until it succeeds)");
                self.flush_failing = true;
            }
            Err(_) => {}
            Ok(()) if self.flush_failing => {
                log::info!("flushing the write buffers: succeeds again");
                self.flush_failing = false;
            }
            Ok(()) => {}
        }
        if cx.now() >= self.next_checkpoint {
            self.writes.checkpoint(&self.disk);
            self.next_checkpoint = cx.now() + self.settings.checkpoint_every;
        }
    }

    fn shutdown(&mut self, _cx: &mut Context<'_, LogfilesEvent>) {
        // First, while everything still runs: buffers that cannot reach the disk (a full disk)
        // hold records, acknowledged ones in checkpoint mode, that an exit would drop. The
        // node serves on instead, and the next SIGTERM tries again.
        self.unflushed_at_shutdown = false;
        if let Err(e) = self.writes.storage.flush_all() {
            log::error!("Shutting down: {e}; the write buffers cannot be written");
            self.unflushed_at_shutdown = true;
            return;
        }
        self.redist.stop();
        log::info!("Shutting down: flushing, syncing and closing every bucket");
        self.disk.shutdown();
        if let Err(e) = self.writes.close_and_sync() {
            log::error!("{e}; checkpoint.dat is kept, so the next start recovers");
        }
    }

    fn shutdown_incomplete(&self) -> bool {
        self.unflushed_at_shutdown
    }

    fn stats(&mut self) -> Vec<(String, String)> {
        self.stats.line(self.writes.storage.total())
    }

    fn command_names(&self) -> Vec<&'static str> {
        LogfilesCommand::ALL.iter().map(|c| c.name()).collect()
    }

    fn command(&self, _session: &Session, input: &[u8]) -> Option<usize> {
        let code = i32::from_le_bytes(input.get(..4)?.try_into().ok()?);
        LogfilesCommand::ALL.iter().position(|c| c.code() == code)
    }

    fn metrics(&self, page: &mut swarm_core::metrics::Exposition) {
        self.stats.metrics(&self.writes.storage, page);
    }

    fn console(&self) -> String {
        let storage = &self.writes.storage;
        let total = storage.total();
        let keys = match storage.key_range() {
            Some((lo, hi)) => format!("keys {lo:016x}..{hi:016x}, "),
            None => String::new(),
        };
        format!(
            "{keys}{} records, {} bytes in {} channels, {} handled",
            total.records,
            total.bytes,
            storage.channel_names().count(),
            self.stats.total_handled()
        )
    }
}
