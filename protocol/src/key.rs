//! Record keys and hash ranges. Keys are 64-bit hashes sent as 16 ASCII hex digits; a dht node
//! owns an inclusive range of **bit-reversed** keys, so sequential keys spread over the nodes.

use crate::error::ProtocolError;

/// Length of a key on the wire.
pub const KEY_HEX_LEN: usize = 16;

/// Parses a wire key: exactly 16 hex digits, either case, no prefix.
pub fn parse_key(hex: &[u8]) -> Result<u64, ProtocolError> {
    // A digit table and one check at the end: every keyed request parses a key.
    const BAD: u8 = 0xff;
    const DIGIT: [u8; 256] = {
        let mut t = [BAD; 256];
        let mut i = 0;
        while i < 10 {
            t[b'0' as usize + i] = i as u8;
            i += 1;
        }
        let mut i = 0;
        while i < 6 {
            t[b'a' as usize + i] = 10 + i as u8;
            t[b'A' as usize + i] = 10 + i as u8;
            i += 1;
        }
        t
    };
    let hex: &[u8; KEY_HEX_LEN] = hex.try_into().map_err(|_| ProtocolError::BadKey)?;
    let mut v: u64 = 0;
    let mut bad = 0u8;
    for &c in hex {
        let d = DIGIT[usize::from(c)];
        bad |= d & 0xf0;
        v = (v << 4) | u64::from(d & 0x0f);
    }
    if bad != 0 {
        return Err(ProtocolError::BadKey);
    }
    Ok(v)
}

/// Renders a key as the wire's 16 lowercase hex digits, most significant first.
pub fn format_key(key: u64) -> [u8; KEY_HEX_LEN] {
    // Two digits per byte from a table: GetAll formats every key it sends.
    const PAIRS: [[u8; 2]; 256] = {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut t = [[0u8; 2]; 256];
        let mut i = 0;
        while i < 256 {
            t[i] = [DIGITS[i >> 4], DIGITS[i & 0xf]];
            i += 1;
        }
        t
    };
    let mut out = [0u8; KEY_HEX_LEN];
    for (pair, byte) in out.chunks_exact_mut(2).zip(key.to_be_bytes()) {
        pair.copy_from_slice(&PAIRS[usize::from(byte)]);
    }
    out
}

/// Mirrors the 64 bits of a key (bit 0 <-> bit 63): the value hash ranges are checked against.
pub fn bit_reverse(key: u64) -> u64 {
    key.reverse_bits()
}

/// An inclusive range of bit-reversed keys owned by a dht node. The empty range is represented
/// as `min = u64::MAX, max = 0`, as the original does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HashRange {
    /// Smallest bit-reversed key in the range.
    pub min: u64,
    /// Largest bit-reversed key in the range.
    pub max: u64,
}

impl HashRange {
    /// The whole key space.
    pub const FULL: HashRange = HashRange {
        min: 0,
        max: u64::MAX,
    };
    /// The empty range.
    pub const EMPTY: HashRange = HashRange {
        min: u64::MAX,
        max: 0,
    };

    /// A range from its bounds; `None` when `min > max` (use [`HashRange::EMPTY`] explicitly).
    pub fn new(min: u64, max: u64) -> Option<HashRange> {
        (min <= max).then_some(HashRange { min, max })
    }

    /// Whether the range holds no key.
    pub fn is_empty(&self) -> bool {
        self.min > self.max
    }

    /// Whether `key` (not yet bit-reversed) belongs to this range.
    pub fn contains(&self, key: u64) -> bool {
        let r = bit_reverse(key);
        self.min <= r && r <= self.max
    }

    /// Whether two non-empty ranges share a key.
    pub fn overlaps(&self, other: &HashRange) -> bool {
        !self.is_empty() && !other.is_empty() && self.min <= other.max && other.min <= self.max
    }
}

/// FNV-1a 64, the hash applications usually derive keys with (ocean `Fnv1`); not part of the
/// protocol, used by tests, tools and the load generator.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn worked_example_key() {
        assert_eq!(&format_key(0xab), b"00000000000000ab");
        assert_eq!(parse_key(b"00000000000000AB"), Ok(0xab));
        assert_eq!(parse_key(b"0000000057275806"), Ok(0x5727_5806));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            &b""[..],
            b"0",
            b"000000000000000g",
            b"0x000000000000ab",
            b"00000000000000abc",
        ] {
            assert_eq!(parse_key(bad), Err(ProtocolError::BadKey), "{bad:?}");
        }
    }

    #[test]
    fn two_node_split_sends_even_keys_to_the_first() {
        let low = HashRange::new(0, 0x7fff_ffff_ffff_ffff).unwrap();
        let high = HashRange::new(0x8000_0000_0000_0000, u64::MAX).unwrap();
        for k in 0..100u64 {
            assert_eq!(low.contains(k), k % 2 == 0);
            assert_eq!(high.contains(k), k % 2 == 1);
        }
        assert!(!HashRange::EMPTY.contains(0));
        assert!(HashRange::EMPTY.is_empty());
    }

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    proptest! {
        #[test]
        fn parse_agrees_with_the_standard_library(bytes in proptest::collection::vec(any::<u8>(), 16)) {
            let std = std::str::from_utf8(&bytes)
                .ok()
                .filter(|s| s.bytes().all(|c| c.is_ascii_hexdigit()))
                .and_then(|s| u64::from_str_radix(s, 16).ok());
            prop_assert_eq!(parse_key(&bytes).ok(), std);
        }

        #[test]
        fn key_roundtrip(k: u64) {
            prop_assert_eq!(parse_key(&format_key(k)), Ok(k));
            prop_assert_eq!(bit_reverse(bit_reverse(k)), k);
        }
    }
}
