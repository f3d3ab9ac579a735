//! Drives a [`DhtService`] without sockets, for the request handlers' unit tests.

use crate::event::DhtEvent;
use crate::service::DhtService;
use crate::session::Session;
use crate::settings::DhtSettings;
use swarm_core::testing::TestLoop;
use swarm_core::{ConnRef, Handled, Out, Service, Step};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::HashRange;

pub const OK: [u8; 4] = [0xc8, 0, 0, 0];

pub fn status(code: i32) -> Vec<u8> {
    code.to_le_bytes().to_vec()
}

pub fn arr(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

pub struct Node {
    pub service: DhtService,
    lp: TestLoop<DhtEvent>,
    _dir: tempfile::TempDir,
}

impl Node {
    pub fn new() -> Self {
        Self::build(HashRange::FULL, 0)
    }

    pub fn with_range(range: HashRange) -> Self {
        Self::build(range, 0)
    }

    pub fn with_size_limit(limit: u64) -> Self {
        Self::build(HashRange::FULL, limit)
    }

    fn build(range: HashRange, size_limit: u64) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let settings = DhtSettings {
            address: "127.0.0.1".into(),
            port: 10000,
            range,
            batch_size: 65_536,
            data_dir: dir.path().to_path_buf(),
            dump_period_s: 0,
            config_file: None,
            redist_memory_limit: 1.1,
            redist_retry: std::time::Duration::from_secs(2),
        };
        Node {
            service: DhtService::new(settings, size_limit),
            lp: TestLoop::new(),
            _dir: dir,
        }
    }

    pub fn session(&mut self, slot: usize) -> Session {
        self.service
            .open(ConnRef::new(slot, 1), "127.0.0.1:1".parse().unwrap())
    }

    fn raw(&mut self, s: &mut Session, req: &DhtRequest<'_>) -> (Handled, Vec<u8>) {
        let mut input = Vec::new();
        req.encode(&mut input);
        let mut out = Vec::new();
        let h = self
            .service
            .handle(&mut self.lp.cx(1), s, &input, &mut Out::new(&mut out));
        if let Handled::Request { consumed, .. } = h {
            assert_eq!(consumed, input.len());
        }
        (h, out)
    }

    /// Sends `req` on session `s`: the reply bytes and the step.
    pub fn request_on(&mut self, s: &mut Session, req: &DhtRequest<'_>) -> (Vec<u8>, Step) {
        match self.raw(s, req) {
            (Handled::Request { step, .. }, out) => (out, step),
            (other, _) => panic!("unexpected {other:?}"),
        }
    }

    /// Sends `req` on a fresh connection that expects a complete reply.
    pub fn request(&mut self, req: &DhtRequest<'_>) -> Vec<u8> {
        let mut s = self.session(99);
        let (out, step) = self.request_on(&mut s, req);
        assert_eq!(step, Step::Done);
        out
    }

    /// Whether `req` makes the node close the connection (with nothing written).
    pub fn request_closes(&mut self, req: &DhtRequest<'_>) -> bool {
        let mut s = self.session(98);
        let (h, out) = self.raw(&mut s, req);
        matches!(h, Handled::Close(_)) && out.is_empty()
    }

    pub fn resume(&mut self, s: &mut Session) -> (Vec<u8>, Step) {
        let mut out = Vec::new();
        let step = self
            .service
            .resume(&mut self.lp.cx(1), s, &mut Out::new(&mut out));
        (out, step)
    }

    pub fn close(&mut self, s: Session) {
        self.service.close(&mut self.lp.cx(1), s);
    }

    /// Connections woken since the last call.
    pub fn woken(&mut self) -> Vec<ConnRef> {
        self.lp.woken()
    }

    /// Events posted since the last call.
    pub fn posted(&mut self) -> Vec<(ConnRef, DhtEvent)> {
        self.lp.posted()
    }

    /// Delivers the events posted to `s` since the last call (others are dropped); returns
    /// how many. Each delivery must leave the connection's step unchanged.
    pub fn deliver_posted(&mut self, s: &mut Session) -> usize {
        let mine: Vec<DhtEvent> = self
            .lp
            .posted()
            .into_iter()
            .filter(|(c, _)| *c == s.conn)
            .map(|(_, e)| e)
            .collect();
        let n = mine.len();
        for e in mine {
            let before = s.ongoing.step();
            let mut out = Vec::new();
            let step = self
                .service
                .deliver(&mut self.lp.cx(1), s, e, &mut Out::new(&mut out));
            assert_eq!(step, before);
            assert!(out.is_empty(), "deliver writes nothing; resume does");
        }
        n
    }
}
