//! Self-checking values and the pacing of a worker. A value carries its seed in its first 8
//! bytes and a pattern derived from it after, so whoever reads it back (Get, Pop, Consume,
//! Listen, GetRange) can tell a whole, unmixed record from a corrupted one without keeping it.

use std::thread;
use std::time::{Duration, Instant};

/// xorshift64*: cheap, deterministic, good enough for keys, sizes and patterns.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The smallest value: its seed.
pub const MIN_VALUE: usize = 8;

/// The value of `seed`, between [`MIN_VALUE`] and `max` bytes long (the length follows from
/// the seed too).
pub fn value(seed: u64, max: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let span = max.saturating_sub(MIN_VALUE) as u64 + 1;
    let len = MIN_VALUE + rng.below(span) as usize;
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&seed.to_le_bytes());
    while v.len() < len {
        v.extend_from_slice(&rng.next().to_le_bytes());
    }
    v.truncate(len);
    v
}

/// The seed of a value made by [`value`] with the same `max`, or `None` if it is not one.
pub fn check(v: &[u8], max: usize) -> Option<u64> {
    let seed = u64::from_le_bytes(v.get(..MIN_VALUE)?.try_into().ok()?);
    (value(seed, max) == v).then_some(seed)
}

/// Spaces a worker's operations at a steady rate. When the worker falls behind by more than a
/// second it drops the backlog instead of bursting to catch up (the load stays moderate).
#[derive(Debug)]
pub struct Pace {
    every: Duration,
    next: Instant,
}

impl Pace {
    /// `rate` operations a second (> 0).
    pub fn new(rate: f64) -> Pace {
        Pace {
            every: Duration::from_secs_f64(1.0 / rate.max(0.001)),
            next: Instant::now(),
        }
    }

    /// Waits until the next operation is due.
    pub fn wait(&mut self) {
        let now = Instant::now();
        if self.next > now {
            thread::sleep(self.next - now);
        } else if now - self.next > Duration::from_secs(1) {
            self.next = now;
        }
        self.next += self.every;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_check_and_corruption_shows() {
        for seed in [0, 1, 42, u64::MAX] {
            let mut v = value(seed, 300);
            assert!((MIN_VALUE..=300).contains(&v.len()));
            assert_eq!(check(&v, 300), Some(seed));
            let last = v.len() - 1;
            v[last] ^= 1;
            assert_eq!(check(&v, 300), None);
        }
        assert_eq!(check(b"short", 300), None);
    }
}
