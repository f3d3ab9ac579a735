//! The service without sockets: requests handed to `handle`, consumers resumed as the loop
//! would (each woken connection once per round, in wake order), replies read back.

use super::*;
use crate::config::ChannelSizes;
use std::collections::HashMap;
use swarm_core::testing::TestLoop;
use swarm_protocol::queue::QueueRequest;
use swarm_protocol::wire::put_array;
use swarm_protocol::Status;

struct Harness {
    service: QueueService,
    t: TestLoop<()>,
    sessions: HashMap<usize, Session>,
    /// Each connection's output so far.
    out: HashMap<usize, Vec<u8>>,
}

const OK: [u8; 4] = [0xc8, 0, 0, 0];

impl Harness {
    fn new(ring: usize) -> Harness {
        let settings = QueueSettings {
            address: "127.0.0.1".into(),
            port: 1,
            channel_size_limit: ring as u64,
            data_dir: std::path::PathBuf::from("unused"),
        };
        Harness {
            service: QueueService::new(settings, MemoryStore::new(ChannelSizes::new(ring), 0)),
            t: TestLoop::new(),
            sessions: HashMap::new(),
            out: HashMap::new(),
        }
    }

    fn session(&mut self, slot: usize) -> &mut Session {
        self.sessions
            .entry(slot)
            .or_insert_with(|| Session::new(ConnRef::new(slot, 0), "127.0.0.1:9".parse().unwrap()))
    }

    /// Handles `bytes` (whole requests or stream records) on `slot`; returns the last step.
    fn send(&mut self, slot: usize, bytes: &[u8]) -> Step {
        self.session(slot);
        let mut s = self.sessions.remove(&slot).unwrap();
        let mut buf = self.out.remove(&slot).unwrap_or_default();
        let mut at = 0;
        let mut last = Step::Done;
        while at < bytes.len() {
            let mut cx = self.t.cx(1);
            let mut out = Out::new(&mut buf);
            match self.service.handle(&mut cx, &mut s, &bytes[at..], &mut out) {
                Handled::Request { consumed, step } => {
                    at += consumed;
                    last = step;
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        self.sessions.insert(slot, s);
        self.out.insert(slot, buf);
        last
    }

    fn request(&mut self, slot: usize, req: &QueueRequest<'_>) -> Step {
        let mut bytes = Vec::new();
        req.encode(&mut bytes);
        self.send(slot, &bytes)
    }

    /// Resumes the woken connections, round after round, until nobody is woken, skipping
    /// `stalled` (a connection whose output the loop sees backed up). Returns the resumes.
    fn run_wakes(&mut self, stalled: &[usize]) -> usize {
        let mut resumes = 0;
        loop {
            let woken = self.t.woken();
            if woken.is_empty() {
                return resumes;
            }
            for conn in woken {
                if stalled.contains(&conn.slot()) {
                    continue;
                }
                let mut s = self.sessions.remove(&conn.slot()).unwrap();
                let mut buf = self.out.remove(&conn.slot()).unwrap_or_default();
                let mut cx = self.t.cx(1);
                self.service
                    .resume(&mut cx, &mut s, &mut Out::new(&mut buf));
                resumes += 1;
                self.sessions.insert(conn.slot(), s);
                self.out.insert(conn.slot(), buf);
            }
        }
    }

    /// The records a consumer was sent after its Ok (and whether the end marker came).
    fn consumed(&self, slot: usize) -> (Vec<Vec<u8>>, bool) {
        let out = &self.out[&slot];
        assert_eq!(out[..4], OK);
        let mut r = Reader::new(&out[4..]);
        let mut records = Vec::new();
        while !r.remaining().is_empty() {
            let a = r.read_array().unwrap();
            if a.is_empty() {
                assert!(r.remaining().is_empty(), "nothing after the end marker");
                return (records, true);
            }
            records.push(a.to_vec());
        }
        (records, false)
    }
}

fn numbered(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("record {i:05}").into_bytes())
        .collect()
}

#[test]
fn a_burst_is_shared_by_the_consumers_each_record_once() {
    let mut h = Harness::new(1 << 20);
    for slot in 1..=3 {
        assert_eq!(
            h.request(slot, &QueueRequest::Consume { channel: b"jobs" }),
            Step::Wait
        );
    }
    let records = numbered(300);
    for r in &records {
        h.request(
            9,
            &QueueRequest::Push {
                channel: b"jobs",
                value: r,
            },
        );
    }
    h.run_wakes(&[]);
    let mut all = Vec::new();
    for slot in 1..=3 {
        let (got, ended) = h.consumed(slot);
        assert!(!ended);
        assert!(
            got.len() >= 50,
            "consumer {slot} got {} of 300: the burst is not shared",
            got.len()
        );
        all.extend(got);
    }
    all.sort();
    assert_eq!(all, records);
    assert!(h.service.store().ring(b"jobs").unwrap().is_empty());
}

#[test]
fn a_backed_up_consumer_is_skipped_and_the_others_take_everything() {
    let mut h = Harness::new(1 << 20);
    for slot in 1..=2 {
        h.request(slot, &QueueRequest::Consume { channel: b"c" });
    }
    let records = numbered(1000);
    for r in &records {
        h.request(
            9,
            &QueueRequest::Push {
                channel: b"c",
                value: r,
            },
        );
        // Consumer 1 never gets resumed: the loop holds its wake while its output is full.
        h.run_wakes(&[1]);
    }
    let (got1, _) = h.consumed(1);
    let (got2, _) = h.consumed(2);
    assert!(got1.is_empty());
    assert_eq!(got2, records);
}

#[test]
fn remove_channel_ends_each_consume_after_what_it_was_sent() {
    let mut h = Harness::new(1 << 20);
    h.request(1, &QueueRequest::Consume { channel: b"c" });
    h.request(2, &QueueRequest::Consume { channel: b"c" });
    h.request(
        9,
        &QueueRequest::Push {
            channel: b"c",
            value: b"one",
        },
    );
    h.run_wakes(&[]);
    h.request(9, &QueueRequest::RemoveChannel { channel: b"c" });
    h.run_wakes(&[]);
    let (a, a_end) = h.consumed(1);
    let (b, b_end) = h.consumed(2);
    assert!(a_end && b_end, "both streams ended");
    assert_eq!(a.len() + b.len(), 1);
    assert!(h.service.consumers.is_empty());
    // The connection reads requests again.
    assert_eq!(
        h.request(1, &QueueRequest::Pop { channel: b"c" }),
        Step::Done
    );
}

#[test]
fn a_closed_consumer_is_forgotten_and_a_new_one_gets_the_records() {
    let mut h = Harness::new(1 << 20);
    h.request(1, &QueueRequest::Consume { channel: b"c" });
    let s = h.sessions.remove(&1).unwrap();
    let mut cx = h.t.cx(1);
    h.service.close(&mut cx, s);
    assert!(h.service.consumers.is_empty());
    h.request(
        9,
        &QueueRequest::Push {
            channel: b"c",
            value: b"kept",
        },
    );
    assert!(h.t.woken().is_empty(), "nobody to wake");
    h.request(2, &QueueRequest::Consume { channel: b"c" });
    assert_eq!(h.consumed(2).0, vec![b"kept".to_vec()]);
}

#[test]
fn produce_takes_records_until_the_empty_array_then_requests_again() {
    let mut h = Harness::new(100);
    h.request(1, &QueueRequest::Produce { channel: b"p" });
    let mut stream = Vec::new();
    for r in numbered(10) {
        put_array(&mut stream, &r);
    }
    put_array(&mut stream, b"");
    assert_eq!(h.send(1, &stream), Step::Done);
    // 100 bytes hold five records of 20.
    assert_eq!(h.service.store().ring(b"p").unwrap().len(), 5);
    assert!(matches!(h.sessions[&1].ongoing, Ongoing::Idle));
    h.request(1, &QueueRequest::Pop { channel: b"p" });
    let mut expect = OK.to_vec();
    put_array(&mut expect, b"record 00000");
    assert!(h.out[&1].ends_with(&expect));
    // Stats: the stream finished, the drops counted.
    let line = h.service.stats();
    let get = |k: &str| {
        line.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("request/Produce/handled"), Some("1"));
    assert_eq!(get("action/dropped/records"), Some("5"));
}

#[test]
fn push_wakes_nobody_when_no_one_consumes() {
    let mut h = Harness::new(1 << 10);
    h.request(
        1,
        &QueueRequest::Push {
            channel: b"c",
            value: b"v",
        },
    );
    assert!(h.t.woken().is_empty());
    let mut expect = Vec::new();
    swarm_protocol::wire::put_i32(&mut expect, Status::Ok.code());
    assert_eq!(h.out[&1], expect);
}
