//! Mutations of valid request frames, seeded and repeatable: a length field set to a hostile
//! value (2^40, 2^63, 2^64-1, 10 MiB - 1, 10 MiB, 10 MiB + 1, off by one), bytes flipped, the
//! frame cut short, the command code replaced, garbage appended, and LZO bombs (a small
//! compressed block whose header claims a huge or a wrong decompressed size) for the kinds that
//! take PutBatch.
//!
//! Length fields are found by walking the frame after its 4-byte code as a run of u64-length
//! arrays (every template is one); a field that is not an array is mutated as plain bytes.

use swarm_protocol::batch::compress;

/// The largest array the protocol accepts (10 MiB - 1 is the largest legal length).
pub const TEN_MIB: u64 = 10 * 1024 * 1024;

/// The length values the issue names.
pub const HOSTILE_LENGTHS: [u64; 6] = [
    1 << 40,
    1 << 63,
    u64::MAX,
    TEN_MIB - 1,
    TEN_MIB,
    TEN_MIB + 1,
];

/// xorshift64: cheap and repeatable from a seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform-ish in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Offsets of the u64 length fields of `frame`, read as code + arrays.
pub fn length_fields(frame: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 4;
    while at + 8 <= frame.len() {
        let len = u64::from_le_bytes(frame[at..at + 8].try_into().unwrap_or([0; 8]));
        out.push(at);
        match (at as u64 + 8).checked_add(len) {
            Some(end) if end <= frame.len() as u64 => at = end as usize,
            _ => break,
        }
    }
    out
}

/// The LZO bombs: batch payloads (`u64 raw length` + LZO) that claim more than they hold, hold
/// more than they claim, or really inflate a few KiB to 10 MiB - 1.
pub fn lzo_bombs() -> Vec<Vec<u8>> {
    let real = compress(&vec![0u8; (TEN_MIB - 1) as usize]);
    let tiny = compress(&[0u8; 64]);
    let with = |claim: u64, body: &[u8]| [&claim.to_le_bytes()[..], body].concat();
    vec![
        with(TEN_MIB - 1, &real), // inflates 10 MiB - 1 for a few KiB sent
        with(TEN_MIB, &real),     // one byte more claimed than it holds
        with(TEN_MIB - 2, &real), // holds more than it claims
        with(TEN_MIB + 1, &tiny), // over the limit
        with(1 << 40, &tiny),
        with(1 << 63, &tiny),
        with(u64::MAX, &tiny),
    ]
}

/// One mutation of `frame`; `bombs` are whole requests carrying [`lzo_bombs`] (empty for kinds
/// without PutBatch).
pub fn mutate(frame: &[u8], bombs: &[Vec<u8>], rng: &mut Rng) -> Vec<u8> {
    let mut f = frame.to_vec();
    match rng.below(if bombs.is_empty() { 5 } else { 6 }) {
        0 | 1 => {
            // Twice as often as the others: what the issue asks for first.
            let fields = length_fields(&f);
            if fields.is_empty() {
                f.extend_from_slice(&HOSTILE_LENGTHS[rng.below(6)].to_le_bytes());
                return f;
            }
            let at = fields[rng.below(fields.len())];
            let old = u64::from_le_bytes(f[at..at + 8].try_into().unwrap_or([0; 8]));
            let value = match rng.below(8) {
                6 => old.wrapping_add(1),
                7 => old.wrapping_sub(1),
                i => HOSTILE_LENGTHS[i],
            };
            f[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        2 => {
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(f.len());
                f[i] ^= 1 << rng.below(8);
            }
        }
        3 => f.truncate(rng.below(f.len())),
        4 => match rng.below(2) {
            0 => f[..4].copy_from_slice(&(rng.next_u64() as i32).to_le_bytes()),
            _ => f.extend((0..1 + rng.below(64)).map(|_| rng.next_u64() as u8)),
        },
        _ => return bombs[rng.below(bombs.len())].clone(),
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_fields_walk_the_arrays() {
        let mut f = 1i32.to_le_bytes().to_vec();
        for a in [&b"ch"[..], b"0123456789abcdef", b"value"] {
            f.extend_from_slice(&(a.len() as u64).to_le_bytes());
            f.extend_from_slice(a);
        }
        assert_eq!(length_fields(&f), vec![4, 14, 38]);
    }

    #[test]
    fn mutations_are_repeatable_and_differ_from_the_frame() {
        let frame = [&1i32.to_le_bytes()[..], &2u64.to_le_bytes(), b"ch"].concat();
        let run = |seed| {
            let mut rng = Rng::new(seed);
            (0..100)
                .map(|_| mutate(&frame, &[], &mut rng))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert!(run(7).iter().filter(|m| **m != frame).count() > 90);
    }

    #[test]
    fn the_real_bomb_is_small_and_inflates_to_its_claim() {
        let bombs = lzo_bombs();
        assert!(bombs[0].len() < 100 * 1024, "{}", bombs[0].len());
        let raw = swarm_protocol::batch::decompress(&bombs[0]).unwrap();
        assert_eq!(raw.len() as u64, TEN_MIB - 1);
        assert!(swarm_protocol::batch::decompress(&bombs[4]).is_err());
    }
}
