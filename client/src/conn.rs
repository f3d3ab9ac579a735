//! One TCP connection to a node and its read buffer. Requests go out as one `write_all` of a
//! fully built request; replies are decoded with the protocol crate's sans-I/O decoders, reading
//! more bytes whenever they answer "incomplete". Array limits are enforced by those decoders on
//! the length prefix, so the buffer never grows beyond one legal message.

use crate::error::{ClientError, Command};
use socket2::{SockRef, TcpKeepalive};
use std::io::{self, Read, Write};
use std::mem::MaybeUninit;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use swarm_protocol::{DecodeError, ProtocolError, Reader, ReplyKind, Status};

/// Initial (and resting) size of a connection's read buffer.
const READ_BUF_SIZE: usize = 64 * 1024;

/// What went wrong on one connection, before it is attributed to a node.
#[derive(Debug)]
pub(crate) enum ConnError {
    /// Socket error or EOF: the connection is dead.
    Io(io::Error),
    /// The peer broke the protocol: the connection is out of sync.
    Protocol(ProtocolError),
    /// A non-`Ok` status; only fatal ones kill the connection.
    Status(Status),
    /// The node announced another API version (after a reconnect).
    WrongVersion(Vec<u8>),
}

impl From<io::Error> for ConnError {
    fn from(e: io::Error) -> Self {
        ConnError::Io(e)
    }
}

impl From<ProtocolError> for ConnError {
    fn from(e: ProtocolError) -> Self {
        ConnError::Protocol(e)
    }
}

impl ConnError {
    /// The client's error for this failure of `command` on `node`.
    pub(crate) fn at(self, node: SocketAddr, command: impl Into<Command>) -> ClientError {
        let command = command.into();
        match self {
            ConnError::Io(source) => ClientError::Io { node, source },
            ConnError::Protocol(error) => ClientError::Protocol { node, error },
            ConnError::Status(status) => ClientError::Status {
                node,
                command,
                status,
            },
            ConnError::WrongVersion(v) => ClientError::VersionMismatch {
                node,
                version: String::from_utf8_lossy(&v).into_owned(),
            },
        }
    }

    /// Whether the connection can serve another request after this error.
    pub(crate) fn keeps_connection(&self) -> bool {
        matches!(self, ConnError::Status(s) if !s.is_fatal())
    }
}

/// A connection with its own read buffer (`buf[start..end]` holds unread bytes).
#[derive(Debug)]
pub(crate) struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

impl Conn {
    /// Connects with TCP_NODELAY, keep-alive and the given per-operation I/O timeout.
    pub(crate) fn connect(
        addr: SocketAddr,
        connect_timeout: Duration,
        io_timeout: Option<Duration>,
    ) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, connect_timeout)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(io_timeout)?;
        stream.set_write_timeout(io_timeout)?;
        let keepalive = TcpKeepalive::new()
            .with_time(Duration::from_secs(5))
            .with_interval(Duration::from_secs(3));
        SockRef::from(&stream).set_tcp_keepalive(&keepalive)?;
        Ok(Conn {
            stream,
            buf: vec![0; READ_BUF_SIZE],
            start: 0,
            end: 0,
        })
    }

    /// The socket, for timeouts and shutdown.
    pub(crate) fn stream(&self) -> &TcpStream {
        &self.stream
    }

    /// Closes a connection given up on after an I/O error with a reset (`SO_LINGER` 0), which
    /// drops whatever the kernel still holds to send. With an ordinary close the kernel goes on
    /// retransmitting an unanswered request, and when a link that was cut comes back the node
    /// receives it after all: a queue Push or logfiles Put the client reported as failed and
    /// sent to another node would be stored twice, and a dht Put could land after a later
    /// write of the same key and undo it.
    pub(crate) fn abort(self) {
        // Without the option the close is an ordinary one: the old behaviour, not an error.
        if let Err(e) = SockRef::from(&self.stream).set_linger(Some(Duration::ZERO)) {
            log::debug!("SO_LINGER on a connection given up on: {e}");
        }
    }

    /// Whether a connection that sat idle can no longer carry a request: the node closed or
    /// reset it (it restarted), or bytes arrived that no request asked for. One non-blocking
    /// peek, so a request that must not be sent twice is not sent into a dead connection.
    pub(crate) fn is_stale(&self) -> bool {
        if self.start != self.end {
            return true;
        }
        let mut byte = [MaybeUninit::<u8>::uninit()];
        let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT;
        match SockRef::from(&self.stream).recv_with_flags(&mut byte, flags) {
            Ok(_) => true, // 0 is EOF; anything else is unasked-for data
            Err(e) => e.kind() != io::ErrorKind::WouldBlock,
        }
    }

    /// Sends a complete request (or several, pipelined) in one write.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<(), ConnError> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Runs `decode` on the unread bytes, reading more until it stops answering "incomplete".
    pub(crate) fn decode<T>(
        &mut self,
        mut decode: impl FnMut(&[u8]) -> Result<(T, usize), DecodeError>,
    ) -> Result<T, ConnError> {
        loop {
            match decode(&self.buf[self.start..self.end]) {
                Ok((value, used)) => {
                    self.consume(used);
                    return Ok(value);
                }
                Err(DecodeError::Incomplete) => self.fill()?,
                Err(DecodeError::Invalid(e)) => return Err(ConnError::Protocol(e)),
            }
        }
    }

    /// Reads one array of at most [`swarm_protocol::MAX_ARRAY_LEN`] bytes.
    pub(crate) fn read_array(&mut self) -> Result<Vec<u8>, ConnError> {
        self.decode(|b| {
            let mut r = Reader::new(b);
            let a = r.read_array()?.to_vec();
            Ok((a, r.position()))
        })
    }

    /// Reads the head of the reply to `cmd` (of any node kind): a non-`Ok` status becomes
    /// [`ConnError::Status`]; an `Ok` reply is handed to `map`, which keeps what it needs.
    pub(crate) fn read_reply<C: ReplyKind, T>(
        &mut self,
        cmd: C,
        mut map: impl FnMut(C::Reply<'_>) -> Result<T, ProtocolError>,
    ) -> Result<T, ConnError> {
        self.decode(|b| {
            let (reply, used) = cmd.decode_reply(b)?;
            let mapped = match C::bare_status(&reply) {
                Some(s) if s != Status::Ok => Err(ConnError::Status(s)),
                _ => map(reply).map_err(ConnError::Protocol),
            };
            Ok((mapped, used))
        })?
    }

    /// Reads a reply that is a bare status (Put, Remove, RemoveChannel, PutBatch, stream heads).
    pub(crate) fn read_status<C: ReplyKind>(&mut self, cmd: C) -> Result<(), ConnError> {
        self.read_reply(cmd, |reply| match C::bare_status(&reply) {
            Some(_) => Ok(()),
            None => Err(ProtocolError::Malformed("unexpected reply")),
        })
    }

    fn consume(&mut self, used: usize) {
        self.start += used;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > 4 * READ_BUF_SIZE {
                // A large message is done: give its memory back.
                self.buf = vec![0; READ_BUF_SIZE];
            }
        }
    }

    /// Reads more bytes, making room by compacting or (for a message larger than the buffer)
    /// growing. EOF is an error: a reply was still expected.
    fn fill(&mut self) -> Result<(), ConnError> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else {
                let len = self.buf.len();
                self.buf.resize(len * 2, 0);
            }
        }
        loop {
            match self.stream.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    return Err(ConnError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed by the node",
                    )))
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ConnError::Io(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;
    use swarm_protocol::dht::DhtCommand;
    use swarm_protocol::wire::{put_array, put_u64};
    use swarm_protocol::MAX_ARRAY_LEN;

    #[test]
    fn abort_resets_the_connection_instead_of_closing_it() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let conn = Conn::connect(addr, Duration::from_secs(1), None).unwrap();
        let (mut peer, _) = listener.accept().unwrap();
        conn.abort();
        let mut byte = [0u8; 1];
        let e = peer.read(&mut byte).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
    }

    /// A connection to a peer that sends `bytes` in small pieces, then closes.
    fn conn_receiving(bytes: Vec<u8>) -> Conn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // Small pieces first (cut inside length prefixes), then larger ones.
            let (head, tail) = bytes.split_at(bytes.len().min(64));
            for chunk in head.chunks(7).chain(tail.chunks(10_000)) {
                s.write_all(chunk).unwrap();
                thread::sleep(Duration::from_millis(1));
            }
        });
        Conn::connect(addr, Duration::from_secs(1), Some(Duration::from_secs(5))).unwrap()
    }

    #[test]
    fn arrays_arrive_in_pieces_and_large_ones_grow_the_buffer() {
        let big = vec![7u8; READ_BUF_SIZE * 3];
        let mut bytes = Vec::new();
        put_array(&mut bytes, b"hello");
        put_array(&mut bytes, &big);
        put_array(&mut bytes, b"");
        let mut c = conn_receiving(bytes);
        assert_eq!(c.read_array().unwrap(), b"hello");
        assert_eq!(c.read_array().unwrap(), big);
        assert_eq!(c.read_array().unwrap(), b"");
        assert!(matches!(c.read_array(), Err(ConnError::Io(_))));
    }

    #[test]
    fn oversized_prefix_is_refused_without_reading_the_body() {
        let mut bytes = Vec::new();
        put_u64(&mut bytes, MAX_ARRAY_LEN + 1);
        let mut c = conn_receiving(bytes);
        assert!(matches!(
            c.read_array(),
            Err(ConnError::Protocol(ProtocolError::ArrayTooLong { .. }))
        ));
    }

    #[test]
    fn statuses_map_to_errors() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&Status::WrongNode.to_bytes());
        bytes.extend_from_slice(&Status::Ok.to_bytes());
        bytes.extend_from_slice(&201i32.to_le_bytes());
        let mut c = conn_receiving(bytes);
        let e = c.read_status(DhtCommand::Put).unwrap_err();
        assert!(matches!(e, ConnError::Status(Status::WrongNode)));
        assert!(e.keeps_connection());
        c.read_status(DhtCommand::Put).unwrap();
        let e = c.read_status(DhtCommand::Put).unwrap_err();
        assert!(matches!(
            e,
            ConnError::Protocol(ProtocolError::UnknownStatus(201))
        ));
        assert!(!e.keeps_connection());
        assert!(!ConnError::Status(Status::Error).keeps_connection());
    }
}
