//! The benchmark's records: key `i` of the key space is `fnv1a64(i as u64 LE)` (spread over the
//! whole u64 range like real dht keys, as dhttest's "spread" keys), rendered as 16 hex digits
//! for both the dht and Redis; its value is a window of a fixed pseudo-random text (or, with
//! `--values random`, of uniform random bytes), so Put, the load, GetAll and `swarm-bench lzo`
//! all see the same bytes. Also the client's fast RNG.

use super::opts::ValueKind;
use swarm_protocol::format_key;
use swarm_protocol::key::fnv1a64;

/// Bytes of the text that values are cut from: large against a 64 KiB batch, so LZO finds few
/// repeats between the records of one batch (as with real, unrelated values).
const POOL_LEN: usize = 1 << 20;

/// The u64 key of key-space index `i`.
pub fn key_of(i: u64) -> u64 {
    fnv1a64(&i.to_le_bytes())
}

/// The 16 hex digits of key-space index `i`.
pub fn hex_key_of(i: u64) -> [u8; 16] {
    format_key(key_of(i))
}

/// Values of one size, cut from a shared pseudo-random text.
#[derive(Debug)]
pub struct Values {
    pool: Vec<u8>,
    size: usize,
}

impl Values {
    /// Values of `size` bytes of text.
    pub fn new(size: usize) -> Values {
        Values::of_kind(size, ValueKind::Text)
    }

    /// Values of `size` bytes of `kind`.
    pub fn of_kind(size: usize, kind: ValueKind) -> Values {
        let mut rng = Rng::new(0x5eed_cafe);
        let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ,.-";
        let len = POOL_LEN.max(size * 2);
        let pool = (0..len)
            .map(|_| match kind {
                ValueKind::Text => alphabet[(rng.next() % alphabet.len() as u64) as usize],
                ValueKind::Random => (rng.next() >> 56) as u8,
            })
            .collect();
        Values { pool, size }
    }

    /// The value stored under `key` (a u64 key, not an index).
    pub fn of(&self, key: u64) -> &[u8] {
        let start = (key % (self.pool.len() - self.size + 1) as u64) as usize;
        &self.pool[start..start + self.size]
    }
}

/// xorshift64*: a few instructions per number, plenty for picking keys and operations.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (any value, 0 included).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (n > 0); the modulo bias is negligible for key spaces far below 2^64.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
