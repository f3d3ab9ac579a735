//! The listening socket: binding it, accepting until `WouldBlock`, the connection limit (where
//! the connection idle longest makes room for the new one), and the options every accepted
//! socket gets (TCP_NODELAY, keep-alive as the original's).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use log::{debug, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};
use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use super::{Server, FIRST_CONN};
use crate::config::ServerConfig;
use crate::connection::Connection;
use crate::service::{ConnRef, Service};

/// Keep-alive of accepted sockets (the original's): first probe after 5 s idle, then every 3 s,
/// dead after 3 unanswered probes.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(5);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(3);
const KEEPALIVE_RETRIES: u32 = 3;

/// Binds a non-blocking listening socket on `cfg.address:cfg.port`.
pub(super) fn bind_listener(cfg: &ServerConfig) -> io::Result<TcpListener> {
    let addr = (cfg.address.as_str(), cfg.port)
        .to_socket_addrs()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot resolve [Server] address {}: {e}", cfg.address),
            )
        })?
        .next()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: no address to listen on", cfg.address),
            )
        })?;
    let with_addr =
        |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restarting a node must not wait for the old connections' TIME_WAIT to expire.
    socket.set_reuse_address(true).map_err(with_addr)?;
    socket.set_nonblocking(true).map_err(with_addr)?;
    if cfg.receive_buffer > 0 {
        // Accepted sockets inherit it, and the window scale they open with is chosen for it.
        socket
            .set_recv_buffer_size(cfg.receive_buffer)
            .map_err(with_addr)?;
    }
    socket.bind(&addr.into()).map_err(with_addr)?;
    socket.listen(cfg.backlog).map_err(with_addr)?;
    Ok(TcpListener::from_std(socket.into()))
}

/// TCP_NODELAY (replies are written whole, waiting only adds latency) and keep-alive.
fn tune(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL)
        .with_retries(KEEPALIVE_RETRIES);
    SockRef::from(stream).set_tcp_keepalive(&keepalive)
}

impl<S: Service> Server<S> {
    /// Accepts every queued connection (the listener is edge-triggered).
    pub(super) fn accept_all(&mut self) {
        loop {
            let accepted = match &self.listener {
                Some(listener) => listener.accept(),
                None => return,
            };
            match accepted {
                Ok((stream, peer)) => self.admit(stream, peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.accept_retry = false;
                    return;
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    // Out of file descriptors or memory: connections stay queued in the backlog
                    // and no new edge will announce them, so the timer retries.
                    if !self.accept_retry {
                        warn!("accept failed: {e}; retrying every second");
                    }
                    self.accept_retry = true;
                    return;
                }
            }
        }
    }

    /// Takes an accepted connection into the pool. At the limit, the connection idle longest
    /// (no request in progress, nothing buffered) is closed to make room, one that never sent a
    /// request before any that was served; when every one is busy, the new connection is closed
    /// at once.
    fn admit(&mut self, mut stream: TcpStream, peer: SocketAddr) {
        if self.conns.len() >= self.cfg.connection_limit && !self.evict_idlest(peer) {
            if !self.limit_warned {
                warn!(
                    "connection limit ({}) reached and no connection is idle: closing new \
                     connections, first from {peer}",
                    self.cfg.connection_limit
                );
                self.limit_warned = true;
            }
            return; // dropping the stream closes it
        }
        self.limit_warned = false;
        if let Err(e) = tune(&stream) {
            debug!("{peer}: cannot set socket options: {e}");
        }
        let entry = self.conns.vacant_entry();
        let slot = entry.key();
        // Registering reports data that arrived before it: the first request is not missed.
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut stream, Token(slot + FIRST_CONN), Interest::READABLE)
        {
            warn!("{peer}: cannot register connection: {e}, closing connection");
            return;
        }
        let me = ConnRef::new(slot, self.next_generation);
        self.next_generation = self.next_generation.wrapping_add(1);
        let session = self.service.open(me, peer);
        entry.insert(Connection::new(me, stream, peer, session, self.now));
        debug!("{peer}: connection accepted");
    }

    /// Closes the connection idle longest to admit one from `peer`; `false` if none is idle.
    /// Connections that never sent a request go first: under a flood of connections that send
    /// nothing, ordering by idle time alone would close a client between two requests as soon
    /// as the flood opened `connection_limit` connections within its think time.
    fn evict_idlest(&mut self, peer: SocketAddr) -> bool {
        let idlest = self
            .conns
            .iter()
            .filter(|(_, c)| c.is_idle())
            .min_by_key(|(_, c)| (c.served, c.last_active))
            .map(|(slot, c)| {
                (
                    slot,
                    c.peer,
                    self.now.saturating_duration_since(c.last_active),
                )
            });
        let Some((slot, old, idle)) = idlest else {
            return false;
        };
        info!(
            "connection limit ({}) reached: closing {old}, idle for {:.1} s, to admit {peer}",
            self.cfg.connection_limit,
            idle.as_secs_f64()
        );
        self.close_conn(slot);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel reports for a socket whose `SO_RCVBUF` was set to `n` (Linux doubles
    /// it for its bookkeeping).
    fn reported(n: usize) -> usize {
        2 * n
    }

    #[test]
    fn accepted_connections_get_the_configured_receive_buffer() {
        let mut cfg = ServerConfig::local(0);
        cfg.receive_buffer = 100_000;
        let listener = bind_listener(&cfg).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let _client = std::net::TcpStream::connect(addr).expect("connect");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let (stream, _) = loop {
            match listener.accept() {
                Ok(accepted) => break accepted,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    assert!(std::time::Instant::now() < deadline, "nothing to accept");
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        };
        let size = SockRef::from(&stream)
            .recv_buffer_size()
            .expect("SO_RCVBUF");
        assert_eq!(size, reported(100_000));
    }
}
