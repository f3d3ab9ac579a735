//! [`Records`]: one read request (GetAll, GetRange or a filtered one) on every node at once,
//! each node's batch stream read by a thread of its own, all feeding one bounded queue that the
//! iterator drains.
//!
//! A node's stream is opened (request sent, `Ok` read) on a pooled connection, retried with
//! backoff across a node restart until `reconnect_timeout`, since nothing was delivered yet; a
//! node that stays unreachable, or answers a status other than `Ok` (Error, 500, for a pattern
//! it cannot compile), yields one error naming the node, and its stream ends. So does an error
//! in the middle of a stream: it is not reopened, which would deliver its first records twice.
//! A node that completes its stream gives the connection back to the pool.
//!
//! At most [`READ_AHEAD`] batches (each at most 64 KiB of records from our node) wait in the
//! queue before the reader threads wait for the iterator. Dropping the iterator shuts every
//! node's socket down, wakes backoff sleeps and joins the threads; a thread in the middle of a
//! connect or a handshake ends after `connect_timeout` or `io_timeout` at the longest.

use crate::conn::{Conn, ConnError};
use crate::error::ClientError;
use crate::failover::{FailoverNode, Health};
use crate::pool::{NodePool, Retry};
use crate::stop::Stop;
use std::io;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;
use swarm_protocol::batch::{decompress, Pairs};
use swarm_protocol::logfiles::{decode_batch_item, BatchItem, LogfilesCommand};
use swarm_protocol::{parse_key, ProtocolError};

/// Batches read from the nodes and queued before the reader threads wait for the iterator.
pub const READ_AHEAD: usize = 16;

type Record = (u64, Vec<u8>);
type Batch = Result<Vec<Record>, ClientError>;

/// The records of one read on every node, as an iterator that blocks for the next one. Made by
/// [`super::LogfilesClient::get_all`], `get_range` and the filtered reads; owns its threads and
/// shares the client's node table, so it may outlive the client.
///
/// Records come in each node's order (keys are not sorted: a node returns its buckets in key
/// order and a bucket's records as they arrived), interleaved across nodes as they arrive. An
/// `Err` item names the node it came from; the other nodes' records keep coming after it.
#[derive(Debug)]
pub struct Records {
    rx: Option<Receiver<Batch>>,
    /// The rest of the batch being returned.
    pending: std::vec::IntoIter<Record>,
    stop: Arc<Stop>,
    threads: Vec<JoinHandle<()>>,
}

impl Records {
    /// Starts `req` (a `cmd` request) on every node.
    pub(super) fn start(
        nodes: &Arc<[FailoverNode]>,
        cmd: LogfilesCommand,
        req: Vec<u8>,
    ) -> Result<Records, ClientError> {
        let (tx, rx) = mpsc::sync_channel(READ_AHEAD);
        let stop = Arc::new(Stop::new(nodes.len()));
        let req: Arc<[u8]> = req.into();
        let mut records = Records {
            rx: Some(rx),
            pending: Vec::new().into_iter(),
            stop: Arc::clone(&stop),
            threads: Vec::with_capacity(nodes.len()),
        };
        for (index, node) in nodes.iter().enumerate() {
            let reader = Reader {
                index,
                nodes: Arc::clone(nodes),
                cmd,
                req: Arc::clone(&req),
                stop: Arc::clone(&stop),
                tx: tx.clone(),
            };
            let addr = node.pool.addr();
            let thread = thread::Builder::new()
                .name(format!("{}-{addr}", cmd.name()))
                .spawn(move || reader.run())
                .map_err(|source| ClientError::Io { node: addr, source })?;
            records.threads.push(thread);
        }
        Ok(records)
    }
}

impl Iterator for Records {
    type Item = Result<Record, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(record) = self.pending.next() {
                return Some(Ok(record));
            }
            match self.rx.as_ref()?.recv() {
                Ok(Ok(batch)) => self.pending = batch.into_iter(),
                Ok(Err(e)) => return Some(Err(e)),
                Err(_) => {
                    // Every node's stream has ended.
                    self.rx = None;
                    return None;
                }
            }
        }
    }
}

impl Drop for Records {
    fn drop(&mut self) {
        // The receiver first, so a thread blocked on a full queue wakes up too.
        self.rx = None;
        self.stop.stop();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One node's reader thread.
struct Reader {
    index: usize,
    nodes: Arc<[FailoverNode]>,
    cmd: LogfilesCommand,
    req: Arc<[u8]>,
    stop: Arc<Stop>,
    tx: SyncSender<Batch>,
}

impl Reader {
    fn run(self) {
        let result = self.read();
        self.stop.unregister(self.index);
        if let Err(Some(e)) = result {
            let _ = self.tx.send(Err(e));
        }
    }

    fn node(&self) -> &FailoverNode {
        &self.nodes[self.index]
    }

    fn pool(&self) -> &NodePool {
        &self.node().pool
    }

    /// Reads the node's stream to its end; `Err(None)` when the iterator is gone.
    fn read(&self) -> Result<(), Option<ClientError>> {
        let mut conn = self.open()?;
        loop {
            let item = conn.decode(|b| {
                let (item, used) = decode_batch_item(b)?;
                let raw = match item {
                    BatchItem::End => None,
                    BatchItem::Batch(payload) => Some(decompress(payload)),
                };
                Ok((raw, used))
            });
            let raw = match item {
                Ok(Some(Ok(raw))) => raw,
                Ok(Some(Err(e))) => return Err(self.lost(ConnError::Protocol(e))),
                Ok(None) => {
                    if self.stop.unregister(self.index) {
                        self.pool().checkin(conn);
                    }
                    return Ok(());
                }
                Err(e) => return Err(self.lost(e)),
            };
            let (records, bad) = parse(&raw);
            if !records.is_empty() && self.tx.send(Ok(records)).is_err() {
                return Err(None);
            }
            if let Some(e) = bad {
                return Err(self.lost(ConnError::Protocol(e)));
            }
        }
    }

    /// Sends the request and reads its `Ok`, retrying a node that cannot be reached (see the
    /// module doc); the connection is registered with the stop signal throughout.
    fn open(&self) -> Result<Conn, Option<ClientError>> {
        let config = self.pool().config();
        let deadline = Instant::now() + config.reconnect_timeout;
        let mut health = Health::default();
        loop {
            let opened = self.pool().run(self.cmd, Retry::Failover, |c| {
                if !self.stop.register(self.index, c) {
                    return Err(ConnError::Io(io::Error::new(
                        io::ErrorKind::Interrupted,
                        "the read was dropped",
                    )));
                }
                c.send(&self.req)?;
                c.read_status(self.cmd)
            });
            if self.stop.stopped() {
                return Err(None);
            }
            match opened {
                Ok(((), conn)) => {
                    self.node().mark_up();
                    return Ok(conn);
                }
                Err(ClientError::Io { .. }) if Instant::now() < deadline => {
                    let delay = health.mark_down(config);
                    log::debug!(
                        "{}: {} not opened, retrying",
                        self.pool().addr(),
                        self.cmd.name()
                    );
                    if !self
                        .stop
                        .sleep_until((Instant::now() + delay).min(deadline))
                    {
                        return Err(None);
                    }
                }
                Err(e) => {
                    match e {
                        ClientError::Io { .. } => self.node().mark_down(),
                        _ => self.node().mark_up(),
                    }
                    return Err(Some(e));
                }
            }
        }
    }

    /// The error for a stream that broke; `None` when it broke because the iterator is gone.
    fn lost(&self, e: ConnError) -> Option<ClientError> {
        if self.stop.stopped() {
            return None;
        }
        if matches!(e, ConnError::Io(_)) {
            self.pool().connection_lost();
        }
        Some(self.pool().error(self.cmd, e))
    }
}

/// The records of one decompressed batch, up to the first that does not decode (with its
/// error).
fn parse(raw: &[u8]) -> (Vec<Record>, Option<ProtocolError>) {
    let mut records = Vec::new();
    for pair in Pairs::new(raw) {
        match pair.and_then(|(k, v)| Ok((parse_key(k)?, v.to_vec()))) {
            Ok(record) => records.push(record),
            Err(e) => return (records, Some(e)),
        }
    }
    (records, None)
}
