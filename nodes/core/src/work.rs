//! [`Pool`]: worker threads for work that must not run on the event loop (disk reads, fsyncs,
//! writing a dump), with a bounded queue, results sent back as events through the loop's
//! [`Mailbox`].
//!
//! A job is addressed to a connection (its result goes to [`crate::Service::deliver`]) or to
//! the service (to [`crate::Service::on_event`]). A result for a connection that has closed
//! is dropped by the loop (the [`ConnRef`] generation no longer matches), and
//! [`Pool::cancel`] takes a closed connection's jobs out of the queue before they run. When the
//! queue is full, [`Pool::submit`] hands the job back and remembers the connection: as soon as
//! a worker takes a job, that connection is woken to submit again, so a busy pool makes a
//! request wait, never fail.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};

use crate::mailbox::Mailbox;
use crate::service::ConnRef;

/// Where a job's result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum To {
    Conn(ConnRef),
    Node,
}

/// The queue was full: the job comes back to be submitted again after a wake.
#[derive(Debug, PartialEq, Eq)]
pub struct Full<J>(pub J);

#[derive(Debug)]
struct Queue<J> {
    jobs: VecDeque<(To, J)>,
    /// Connections whose submit found the queue full, to wake when a worker takes a job.
    room_waiters: VecDeque<ConnRef>,
    closed: bool,
}

struct Shared<J> {
    queue: Mutex<Queue<J>>,
    ready: Condvar,
}

impl<J> Shared<J> {
    fn lock(&self) -> MutexGuard<'_, Queue<J>> {
        // A worker that panicked mid-job left the queue itself consistent.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Worker threads running jobs of type `J` into events of type `E`.
pub struct Pool<J, E> {
    shared: Arc<Shared<J>>,
    threads: Vec<JoinHandle<()>>,
    capacity: usize,
    mailbox: Mailbox<E>,
}

impl<J, E> fmt::Debug for Pool<J, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("threads", &self.threads.len())
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<J: Send + 'static, E: Send + 'static> Pool<J, E> {
    /// Starts `threads` workers named `name-N`, each running jobs with its own worker made by
    /// `make` (so a worker may keep state, such as the file it writes). A worker returns the
    /// event to send back, or `None`. At most `capacity` jobs wait for a worker. With one
    /// thread, jobs run in the order they were submitted.
    pub fn new<W, F>(
        name: &str,
        threads: usize,
        capacity: usize,
        mailbox: Mailbox<E>,
        mut make: F,
    ) -> io::Result<Pool<J, E>>
    where
        F: FnMut() -> W,
        W: FnMut(J) -> Option<E> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                jobs: VecDeque::new(),
                room_waiters: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        });
        let mut pool = Pool {
            shared,
            threads: Vec::new(),
            capacity: capacity.max(1),
            mailbox,
        };
        for n in 0..threads.max(1) {
            let worker = make();
            let shared = Arc::clone(&pool.shared);
            let mailbox = pool.mailbox.clone();
            let thread = thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || run(&shared, &mailbox, worker))?;
            pool.threads.push(thread);
        }
        Ok(pool)
    }

    /// Queues `job` for `conn`; its result is delivered to the connection. When the queue is
    /// full the job comes back, and `conn` is woken once a worker has made room.
    pub fn submit(&self, conn: ConnRef, job: J) -> Result<(), Full<J>> {
        self.push(To::Conn(conn), job)
    }

    /// Queues `job` for the service; its result goes to [`crate::Service::on_event`]. When the
    /// queue is full the job comes back; the service tries again on a later result.
    pub fn submit_node(&self, job: J) -> Result<(), Full<J>> {
        self.push(To::Node, job)
    }

    fn push(&self, to: To, job: J) -> Result<(), Full<J>> {
        let mut q = self.shared.lock();
        if q.jobs.len() >= self.capacity {
            if let To::Conn(conn) = to {
                if !q.room_waiters.contains(&conn) {
                    q.room_waiters.push_back(conn);
                }
            }
            return Err(Full(job));
        }
        q.jobs.push_back((to, job));
        drop(q);
        self.shared.ready.notify_one();
        Ok(())
    }

    /// Drops the queued jobs of `conn` (it closed) and its place among the connections waiting
    /// for room; returns how many jobs were dropped. A job already running finishes, and its
    /// result is dropped by the loop.
    pub fn cancel(&self, conn: ConnRef) -> usize {
        let mut q = self.shared.lock();
        let before = q.jobs.len();
        q.jobs.retain(|(to, _)| *to != To::Conn(conn));
        q.room_waiters.retain(|&c| c != conn);
        before - q.jobs.len()
    }

    /// Jobs waiting for a worker.
    pub fn queued(&self) -> usize {
        self.shared.lock().jobs.len()
    }
}

impl<J, E> Pool<J, E> {
    /// Lets the workers finish the queued jobs, then joins them. Also done on drop.
    pub fn shutdown(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                log::error!("a worker thread panicked");
            }
        }
    }
}

impl<J, E> Drop for Pool<J, E> {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A worker: takes jobs until the pool is closed and its queue empty.
fn run<J, E, W>(shared: &Shared<J>, mailbox: &Mailbox<E>, mut worker: W)
where
    W: FnMut(J) -> Option<E>,
{
    loop {
        let (to, job, room_for) = {
            let mut q = shared.lock();
            loop {
                if let Some((to, job)) = q.jobs.pop_front() {
                    break (to, job, q.room_waiters.pop_front());
                }
                if q.closed {
                    return;
                }
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        if let Some(conn) = room_for {
            mailbox.wake(conn);
        }
        if let Some(event) = worker(job) {
            match to {
                To::Conn(conn) => mailbox.post(conn, event),
                To::Node => mailbox.post_node(event),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestLoop;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn wait_mail<E>(t: &mut TestLoop<E>, n: usize) -> (Vec<(ConnRef, E)>, Vec<E>, Vec<ConnRef>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let (mut c, mut nd, mut w) = (Vec::new(), Vec::new(), Vec::new());
        while c.len() + nd.len() + w.len() < n && Instant::now() < deadline {
            let (a, b, d) = t.mail();
            c.extend(a);
            nd.extend(b);
            w.extend(d);
            thread::sleep(Duration::from_millis(2));
        }
        (c, nd, w)
    }

    #[test]
    fn results_come_back_addressed_and_in_order_with_one_thread() {
        let mut t = TestLoop::<u32>::new();
        let pool = Pool::new("t", 1, 8, t.mailbox(), || |j: u32| Some(j * 10)).expect("pool");
        let a = ConnRef::new(1, 5);
        pool.submit(a, 1).expect("room");
        pool.submit_node(2).expect("room");
        pool.submit(a, 3).expect("room");
        let (conn, node, _) = wait_mail(&mut t, 3);
        assert_eq!(conn, vec![(a, 10), (a, 30)]);
        assert_eq!(node, vec![20]);
    }

    #[test]
    fn a_full_queue_hands_the_job_back_and_wakes_the_submitter_later() {
        let mut t = TestLoop::<()>::new();
        let (gate_tx, gate) = mpsc::channel::<()>();
        let gate = Mutex::new(gate);
        let pool = Pool::new("t", 1, 1, t.mailbox(), || {
            let gate = &gate;
            // One worker: the closure below is the only one made.
            let rx = std::mem::replace(&mut *gate.lock().expect("gate"), mpsc::channel().1);
            move |_: u8| {
                let _ = rx.recv_timeout(Duration::from_secs(10));
                None
            }
        })
        .expect("pool");
        let c = ConnRef::new(2, 1);
        pool.submit(c, 1).expect("taken by the worker or queued");
        // Wait until the worker has taken job 1, then fill the one queue place.
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.queued() > 0 && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(1));
        }
        pool.submit(c, 2).expect("one place");
        assert_eq!(pool.submit(c, 3), Err(Full(3)));
        gate_tx.send(()).expect("worker alive");
        let (_, _, wakes) = wait_mail(&mut t, 1);
        assert_eq!(wakes, vec![c], "woken when the worker took job 2");
        gate_tx.send(()).expect("worker alive");
    }

    #[test]
    fn cancel_drops_the_queued_jobs_of_a_connection() {
        let t = TestLoop::<u8>::new();
        let (ran_tx, ran) = mpsc::channel();
        let (go_tx, go) = mpsc::channel::<()>();
        let go = Mutex::new(Some(go));
        let mut pool = Pool::new("t", 1, 8, t.mailbox(), || {
            let go = go.lock().expect("go").take();
            let ran_tx = ran_tx.clone();
            move |j: u8| {
                if let Some(go) = &go {
                    let _ = go.recv_timeout(Duration::from_secs(10));
                }
                let _ = ran_tx.send(j);
                None
            }
        })
        .expect("pool");
        let (a, b) = (ConnRef::new(1, 1), ConnRef::new(2, 1));
        pool.submit(b, 0).expect("room"); // the worker blocks on this one
        while pool.queued() > 0 {
            thread::sleep(Duration::from_millis(1));
        }
        pool.submit(a, 1).expect("room");
        pool.submit(b, 2).expect("room");
        pool.submit(a, 3).expect("room");
        assert_eq!(pool.cancel(a), 2);
        for _ in 0..4 {
            let _ = go_tx.send(());
        }
        pool.shutdown();
        assert_eq!(ran.try_iter().collect::<Vec<_>>(), vec![0, 2]);
    }
}
