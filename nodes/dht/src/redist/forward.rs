//! The forwarders of a Redistribute: one thread per target node, which sends the records the
//! event loop hands it (PutBatch, or Put for a record too big for a batch) over its own
//! blocking connection and reports each outcome back to the loop through the mailbox.
//!
//! The loop never blocks on a target: it hands a forwarder at most [`QUEUE`] + 1 jobs not yet
//! acknowledged (and stops collecting records for a target that has them), which the forwarder
//! keeps in flight on its connection. Compression happens here, off the loop. A failed send
//! (connection refused or lost, a timeout, any status but Ok) is retried on a new connection
//! with a growing backoff; only when the target has acknowledged nothing for the retry window
//! does the forwarder give up: it reports the failure and fails at once everything after it,
//! so the request can end (the records stay on this node).

use crate::event::DhtEvent;
use crate::redist::RedistEvent;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::thread;
use std::time::{Duration, Instant};
use swarm_core::Mailbox;
use swarm_protocol::batch::BatchBuilder;
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::{format_key, Status};

/// Jobs in flight per forwarder beyond the one it is sending.
pub const QUEUE: usize = 3;

/// First wait after a failed send; doubled up to [`BACKOFF_MAX`].
const BACKOFF_START: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What the loop asks a forwarder to send.
#[derive(Debug)]
pub enum Send {
    /// Records of one channel as a batch, not yet compressed.
    Batch {
        job: u64,
        channel: Box<[u8]>,
        batch: BatchBuilder,
    },
    /// One record too big for a batch, as a legacy Put.
    Put {
        job: u64,
        channel: Box<[u8]>,
        key: u64,
        value: Vec<u8>,
    },
}

impl Send {
    fn job(&self) -> u64 {
        match self {
            Send::Batch { job, .. } | Send::Put { job, .. } => *job,
        }
    }

    /// The request's wire bytes (a batch is compressed here, off the event loop).
    fn encode(self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Send::Batch {
                channel, mut batch, ..
            } => {
                let mut array = Vec::with_capacity(batch.raw_len() / 2 + 16);
                batch.finish_into(&mut array);
                // finish_into writes a whole wire array; the request's field is its content.
                DhtRequest::PutBatch {
                    channel: &channel,
                    batch: &array[8..],
                }
                .encode(&mut out);
            }
            Send::Put {
                channel,
                key,
                value,
                ..
            } => DhtRequest::Put {
                channel: &channel,
                key: &format_key(key),
                value: &value,
            }
            .encode(&mut out),
        }
        out
    }
}

/// The loop's end of one forwarder thread.
#[derive(Debug)]
pub struct Forwarder {
    tx: SyncSender<Send>,
}

impl Forwarder {
    /// Starts the thread for `target`; outcomes go to `mailbox` as [`RedistEvent::Sent`]
    /// naming `index`. It gives up after `retry` without progress.
    pub fn spawn(
        index: usize,
        target: SocketAddr,
        retry: Duration,
        mailbox: Mailbox<DhtEvent>,
    ) -> io::Result<Forwarder> {
        let (tx, rx) = mpsc::sync_channel(QUEUE + 1);
        thread::Builder::new()
            .name(format!("redist-{target}"))
            .spawn(move || run(index, target, retry, rx, mailbox))?;
        Ok(Forwarder { tx })
    }

    /// Queues `send` without waiting; `Err` when the queue is full or the thread is gone.
    pub fn try_send(&self, send: Send) -> Result<(), TrySendError<Send>> {
        self.tx.try_send(send)
    }
}

/// The thread: keeps up to [`QUEUE`] + 1 requests in flight on its connection (the target
/// works on one while the next is compressed and sent), reports each acknowledgement in order,
/// and after a failure sends everything unacknowledged again on a new connection (PutBatch and
/// Put of the same records are idempotent). After `retry` without any acknowledgement it gives
/// up: every request still in flight or arriving later fails at once.
fn run(
    index: usize,
    target: SocketAddr,
    retry: Duration,
    rx: Receiver<Send>,
    mailbox: Mailbox<DhtEvent>,
) {
    let mut conn: Option<TcpStream> = None;
    // Unacknowledged requests (job, wire bytes), oldest first; `written` of them went out on
    // the current connection.
    let mut inflight: VecDeque<(u64, Vec<u8>)> = VecDeque::new();
    let mut written = 0;
    let mut open = true;
    let mut gave_up: Option<String> = None;
    let mut stuck_since: Option<Instant> = None;
    let mut backoff = BACKOFF_START;
    let report = |job: u64, result: Result<(), String>| {
        let event = RedistEvent::Sent {
            target: index,
            job,
            result,
        };
        mailbox.post_node(DhtEvent::Redist(event))
    };
    loop {
        // Take new requests; wait only when nothing is in flight. The loop drops its sender
        // when the request ends: then the thread ends too.
        while open && inflight.len() <= QUEUE {
            let next = if inflight.is_empty() {
                rx.recv().ok()
            } else {
                match rx.try_recv() {
                    Ok(send) => Some(send),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => None,
                }
            };
            match next {
                Some(send) => {
                    let job = send.job();
                    inflight.push_back((job, send.encode()));
                }
                None => open = false,
            }
        }
        let Some(&(job, _)) = inflight.front() else {
            return;
        };
        if let Some(why) = &gave_up {
            inflight.pop_front();
            if !report(job, Err(why.clone())) {
                return;
            }
            continue;
        }
        match exchange(target, retry, &mut conn, &inflight, &mut written) {
            Ok(()) => {
                inflight.pop_front();
                written -= 1;
                stuck_since = None;
                backoff = BACKOFF_START;
                if !report(job, Ok(())) {
                    return; // the loop has stopped
                }
            }
            Err(why) => {
                conn = None;
                written = 0;
                let since = *stuck_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= retry {
                    gave_up = Some(format!(
                        "{target} took nothing for {} s: {why}",
                        retry.as_secs_f64()
                    ));
                    continue;
                }
                log::debug!("Redistribute: sending to {target} failed ({why}), retrying");
                thread::sleep(backoff.min(retry.saturating_sub(since.elapsed())));
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// Sends what of `inflight` is not on the connection yet, then reads the status of the
/// oldest: `Ok` when the target acknowledged it.
fn exchange(
    target: SocketAddr,
    retry: Duration,
    conn: &mut Option<TcpStream>,
    inflight: &VecDeque<(u64, Vec<u8>)>,
    written: &mut usize,
) -> Result<(), String> {
    let c = connection(target, retry, conn)?;
    for (_, bytes) in inflight.iter().skip(*written) {
        c.write_all(bytes).map_err(|e| format!("send: {e}"))?;
        *written += 1;
    }
    read_status(c)
}

/// The connection, opened if there is none.
fn connection(
    target: SocketAddr,
    retry: Duration,
    conn: &mut Option<TcpStream>,
) -> Result<&mut TcpStream, String> {
    if conn.is_none() {
        let c = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)
            .map_err(|e| format!("cannot connect: {e}"))?;
        let io_timeout = Some(retry.max(Duration::from_secs(1)));
        c.set_read_timeout(io_timeout).map_err(|e| e.to_string())?;
        c.set_write_timeout(io_timeout).map_err(|e| e.to_string())?;
        // A lone Put should not wait for Nagle.
        let _ = c.set_nodelay(true);
        *conn = Some(c);
    }
    conn.as_mut().ok_or_else(|| "no connection".to_string())
}

/// One request's status.
fn read_status(c: &mut TcpStream) -> Result<(), String> {
    let mut code = [0u8; 4];
    c.read_exact(&mut code)
        .map_err(|e| format!("reading the status: {e}"))?;
    let code = i32::from_le_bytes(code);
    match Status::from_code(code) {
        Some(Status::Ok) => Ok(()),
        Some(s) => Err(format!("answered {s:?} ({code})")),
        None => Err(format!("answered unknown status {code}")),
    }
}
