//! A test-only fake dht node: a std `TcpListener` in a thread answering the legacy requests
//! with the protocol crate's codec, plus knobs to simulate what the client must survive
//! (a wrong version, forced statuses, a restart that drops every connection, refused
//! connections, a hash range that changes while the client runs, records that move to this
//! node from another one between two requests).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use swarm_protocol::batch::{decompress, BatchBuilder, Pairs};
use swarm_protocol::dht::{DhtCommand, DhtReply, DhtRequest, NodeInfo, API_VERSION};
use swarm_protocol::wire::put_array;
use swarm_protocol::{format_key, parse_key, DecodeError, HashRange, Status};

/// Uncompressed batch capacity of the fake's GetAll replies: small, so streams have many batches.
pub(crate) const FAKE_BATCH_SIZE: usize = 256;

type Channels = BTreeMap<String, BTreeMap<u64, Vec<u8>>>;

struct State {
    channels: Channels,
    /// Writes outside it get WrongNode; reads are served whatever the key.
    range: HashRange,
    /// Requests served, by command code.
    served: BTreeMap<i32, usize>,
    /// When this node misses a read of the key, the record moves here from the other node
    /// (stored here, then removed there), as a Redistribute would move it just then.
    move_on_miss: Option<(u64, Arc<Shared>)>,
    /// Answer the next request with this status (after reading it whole).
    force: Option<Status>,
    /// Clones of every accepted socket, to simulate a restart.
    conns: Vec<TcpStream>,
    listeners: Vec<(String, TcpStream)>,
}

struct Shared {
    addr: SocketAddr,
    version: Vec<u8>,
    state: Mutex<State>,
    accepted: AtomicUsize,
    version_requests: AtomicUsize,
    /// While set, accepted connections are closed at once (a node still starting up).
    refuse: AtomicBool,
}

/// A running fake node; its threads live until the test process ends.
pub(crate) struct FakeNode {
    shared: Arc<Shared>,
}

impl FakeNode {
    pub(crate) fn start(range: HashRange) -> FakeNode {
        FakeNode::with_version(range, API_VERSION)
    }

    pub(crate) fn with_version(range: HashRange, version: &[u8]) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let shared = Arc::new(Shared {
            addr: listener.local_addr().unwrap(),
            version: version.to_vec(),
            state: Mutex::new(State {
                channels: Channels::new(),
                range,
                served: BTreeMap::new(),
                move_on_miss: None,
                force: None,
                conns: Vec::new(),
                listeners: Vec::new(),
            }),
            accepted: AtomicUsize::new(0),
            version_requests: AtomicUsize::new(0),
            refuse: AtomicBool::new(false),
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
        FakeNode { shared }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// Connections accepted (and served) so far.
    pub(crate) fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    pub(crate) fn version_requests(&self) -> usize {
        self.shared.version_requests.load(Ordering::SeqCst)
    }

    pub(crate) fn force_status(&self, status: Status) {
        self.shared.lock().force = Some(status);
    }

    pub(crate) fn set_refuse(&self, refuse: bool) {
        self.shared.refuse.store(refuse, Ordering::SeqCst);
    }

    /// Simulates a restart: every accepted socket is shut down, the listener stays.
    pub(crate) fn drop_connections(&self) {
        let mut st = self.shared.lock();
        for c in st.conns.drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        st.listeners.clear();
    }

    /// Changes the node's range at once, as a Redistribute does.
    pub(crate) fn set_range(&self, range: HashRange) {
        self.shared.lock().range = range;
    }

    /// Stores a record whatever the range (as a node that has not yet forwarded it).
    pub(crate) fn insert(&self, channel: &str, key: u64, value: &[u8]) {
        let mut st = self.shared.lock();
        let ch = st.channels.entry(channel.to_string()).or_default();
        ch.insert(key, value.to_vec());
    }

    /// Removes a record and returns it.
    pub(crate) fn take(&self, channel: &str, key: u64) -> Option<Vec<u8>> {
        self.shared.lock().channels.get_mut(channel)?.remove(&key)
    }

    /// The next time this node misses a read of `key`, the record moves here from `from`
    /// right after this node answered.
    pub(crate) fn move_on_miss(&self, key: u64, from: &FakeNode) {
        self.shared.lock().move_on_miss = Some((key, Arc::clone(&from.shared)));
    }

    /// How many requests of `cmd` the node served.
    pub(crate) fn served(&self, cmd: DhtCommand) -> usize {
        let st = self.shared.lock();
        st.served.get(&cmd.code()).copied().unwrap_or(0)
    }

    /// The records of one channel.
    pub(crate) fn records(&self, channel: &str) -> BTreeMap<u64, Vec<u8>> {
        self.shared
            .lock()
            .channels
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }
}

/// Serves one connection until EOF or a protocol error.
fn serve(s: &Shared, mut stream: TcpStream) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match DhtRequest::decode(&buf) {
            Ok((req, used)) => {
                let mut out = Vec::new();
                handle(s, &req, &stream, &mut out);
                buf.drain(..used);
                if stream.write_all(&out).is_err() {
                    return;
                }
            }
            Err(DecodeError::Incomplete) => match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            },
            Err(DecodeError::Invalid(_)) => return,
        }
    }
}

fn handle(s: &Shared, req: &DhtRequest<'_>, stream: &TcpStream, out: &mut Vec<u8>) {
    let mut st = s.lock();
    *st.served.entry(req.command().code()).or_default() += 1;
    if let Some(status) = st.force.take() {
        DhtReply::Status(status).encode(out);
        return;
    }
    let name = |c: &[u8]| String::from_utf8_lossy(c).into_owned();
    let node = NodeInfo {
        address: b"127.0.0.1",
        port: s.addr.port(),
    };
    let reply = match req {
        DhtRequest::Put {
            channel,
            key,
            value,
        } => put(&mut st, &name(channel), key, value),
        DhtRequest::Get { channel, key } => {
            let key = parse_key(key).unwrap();
            let ch = st.channels.get(&name(channel));
            let v = ch.and_then(|c| c.get(&key)).cloned().unwrap_or_default();
            DhtReply::Value(&v).encode(out);
            if v.is_empty() {
                move_here(&mut st, &name(channel), key);
            }
            return;
        }
        DhtRequest::Exists { channel, key } => {
            let key = parse_key(key).unwrap();
            let ch = st.channels.get(&name(channel));
            let found = ch.is_some_and(|c| c.contains_key(&key));
            if !found {
                move_here(&mut st, &name(channel), key);
            }
            DhtReply::Exists(found)
        }
        DhtRequest::Remove { channel, key } => {
            let key = parse_key(key).unwrap();
            if !st.range.contains(key) {
                DhtReply::Status(Status::WrongNode)
            } else {
                if let Some(c) = st.channels.get_mut(&name(channel)) {
                    c.remove(&key);
                }
                DhtReply::Status(Status::Ok)
            }
        }
        DhtRequest::GetChannels => {
            DhtReply::Status(Status::Ok).encode(out);
            for ch in st.channels.keys() {
                put_array(out, ch.as_bytes());
            }
            put_array(out, b"");
            return;
        }
        DhtRequest::GetChannelSize { channel } => {
            let (records, bytes) = size(st.channels.get(&name(channel)));
            DhtReply::Size {
                node,
                records,
                bytes,
            }
        }
        DhtRequest::GetSize => {
            let (records, bytes) = st
                .channels
                .values()
                .map(|c| size(Some(c)))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            DhtReply::Size {
                node,
                records,
                bytes,
            }
        }
        DhtRequest::GetResponsibleRange => DhtReply::Range {
            min: st.range.min,
            max: st.range.max,
        },
        DhtRequest::RemoveChannel { channel } => {
            let ch = name(channel);
            st.channels.remove(&ch);
            st.listeners.retain_mut(|(c, l)| {
                let ended = *c == ch;
                if ended {
                    let mut end = Vec::new();
                    put_array(&mut end, b"");
                    put_array(&mut end, b"");
                    let _ = l.write_all(&end);
                }
                !ended
            });
            DhtReply::Status(Status::Ok)
        }
        DhtRequest::GetNumConnections => DhtReply::NumConnections {
            node,
            count: st.conns.len() as u64,
        },
        DhtRequest::GetVersion => {
            s.version_requests.fetch_add(1, Ordering::SeqCst);
            DhtReply::Version(&s.version).encode(out);
            return;
        }
        DhtRequest::Listen { channel } => {
            let ch = name(channel);
            st.channels.entry(ch.clone()).or_default();
            st.listeners.push((ch, stream.try_clone().unwrap()));
            DhtReply::Status(Status::Ok)
        }
        DhtRequest::GetAll { channel } => return get_all(&st, &name(channel), None, false, out),
        DhtRequest::GetAllKeys { channel } => return get_all(&st, &name(channel), None, true, out),
        DhtRequest::GetAllFilter { channel, filter } => {
            return get_all(&st, &name(channel), Some(filter), false, out)
        }
        DhtRequest::PutBatch { channel, batch } => {
            let raw = decompress(batch).unwrap();
            let mut status = Status::Ok;
            for pair in Pairs::new(&raw) {
                let (k, v) = pair.unwrap();
                let key = parse_key(k).unwrap();
                status = check(&st, key, v);
                if status != Status::Ok {
                    break;
                }
                let ch = st.channels.entry(name(channel)).or_default();
                ch.insert(key, v.to_vec());
            }
            DhtReply::Status(status)
        }
        DhtRequest::Redistribute { .. } => DhtReply::Status(Status::Ok),
    };
    reply.encode(out);
}

/// Moves the record of `key` here if `move_on_miss` names it (stored here before it is
/// removed from the other node, as a Redistribute does).
fn move_here(st: &mut State, channel: &str, key: u64) {
    let Some((k, from)) = st.move_on_miss.take_if(|(k, _)| *k == key) else {
        return;
    };
    let value = from
        .lock()
        .channels
        .get(channel)
        .and_then(|c| c.get(&k))
        .cloned();
    if let Some(v) = value {
        st.channels
            .entry(channel.to_string())
            .or_default()
            .insert(k, v);
        if let Some(c) = from.lock().channels.get_mut(channel) {
            c.remove(&k);
        }
    }
}

fn check(st: &State, key: u64, value: &[u8]) -> Status {
    if !st.range.contains(key) {
        Status::WrongNode
    } else if value.is_empty() {
        Status::EmptyValue
    } else {
        Status::Ok
    }
}

fn put(st: &mut State, ch: &str, key: &[u8], value: &[u8]) -> DhtReply<'static> {
    let key = parse_key(key).unwrap();
    let status = check(st, key, value);
    if status != Status::Ok {
        return DhtReply::Status(status);
    }
    st.channels
        .entry(ch.to_string())
        .or_default()
        .insert(key, value.to_vec());
    let mut pair = Vec::new();
    put_array(&mut pair, &format_key(key));
    put_array(&mut pair, value);
    for (c, l) in &mut st.listeners {
        if c == ch {
            let _ = l.write_all(&pair);
        }
    }
    DhtReply::Status(Status::Ok)
}

fn size(ch: Option<&BTreeMap<u64, Vec<u8>>>) -> (u64, u64) {
    ch.map_or((0, 0), |c| {
        (
            c.len() as u64,
            c.values().map(|v| 16 + v.len() as u64).sum(),
        )
    })
}

fn get_all(st: &State, ch: &str, filter: Option<&[u8]>, keys: bool, out: &mut Vec<u8>) {
    DhtReply::Status(Status::Ok).encode(out);
    let mut b = BatchBuilder::new(FAKE_BATCH_SIZE);
    let matches = |v: &[u8]| filter.is_none_or(|f| v.windows(f.len()).any(|w| w == f));
    for (k, v) in st.channels.get(ch).into_iter().flatten() {
        if !matches(v) {
            continue;
        }
        let hex = format_key(*k);
        let push = |b: &mut BatchBuilder| {
            if keys {
                b.try_push_single(&hex)
            } else {
                b.try_push_pair(&hex, v)
            }
        };
        if !push(&mut b) {
            b.finish_into(out);
            assert!(push(&mut b), "record too large for the fake's batches");
        }
    }
    if !b.is_empty() {
        b.finish_into(out);
    }
    put_array(out, b"");
}
