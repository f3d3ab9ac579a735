//! The forwarders of a Redistribute: one thread per target node, which sends the records the
//! event loop hands it (PutBatch, or Put for a record too big for a batch) over its own
//! blocking connection and reports each outcome back to the loop through the mailbox.
//!
//! The loop never blocks on a target: it queues at most [`QUEUE`] requests per forwarder
//! (and stops collecting records for a target whose queue is full). Compression happens here,
//! off the loop. A failed send (connection refused or lost, a timeout, any status but Ok) is
//! retried on a new connection with a growing backoff; only when the target has taken nothing
//! for the retry window does the forwarder give up: it reports the failure and fails at once
//! everything queued after it, so the request can end (the records stay on this node).

use crate::event::DhtEvent;
use crate::redist::RedistEvent;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread;
use std::time::{Duration, Instant};
use swarm_core::Mailbox;
use swarm_protocol::batch::compress;
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::wire::put_u64;
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
    /// Records of one channel as an uncompressed batch (pairs of wire arrays).
    Batch {
        job: u64,
        channel: Box<[u8]>,
        raw: Vec<u8>,
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

    /// The request's wire bytes.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Send::Batch { channel, raw, .. } => {
                let mut payload = Vec::with_capacity(raw.len() / 2 + 16);
                put_u64(&mut payload, raw.len() as u64);
                payload.extend_from_slice(&compress(raw));
                DhtRequest::PutBatch {
                    channel,
                    batch: &payload,
                }
                .encode(&mut out);
            }
            Send::Put {
                channel,
                key,
                value,
                ..
            } => DhtRequest::Put {
                channel,
                key: &format_key(*key),
                value,
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

/// The thread: sends each request until it is acknowledged or the target is given up.
fn run(
    index: usize,
    target: SocketAddr,
    retry: Duration,
    rx: Receiver<Send>,
    mailbox: Mailbox<DhtEvent>,
) {
    let mut conn: Option<TcpStream> = None;
    let mut gave_up: Option<String> = None;
    // The loop drops its sender when the request ends: then the thread ends too.
    while let Ok(send) = rx.recv() {
        let job = send.job();
        let result = match &gave_up {
            Some(why) => Err(why.clone()),
            None => deliver(target, retry, &send, &mut conn),
        };
        if let Err(why) = &result {
            gave_up.get_or_insert_with(|| why.clone());
        }
        let event = RedistEvent::Sent {
            target: index,
            job,
            result,
        };
        if !mailbox.post_node(DhtEvent::Redist(event)) {
            return; // the loop has stopped
        }
    }
}

/// Sends one request until the target answers Ok, retrying with backoff for up to `retry`.
fn deliver(
    target: SocketAddr,
    retry: Duration,
    send: &Send,
    conn: &mut Option<TcpStream>,
) -> Result<(), String> {
    let bytes = send.encode();
    let start = Instant::now();
    let mut backoff = BACKOFF_START;
    loop {
        let attempt = attempt(target, retry, &bytes, conn);
        match attempt {
            Ok(()) => return Ok(()),
            Err(why) => {
                *conn = None;
                if start.elapsed() >= retry {
                    return Err(format!(
                        "{target} took nothing for {} s: {why}",
                        retry.as_secs_f64()
                    ));
                }
                log::debug!("Redistribute: sending to {target} failed ({why}), retrying");
                thread::sleep(backoff.min(retry.saturating_sub(start.elapsed())));
                backoff = (backoff * 2).min(BACKOFF_MAX);
            }
        }
    }
}

/// One send and its status.
fn attempt(
    target: SocketAddr,
    retry: Duration,
    bytes: &[u8],
    conn: &mut Option<TcpStream>,
) -> Result<(), String> {
    if conn.is_none() {
        let c = TcpStream::connect_timeout(&target, CONNECT_TIMEOUT)
            .map_err(|e| format!("cannot connect: {e}"))?;
        let io_timeout = Some(retry.max(Duration::from_secs(1)));
        c.set_read_timeout(io_timeout).map_err(|e| e.to_string())?;
        c.set_write_timeout(io_timeout).map_err(|e| e.to_string())?;
        // Small requests (a single Put) should not wait for Nagle.
        let _ = c.set_nodelay(true);
        *conn = Some(c);
    }
    let Some(c) = conn.as_mut() else {
        return Err("no connection".into());
    };
    c.write_all(bytes).map_err(|e| format!("send: {e}"))?;
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
