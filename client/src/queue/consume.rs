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

use super::{check_channel, encode, QueueClient};
use crate::config::ClientConfig;
use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::failover::Health;
use crate::stop::Stop;
use std::net::SocketAddr;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::Arc;
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
    stop: Arc<Stop>,
    threads: Vec<JoinHandle<()>>,
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
        let stop = Arc::new(Stop::new(nodes.len()));
        let mut consumer = Consumer {
            rx: Some(rx),
            stop: Arc::clone(&stop),
            threads: Vec::new(),
        };
        for (i, node) in nodes.into_iter().enumerate() {
            let reader = Reader {
                index: i,
                node,
                req: req.clone(),
                config: self.config().clone(),
                stop: Arc::clone(&stop),
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
        self.stop.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
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
    stop: Arc<Stop>,
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
                    if self.stop.stopped() {
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
                    if !self.stop.sleep_until(Instant::now() + delay) {
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
        if !self.stop.register(self.index, &conn) {
            return End::Stopped;
        }
        if let Err(e) = conn.send(&self.req).and_then(|()| conn.read_status(cmd)) {
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
