//! [`TestLoop`]: what the event loop lends a service, without sockets, for unit tests of a
//! node's request handlers.

use std::sync::Arc;

use mio::{Poll, Token, Waker};

use crate::mailbox::{mailbox, Inbox, Letter, Mailbox};
use crate::service::{ConnRef, Context};

/// The queues a [`Context`] writes to, owned by a test.
#[derive(Debug)]
pub struct TestLoop<E> {
    woken: Vec<ConnRef>,
    posted: Vec<(ConnRef, E)>,
    mailbox: Mailbox<E>,
    inbox: Inbox<E>,
    _poll: Poll,
}

impl<E> Default for TestLoop<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> TestLoop<E> {
    /// A fresh loop stand-in.
    ///
    /// # Panics
    /// When the OS refuses an epoll instance or an eventfd (a test environment problem).
    pub fn new() -> Self {
        #[allow(clippy::expect_used)] // test support: no way to go on without a poll
        let poll = Poll::new().expect("test loop: epoll instance");
        #[allow(clippy::expect_used)]
        let waker = Waker::new(poll.registry(), Token(0)).expect("test loop: waker");
        let (mailbox, inbox) = mailbox(Arc::new(waker));
        TestLoop {
            woken: Vec::new(),
            posted: Vec::new(),
            mailbox,
            inbox,
            _poll: poll,
        }
    }

    /// A context for one service call, reporting `num_connections` open connections.
    pub fn cx(&mut self, num_connections: usize) -> Context<'_, E> {
        Context::new(
            &mut self.woken,
            &mut self.posted,
            num_connections,
            &self.mailbox,
        )
    }

    /// A clone of the loop stand-in's mailbox (for a worker pool under test).
    pub fn mailbox(&self) -> Mailbox<E> {
        self.mailbox.clone()
    }

    /// Connections woken since the last call.
    pub fn woken(&mut self) -> Vec<ConnRef> {
        std::mem::take(&mut self.woken)
    }

    /// Events posted with [`Context::post`] since the last call.
    pub fn posted(&mut self) -> Vec<(ConnRef, E)> {
        std::mem::take(&mut self.posted)
    }

    /// Service-wide events sent through the mailbox ([`Mailbox::post_node`]) so far; letters
    /// for connections are returned by [`TestLoop::mail`].
    pub fn node_events(&mut self) -> Vec<E> {
        self.mail().1
    }

    /// Everything sent through the mailbox so far: (connection events, node events, wakes).
    #[allow(clippy::type_complexity)]
    pub fn mail(&mut self) -> (Vec<(ConnRef, E)>, Vec<E>, Vec<ConnRef>) {
        let mut letters = Vec::new();
        self.inbox.drain(&mut letters);
        let (mut conn, mut node, mut wakes) = (Vec::new(), Vec::new(), Vec::new());
        for l in letters {
            match l {
                Letter::Conn(c, e) => conn.push((c, e)),
                Letter::Node(e) => node.push(e),
                Letter::Wake(c) => wakes.push(c),
                // Only the metrics thread sends these; a test loop has none.
                Letter::Scrape(..) => {}
            }
        }
        (conn, node, wakes)
    }
}
