//! A test-only fake logfiles node: a std `TcpListener` in a thread answering the legacy logfiles
//! requests with the protocol crate's codec, records in memory (several per key, in arrival
//! order; range replies in key order, 64 KiB LZO batches, ended by an empty array), plus knobs
//! to simulate what the client must survive: forced statuses, another API version, sizes
//! answered NotSupported (406) as the original did, a restart that drops every connection,
//! refused connections, a node that dies mid-request and streams that stall after their first
//! batch.
//!
//! "Regex" here is a stand-in, so the client crate needs no regex engine: a pattern matches a
//! value that contains it literally (case-folded in mode 2), and a pattern starting with `*`
//! does not compile (500, as the real node answers a bad pattern).

use socket2::SockRef;
use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::mem::MaybeUninit;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use swarm_protocol::batch::{decompress, BatchBuilder, Pairs, DEFAULT_BATCH_SIZE};
use swarm_protocol::logfiles::{
    encode_stream_end, FilterMode, LogfilesReply, LogfilesRequest, NodeInfo, API_VERSION,
};
use swarm_protocol::{format_key, parse_key, DecodeError, Status};

/// Value length above which our node answers Put with 407 (what a 64 KiB batch can carry).
const MAX_VALUE: usize = DEFAULT_BATCH_SIZE - 32;

type Records = Vec<(u64, Vec<u8>)>;

#[derive(Default)]
struct State {
    channels: BTreeMap<String, Records>,
    /// Answer the next requests with these statuses (after reading each whole; GetVersion, the
    /// client's handshake, is answered normally).
    force: VecDeque<Status>,
    /// What GetVersion answers (`None`: the real version).
    version: Option<Vec<u8>>,
    /// GetChannelSize and GetSize answer NotSupported, as the 2017-2019 original.
    sizes_unsupported: bool,
    /// Clones of every accepted socket, to simulate a restart.
    conns: Vec<TcpStream>,
    /// Requests handled, by command name.
    handled: BTreeMap<&'static str, usize>,
}

struct Shared {
    addr: SocketAddr,
    state: Mutex<State>,
    accepted: AtomicUsize,
    /// While set, accepted connections are closed at once (a node restarting).
    refuse: AtomicBool,
    /// When set, the next request (not GetVersion) is read whole, not applied, and its
    /// connection closed without a reply (a node that dies mid-request).
    hang_up: AtomicBool,
    /// While set, a stream sends its head and first batch, then nothing until the client
    /// closes the connection.
    stall: AtomicBool,
}

/// A running fake node; its threads live until the test process ends.
pub(crate) struct FakeLogfiles {
    shared: Arc<Shared>,
}

impl FakeLogfiles {
    pub(crate) fn start() -> FakeLogfiles {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let shared = Arc::new(Shared {
            addr: listener.local_addr().unwrap(),
            state: Mutex::new(State::default()),
            accepted: AtomicUsize::new(0),
            refuse: AtomicBool::new(false),
            hang_up: AtomicBool::new(false),
            stall: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if s.refuse.load(Ordering::SeqCst) {
                    continue; // dropped: closed at once
                }
                s.accepted.fetch_add(1, Ordering::SeqCst);
                stream.set_nodelay(true).unwrap();
                s.lock().conns.push(stream.try_clone().unwrap());
                let s = Arc::clone(&s);
                thread::spawn(move || serve(&s, stream));
            }
        });
        FakeLogfiles { shared }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub(crate) fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Requests of this name handled so far (GetVersion included).
    pub(crate) fn handled(&self, command: &str) -> usize {
        let st = self.shared.lock();
        st.handled.get(command).copied().unwrap_or(0)
    }

    pub(crate) fn force_status(&self, status: Status) {
        self.shared.lock().force.push_back(status);
    }

    pub(crate) fn set_version(&self, version: &[u8]) {
        self.shared.lock().version = Some(version.to_vec());
    }

    pub(crate) fn set_sizes_unsupported(&self) {
        self.shared.lock().sizes_unsupported = true;
    }

    pub(crate) fn set_refuse(&self, refuse: bool) {
        self.shared.refuse.store(refuse, Ordering::SeqCst);
    }

    pub(crate) fn hang_up_next(&self) {
        self.shared.hang_up.store(true, Ordering::SeqCst);
    }

    pub(crate) fn set_stall(&self, stall: bool) {
        self.shared.stall.store(stall, Ordering::SeqCst);
    }

    /// Open connections (those the client has not closed).
    pub(crate) fn open_connections(&self) -> usize {
        let st = self.shared.lock();
        st.conns.iter().filter(|c| !is_closed(c)).count()
    }

    /// Simulates a restart: every accepted socket is shut down, the listener stays.
    pub(crate) fn drop_connections(&self) {
        for c in self.shared.lock().conns.drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }

    /// The records of one channel, in arrival order.
    pub(crate) fn records(&self, channel: &str) -> Records {
        let st = self.shared.lock();
        st.channels.get(channel).cloned().unwrap_or_default()
    }

    /// Stores records directly, as if put.
    pub(crate) fn fill(&self, channel: &str, records: &[(u64, &[u8])]) {
        let mut st = self.shared.lock();
        let ch = st.channels.entry(channel.to_string()).or_default();
        ch.extend(records.iter().map(|&(k, v)| (k, v.to_vec())));
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

/// Whether the peer closed `c`: a peek that does not wait reads EOF or fails. (Per call, not
/// `set_nonblocking`, which would also make the serving thread's reads fail.)
fn is_closed(c: &TcpStream) -> bool {
    let mut byte = [MaybeUninit::<u8>::uninit()];
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
    match SockRef::from(c).recv_with_flags(&mut byte, flags) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

/// Serves one connection until EOF or a protocol error.
fn serve(s: &Shared, mut stream: TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match LogfilesRequest::decode(&buf) {
            Ok((req, _))
                if !matches!(req, LogfilesRequest::GetVersion)
                    && s.hang_up.swap(false, Ordering::SeqCst) =>
            {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
            Ok((req, used)) => {
                let mut out = Vec::new();
                let stall = handle(s, &req, &mut out);
                buf.drain(..used);
                if stream.write_all(&out).is_err() {
                    return;
                }
                if stall {
                    // Wait until the client closes the connection.
                    let _ = stream.read(&mut chunk);
                    return;
                }
                continue;
            }
            Err(DecodeError::Incomplete) => {}
            Err(DecodeError::Invalid(_)) => return,
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

fn name(c: &[u8]) -> String {
    String::from_utf8_lossy(c).into_owned()
}

fn key(hex: &[u8]) -> u64 {
    parse_key(hex).expect("the client sends valid keys")
}

/// Handles one request into `out`; `true` when a stream must stall after it.
fn handle(s: &Shared, req: &LogfilesRequest<'_>, out: &mut Vec<u8>) -> bool {
    let mut st = s.lock();
    *st.handled.entry(req.command().name()).or_default() += 1;
    if !matches!(req, LogfilesRequest::GetVersion) {
        if let Some(status) = st.force.pop_front() {
            LogfilesReply::Status(status).encode(out);
            return false;
        }
    }
    let node = NodeInfo {
        address: b"127.0.0.1",
        port: s.addr.port(),
    };
    let all = |ch: &[u8]| (ch.to_vec(), 0, u64::MAX, Match::All);
    let range = |ch: &[u8], lo: &[u8], hi: &[u8], m| (ch.to_vec(), key(lo), key(hi), m);
    let (channel, lo, hi, filter) = match req {
        LogfilesRequest::Put {
            channel,
            key,
            value,
        } => {
            let status = store(&mut st, channel, &[(self::key(key), value)]);
            LogfilesReply::Status(status).encode(out);
            return false;
        }
        LogfilesRequest::PutBatch { channel, batch } => {
            let raw = decompress(batch).expect("the client sends valid batches");
            let pairs: Vec<(u64, &[u8])> = Pairs::new(&raw)
                .map(|p| p.map(|(k, v)| (key(k), v)).unwrap())
                .collect();
            LogfilesReply::Status(store(&mut st, channel, &pairs)).encode(out);
            return false;
        }
        LogfilesRequest::GetVersion => {
            let version = st.version.clone().unwrap_or(API_VERSION.to_vec());
            LogfilesReply::Version(&version).encode(out);
            return false;
        }
        LogfilesRequest::GetChannels => {
            let names: Vec<&[u8]> = st.channels.keys().map(|n| n.as_bytes()).collect();
            LogfilesReply::Channels(names).encode(out);
            return false;
        }
        LogfilesRequest::GetChannelSize { .. } | LogfilesRequest::GetSize
            if st.sizes_unsupported =>
        {
            LogfilesReply::Status(Status::NotSupported).encode(out);
            return false;
        }
        LogfilesRequest::GetChannelSize { channel } => {
            let (records, bytes) = size(st.channels.get(&name(channel)));
            LogfilesReply::Size {
                node,
                records,
                bytes,
            }
            .encode(out);
            return false;
        }
        LogfilesRequest::GetSize => {
            let (records, bytes) = st
                .channels
                .values()
                .map(|c| size(Some(c)))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            LogfilesReply::Size {
                node,
                records,
                bytes,
            }
            .encode(out);
            return false;
        }
        LogfilesRequest::RemoveChannel { channel } => {
            st.channels.remove(&name(channel));
            LogfilesReply::Status(Status::Ok).encode(out);
            return false;
        }
        LogfilesRequest::GetNumConnections => {
            let count = st.conns.len() as u64;
            LogfilesReply::NumConnections { node, count }.encode(out);
            return false;
        }
        LogfilesRequest::Redistribute { .. } => {
            LogfilesReply::Status(Status::Error).encode(out);
            return false;
        }
        LogfilesRequest::GetAll { channel } => all(channel),
        LogfilesRequest::GetAllFilter { channel, filter } => {
            let (c, lo, hi, _) = all(channel);
            (c, lo, hi, Match::Substring(filter.to_vec()))
        }
        LogfilesRequest::GetRange {
            channel,
            lower,
            upper,
        } => range(channel, lower, upper, Match::All),
        LogfilesRequest::GetRangeFilter {
            channel,
            lower,
            upper,
            filter,
        } => range(channel, lower, upper, Match::Substring(filter.to_vec())),
        LogfilesRequest::GetRangeRegex {
            channel,
            lower,
            upper,
            mode,
            pattern,
        } => {
            if *mode != FilterMode::StringMatch && pattern.starts_with(b"*") {
                LogfilesReply::Status(Status::Error).encode(out);
                return false;
            }
            let m = match mode {
                FilterMode::PcreCaseInsensitive => Match::Caseless(pattern.to_ascii_lowercase()),
                _ => Match::Substring(pattern.to_vec()),
            };
            range(channel, lower, upper, m)
        }
    };
    let mut records: Records = st
        .channels
        .get(&name(&channel))
        .map(|c| c.iter().filter(|(k, _)| (lo..=hi).contains(k)).cloned())
        .into_iter()
        .flatten()
        .filter(|(_, v)| filter.matches(v))
        .collect();
    records.sort_by_key(|r| r.0); // stable: a key's records stay in arrival order
    stream(&records, out, s.stall.load(Ordering::SeqCst))
}

/// Writes the batch stream of `records` to `out`; with `stall` only the head and first batch.
fn stream(records: &Records, out: &mut Vec<u8>, stall: bool) -> bool {
    LogfilesReply::Status(Status::Ok).encode(out);
    let mut batch = BatchBuilder::new(DEFAULT_BATCH_SIZE);
    for (k, v) in records {
        let hex = format_key(*k);
        if !batch.try_push_pair(&hex, v) {
            batch.finish_into(out);
            if stall {
                return true;
            }
            assert!(batch.try_push_pair(&hex, v), "a value over the batch size");
        }
    }
    batch.finish_into(out); // the original's last, possibly empty, batch
    if stall {
        return true;
    }
    encode_stream_end(out);
    false
}

enum Match {
    All,
    Substring(Vec<u8>),
    Caseless(Vec<u8>),
}

impl Match {
    fn matches(&self, value: &[u8]) -> bool {
        let contains = |hay: &[u8], needle: &[u8]| {
            needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
        };
        match self {
            Match::All => true,
            Match::Substring(s) => contains(value, s),
            Match::Caseless(s) => contains(&value.to_ascii_lowercase(), s),
        }
    }
}

/// Stores records in a channel with our node's checks (408 empty, 407 over the read limit);
/// a batch is not atomic, as in the original.
fn store(st: &mut State, channel: &[u8], records: &[(u64, &[u8])]) -> Status {
    if !swarm_protocol::channel::is_valid_channel_name(channel) {
        return Status::BadChannelName;
    }
    let ch = st.channels.entry(name(channel)).or_default();
    for &(k, v) in records {
        if v.is_empty() {
            return Status::EmptyValue;
        }
        if v.len() > MAX_VALUE {
            return Status::OutOfMemory;
        }
        ch.push((k, v.to_vec()));
    }
    Status::Ok
}

fn size(ch: Option<&Records>) -> (u64, u64) {
    ch.map_or((0, 0), |c| {
        let bytes = c.iter().map(|(_, v)| v.len() as u64).sum();
        (c.len() as u64, bytes)
    })
}
