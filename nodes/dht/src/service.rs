//! The dht node's [`Service`]: decodes each request, dispatches it to its handler in
//! `requests/`, and keeps what outlives a request (iteration cursors in the connection's
//! session, Listen queues here, keyed by connection).

use crate::requests::listen::Listens;
use crate::stats::Stats;
use crate::storage::Storage;
use std::net::SocketAddr;
use std::path::PathBuf;
use swarm_core::{ConnId, Context, Handled, Service, Step};
use swarm_protocol::batch::BatchBuilder;
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::{DecodeError, HashRange};

/// Settings the request handlers need.
#[derive(Debug, Clone)]
pub struct DhtSettings {
    /// `[Server] address`, echoed in size replies.
    pub address: String,
    /// The port echoed in size replies.
    pub port: u16,
    /// The node's hash range.
    pub range: HashRange,
    /// Batch capacity for GetAll-style replies; the record size limit is 32 bytes less.
    pub batch_size: usize,
    /// Where dump files live (RemoveChannel moves a channel's file to `deleted/`).
    pub data_dir: PathBuf,
}

impl DhtSettings {
    /// Largest value Put accepts: `batch_size - 32`, so every stored record fits one batch.
    pub fn value_limit(&self) -> usize {
        self.batch_size.saturating_sub(32)
    }
}

/// A multi-reply request in progress on a connection.
#[derive(Debug)]
pub enum Ongoing {
    /// Nothing: the connection reads its next request.
    Idle,
    /// GetAll, GetAllKeys or GetAllFilter sending batches.
    Iteration(crate::requests::get_all::Iteration),
    /// Listen waiting for Puts.
    Listen,
}

/// Per-connection state.
#[derive(Debug)]
pub struct Session {
    /// The connection.
    pub id: ConnId,
    /// The peer, for log lines.
    pub peer: SocketAddr,
    /// The request in progress.
    pub ongoing: Ongoing,
    /// What `prefetch` found in the input.
    pub(crate) hints: Hints,
}

/// Most requests of one connection's input that [`Service::prefetch`] looks at.
const MAX_HINTS: usize = 16;

/// The records the buffered requests of a connection will touch: (channel slot, key), found
/// by the first round of [`Service::prefetch`] and used by the later ones of the same turn.
#[derive(Debug, Default)]
pub(crate) struct Hints {
    len: usize,
    /// Channel slot, key, and (after the second round) the record's slot number.
    at: [(usize, u64, Option<u32>); MAX_HINTS],
}

/// The dht node's storage and request handling.
#[derive(Debug)]
pub struct DhtService {
    pub(crate) storage: Storage,
    pub(crate) settings: DhtSettings,
    pub(crate) listens: Listens,
    pub(crate) batch: BatchBuilder,
    pub(crate) stats: Stats,
    /// The last channel name found valid (see `requests::channel_ok`); empty at first.
    pub(crate) valid_channel: Vec<u8>,
}

impl DhtService {
    /// A node with empty storage.
    pub fn new(settings: DhtSettings, size_limit: u64) -> Self {
        DhtService {
            storage: Storage::new(size_limit),
            batch: BatchBuilder::new(settings.batch_size),
            settings,
            listens: Listens::default(),
            stats: Stats::default(),
            valid_channel: Vec::new(),
        }
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
        cx: &mut Context<'_>,
        s: &mut Session,
        req: DhtRequest<'_>,
        out: &mut Vec<u8>,
    ) -> Result<Step, String> {
        match req {
            DhtRequest::Put {
                channel,
                key,
                value,
            } => self.put(cx, channel, key, value, out),
            DhtRequest::Get { channel, key } => self.get(channel, key, out),
            DhtRequest::Exists { channel, key } => self.exists(channel, key, out),
            DhtRequest::Remove { channel, key } => self.remove(channel, key, out),
            DhtRequest::GetChannels => Ok(self.get_channels(out)),
            DhtRequest::GetChannelSize { channel } => Ok(self.get_channel_size(channel, out)),
            DhtRequest::GetSize => Ok(self.get_size(out)),
            DhtRequest::GetResponsibleRange => Ok(self.get_responsible_range(out)),
            DhtRequest::GetNumConnections => Ok(self.get_num_connections(cx, out)),
            DhtRequest::GetVersion => Ok(self.get_version(out)),
            DhtRequest::RemoveChannel { channel } => Ok(self.remove_channel(cx, channel, out)),
            DhtRequest::Listen { channel } => Ok(self.listen(s, channel, out)),
            DhtRequest::GetAll { channel } => Ok(self.get_all(s, channel, None, false, out)),
            DhtRequest::GetAllKeys { channel } => Ok(self.get_all(s, channel, None, true, out)),
            DhtRequest::GetAllFilter { channel, filter } => {
                Ok(self.get_all(s, channel, Some(filter), false, out))
            }
            DhtRequest::PutBatch { channel, batch } => self.put_batch(channel, batch, out),
            DhtRequest::Redistribute { .. } => Ok(self.redistribute(s, out)),
        }
    }

    fn command_of(ongoing: &Ongoing) -> Option<DhtCommand> {
        match ongoing {
            Ongoing::Idle => None,
            Ongoing::Iteration(it) => Some(it.command()),
            Ongoing::Listen => Some(DhtCommand::Listen),
        }
    }
}

impl Service for DhtService {
    type Session = Session;

    fn open(&mut self, id: ConnId, peer: SocketAddr) -> Session {
        Session {
            id,
            peer,
            ongoing: Ongoing::Idle,
            hints: Hints::default(),
        }
    }

    /// Brings the records of the single-record requests (Get, Exists, Put, Remove) at the front
    /// of `input` into the cache in three rounds, one per dependent miss: the index line, then
    /// the slot, then the value. Stops at the first other request, a partial one or a bad key
    /// (`handle` deals with those).
    fn prefetch(&self, s: &mut Session, input: &[u8], stage: u32) -> bool {
        let hints = &mut s.hints;
        let storage = &self.storage;
        if stage == 0 {
            hints.len = 0;
            let mut rest = input;
            while hints.len < MAX_HINTS {
                let Ok((req, used)) = DhtRequest::decode(rest) else {
                    break;
                };
                rest = &rest[used..];
                let (DhtRequest::Get { channel, key }
                | DhtRequest::Exists { channel, key }
                | DhtRequest::Remove { channel, key }
                | DhtRequest::Put { channel, key, .. }) = req
                else {
                    break;
                };
                let Ok(key) = swarm_protocol::key::parse_key(key) else {
                    break;
                };
                let Some(slot) = storage.slot_of(channel) else {
                    continue;
                };
                if let Some(ch) = storage.channel_at(slot) {
                    ch.prefetch_index(key);
                    hints.at[hints.len] = (slot, key, None);
                    hints.len += 1;
                }
            }
            return hints.len > 0;
        }
        for (slot, key, record) in hints.at[..hints.len].iter_mut() {
            if let Some(ch) = storage.channel_at(*slot) {
                match (stage, *record) {
                    (1, _) => *record = ch.prefetch_slot(*key),
                    (_, Some(id)) => ch.prefetch_value(id, *key),
                    (_, None) => {}
                }
            }
        }
        stage < 2
    }

    fn handle(
        &mut self,
        cx: &mut Context<'_>,
        s: &mut Session,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Handled {
        let (req, consumed) = match DhtRequest::decode(input) {
            Ok(decoded) => decoded,
            Err(DecodeError::Incomplete) => return Handled::Incomplete,
            Err(DecodeError::Invalid(e)) => return Handled::Close(e.to_string()),
        };
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

    fn resume(&mut self, cx: &mut Context<'_>, s: &mut Session, out: &mut Vec<u8>) -> Step {
        let cmd = Self::command_of(&s.ongoing);
        let step = match s.ongoing {
            Ongoing::Idle => Step::Done,
            Ongoing::Iteration(_) => self.resume_iteration(s, out),
            Ongoing::Listen => self.resume_listen(cx, s, out),
        };
        if step == Step::Done {
            s.ongoing = Ongoing::Idle;
            if let Some(cmd) = cmd {
                self.stats.finished(cmd);
            }
        }
        step
    }

    fn close(&mut self, _cx: &mut Context<'_>, s: Session) {
        if let Some(cmd) = Self::command_of(&s.ongoing) {
            self.stats.finished(cmd);
        }
        self.listens.forget(s.id);
    }

    fn stats(&mut self) -> Vec<(String, String)> {
        self.stats.line(&self.storage)
    }

    fn console(&self) -> String {
        let r = self.settings.range;
        format!(
            "range 0x{:016x}..0x{:016x}, {} records, {} bytes in {} channels",
            r.min,
            r.max,
            self.storage.records(),
            self.storage.bytes(),
            self.storage.channel_names().len()
        )
    }
}
