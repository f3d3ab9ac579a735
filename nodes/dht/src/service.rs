//! The dht node's [`Service`]: decodes each request, dispatches it to its handler in
//! `requests/` (handing each only the fields it uses), and owns what outlives a request: the channels, the Listen registry
//! ([`Listens`]), the periodic dump ([`Dumper`]), a Redistribute in progress ([`Redistribution`]). A connection's own state is its
//! [`Session`] (`session`).

use crate::dump::file::{dump_all_counted, DumpSummary};
use crate::dump::periodic::Dumper;
use crate::redist::gain::Gained;
use crate::redist::{RedistEvent, Redistribution};
use crate::requests::listen::Listens;
use crate::requests::{get, get_all, info, listen, put, put_batch, redistribute, remove};
use crate::requests::{remove_channel, ChannelCheck};
use crate::session::{Ongoing, Session};
use crate::stats::Stats;
use crate::storage::Storage;
use std::net::SocketAddr;
use swarm_core::{ConnRef, Context, Handled, Out, Prepare, Service, Step};
use swarm_protocol::batch::{BatchBuilder, Inflater};
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::DecodeError;

// Defined in modules of their own so the request files need nothing from this one; also
// named here, where the periodic dump and the library's users look for them.
pub use crate::event::DhtEvent;
pub use crate::settings::DhtSettings;

/// Input bytes from which an incomplete request's announced length is passed to the loop
/// ([`Handled::NeedMore`]), so its buffer is reserved at once under the input budget; shorter
/// requests fit the buffer every connection has.
const NEED_HINT_FROM: usize = 4096;

/// The dht node's storage and request handling.
#[derive(Debug)]
pub struct DhtService {
    storage: Storage,
    settings: DhtSettings,
    /// `pub(crate)` only for the Listen tests, which check that no Listen is left.
    pub(crate) listens: Listens,
    batch: BatchBuilder,
    /// The buffer PutBatch batches are inflated into, kept between them.
    inflater: Inflater,
    stats: Stats,
    names: ChannelCheck,
    dumper: Dumper,
    /// Scratch list of the connections `prepare` prefetches for.
    prefetching: Vec<usize>,
    /// What the shutdown dump wrote (`None` before shutdown).
    shutdown_dump: Option<DumpSummary>,
    /// The Redistribute in progress.
    redist: Option<Redistribution>,
    /// The ranges the last Redistribute gained, while their old owners may still send records.
    gained: Option<Gained>,
}

impl DhtService {
    /// A node with empty storage.
    pub fn new(settings: DhtSettings, size_limit: u64) -> Self {
        DhtService {
            storage: Storage::new(size_limit),
            batch: BatchBuilder::new(settings.batch_size),
            inflater: Inflater::default(),
            dumper: Dumper::new(settings.data_dir.clone(), settings.dump_period_s),
            settings,
            listens: Listens::default(),
            stats: Stats::default(),
            names: ChannelCheck::default(),
            prefetching: Vec::new(),
            shutdown_dump: None,
            redist: None,
            gained: None,
        }
    }

    /// Whether a periodic dump is running.
    pub fn dumping(&self) -> bool {
        self.dumper.is_running()
    }

    /// The shutdown dump: cuts a running periodic dump, then dumps every channel. Returns how
    /// many channels could not be dumped. [`Service::shutdown`] does this once; calling it
    /// again (a loop that failed before shutdown) dumps again.
    pub fn dump_all(&mut self) -> usize {
        self.dumper.stop();
        let summary = dump_all_counted(&self.settings.data_dir, &self.storage);
        self.shutdown_dump = Some(summary);
        summary.failed
    }

    /// How many channels the shutdown dump could not write, if it ran.
    pub fn shutdown_failures(&self) -> Option<usize> {
        self.shutdown_dump.map(|s| s.failed)
    }

    /// What the shutdown dump wrote, if it ran.
    pub fn shutdown_dump(&self) -> Option<DumpSummary> {
        self.shutdown_dump
    }

    /// The records.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The records, for loading dumps.
    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.storage
    }

    /// The settings.
    pub fn settings(&self) -> &DhtSettings {
        &self.settings
    }

    /// Sets the port echoed in replies (the bound port, when the configured one was 0).
    pub fn set_port(&mut self, port: u16) {
        self.settings.port = port;
    }

    fn dispatch(
        &mut self,
        cx: &mut Context<'_, DhtEvent>,
        s: &mut Session,
        req: DhtRequest<'_>,
        out: &mut Out<'_>,
    ) -> Result<Step, String> {
        // Each handler borrows only the fields it touches.
        let DhtService {
            storage,
            settings,
            listens,
            stats,
            names,
            redist,
            gained,
            inflater,
            ..
        } = self;
        match req {
            DhtRequest::Put {
                channel,
                key,
                value,
            } => put::put(
                storage, stats, names, listens, cx, settings, channel, key, value, out,
            ),
            DhtRequest::Get { channel, key } => get::get(storage, stats, names, channel, key, out),
            DhtRequest::Exists { channel, key } => get::exists(storage, names, channel, key, out),
            DhtRequest::Remove { channel, key } => remove::remove(
                storage,
                stats,
                names,
                settings.range,
                gained.as_mut(),
                channel,
                key,
                out,
            ),
            DhtRequest::GetChannels => Ok(info::get_channels(storage, out)),
            DhtRequest::GetChannelSize { channel } => Ok(info::get_channel_size(
                storage, settings, names, channel, out,
            )),
            DhtRequest::GetSize => Ok(info::get_size(storage, settings, out)),
            DhtRequest::GetResponsibleRange => Ok(info::get_responsible_range(settings.range, out)),
            DhtRequest::GetNumConnections => Ok(info::get_num_connections(
                settings,
                cx.num_connections(),
                out,
            )),
            DhtRequest::GetVersion => Ok(info::get_version(out)),
            DhtRequest::RemoveChannel { channel } => Ok(remove_channel::remove_channel(
                storage,
                stats,
                names,
                listens,
                cx,
                &settings.data_dir,
                channel,
                out,
            )),
            DhtRequest::Listen { channel } => {
                Ok(listen::listen(storage, names, listens, s, channel, out))
            }
            DhtRequest::GetAll { channel } => Ok(self.get_all(s, channel, None, false, out)),
            DhtRequest::GetAllKeys { channel } => Ok(self.get_all(s, channel, None, true, out)),
            DhtRequest::GetAllFilter { channel, filter } => {
                Ok(self.get_all(s, channel, Some(filter), false, out))
            }
            DhtRequest::PutBatch { channel, batch } => {
                let moving = put_batch::Moving {
                    guard: redist.as_ref().map(Redistribution::memory_limit),
                    gained: gained.as_ref(),
                };
                put_batch::put_batch(
                    storage, stats, names, settings, moving, inflater, cx, channel, batch, out,
                )
            }
            DhtRequest::Redistribute { min, max, nodes } => Ok(redistribute::redistribute(
                redist,
                gained,
                storage,
                settings,
                cx,
                s,
                (min, max),
                &nodes,
                out,
            )),
        }
    }

    /// The Redistribute's next step; when the move is over, its requester is answered.
    fn pump_redistribution(&mut self, cx: &mut Context<'_, DhtEvent>) {
        let Some(r) = &mut self.redist else {
            return;
        };
        if let Some(st) = r.pump(&self.storage, self.settings.range, &cx.mailbox()) {
            cx.post(r.requester, DhtEvent::Redist(RedistEvent::Finished(st)));
            self.redist = None;
        }
    }

    /// GetAll, GetAllKeys or GetAllFilter: one call for the three.
    fn get_all(
        &mut self,
        s: &mut Session,
        channel: &[u8],
        filter: Option<&[u8]>,
        keys_only: bool,
        out: &mut Vec<u8>,
    ) -> Step {
        get_all::get_all(
            &self.storage,
            &mut self.stats,
            &mut self.names,
            &mut self.batch,
            &mut s.ongoing,
            channel,
            filter,
            keys_only,
            out,
        )
    }

    /// A request that did not decode as a whole: too long a Put value is answered and
    /// discarded as it arrives; a long partial request tells the loop its length.
    fn incomplete(&mut self, input: &[u8], out: &mut Out<'_>) -> Handled {
        if input.len() < NEED_HINT_FROM {
            return Handled::Incomplete;
        }
        let limit = self.settings.value_limit() as u64;
        if let Some(put) = DhtRequest::oversized_put(input, limit) {
            return put::put_too_big(&mut self.stats, &mut self.names, &self.settings, &put, out);
        }
        match DhtRequest::needed_len(input) {
            Some(n) if n > input.len() => Handled::NeedMore(n),
            _ => Handled::Incomplete,
        }
    }
}

impl Service for DhtService {
    type Session = Session;
    type Event = DhtEvent;

    fn open(&mut self, conn: ConnRef, peer: SocketAddr) -> Session {
        Session::new(conn, peer)
    }

    fn prepare(&mut self, batch: &mut Prepare<'_, Session>) {
        crate::prefetch::prefetch(&self.storage, batch, &mut self.prefetching);
    }

    fn handle(
        &mut self,
        cx: &mut Context<'_, DhtEvent>,
        s: &mut Session,
        input: &[u8],
        out: &mut Out<'_>,
    ) -> Handled {
        let (req, consumed) = match DhtRequest::decode(input) {
            Ok(decoded) => decoded,
            Err(DecodeError::Incomplete) => return self.incomplete(input, out),
            Err(DecodeError::Invalid(e)) => return Handled::Close(e.to_string()),
        };
        if matches!(req, DhtRequest::PutBatch { .. }) && !cx.may_work() {
            // Inflating it waits for a turn with room (the others are served first).
            return Handled::Later;
        }
        let cmd = req.command();
        self.stats.started(cmd);
        let result = self.dispatch(cx, s, req, out);
        if !matches!(result, Ok(Step::More | Step::Wait)) {
            self.stats.finished(cmd);
        }
        match result {
            Ok(step) => Handled::Request { consumed, step },
            Err(why) => Handled::Close(format!("{} request: {why}", cmd.name())),
        }
    }

    fn resume(
        &mut self,
        cx: &mut Context<'_, DhtEvent>,
        s: &mut Session,
        out: &mut Out<'_>,
    ) -> Step {
        let cmd = s.ongoing.command();
        let step = match s.ongoing {
            Ongoing::Idle => Step::Done,
            Ongoing::Iteration(_) => get_all::resume_iteration(
                &self.storage,
                &mut self.stats,
                &mut self.batch,
                &mut s.ongoing,
                out,
            ),
            Ongoing::Redistribute => Step::Wait,
            Ongoing::Listen(_) => listen::resume_listen(
                &self.storage,
                &mut self.stats,
                &mut self.listens,
                cx,
                s,
                out,
            ),
        };
        if step == Step::Done {
            s.ongoing = Ongoing::Idle;
            if let Some(cmd) = cmd {
                self.stats.finished(cmd);
            }
        }
        step
    }

    fn deliver(
        &mut self,
        cx: &mut Context<'_, DhtEvent>,
        s: &mut Session,
        event: DhtEvent,
        out: &mut Out<'_>,
    ) -> Step {
        match event {
            DhtEvent::Listen(e) => self.listens.deliver(cx, s, e),
            DhtEvent::Redist(RedistEvent::Finished(st)) => {
                if matches!(s.ongoing, Ongoing::Redistribute) {
                    crate::requests::status(out, st);
                    s.ongoing = Ongoing::Idle;
                    self.stats
                        .finished(swarm_protocol::dht::DhtCommand::Redistribute);
                }
            }
            _ => {}
        }
        s.ongoing.step()
    }

    fn on_event(&mut self, cx: &mut Context<'_, DhtEvent>, event: DhtEvent) {
        match event {
            DhtEvent::Dump(e) => self.dumper.on_event(e, &self.storage),
            DhtEvent::Redist(RedistEvent::Pump) => self.pump_redistribution(cx),
            DhtEvent::Redist(RedistEvent::Sent {
                target,
                job,
                result,
            }) => {
                let Some(r) = &mut self.redist else {
                    return;
                };
                r.sent(target, job, result, &mut self.storage, &mut self.stats);
                if !r.pump_posted() {
                    self.pump_redistribution(cx);
                }
            }
            DhtEvent::Redist(RedistEvent::Finished(_)) | DhtEvent::Listen(_) => {}
        }
    }

    fn close(&mut self, _cx: &mut Context<'_, DhtEvent>, s: Session) {
        if let Some(cmd) = s.ongoing.command() {
            self.stats.finished(cmd);
        }
        self.listens.forget(s.conn);
    }

    fn tick(&mut self, cx: &mut Context<'_, DhtEvent>) {
        let mailbox = cx.mailbox();
        self.dumper.tick(cx.now(), &self.storage, &mailbox);
        if self.gained.as_ref().is_some_and(|g| g.expired(cx.now())) {
            self.gained = None;
        }
    }

    fn shutdown(&mut self, _cx: &mut Context<'_, DhtEvent>) {
        log::info!("Dumping every channel before exit");
        self.dump_all();
    }

    /// A channel that could not be dumped (a full disk) keeps the node up: its records are
    /// only in memory, and the next SIGTERM dumps again (README "Stopping").
    fn shutdown_incomplete(&self) -> bool {
        self.shutdown_failures().is_some_and(|failed| failed > 0)
    }

    fn stats(&mut self) -> Vec<(String, String)> {
        self.stats.line(&self.storage)
    }

    fn command_names(&self) -> Vec<&'static str> {
        DhtCommand::ALL.iter().map(|c| c.name()).collect()
    }

    fn command(&self, _session: &Session, input: &[u8]) -> Option<usize> {
        let code = i32::from_le_bytes(input.get(..4)?.try_into().ok()?);
        DhtCommand::ALL.iter().position(|c| c.code() == code)
    }

    fn metrics(&self, page: &mut swarm_core::metrics::Exposition) {
        self.stats.metrics(&self.storage, page);
    }

    fn console(&self) -> String {
        let r = self.settings.range;
        let text = format!(
            "range 0x{:016x}..0x{:016x}, {} records, {} bytes in {} channels",
            r.min,
            r.max,
            self.storage.records(),
            self.storage.bytes(),
            self.storage.channel_names().len()
        );
        let text = match &self.redist {
            Some(r) => format!("{text}, redistributing ({} records moved)", r.moved().0),
            None => text,
        };
        if self.dumper.is_running() {
            format!("{text}, dumping")
        } else {
            text
        }
    }
}
