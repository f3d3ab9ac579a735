//! [`Stop`]: what the reader threads of a stream iterator (queue `Consumer`, logfiles
//! `Records`) share with the iterator that owns them, so that dropping it ends every thread
//! promptly: a stop flag, each thread's current socket (shut down on stop, which cuts a blocked
//! read or write) and a condvar (which cuts a backoff sleep).

use crate::conn::Conn;
use std::net::{Shutdown, TcpStream};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// The stop signal of one iterator's threads, thread `i` owning slot `i`.
#[derive(Debug)]
pub(crate) struct Stop {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug)]
struct State {
    stopped: bool,
    /// Each thread's current connection, if any (a clone of its socket).
    sockets: Vec<Option<TcpStream>>,
}

impl Stop {
    /// A signal for `threads` threads, not stopped.
    pub(crate) fn new(threads: usize) -> Stop {
        Stop {
            state: Mutex::new(State {
                stopped: false,
                sockets: (0..threads).map(|_| None).collect(),
            }),
            wake: Condvar::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a flag and a list inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stops every thread: shuts each registered socket down and wakes every sleep.
    pub(crate) fn stop(&self) {
        let mut st = self.state();
        st.stopped = true;
        for s in st.sockets.iter_mut().filter_map(Option::take) {
            let _ = s.shutdown(Shutdown::Both);
        }
        self.wake.notify_all();
    }

    pub(crate) fn stopped(&self) -> bool {
        self.state().stopped
    }

    /// Keeps a clone of thread `i`'s socket for [`Stop::stop`]; `false` once stopped.
    pub(crate) fn register(&self, i: usize, conn: &Conn) -> bool {
        let mut st = self.state();
        if st.stopped {
            return false;
        }
        st.sockets[i] = conn.stream().try_clone().ok();
        true
    }

    /// Forgets thread `i`'s socket, so that a later stop does not reach it (its connection
    /// goes back to a pool). `false` when the stop came first: the socket may be shut down.
    pub(crate) fn unregister(&self, i: usize) -> bool {
        let mut st = self.state();
        st.sockets[i] = None;
        !st.stopped
    }

    /// Sleeps until `until` or the stop; `false` once stopped.
    pub(crate) fn sleep_until(&self, until: Instant) -> bool {
        let mut st = self.state();
        while !st.stopped {
            let now = Instant::now();
            if now >= until {
                return true;
            }
            st = match self.wake.wait_timeout(st, until - now) {
                Ok((st, _)) => st,
                Err(p) => p.into_inner().0,
            };
        }
        false
    }
}
