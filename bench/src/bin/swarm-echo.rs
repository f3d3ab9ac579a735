//! `swarm-echo`: the "physical limit" server of issue 4. A minimal single-threaded mio (epoll)
//! server: as soon as `--request-size` bytes of a request are buffered it answers with exactly
//! `--reply-size` bytes. One read and one write per message, sockets registered once
//! (edge-triggered), no parsing: the cheapest server a one-request-at-a-time round trip can
//! have. Defaults are the sizes of a dht Get on channel "bench" with a 100-byte value;
//! `swarm-bench --target echo` sends the sizes of the dht or queue request named by its `--mix`.

use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

const LISTENER: Token = Token(usize::MAX);
/// Read buffer per connection; requests are far smaller.
const READ_BUF: usize = 64 * 1024;

/// Fixed-size echo server for benchmarks.
#[derive(Debug, Parser)]
#[command(name = "swarm-echo", version, about)]
struct Args {
    /// Address to listen on (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:10001")]
    addr: SocketAddr,
    /// Bytes of one request.
    #[arg(long, default_value_t = 41)]
    request_size: usize,
    /// Bytes of one reply.
    #[arg(long, default_value_t = 112)]
    reply_size: usize,
}

#[derive(Debug)]
struct Conn {
    stream: TcpStream,
    /// Bytes of an incomplete request carried over to the next read.
    partial: usize,
    out: Vec<u8>,
    out_pos: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.request_size == 0 || args.reply_size == 0 {
        eprintln!("swarm-echo: sizes must be at least 1");
        return ExitCode::from(2);
    }
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("swarm-echo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &Args) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(args.addr)?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    eprintln!(
        "swarm-echo listening on {} ({} -> {} bytes)",
        listener.local_addr()?,
        args.request_size,
        args.reply_size
    );
    let reply = vec![b'r'; args.reply_size];
    let mut buf = vec![0u8; READ_BUF.max(args.request_size)];
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept(&poll, &listener, &mut conns)?;
                continue;
            }
            let slot = event.token().0;
            let Some(conn) = conns.get_mut(slot).and_then(Option::as_mut) else {
                continue;
            };
            let readable = event.is_readable() || event.is_read_closed();
            if serve_conn(conn, readable, args.request_size, &reply, &mut buf).is_err() {
                if let Some(mut c) = conns[slot].take() {
                    let _ = poll.registry().deregister(&mut c.stream);
                }
            }
        }
    }
}

fn accept(poll: &Poll, listener: &TcpListener, conns: &mut Vec<Option<Conn>>) -> io::Result<()> {
    loop {
        let (mut stream, _) = match listener.accept() {
            Ok(s) => s,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // Out of descriptors and the like: keep serving the open connections.
                eprintln!("swarm-echo: accept: {e}");
                return Ok(());
            }
        };
        stream.set_nodelay(true)?;
        let slot = conns.iter().position(Option::is_none).unwrap_or_else(|| {
            conns.push(None);
            conns.len() - 1
        });
        poll.registry().register(
            &mut stream,
            Token(slot),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        conns[slot] = Some(Conn {
            stream,
            partial: 0,
            out: Vec::new(),
            out_pos: 0,
        });
    }
}

/// Answers what arrived, then writes all pending replies with one write.
fn serve_conn(
    conn: &mut Conn,
    readable: bool,
    request_size: usize,
    reply: &[u8],
    buf: &mut [u8],
) -> io::Result<()> {
    if readable {
        read_requests(conn, request_size, reply, buf)?;
    }
    while conn.out_pos < conn.out.len() {
        match conn.stream.write(&conn.out[conn.out_pos..]) {
            Ok(n) => conn.out_pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    conn.out.clear();
    conn.out_pos = 0;
    Ok(())
}

/// Reads what arrived (one read unless it filled the buffer: a short read drained the socket,
/// and edge-triggered readiness reports later bytes) and queues one reply per whole request.
fn read_requests(
    conn: &mut Conn,
    request_size: usize,
    reply: &[u8],
    buf: &mut [u8],
) -> io::Result<()> {
    loop {
        match conn.stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                let bytes = conn.partial + n;
                for _ in 0..bytes / request_size {
                    conn.out.extend_from_slice(reply);
                }
                conn.partial = bytes % request_size;
                if n < buf.len() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
