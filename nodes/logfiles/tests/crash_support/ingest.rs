//! The crash tests' client: records whose values carry their own checksum (so a torn or
//! garbled record is found), a seeded RNG (so a failing seed can be replayed), and an ingest
//! thread that Puts them over a few channels, buckets and slots and notes when each was
//! acknowledged. It stops quietly when the node dies under it: that is the point.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use swarm_protocol::key::format_key;
use swarm_protocol::logfiles::LogfilesRequest;
use swarm_testkit::OK;

/// The channels written; the last one only from [`LATE`] into an ingest.
pub const CHANNELS: [&str; 4] = ["ch0", "ch1", "ch2", "ch3"];
/// Slots (`key >> 24`) the keys fall in.
const SLOTS: [u64; 2] = [0x57, 0x58];
/// Buckets (`(key >> 12) & 0xfff`) in each slot: with the slots, 8 per channel, more than the
/// 3 writers a channel keeps open, so writers are evicted and buckets reopened all the time.
const BUCKETS: [u64; 4] = [0x275, 0x276, 0x277, 0x9ab];
/// A bucket in a slot of its own, written only from [`LATE`] into an ingest.
const LATE_BUCKET: u64 = (0x59 << 24) | (0x001 << 12);
/// From this far into an ingest a new channel and a new slot are written too, so a crash
/// also meets directories made after the first checkpoint or fsync.
const LATE: Duration = Duration::from_millis(1200);
/// Puts sent before their replies are read.
const WINDOW: usize = 8;

/// splitmix64: small, seedable, good enough to pick moments and keys.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// The seed: `LFCRASH_SEED` if set (to replay a failure), else the clock.
pub fn seed() -> u64 {
    match std::env::var("LFCRASH_SEED") {
        Ok(s) => s.parse().expect("LFCRASH_SEED is a u64"),
        Err(_) => now_us(),
    }
}

/// Microseconds since the epoch: the clock the node's `checkpoint <unix_ms>` lines use.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Every key the tests use maps to one of these (slot, bucket) pairs; the last is
/// [`LATE_BUCKET`].
pub fn bucket_keys() -> Vec<u64> {
    let mut keys = Vec::new();
    for slot in SLOTS {
        for bucket in BUCKETS {
            keys.push((slot << 24) | (bucket << 12));
        }
    }
    keys.push(LATE_BUCKET);
    keys
}

/// FNV-1a 64 of `bytes`.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Where a value came from, as it says itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    pub run: u32,
    pub seq: u64,
    pub channel: usize,
    pub key: u64,
}

/// A value naming its origin, `pad` filler bytes, then the checksum of all that as 16 hex
/// digits.
pub fn value(o: Origin, pad: usize) -> Vec<u8> {
    let mut v = format!("r{}.s{}.c{}.k{:016x}.", o.run, o.seq, o.channel, o.key).into_bytes();
    v.extend((0..pad).map(|i| b'a' + ((o.seq as usize + i) % 26) as u8));
    let sum = format!("{:016x}", fnv(&v));
    v.extend_from_slice(sum.as_bytes());
    v
}

/// The origin a value names, if its checksum holds.
pub fn parse_value(v: &[u8]) -> Option<Origin> {
    let (body, sum) = v.split_at(v.len().checked_sub(16)?);
    if std::str::from_utf8(sum).ok()? != format!("{:016x}", fnv(body)) {
        return None;
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut f = text.split('.');
    let mut field = |tag: char| f.next()?.strip_prefix(tag).map(str::to_owned);
    Some(Origin {
        run: field('r')?.parse().ok()?,
        seq: field('s')?.parse().ok()?,
        channel: field('c')?.parse().ok()?,
        key: u64::from_str_radix(&field('k')?, 16).ok()?,
    })
}

/// A record the client sent, and when its Ok came back (µs since the epoch), if it did.
#[derive(Debug, Clone)]
pub struct Sent {
    pub origin: Origin,
    pub value: Vec<u8>,
    pub ack_us: Option<u64>,
}

/// Puts `origins` in windows of [`WINDOW`], appending each to `out` before it is sent;
/// `false` once the connection failed (the node is gone).
fn put_window(s: &mut TcpStream, batch: Vec<(Origin, Vec<u8>)>, out: &mut Vec<Sent>) -> bool {
    let mut bytes = Vec::new();
    for (o, value) in &batch {
        let key = format_key(o.key);
        let channel = CHANNELS[o.channel].as_bytes();
        LogfilesRequest::Put {
            channel,
            key: &key,
            value,
        }
        .encode(&mut bytes);
    }
    let first = out.len();
    out.extend(batch.into_iter().map(|(origin, value)| Sent {
        origin,
        value,
        ack_us: None,
    }));
    if s.write_all(&bytes).is_err() {
        return false;
    }
    for sent in &mut out[first..] {
        let mut reply = [0u8; 4];
        if s.read_exact(&mut reply).is_err() {
            return false;
        }
        assert_eq!(reply, OK, "Put {:?}", sent.origin);
        sent.ack_us = Some(now_us());
    }
    true
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

/// One acknowledged Put to every bucket of every channel (records of `run` from `seq`): after
/// a restart, each lands behind whatever tail the crash left in its bucket.
pub fn probe(addr: SocketAddr, run: u32, seq: u64) -> Vec<Sent> {
    let mut s = connect(addr);
    let mut out = Vec::new();
    let mut batch = Vec::new();
    for channel in 0..CHANNELS.len() {
        for key in bucket_keys() {
            let origin = Origin {
                run,
                seq: seq + batch.len() as u64,
                channel,
                key: key | 0x123,
            };
            batch.push((origin, value(origin, 5)));
        }
    }
    assert!(put_window(&mut s, batch, &mut out), "probe Puts failed");
    out
}

/// A client thread putting random records of run `run` until [`Ingest::stop`] or the node
/// dies; [`Ingest::join`] gives every record it sent.
#[derive(Debug)]
pub struct Ingest {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Sent>>,
}

impl Ingest {
    /// Starts putting records of `run` (seq numbers from `seq`), keys and pads from `rng`;
    /// `pause` between windows keeps the data of 20 rounds small.
    pub fn start(addr: SocketAddr, run: u32, seq: u64, mut rng: Rng, pause: Duration) -> Ingest {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let keys = bucket_keys();
        let handle = std::thread::spawn(move || {
            let mut s = connect(addr);
            let mut out = Vec::new();
            let mut seq = seq;
            let started = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                // Before LATE, the last channel and the last bucket are left out.
                let late = u64::from(started.elapsed() >= LATE);
                let batch = (0..WINDOW)
                    .map(|_| {
                        let bucket = rng.range(0, keys.len() as u64 - 1 + late) as usize;
                        let key = keys[bucket] | (rng.next() & 0xfff);
                        let channel = rng.range(0, CHANNELS.len() as u64 - 1 + late) as usize;
                        let o = Origin {
                            run,
                            seq,
                            channel,
                            key,
                        };
                        seq += 1;
                        (o, value(o, rng.range(0, 48) as usize))
                    })
                    .collect();
                if !put_window(&mut s, batch, &mut out) {
                    break;
                }
                std::thread::sleep(pause);
            }
            out
        });
        Ingest { stop, handle }
    }

    /// Stops (if the node still runs) and gives every record sent.
    pub fn join(self) -> Vec<Sent> {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("the ingest thread panicked")
    }
}
