//! The loop's mailbox: how other threads (worker pools, a dump writer) reach the event loop.
//!
//! A [`Mailbox`] is an mpsc sender plus the loop's `mio::Waker`; it is `Clone + Send`. Letters
//! name a connection by [`ConnRef`], so a result for a connection that has closed meanwhile is
//! dropped by the loop, or the service as a whole. Wakes are coalesced: however many letters
//! are sent before the loop drains them, the waker fires once.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::Arc;

use mio::Waker;

use crate::metrics::http::Want;
use crate::service::ConnRef;

/// One message to the loop.
#[derive(Debug)]
pub(crate) enum Letter<E> {
    /// An event for a connection ([`crate::Service::deliver`]).
    Conn(ConnRef, E),
    /// An event for the service ([`crate::Service::on_event`]).
    Node(E),
    /// A wake for a connection ([`crate::Service::resume`]).
    Wake(ConnRef),
    /// The metrics thread asks for a `/metrics` page (or, for `/health`, only an answer).
    Scrape(Want, SyncSender<String>),
}

/// A handle other threads use to send the loop events and wakes.
pub struct Mailbox<E> {
    tx: Sender<Letter<E>>,
    waker: Arc<Waker>,
    /// A wake is pending: the loop has not drained since the last one.
    pending: Arc<AtomicBool>,
}

impl<E> Clone for Mailbox<E> {
    fn clone(&self) -> Self {
        Mailbox {
            tx: self.tx.clone(),
            waker: Arc::clone(&self.waker),
            pending: Arc::clone(&self.pending),
        }
    }
}

impl<E> fmt::Debug for Mailbox<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mailbox").finish_non_exhaustive()
    }
}

impl<E> Mailbox<E> {
    /// Sends `event` to `conn`. `false` when the loop is gone (nobody will read it).
    pub fn post(&self, conn: ConnRef, event: E) -> bool {
        self.send(Letter::Conn(conn, event))
    }

    /// Sends `event` to the service as a whole. `false` when the loop is gone.
    pub fn post_node(&self, event: E) -> bool {
        self.send(Letter::Node(event))
    }

    /// Asks the loop to resume `conn` (as [`crate::Context::wake`]). `false` when the loop is
    /// gone.
    pub fn wake(&self, conn: ConnRef) -> bool {
        self.send(Letter::Wake(conn))
    }

    /// Asks the loop for a rendered snapshot (see `server/scrape.rs`). `false` when the loop
    /// is gone.
    pub(crate) fn scrape(&self, want: Want, reply: SyncSender<String>) -> bool {
        self.send(Letter::Scrape(want, reply))
    }

    fn send(&self, letter: Letter<E>) -> bool {
        if self.tx.send(letter).is_err() {
            return false;
        }
        // The letter is queued before the flag is read: if the flag was already set, the loop
        // has not cleared it yet and will drain this letter with the earlier ones.
        if !self.pending.swap(true, Ordering::SeqCst) {
            if let Err(e) = self.waker.wake() {
                log::warn!("mailbox: cannot wake the event loop: {e}");
            }
        }
        true
    }
}

/// The loop's end of the mailbox.
#[derive(Debug)]
pub(crate) struct Inbox<E> {
    rx: Receiver<Letter<E>>,
    pending: Arc<AtomicBool>,
}

impl<E> Inbox<E> {
    /// Takes the letters that have arrived, in order, into `into`.
    pub(crate) fn drain(&self, into: &mut Vec<Letter<E>>) {
        // Cleared before draining: a letter sent after this point wakes the loop again.
        self.pending.store(false, Ordering::SeqCst);
        into.extend(self.rx.try_iter());
    }
}

/// A mailbox and its inbox, waking `waker`.
pub(crate) fn mailbox<E>(waker: Arc<Waker>) -> (Mailbox<E>, Inbox<E>) {
    let (tx, rx) = mpsc::channel();
    let pending = Arc::new(AtomicBool::new(false));
    (
        Mailbox {
            tx,
            waker,
            pending: Arc::clone(&pending),
        },
        Inbox { rx, pending },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll, Token};
    use std::time::Duration;

    #[test]
    fn letters_arrive_in_order_and_wakes_coalesce() {
        let mut poll = Poll::new().expect("poll");
        let waker = Arc::new(Waker::new(poll.registry(), Token(7)).expect("waker"));
        let (mb, inbox) = mailbox::<u32>(waker);
        let conn = ConnRef::new(3, 1);
        assert!(mb.post(conn, 1));
        assert!(mb.clone().post_node(2));
        assert!(mb.wake(conn));
        let mut events = Events::with_capacity(8);
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .expect("poll");
        assert_eq!(events.iter().count(), 1, "one wake for three letters");
        let mut got = Vec::new();
        inbox.drain(&mut got);
        assert!(matches!(
            got.as_slice(),
            [Letter::Conn(c, 1), Letter::Node(2), Letter::Wake(w)] if *c == conn && *w == conn
        ));
        // After the drain the next letter wakes again.
        assert!(mb.post_node(3));
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .expect("poll");
        assert_eq!(events.iter().count(), 1);
        drop(inbox);
        assert!(!mb.post_node(4), "the loop is gone");
    }
}
