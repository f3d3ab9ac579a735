//! [`Consumer`]: Consume on every node, each on a connection of its own read by its own
//! thread, all feeding one bounded queue that the consumer iterates.
//!
//! A node's stream lives until the node ends it: the channel was removed (RemoveChannel ends
//! every Consume with an empty array; nothing more comes from that node). A connection that
//! breaks (the node restarted, or was unreachable from the start) is reopened with backoff and
//! its Consume sent again, for as long as the consumer lives; the loss is logged, not returned.
//! A node that answers Consume with an error status yields that error once, and its stream
//! ends; bytes that break the protocol yield an error, and the connection is reopened.
//!
//! The iterator ends (`None`) when every node has ended its stream. Dropping the consumer
//! shuts its connections down and joins its threads.
//!
//! What can be lost: a node takes a record out of its channel when it writes it to a
//! consumer, so records the node had written that the consumer had not yet read when its
//! connection closed are gone, as with the original. That is what a broken connection, a
//! removed node, or dropping the consumer loses: the records in the sockets, plus at most
//! [`CONSUME_AHEAD`] records read and queued here but not yet returned by `next`.

use super::{check_channel, encode, read_status, QueueClient};
use crate::config::ClientConfig;
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::failover::Health;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};
use swarm_protocol::queue::{ConsumeBatch, QueueCommand, QueueRequest};

/// Records read from the nodes and queued before the reader threads wait for the consumer.
pub const CONSUME_AHEAD: usize = 64;

type Item = Result<Vec<u8>, ClientError>;

/// The records of a channel on every node, as an iterator that blocks for the next one. Made by
/// [`QueueClient::consume`]; owns its connections and threads, so it may outlive the client.
/// Records come in each node's order, interleaved across nodes as they arrive.
#[derive(Debug)]
pub struct Consumer {
    rx: Option<Receiver<Item>>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

/// What the reader threads and the consumer share: the stop flag and every open socket, so a
/// drop can cut reads and wake sleeps.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug)]
struct State {
    stopped: bool,
    /// Each node's current connection, if any (a clone of its socket).
    sockets: Vec<Option<TcpStream>>,
}

impl QueueClient {
    /// Starts consuming `channel` on every node. Returns at once: each node's Consume is sent
    /// by its reader thread, which keeps reconnecting to a node that is down.
    pub fn consume(&self, channel: &str) -> Result<Consumer, ClientError> {
        check_channel(channel)?;
        let req = encode(&QueueRequest::Consume {
            channel: channel.as_bytes(),
        });
        let nodes = self.nodes();
        let (tx, rx) = mpsc::sync_channel(CONSUME_AHEAD);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                stopped: false,
                sockets: nodes.iter().map(|_| None).collect(),
            }),
            wake: Condvar::new(),
        });
        let mut consumer = Consumer {
            rx: Some(rx),
            shared: Arc::clone(&shared),
            threads: Vec::new(),
        };
        for (i, node) in nodes.into_iter().enumerate() {
            let reader = Reader {
                index: i,
                node,
                req: req.clone(),
                config: self.config().clone(),
                shared: Arc::clone(&shared),
                tx: tx.clone(),
            };
            let thread = thread::Builder::new()
                .name(format!("consume-{node}"))
                .spawn(move || reader.run())
                .map_err(|source| ClientError::Io { node, source })?;
            consumer.threads.push(thread);
        }
        Ok(consumer)
    }
}

impl Consumer {
    /// Waits at most `timeout` for the next record. `Err(Timeout)` when none came,
    /// `Err(Disconnected)` when every node's stream has ended.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Item, RecvTimeoutError> {
        match &self.rx {
            Some(rx) => rx.recv_timeout(timeout),
            None => Err(RecvTimeoutError::Disconnected),
        }
    }
}

impl Iterator for Consumer {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        // The receiver first, so a thread blocked on a full queue wakes up too.
        self.rx = None;
        self.shared.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn stop(&self) {
        let mut st = self.state();
        st.stopped = true;
        for s in st.sockets.iter_mut().filter_map(Option::take) {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.wake.notify_all();
    }

    fn stopped(&self) -> bool {
        self.state().stopped
    }

    /// Keeps a clone of node `i`'s socket for [`Shared::stop`]; `false` once stopped.
    fn register(&self, i: usize, conn: &Conn) -> bool {
        let mut st = self.state();
        if st.stopped {
            return false;
        }
        st.sockets[i] = conn.stream().try_clone().ok();
        true
    }

    /// Sleeps until `until` or the stop; `false` once stopped.
    fn sleep_until(&self, until: Instant) -> bool {
        let mut st = self.state();
        while !st.stopped {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            st = match self.wake.wait_timeout(st, until - now) {
                Ok((st, _)) => st,
                Err(p) => p.into_inner().0,
            };
        }
        false
    }
}

/// How one connection's stream ended.
enum End {
    /// The channel was removed: the node's stream is over.
    Removed,
    /// The consumer is gone.
    Stopped,
    /// The connection broke or was never made; `delivered` says whether records came on it.
    Lost { error: ConnError, delivered: bool },
}

/// One node's reader thread.
struct Reader {
    index: usize,
    node: SocketAddr,
    req: Vec<u8>,
    config: ClientConfig,
    shared: Arc<Shared>,
    tx: SyncSender<Item>,
}

impl Reader {
    fn run(self) {
        let mut health = Health::default();
        loop {
            match self.stream() {
                End::Removed | End::Stopped => return,
                End::Lost {
                    error: ConnError::Status(status),
                    ..
                } => {
                    let e = ConnError::Status(status).at(self.node, QueueCommand::Consume);
                    let _ = self.tx.send(Err(e));
                    return;
                }
                End::Lost { error, delivered } => {
                    if self.shared.stopped() {
                        return;
                    }
                    if delivered {
                        health.mark_up(); // it worked for a while: start the backoff over
                    }
                    let delay = health.mark_down(&self.config);
                    log::warn!(
                        "{}: Consume lost ({error:?}), reconnecting in {delay:?}",
                        self.node
                    );
                    if let ConnError::Protocol(_) = error {
                        let e = error.at(self.node, QueueCommand::Consume);
                        if self.tx.send(Err(e)).is_err() {
                            return;
                        }
                    }
                    if !self.shared.sleep_until(Instant::now() + delay) {
                        return;
                    }
                }
            }
        }
    }

    /// Opens Consume on a new connection and forwards its records until it ends.
    fn stream(&self) -> End {
        let cmd = QueueCommand::Consume;
        let lost = |error| End::Lost {
            error,
            delivered: false,
        };
        let mut conn = match Conn::connect(
            self.node,
            self.config.connect_timeout,
            self.config.io_timeout,
        ) {
            Ok(c) => c,
            Err(e) => return lost(ConnError::Io(e)),
        };
        if !self.shared.register(self.index, &conn) {
            return End::Stopped;
        }
        if let Err(e) = conn
            .send(&self.req)
            .and_then(|()| read_status(&mut conn, cmd))
        {
            return lost(e);
        }
        // Records may be rare: only the node, keep-alive or the drop ends a read.
        if let Err(e) = conn.stream().set_read_timeout(None) {
            return lost(ConnError::Io(e));
        }
        let mut delivered = false;
        loop {
            let batch = conn.decode(|b| {
                let (batch, used) = ConsumeBatch::decode(b)?;
                let records: Vec<Vec<u8>> = batch.records.iter().map(|r| r.to_vec()).collect();
                Ok(((records, batch.ended), used))
            });
            let (records, ended) = match batch {
                Ok(b) => b,
                Err(error) => return End::Lost { error, delivered },
            };
            for r in records {
                if self.tx.send(Ok(r)).is_err() {
                    return End::Stopped;
                }
                delivered = true;
            }
            if ended {
                return End::Removed;
            }
        }
    }
}
