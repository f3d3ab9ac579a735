//! One stream of a [`super::Producer`]: its connection (when open), the records buffered for
//! it, and how many records were completely written since it opened; opening it (connect,
//! Produce or ProduceMulti, `Ok`), writing the buffer while counting the bytes the socket took,
//! and ending it (the empty array, then one request whose answer confirms the stream).

use crate::config::ClientConfig;
use crate::conn::{Conn, ConnError};
use crate::error::NodeFailure;
use crate::failover::Health;
use std::io::{self, Write};
use std::net::SocketAddr;
use swarm_protocol::queue::{encode_stream_end, QueueCommand, QueueReply, QueueRequest};
use swarm_protocol::wire::put_array;
use swarm_protocol::{ProtocolError, Reader};

#[derive(Debug)]
pub(super) struct Stream {
    pub(super) node: SocketAddr,
    pub(super) conn: Option<Conn>,
    buf: Vec<u8>,
    /// Records completely written since the stream was opened.
    written: u64,
    pub(super) health: Health,
}

impl Stream {
    pub(super) fn new(node: SocketAddr) -> Stream {
        Stream {
            node,
            conn: None,
            buf: Vec::new(),
            written: 0,
            health: Health::default(),
        }
    }

    /// Connects once and sends `open`; a failure marks the stream down.
    pub(super) fn open(
        &mut self,
        open: &[u8],
        cmd: QueueCommand,
        config: &ClientConfig,
    ) -> Result<(), NodeFailure> {
        let opened = Conn::connect(self.node, config.connect_timeout, config.io_timeout)
            .map_err(ConnError::Io)
            .and_then(|mut c| {
                c.send(open)?;
                c.read_status(cmd)?;
                Ok(c)
            });
        match opened {
            Ok(conn) => {
                self.conn = Some(conn);
                self.written = 0;
                self.health.mark_up();
                Ok(())
            }
            Err(e) => {
                let delay = self.health.mark_down(config);
                let node = self.node;
                log::debug!(
                    "{node}: {} not opened ({e:?}), retry in {delay:?}",
                    cmd.name()
                );
                Err(match e {
                    ConnError::Io(e) => NodeFailure::Io(e),
                    ConnError::Status(st) => NodeFailure::Status(st),
                    ConnError::Protocol(p) => NodeFailure::Protocol(p),
                    // Not produced without a handshake; kept total rather than panicking.
                    ConnError::WrongVersion(_) => NodeFailure::Down,
                })
            }
        }
    }

    /// Appends a record to the buffer; the buffer's length in bytes.
    pub(super) fn buffer(&mut self, record: &[u8]) -> usize {
        put_array(&mut self.buf, record);
        self.buf.len()
    }

    /// Records buffered, not yet written.
    pub(super) fn buffered(&self) -> usize {
        let mut r = Reader::new(&self.buf);
        std::iter::from_fn(|| r.read_array().ok()).count()
    }

    /// Writes the buffer, first checking that the node has not closed the connection (it
    /// sends nothing on a Produce stream, so anything readable means it did). On failure, the
    /// error and the records not completely written; the caller fails the stream.
    pub(super) fn write(&mut self) -> Result<(), (io::Error, Vec<Vec<u8>>)> {
        let Some(conn) = &self.conn else {
            return Ok(());
        };
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut done = 0;
        let result = if conn.is_stale() {
            let e = io::Error::new(io::ErrorKind::ConnectionReset, "closed by the node");
            Err(e)
        } else {
            write_some(conn, &self.buf, &mut done)
        };
        let (complete, unsent) = split_written(&self.buf, done);
        self.written += complete;
        self.buf.clear();
        result.map_err(|e| (e, unsent))
    }

    /// Drops the connection and marks the node down. The node and the records written to the
    /// stream unconfirmed, if any: they may be lost.
    pub(super) fn fail(
        &mut self,
        e: &io::Error,
        cmd: QueueCommand,
        config: &ClientConfig,
    ) -> Option<(SocketAddr, u64)> {
        self.conn = None;
        let delay = self.health.mark_down(config);
        let (node, written) = (self.node, std::mem::take(&mut self.written));
        log::warn!(
            "{node}: {} stream failed ({e}); {written} records written to it unconfirmed; \
             reopening in {delay:?}",
            cmd.name()
        );
        (written > 0).then_some((node, written))
    }

    /// Ends the stream, if open; with `confirm`, waits for the node's answer to one more
    /// request (GetNumConnections): the node handles a connection's requests in order, so the
    /// answer comes after the whole stream was handled. Closes the connection either way.
    pub(super) fn end(&mut self, confirm: bool) -> io::Result<()> {
        let Some(mut conn) = self.conn.take() else {
            return Ok(());
        };
        let mut end = Vec::new();
        encode_stream_end(&mut end);
        let mut ended = conn.send(&end);
        if confirm {
            ended = ended.and_then(|()| confirm_stream(&mut conn));
        }
        match ended {
            Ok(()) | Err(ConnError::Status(_)) => {
                self.written = 0; // any answer comes after the stream
                Ok(())
            }
            Err(ConnError::Io(e)) => Err(e),
            Err(other) => Err(io::Error::other(format!("{other:?}"))),
        }
    }
}

fn confirm_stream(conn: &mut Conn) -> Result<(), ConnError> {
    let cmd = QueueCommand::GetNumConnections;
    let mut req = Vec::new();
    QueueRequest::GetNumConnections.encode(&mut req);
    conn.send(&req)?;
    conn.read_reply(cmd, |r| match r {
        QueueReply::NumConnections { .. } => Ok(()),
        _ => Err(ProtocolError::Malformed(
            "unexpected reply to GetNumConnections",
        )),
    })
}

/// Writes `buf` from `done` on, counting what the socket took, until done or an error.
fn write_some(conn: &Conn, buf: &[u8], done: &mut usize) -> io::Result<()> {
    let mut stream = conn.stream();
    while *done < buf.len() {
        match stream.write(&buf[*done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => *done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How many records of `buf` (arrays) end within its first `done` bytes, and the rest.
fn split_written(buf: &[u8], done: usize) -> (u64, Vec<Vec<u8>>) {
    let mut r = Reader::new(buf);
    let (mut complete, mut unsent) = (0, Vec::new());
    while let Ok(record) = r.read_array() {
        if r.position() <= done {
            complete += 1;
        } else {
            unsent.push(record.to_vec());
        }
    }
    (complete, unsent)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&[u8]]) -> Vec<Vec<u8>> {
        items.iter().map(|i| i.to_vec()).collect()
    }

    #[test]
    fn a_cut_record_and_those_after_it_are_unsent() {
        let mut s = Stream::new(SocketAddr::from(([127, 0, 0, 1], 1)));
        for r in [&b"one"[..], b"two", b"three"] {
            s.buffer(r);
        }
        let buf = &s.buf;
        assert_eq!(split_written(buf, 0), (0, v(&[b"one", b"two", b"three"])));
        assert_eq!(split_written(buf, 10), (0, v(&[b"one", b"two", b"three"])));
        assert_eq!(split_written(buf, 11), (1, v(&[b"two", b"three"])));
        assert_eq!(split_written(buf, 12), (1, v(&[b"two", b"three"])));
        assert_eq!(split_written(buf, 22), (2, v(&[b"three"])));
        assert_eq!(split_written(buf, buf.len()), (3, vec![]));
        assert_eq!(s.buffered(), 3);
    }
}
