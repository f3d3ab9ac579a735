//! [`Producer`]: a Produce (or ProduceMulti) stream to every node on connections of its own,
//! records handed out round-robin and written in batches.
//!
//! The protocol has no per-record reply: after the stream's `Ok` the node sends nothing, and an
//! empty array ends the stream (spec/queue.md, Produce). So the producer knows a record
//! reached a node only at [`Producer::finish`], which ends each stream and then asks the node
//! one more request on the same connection (GetNumConnections): the node handles a
//! connection's requests in order, so its answer means every record of the stream was handled.
//!
//! What happens to a record, exactly:
//! - It is copied into the buffer of the next open stream; a buffer is written when it holds
//!   [`PRODUCE_BUFFER`] bytes, at [`Producer::flush`] and at [`Producer::finish`].
//! - A stream that fails (a write error, or the node closed the connection, which the producer
//!   checks before each write) is dropped, and the node is skipped and reopened with backoff.
//!   The records of its buffer that were not completely written (the node keeps the complete
//!   records of a cut stream and drops the cut one) are sent on the other streams.
//! - Records completely written to a stream whose node then died may be lost (they may sit in
//!   a socket buffer, or in the memory of a node that was killed), as with the original; they
//!   cannot be re-sent, since they may also have been stored. `finish` reports them:
//!   [`ClientError::StreamsLost`] names each such stream and how many records were written to
//!   it unconfirmed.
//! - A node whose channel is full drops Produce records silently (the original's behaviour,
//!   counted in its stats): use [`crate::QueueClient::push`] when every record must be stored.

use super::produce_stream::Stream;
use super::{check_record, QueueClient};
use crate::config::ClientConfig;
use crate::error::{ClientError, NodeFailure};
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::thread;
use std::time::Instant;
use swarm_protocol::queue::{QueueCommand, QueueRequest};

/// Bytes a stream buffers before it writes them (as the node's 64 KiB write buffers).
pub const PRODUCE_BUFFER: usize = 64 * 1024;

/// Records streamed into a channel (or several, with ProduceMulti) of every node. Made by
/// [`QueueClient::produce`] and [`QueueClient::produce_multi`]; owns its connections, so it may
/// outlive the client and move to another thread. Call [`Producer::finish`] at the end: it
/// writes what is buffered, ends the streams and says whether anything may have been lost.
/// Dropping a producer without it writes the buffers once, without waiting for down nodes.
#[derive(Debug)]
pub struct Producer {
    command: QueueCommand,
    /// The request that opens a stream.
    open: Vec<u8>,
    streams: Vec<Stream>,
    /// The stream the next record goes to (round-robin).
    next: usize,
    /// Records taken back from a stream that failed, to go out on another.
    requeue: VecDeque<Vec<u8>>,
    /// Streams that broke with records written and not confirmed, and how many.
    lost: Vec<(SocketAddr, u64)>,
    config: ClientConfig,
    /// Off while dropping: no waiting for a node to come back.
    wait: bool,
}

impl QueueClient {
    /// Opens a Produce stream into `channel` on every node it can reach (at least one, within
    /// `reconnect_timeout`; the others are opened later, when their backoff allows).
    pub fn produce(&self, channel: &str) -> Result<Producer, ClientError> {
        super::check_channel(channel)?;
        let req = QueueRequest::Produce {
            channel: channel.as_bytes(),
        };
        Producer::open(self, QueueCommand::Produce, &req)
    }

    /// As [`QueueClient::produce`] with ProduceMulti: each record goes into every channel of
    /// `channels` on the node its stream leads to (where it fits).
    pub fn produce_multi(&self, channels: &[&str]) -> Result<Producer, ClientError> {
        for c in channels {
            super::check_channel(c)?;
        }
        let req = QueueRequest::ProduceMulti {
            channels: channels.iter().map(|c| c.as_bytes()).collect(),
        };
        Producer::open(self, QueueCommand::ProduceMulti, &req)
    }
}

impl Producer {
    fn open(
        client: &QueueClient,
        command: QueueCommand,
        req: &QueueRequest<'_>,
    ) -> Result<Producer, ClientError> {
        let mut p = Producer {
            command,
            open: super::encode(req),
            streams: client.nodes().into_iter().map(Stream::new).collect(),
            next: 0,
            requeue: VecDeque::new(),
            lost: Vec::new(),
            config: client.config().clone(),
            wait: true,
        };
        for i in 0..p.streams.len() {
            // A failure leaves the stream down, to be reopened later.
            let _ = p.open_stream(i);
        }
        if p.streams.iter().all(|s| s.conn.is_none()) {
            p.pick()?; // waits for a node, until reconnect_timeout
            p.next = 0;
        }
        Ok(p)
    }

    /// Queues `record` on the next open stream. `Ok` means the producer holds the record (it
    /// is written later, see the module doc); `Err` means it does not: no stream could be
    /// opened within `reconnect_timeout`, or the record is empty or too large.
    pub fn send(&mut self, record: &[u8]) -> Result<(), ClientError> {
        check_record(record)?;
        self.place(record)?;
        self.drain()
    }

    /// Writes every buffered record to its stream (re-sending those of streams that fail).
    pub fn flush(&mut self) -> Result<(), ClientError> {
        loop {
            for i in 0..self.streams.len() {
                self.write_stream(i);
            }
            if self.requeue.is_empty() {
                return Ok(());
            }
            self.drain()?;
        }
    }

    /// Writes what is buffered, ends every stream and waits until each node has handled its
    /// stream. Err([`ClientError::StreamsLost`]) when some stream broke, during the producer's
    /// life or now, after records had been written to it: those may be lost.
    pub fn finish(mut self) -> Result<(), ClientError> {
        self.flush()?;
        self.end_streams(true);
        self.lost_result()
    }

    /// Records buffered or waiting to be re-sent, not yet written to any stream.
    pub fn pending(&self) -> usize {
        let buffered: usize = self.streams.iter().map(Stream::buffered).sum();
        buffered + self.requeue.len()
    }

    /// The nodes whose stream is open now.
    pub fn open_nodes(&self) -> Vec<SocketAddr> {
        let open = self.streams.iter().filter(|s| s.conn.is_some());
        open.map(|s| s.node).collect()
    }

    fn place(&mut self, record: &[u8]) -> Result<(), ClientError> {
        let i = self.pick()?;
        if self.streams[i].buffer(record) >= PRODUCE_BUFFER {
            self.write_stream(i);
        }
        Ok(())
    }

    /// Places the records taken back from failed streams; on error they stay queued.
    fn drain(&mut self) -> Result<(), ClientError> {
        while let Some(record) = self.requeue.pop_front() {
            if let Err(e) = self.place(&record) {
                self.requeue.push_front(record);
                return Err(e);
            }
        }
        Ok(())
    }

    /// An open stream, round-robin: reopens streams whose backoff is over, and waits for one
    /// until `reconnect_timeout` when none is open.
    fn pick(&mut self) -> Result<usize, ClientError> {
        let n = self.streams.len();
        let deadline = Instant::now() + self.config.reconnect_timeout;
        loop {
            let mut failures = Vec::new();
            for k in 0..n {
                let i = (self.next + k) % n;
                let open = self.streams[i].conn.is_some();
                let due = self.streams[i].health.is_due(Instant::now());
                if open || (due && self.open_stream_noted(i, &mut failures)) {
                    self.next = (i + 1) % n;
                    return Ok(i);
                }
            }
            let now = Instant::now();
            if !self.wait || now >= deadline {
                return Err(ClientError::AllNodesFailed {
                    command: self.command.into(),
                    failures,
                });
            }
            let due = self
                .streams
                .iter()
                .filter_map(|s| s.health.down_until)
                .min();
            let until = due.unwrap_or(now).min(deadline);
            thread::sleep(until.saturating_duration_since(now));
        }
    }

    fn open_stream_noted(
        &mut self,
        i: usize,
        failures: &mut Vec<(SocketAddr, NodeFailure)>,
    ) -> bool {
        match self.open_stream(i) {
            Ok(()) => true,
            Err(f) => {
                failures.push((self.streams[i].node, f));
                false
            }
        }
    }

    fn open_stream(&mut self, i: usize) -> Result<(), NodeFailure> {
        self.streams[i].open(&self.open, self.command, &self.config)
    }

    /// Writes stream `i`'s buffer; on failure the stream is dropped and the records not
    /// completely written go to `requeue`.
    fn write_stream(&mut self, i: usize) {
        if let Err((e, unsent)) = self.streams[i].write() {
            self.fail_stream(i, &e);
            self.requeue.extend(unsent);
        }
    }

    fn fail_stream(&mut self, i: usize, e: &io::Error) {
        if let Some(lost) = self.streams[i].fail(e, self.command, &self.config) {
            self.lost.push(lost);
        }
    }

    /// Ends every open stream; with `confirm`, waits for each node's answer to one more request.
    fn end_streams(&mut self, confirm: bool) {
        for i in 0..self.streams.len() {
            if let Err(e) = self.streams[i].end(confirm) {
                self.fail_stream(i, &e);
            }
        }
    }

    fn lost_result(&mut self) -> Result<(), ClientError> {
        if self.lost.is_empty() {
            return Ok(());
        }
        Err(ClientError::StreamsLost {
            command: self.command.into(),
            streams: std::mem::take(&mut self.lost),
        })
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        if self.streams.iter().all(|s| s.conn.is_none()) && self.requeue.is_empty() {
            return; // finished, or nothing to do
        }
        self.wait = false;
        let flushed = self.flush();
        self.end_streams(false);
        let pending = self.pending();
        if flushed.is_err() || pending > 0 || !self.lost.is_empty() {
            log::warn!(
                "{} producer dropped without finish(): {pending} records not sent, streams lost: {:?}",
                self.command.name(),
                self.lost
            );
        }
    }
}
