//! The node's [`Service`] as the event loop sees it: the dht request handling ([`DhtService`])
//! plus the periodic dump, which runs on the loop's tick and wake-ups. Every call is passed on
//! to the dht service unchanged; the dump only adds work to `tick` and `on_wake`.

use super::file::dump_all;
use super::periodic::Dumper;
use crate::service::DhtService;
use std::net::SocketAddr;
use swarm_core::{ConnId, Context, Handled, Service, Step};

/// The dht service with its dumps.
#[derive(Debug)]
pub struct DumpingService {
    inner: DhtService,
    dumper: Dumper,
}

impl DumpingService {
    /// Wraps `inner`; `dump_period_s` = 0 dumps only at shutdown.
    pub fn new(inner: DhtService, dump_period_s: u64) -> Self {
        let dumper = Dumper::new(inner.settings().data_dir.clone(), dump_period_s);
        DumpingService { inner, dumper }
    }

    /// The dht service.
    pub fn inner(&self) -> &DhtService {
        &self.inner
    }

    /// The dht service, mutably.
    pub fn inner_mut(&mut self) -> &mut DhtService {
        &mut self.inner
    }

    /// Whether a periodic dump is running.
    pub fn dumping(&self) -> bool {
        self.dumper.is_running()
    }

    /// The shutdown dump: cuts a running periodic dump, then dumps every channel. Returns how
    /// many channels could not be dumped.
    pub fn dump_all(&mut self) -> usize {
        self.dumper.stop();
        dump_all(&self.inner.settings().data_dir, self.inner.storage())
    }
}

impl Service for DumpingService {
    type Session = <DhtService as Service>::Session;

    fn open(&mut self, id: ConnId, peer: SocketAddr) -> Self::Session {
        self.inner.open(id, peer)
    }

    fn handle(
        &mut self,
        cx: &mut Context<'_>,
        session: &mut Self::Session,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> Handled {
        self.inner.handle(cx, session, input, out)
    }

    fn resume(
        &mut self,
        cx: &mut Context<'_>,
        session: &mut Self::Session,
        out: &mut Vec<u8>,
    ) -> Step {
        self.inner.resume(cx, session, out)
    }

    fn close(&mut self, cx: &mut Context<'_>, session: Self::Session) {
        self.inner.close(cx, session)
    }

    fn tick(&mut self, cx: &mut Context<'_>) {
        self.inner.tick(cx);
        self.dumper
            .tick(cx.now(), self.inner.storage(), &cx.waker());
    }

    fn on_wake(&mut self, cx: &mut Context<'_>) {
        self.inner.on_wake(cx);
        self.dumper.on_wake(self.inner.storage(), &cx.waker());
    }

    fn stats(&mut self) -> Vec<(String, String)> {
        self.inner.stats()
    }

    fn prefetch(&self, session: &mut Self::Session, input: &[u8], stage: u32) -> bool {
        self.inner.prefetch(session, input, stage)
    }

    fn console(&self) -> String {
        let text = self.inner.console();
        if self.dumper.is_running() {
            format!("{text}, dumping")
        } else {
            text
        }
    }
}
