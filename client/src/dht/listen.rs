//! Listen: a dedicated connection per node, each read by its own thread feeding one bounded
//! channel, consumed as the [`Listener`] iterator. A node's stream ends with its end marker
//! (two empty arrays, sent when the channel is removed) or with an error; Listen is not
//! restarted after a node restart. Dropping the [`Listener`] shuts its sockets down, which ends
//! the threads.

use super::{check_channel, encode, DhtClient};
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::pool::Retry;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::{self, JoinHandle};
use std::time::Duration;
use swarm_protocol::dht::{DhtCommand, DhtRequest};
use swarm_protocol::parse_key;

/// Events buffered between the reader threads and the consumer before the threads wait.
const LISTEN_QUEUE: usize = 4096;

/// What a Listen stream delivers. `#[non_exhaustive]`: callers match on it, and a new event
/// (a node that reconnected, say) must not break them; a `_` arm ignores events it does not know.
/// Without it a `match` outside this crate does not compile:
///
/// ```compile_fail,E0004
/// fn show(event: swarm_client::ListenEvent) {
///     match event {
///         swarm_client::ListenEvent::Record { key, .. } => println!("{key:016x}"),
///         swarm_client::ListenEvent::Ended { node } => println!("{node} ended"),
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ListenEvent {
    /// A record was put. The value is the one current when the node sent it: a record removed
    /// in between arrives with an empty value, and a key put twice may arrive twice.
    Record {
        /// The record's key.
        key: u64,
        /// Its value (possibly empty, see above).
        value: Vec<u8>,
    },
    /// The node ended its stream (the channel was removed); nothing more comes from it.
    Ended {
        /// The node.
        node: SocketAddr,
    },
}

type Event = Result<ListenEvent, ClientError>;

/// The records put into a channel on all nodes, as an iterator that blocks for the next event.
/// It ends (`None`) when every node's stream has ended or failed.
#[derive(Debug)]
pub struct Listener {
    rx: Option<Receiver<Event>>,
    sockets: Vec<TcpStream>,
    threads: Vec<JoinHandle<()>>,
}

impl DhtClient {
    /// Starts Listen on every node. When it returns, every node has accepted the request
    /// (answered `Ok`), so records put afterwards are seen.
    pub fn listen(&self, channel: &str) -> Result<Listener, ClientError> {
        check_channel(channel)?;
        let req = encode(&DhtRequest::Listen {
            channel: channel.as_bytes(),
        });
        // Open in parallel: a node may hold its `Ok` until its next flush tick.
        let opened: Vec<Result<(SocketAddr, Conn), ClientError>> = thread::scope(|s| {
            let handles: Vec<_> = self
                .usable_pools()
                .into_iter()
                .map(|pool| {
                    let req = &req;
                    s.spawn(move || {
                        let ((), conn) = pool.run(DhtCommand::Listen, Retry::Yes, |c| {
                            c.send(req)?;
                            c.read_status(DhtCommand::Listen)
                        })?;
                        Ok((pool.addr(), conn))
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(ClientError::Handshake("Listen setup panicked".into()))
                    })
                })
                .collect()
        });
        let conns = opened.into_iter().collect::<Result<Vec<_>, _>>()?;
        Listener::start(conns)
    }
}

impl Listener {
    fn start(conns: Vec<(SocketAddr, Conn)>) -> Result<Listener, ClientError> {
        let (tx, rx) = mpsc::sync_channel(LISTEN_QUEUE);
        let mut listener = Listener {
            rx: Some(rx),
            sockets: Vec::new(),
            threads: Vec::new(),
        };
        for (node, conn) in conns {
            let io = |e| ConnError::Io(e).at(node, DhtCommand::Listen);
            // Records may be rare: only shutdown (or the node) ends a read.
            conn.stream().set_read_timeout(None).map_err(io)?;
            listener
                .sockets
                .push(conn.stream().try_clone().map_err(io)?);
            let tx = tx.clone();
            let thread = thread::Builder::new()
                .name(format!("listen-{node}"))
                .spawn(move || read_loop(node, conn, tx))
                .map_err(io)?;
            listener.threads.push(thread);
        }
        Ok(listener)
    }

    /// Waits at most `timeout` for the next event. `Err(Timeout)` when none came,
    /// `Err(Disconnected)` when every node's stream is over.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Event, RecvTimeoutError> {
        match &self.rx {
            Some(rx) => rx.recv_timeout(timeout),
            None => Err(RecvTimeoutError::Disconnected),
        }
    }
}

impl Iterator for Listener {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        // Drop the receiver first so a thread blocked on a full queue wakes up too.
        self.rx = None;
        for s in &self.sockets {
            let _ = s.shutdown(Shutdown::Both);
        }
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One node's stream: pairs until the end marker, an error, or the consumer going away.
fn read_loop(node: SocketAddr, mut conn: Conn, tx: SyncSender<Event>) {
    loop {
        let event = read_event(node, &mut conn);
        let last = !matches!(event, Ok(ListenEvent::Record { .. }));
        if tx.send(event).is_err() || last {
            return;
        }
    }
}

fn read_event(node: SocketAddr, conn: &mut Conn) -> Event {
    let err = |e: ConnError| e.at(node, DhtCommand::Listen);
    let key = conn.read_array().map_err(err)?;
    let value = conn.read_array().map_err(err)?;
    if key.is_empty() {
        // The end marker is two empty arrays; the original client stops at the empty key.
        return Ok(ListenEvent::Ended { node });
    }
    let key = parse_key(&key).map_err(|e| err(ConnError::Protocol(e)))?;
    Ok(ListenEvent::Record { key, value })
}
