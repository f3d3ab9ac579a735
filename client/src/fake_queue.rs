//! A test-only fake queue node: a std `TcpListener` in a thread answering the legacy queue
//! requests with the protocol crate's codec (Era A semantics: a full channel answers 407,
//! PushMulti2 lists the full channels, Pop on an empty channel answers an empty array,
//! Consume streams get records round-robin, RemoveChannel ends them), plus knobs to simulate
//! what the client must survive: a per-channel record capacity, forced statuses, a restart that
//! drops every connection, refused connections.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use swarm_protocol::queue::{
    decode_stream_record, NodeInfo, QueueReply, QueueRequest, StreamRecord,
};
use swarm_protocol::wire::put_array;
use swarm_protocol::{DecodeError, Status};

#[derive(Default)]
struct Channel {
    records: VecDeque<Vec<u8>>,
    /// Consume streams on this channel, served round-robin.
    consumers: Vec<TcpStream>,
    next_consumer: usize,
}

#[derive(Default)]
struct State {
    channels: BTreeMap<String, Channel>,
    /// Records a channel holds before it answers 407 (`None`: no limit).
    capacity: Option<usize>,
    /// Answer the next requests with these statuses (after reading each whole).
    force: VecDeque<Status>,
    /// Clones of every accepted socket, to simulate a restart.
    conns: Vec<TcpStream>,
    /// Requests handled, by command name.
    handled: BTreeMap<&'static str, usize>,
}

struct Shared {
    addr: SocketAddr,
    state: Mutex<State>,
    accepted: AtomicUsize,
    /// Connections closed at once while `refuse` was set.
    refused: AtomicUsize,
    /// While set, accepted connections are closed at once (a node restarting).
    refuse: AtomicBool,
    /// When set, the next request is read whole, not applied, and its connection closed
    /// without a reply (a node that dies mid-request).
    hang_up: AtomicBool,
}

/// A running fake node; its threads live until the test process ends.
pub(crate) struct FakeQueue {
    shared: Arc<Shared>,
}

impl FakeQueue {
    pub(crate) fn start() -> FakeQueue {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let shared = Arc::new(Shared {
            addr: listener.local_addr().unwrap(),
            state: Mutex::new(State::default()),
            accepted: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            refuse: AtomicBool::new(false),
            hang_up: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if s.refuse.load(Ordering::SeqCst) {
                    s.refused.fetch_add(1, Ordering::SeqCst);
                    continue; // dropped: closed at once
                }
                s.accepted.fetch_add(1, Ordering::SeqCst);
                stream.set_nodelay(true).unwrap();
                s.lock().conns.push(stream.try_clone().unwrap());
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    let peer = stream.peer_addr().ok();
                    serve(&s, stream);
                    // A closed Consume connection gets no more records.
                    for ch in s.lock().channels.values_mut() {
                        ch.consumers.retain(|c| c.peer_addr().ok() != peer);
                    }
                });
            }
        });
        FakeQueue { shared }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    pub(crate) fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    pub(crate) fn refused(&self) -> usize {
        self.shared.refused.load(Ordering::SeqCst)
    }

    pub(crate) fn hang_up_next(&self) {
        self.shared.hang_up.store(true, Ordering::SeqCst);
    }

    /// Open Consume streams on `channel`.
    pub(crate) fn consumers(&self, channel: &str) -> usize {
        let st = self.shared.lock();
        st.channels.get(channel).map_or(0, |c| c.consumers.len())
    }

    /// Requests of this name handled so far.
    pub(crate) fn handled(&self, command: &str) -> usize {
        self.shared
            .lock()
            .handled
            .get(command)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn set_capacity(&self, records: Option<usize>) {
        self.shared.lock().capacity = records;
    }

    pub(crate) fn force_status(&self, status: Status) {
        self.shared.lock().force.push_back(status);
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
        for ch in st.channels.values_mut() {
            ch.consumers.clear();
        }
    }

    /// The records of one channel, oldest first.
    pub(crate) fn records(&self, channel: &str) -> Vec<Vec<u8>> {
        let st = self.shared.lock();
        let ch = st.channels.get(channel);
        ch.map(|c| c.records.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Stores records directly, as if pushed.
    pub(crate) fn fill(&self, channel: &str, records: &[&[u8]]) {
        let mut st = self.shared.lock();
        for r in records {
            push(&mut st, channel, r);
        }
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
    // Set while a Produce stream runs: the channels its records go to.
    let mut producing: Option<Vec<String>> = None;
    loop {
        if let Some(channels) = &producing {
            match decode_stream_record(&buf) {
                Ok((item, used)) => {
                    if let StreamRecord::Record(r) = item {
                        let mut st = s.lock();
                        for c in channels {
                            push(&mut st, c, r);
                        }
                    } else {
                        producing = None;
                    }
                    buf.drain(..used);
                    continue;
                }
                Err(DecodeError::Incomplete) => {}
                Err(DecodeError::Invalid(_)) => return,
            }
        } else {
            match QueueRequest::decode(&buf) {
                Ok(_) if s.hang_up.swap(false, Ordering::SeqCst) => {
                    let _ = stream.shutdown(Shutdown::Both);
                    return;
                }
                Ok((req, used)) => {
                    let mut out = Vec::new();
                    producing = handle(s, &req, &stream, &mut out);
                    buf.drain(..used);
                    if stream.write_all(&out).is_err() {
                        return;
                    }
                    continue;
                }
                Err(DecodeError::Incomplete) => {}
                Err(DecodeError::Invalid(_)) => return,
            }
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

/// Handles one request; returns the channels of a Produce stream that starts.
fn handle(
    s: &Shared,
    req: &QueueRequest<'_>,
    stream: &TcpStream,
    out: &mut Vec<u8>,
) -> Option<Vec<String>> {
    let mut st = s.lock();
    *st.handled.entry(req.command().name()).or_default() += 1;
    if let Some(status) = st.force.pop_front() {
        QueueReply::Status(status).encode(out);
        return None;
    }
    let node = NodeInfo {
        address: b"127.0.0.1",
        port: s.addr.port(),
    };
    let reply = match req {
        QueueRequest::Push { channel, value } => {
            QueueReply::Status(push(&mut st, &name(channel), value))
        }
        QueueRequest::Pop { channel } => {
            let ch = st.channels.get_mut(&name(channel));
            let v = ch.and_then(|c| c.records.pop_front()).unwrap_or_default();
            QueueReply::Value(&v).encode(out);
            return None;
        }
        QueueRequest::PushMulti2 { channels, value } => {
            let failed: Vec<&[u8]> = channels
                .iter()
                .copied()
                .filter(|c| push(&mut st, &name(c), value) != Status::Ok)
                .collect();
            QueueReply::Failed(failed)
        }
        QueueRequest::PushMulti { channels, value } => {
            let all = channels
                .iter()
                .all(|c| push(&mut st, &name(c), value) == Status::Ok);
            QueueReply::Status(if all { Status::Ok } else { Status::OutOfMemory })
        }
        QueueRequest::Produce { channel } => {
            QueueReply::Status(Status::Ok).encode(out);
            return Some(vec![name(channel)]);
        }
        QueueRequest::ProduceMulti { channels } => {
            QueueReply::Status(Status::Ok).encode(out);
            return Some(channels.iter().map(|c| name(c)).collect());
        }
        QueueRequest::Consume { channel } => {
            // The head first: records may follow at once.
            let mut head = Vec::new();
            QueueReply::Status(Status::Ok).encode(&mut head);
            let mut w = stream.try_clone().unwrap();
            let _ = w.write_all(&head);
            let ch = st.channels.entry(name(channel)).or_default();
            for r in ch.records.drain(..) {
                let mut rec = Vec::new();
                put_array(&mut rec, &r);
                let _ = w.write_all(&rec);
            }
            ch.consumers.push(w);
            return None;
        }
        QueueRequest::RemoveChannel { channel } => {
            if let Some(ch) = st.channels.remove(&name(channel)) {
                for mut c in ch.consumers {
                    let _ = c.write_all(&0u64.to_le_bytes());
                }
            }
            QueueReply::Status(Status::Ok)
        }
        QueueRequest::GetChannels => {
            let names: Vec<String> = st.channels.keys().cloned().collect();
            QueueReply::Channels(names.iter().map(|n| n.as_bytes()).collect()).encode(out);
            return None;
        }
        QueueRequest::GetChannelSize { channel } => {
            let (records, bytes) = size(st.channels.get(&name(channel)));
            QueueReply::Size {
                node,
                records,
                bytes,
            }
        }
        QueueRequest::GetSize => {
            let (records, bytes) = st
                .channels
                .values()
                .map(|c| size(Some(c)))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            QueueReply::Size {
                node,
                records,
                bytes,
            }
        }
        QueueRequest::GetSizeLimit => QueueReply::SizeLimit { node, limit: 1000 },
        QueueRequest::GetNumConnections => QueueReply::NumConnections {
            node,
            count: st.conns.len() as u64,
        },
    };
    reply.encode(out);
    None
}

/// Stores a record (or hands it to a consumer) if the channel has room.
fn push(st: &mut State, channel: &str, value: &[u8]) -> Status {
    if value.is_empty() {
        return Status::EmptyValue;
    }
    let capacity = st.capacity;
    let ch = st.channels.entry(channel.to_string()).or_default();
    if !ch.consumers.is_empty() {
        let i = ch.next_consumer % ch.consumers.len();
        ch.next_consumer += 1;
        let mut rec = Vec::new();
        put_array(&mut rec, value);
        if ch.consumers[i].write_all(&rec).is_ok() {
            return Status::Ok;
        }
        ch.consumers.remove(i);
    }
    if capacity.is_some_and(|c| ch.records.len() >= c) {
        return Status::OutOfMemory;
    }
    ch.records.push_back(value.to_vec());
    Status::Ok
}

fn size(ch: Option<&Channel>) -> (u64, u64) {
    ch.map_or((0, 0), |c| {
        let bytes = c.records.iter().map(|r| 8 + r.len() as u64).sum();
        (c.records.len() as u64, bytes)
    })
}
