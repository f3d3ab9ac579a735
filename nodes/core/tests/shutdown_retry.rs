//! A service whose data could not be persisted at shutdown ([`Service::shutdown_incomplete`])
//! keeps the loop serving: the listener accepts again, connections are answered, and the next
//! shutdown request calls [`Service::shutdown`] again; `run` returns once it succeeds.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;
use swarm_core::{ConnRef, Context, Handled, Out, Server, ServerConfig, Service, Step};

/// Answers every byte with the number of shutdown calls so far; its first `refusals`
/// shutdowns fail.
struct Refusing {
    refusals: usize,
    calls: Arc<AtomicUsize>,
}

impl Service for Refusing {
    type Session = ();
    type Event = ();

    fn open(&mut self, _conn: ConnRef, _peer: SocketAddr) {}

    fn handle(
        &mut self,
        _cx: &mut Context<'_, ()>,
        _session: &mut (),
        input: &[u8],
        out: &mut Out<'_>,
    ) -> Handled {
        if input.is_empty() {
            return Handled::Incomplete;
        }
        out.push(b'0' + self.calls.load(Ordering::SeqCst) as u8);
        Handled::Request {
            consumed: 1,
            step: Step::Done,
        }
    }

    fn resume(&mut self, _cx: &mut Context<'_, ()>, _s: &mut (), _out: &mut Out<'_>) -> Step {
        Step::Done
    }

    fn close(&mut self, _cx: &mut Context<'_, ()>, _session: ()) {}

    fn shutdown(&mut self, _cx: &mut Context<'_, ()>) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }

    fn shutdown_incomplete(&self) -> bool {
        self.calls.load(Ordering::SeqCst) <= self.refusals
    }
}

/// One byte sent, the reply byte.
fn ask(addr: SocketAddr) -> u8 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"?").unwrap();
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
    b[0]
}

#[test]
fn a_refused_shutdown_serves_on_and_the_next_request_to_stop_retries() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = Refusing {
        refusals: 2,
        calls: Arc::clone(&calls),
    };
    let mut server = Server::bind(&ServerConfig::local(0), service).unwrap();
    let addr = server.local_addr();
    let handle = server.shutdown_handle();
    let (tx, done) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let result = server.run();
        tx.send(()).unwrap();
        result
    });
    assert_eq!(ask(addr), b'0');
    for refused in 1..=2 {
        handle.shutdown();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while calls.load(Ordering::SeqCst) < refused {
            assert!(std::time::Instant::now() < deadline, "no shutdown call");
            std::thread::sleep(Duration::from_millis(1));
        }
        // Still listening and answering, a new connection included.
        assert_eq!(ask(addr), b'0' + refused as u8);
        assert!(
            done.try_recv().is_err(),
            "run returned after a refused shutdown"
        );
    }
    handle.shutdown();
    done.recv_timeout(Duration::from_secs(10)).unwrap();
    thread.join().unwrap().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(TcpStream::connect(addr).is_err(), "the listener is closed");
}
