//! The queue node's [`Service`]: decodes each request (or, during a Produce stream, each
//! record), dispatches it to its handler in `requests/`, and owns what outlives a request: the
//! channels ([`MemoryStore`]) and the registry of Consume streams ([`Consumers`]). A
//! connection's own state is its [`Session`].

use crate::requests::consume::{self, Consumers};
use crate::requests::{info, pop, produce, push, remove_channel};
use crate::session::{Ongoing, Session};
use crate::settings::QueueSettings;
use crate::stats::{fullness, Stats};
use crate::storage::{MemoryStore, QueueStore};
use std::net::SocketAddr;
use swarm_core::{ConnRef, Context, Handled, Out, Service, Step};
use swarm_protocol::queue::{decode_stream_record, QueueCommand, QueueRequest, StreamRecord};
use swarm_protocol::wire::Reader;
use swarm_protocol::DecodeError;

/// Input bytes from which an incomplete request's announced length is passed to the loop
/// ([`Handled::NeedMore`]), so its buffer is reserved at once under the input budget; shorter
/// requests fit the buffer every connection has.
const NEED_HINT_FROM: usize = 4096;

/// Channels the console line names (the fullest first).
const CONSOLE_CHANNELS: usize = 8;

/// The queue node's storage and request handling.
#[derive(Debug)]
pub struct QueueService {
    store: MemoryStore,
    settings: QueueSettings,
    consumers: Consumers,
    stats: Stats,
    /// Channels the shutdown dump could not write (`None` before shutdown).
    shutdown_failures: Option<usize>,
}

impl QueueService {
    /// A node over `store` (empty, or loaded from the data directory).
    pub fn new(settings: QueueSettings, store: MemoryStore) -> Self {
        QueueService {
            store,
            settings,
            consumers: Consumers::default(),
            stats: Stats::default(),
            shutdown_failures: None,
        }
    }

    /// The channels.
    pub fn store(&self) -> &MemoryStore {
        &self.store
    }

    /// The channels, for loading dumps.
    pub fn store_mut(&mut self) -> &mut MemoryStore {
        &mut self.store
    }

    /// The settings.
    pub fn settings(&self) -> &QueueSettings {
        &self.settings
    }

    /// Sets the port echoed in replies (the bound port, when the configured one was 0).
    pub fn set_port(&mut self, port: u16) {
        self.settings.port = port;
    }

    /// The shutdown dump: every non-empty ring to `<data_dir>/<channel>.rq`. Returns how many
    /// channels could not be written (each logged). [`Service::shutdown`] does this once;
    /// calling it again (a loop that failed before shutdown) dumps again.
    pub fn dump_all(&mut self) -> usize {
        let failed = crate::dump::dump_all(&self.settings.data_dir, &self.store);
        self.shutdown_failures = Some(failed);
        failed
    }

    /// How many channels the shutdown dump could not write, if it ran.
    pub fn shutdown_failures(&self) -> Option<usize> {
        self.shutdown_failures
    }

    /// Active Consume streams.
    pub fn consumers(&self) -> usize {
        self.consumers.len()
    }

    fn dispatch(
        &mut self,
        cx: &mut Context<'_, ()>,
        s: &mut Session,
        req: QueueRequest<'_>,
        out: &mut Out<'_>,
    ) -> Step {
        let QueueService {
            store,
            settings,
            consumers,
            stats,
            ..
        } = self;
        match req {
            QueueRequest::Push { channel, value } => {
                push::push(store, stats, consumers, cx, channel, value, out)
            }
            QueueRequest::Pop { channel } => pop::pop(store, stats, channel, out),
            QueueRequest::PushMulti { channels, value } => {
                push::push_multi(store, stats, consumers, cx, &channels, value, out)
            }
            QueueRequest::PushMulti2 { channels, value } => {
                push::push_multi2(store, stats, consumers, cx, &channels, value, out)
            }
            QueueRequest::Consume { channel } => {
                consume::consume(store, stats, consumers, cx, s, channel, out)
            }
            QueueRequest::Produce { channel } => produce::produce(store, s, &[channel], false, out),
            QueueRequest::ProduceMulti { channels } => {
                produce::produce(store, s, &channels, true, out)
            }
            QueueRequest::RemoveChannel { channel } => {
                remove_channel::remove_channel(store, consumers, cx, channel, out)
            }
            QueueRequest::GetChannels => info::get_channels(store, out),
            QueueRequest::GetChannelSize { channel } => {
                info::get_channel_size(store, settings, channel, out)
            }
            QueueRequest::GetSize => info::get_size(store, settings, out),
            QueueRequest::GetSizeLimit => info::get_size_limit(settings, out),
            QueueRequest::GetNumConnections => {
                info::get_num_connections(settings, cx.num_connections(), out)
            }
        }
    }

    /// The next record of a Produce or ProduceMulti stream.
    fn stream_record(
        &mut self,
        cx: &mut Context<'_, ()>,
        s: &mut Session,
        input: &[u8],
    ) -> Handled {
        let (record, consumed) = match decode_stream_record(input) {
            Ok((StreamRecord::Record(r), n)) => (Some(r), n),
            Ok((StreamRecord::End, n)) => (None, n),
            Err(DecodeError::Incomplete) => return array_hint(input),
            Err(DecodeError::Invalid(e)) => {
                return Handled::Close(format!("{} stream: {e}", stream_name(s)))
            }
        };
        let cmd = s.ongoing.command();
        let step = produce::record(
            &mut self.store,
            &mut self.stats,
            &mut self.consumers,
            cx,
            s,
            record,
        );
        if let (Some(cmd), Ongoing::Idle) = (cmd, &s.ongoing) {
            self.stats.finished(cmd);
        }
        Handled::Request { consumed, step }
    }

    /// A long partial request tells the loop its length.
    fn incomplete(input: &[u8]) -> Handled {
        if input.len() < NEED_HINT_FROM {
            return Handled::Incomplete;
        }
        match QueueRequest::needed_len(input) {
            Some(n) if n > input.len() => Handled::NeedMore(n),
            _ => Handled::Incomplete,
        }
    }
}

fn stream_name(s: &Session) -> &'static str {
    s.ongoing.command().map_or("Produce", |c| c.name())
}

/// A stream record that has not fully arrived: from [`NEED_HINT_FROM`] bytes on, its length.
fn array_hint(input: &[u8]) -> Handled {
    if input.len() < NEED_HINT_FROM {
        return Handled::Incomplete;
    }
    match Reader::new(input).read_u64() {
        Ok(len) => match usize::try_from(len.saturating_add(8)) {
            Ok(n) if n > input.len() => Handled::NeedMore(n),
            _ => Handled::Incomplete,
        },
        Err(_) => Handled::Incomplete,
    }
}

impl Service for QueueService {
    type Session = Session;
    type Event = ();

    fn open(&mut self, conn: ConnRef, peer: SocketAddr) -> Session {
        Session::new(conn, peer)
    }

    #[inline]
    fn handle(
        &mut self,
        cx: &mut Context<'_, ()>,
        s: &mut Session,
        input: &[u8],
        out: &mut Out<'_>,
    ) -> Handled {
        if let Ongoing::Produce(_) = s.ongoing {
            return self.stream_record(cx, s, input);
        }
        let (req, consumed) = match QueueRequest::decode(input) {
            Ok(decoded) => decoded,
            Err(DecodeError::Incomplete) => return Self::incomplete(input),
            Err(DecodeError::Invalid(e)) => return Handled::Close(e.to_string()),
        };
        let cmd = req.command();
        self.stats.started(cmd);
        let step = self.dispatch(cx, s, req, out);
        if matches!(s.ongoing, Ongoing::Idle) {
            self.stats.finished(cmd);
        }
        Handled::Request { consumed, step }
    }

    fn resume(&mut self, cx: &mut Context<'_, ()>, s: &mut Session, out: &mut Out<'_>) -> Step {
        let cmd = s.ongoing.command();
        let step = consume::resume_consume(
            &mut self.store,
            &mut self.stats,
            &mut self.consumers,
            cx,
            s,
            out,
        );
        if let (Step::Done, Some(cmd)) = (&step, cmd) {
            self.stats.finished(cmd);
        }
        step
    }

    fn close(&mut self, _cx: &mut Context<'_, ()>, s: Session) {
        produce::closed(&s);
        if let Some(cmd) = s.ongoing.command() {
            self.stats.finished(cmd);
        }
        self.consumers.forget(s.conn);
    }

    fn tick(&mut self, cx: &mut Context<'_, ()>) {
        self.consumers.wake_backlogged(cx, &self.store);
    }

    fn shutdown(&mut self, _cx: &mut Context<'_, ()>) {
        let total = self.store.total_size();
        log::info!(
            "Writing every non-empty channel to its .rq file before exit ({} records, {} bytes)",
            total.records,
            total.bytes
        );
        if self.dump_all() > 0 {
            crate::dump::withdraw(&self.settings.data_dir, &self.store);
        }
    }

    /// A channel that could not be written (a full disk) keeps the node up: its records are
    /// only in memory, and the next SIGTERM dumps again (docs/OPERATIONS.md, queue node).
    fn shutdown_incomplete(&self) -> bool {
        self.shutdown_failures.is_some_and(|failed| failed > 0)
    }

    fn stats(&mut self) -> Vec<(String, String)> {
        self.stats.line(&self.store)
    }

    fn command_names(&self) -> Vec<&'static str> {
        QueueCommand::ALL.iter().map(|c| c.name()).collect()
    }

    fn command(&self, s: &Session, input: &[u8]) -> Option<usize> {
        if let Ongoing::Produce(_) = s.ongoing {
            // A record of the stream, not a request.
            return None;
        }
        let code = i32::from_le_bytes(input.get(..4)?.try_into().ok()?);
        QueueCommand::ALL.iter().position(|c| c.code() == code)
    }

    fn metrics(&self, page: &mut swarm_core::metrics::Exposition) {
        self.stats.metrics(&self.store, page);
    }

    fn console(&self) -> String {
        let total = self.store.total_size();
        let mut rings: Vec<_> = self
            .store
            .rings()
            .map(|(name, r)| (fullness(r.used_bytes(), r.capacity()), name))
            .collect();
        let channels = rings.len();
        rings.sort_unstable_by(|a, b| b.cmp(a));
        let mut text = format!(
            "{} records, {} bytes in {channels} channels",
            total.records, total.bytes
        );
        for (i, (pct, name)) in rings.iter().take(CONSOLE_CHANNELS).enumerate() {
            text.push_str(if i == 0 { ": " } else { ", " });
            text.push_str(&format!("{} {pct}%", String::from_utf8_lossy(name)));
        }
        if channels > CONSOLE_CHANNELS {
            text.push_str(&format!(", +{} more", channels - CONSOLE_CHANNELS));
        }
        text
    }
}

#[cfg(test)]
mod tests;
