//! A TCP relay on 127.0.0.1 in front of a node that holds back every answer of the node for a
//! while: a Redistribute source sending through it has each batch in flight (stored by the
//! destination, its Ok not yet read) for most of the time, the window a kill -9 lands in.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The relay; dropping it closes its port and every connection through it.
pub struct Relay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
    accept: Option<JoinHandle<()>>,
}

impl Relay {
    /// A relay to `upstream` that waits `delay` before passing on each read of its answers.
    pub fn new(upstream: SocketAddr, delay: Duration) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (s, c) = (Arc::clone(&stop), Arc::clone(&conns));
        let accept = std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((down, _)) => relay_one(down, upstream, delay, &c),
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Relay {
            addr,
            stop,
            conns,
            accept: Some(accept),
        }
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Relays one connection: requests at once, answers after `delay`.
fn relay_one(
    down: TcpStream,
    upstream: SocketAddr,
    delay: Duration,
    conns: &Mutex<Vec<TcpStream>>,
) {
    down.set_nonblocking(false).unwrap();
    let Ok(up) = TcpStream::connect(upstream) else {
        return;
    };
    {
        let mut c = conns.lock().unwrap();
        c.push(down.try_clone().unwrap());
        c.push(up.try_clone().unwrap());
    }
    let pipe = |mut from: TcpStream, mut to: TcpStream, delay: Duration| {
        std::thread::spawn(move || {
            let mut buf = vec![0; 1 << 16];
            while let Ok(n) = from.read(&mut buf) {
                if n == 0 {
                    break;
                }
                std::thread::sleep(delay);
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    };
    pipe(
        down.try_clone().unwrap(),
        up.try_clone().unwrap(),
        Duration::ZERO,
    );
    pipe(up, down, delay);
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.accept.take() {
            let _ = t.join();
        }
        for c in self.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}
