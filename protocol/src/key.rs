//! Record keys and hash ranges. Keys are 64-bit hashes sent as 16 ASCII hex digits; a dht node
//! owns an inclusive range of **bit-reversed** keys, so sequential keys spread over the nodes.

use crate::error::ProtocolError;

/// Length of a key on the wire.
pub const KEY_HEX_LEN: usize = 16;

/// Parses a wire key: exactly 16 hex digits, either case, no prefix.
pub fn parse_key(hex: &[u8]) -> Result<u64, ProtocolError> {
    // Every keyed request parses a key, so eight digits at a time in a u64 ("SWAR"): about 95
    // instructions for the key (callgrind) instead of 140 with a table lookup per digit.
    let hex: &[u8; KEY_HEX_LEN] = hex.try_into().map_err(|_| ProtocolError::BadKey)?;
    let (hi, lo) = hex.split_at(8);
    match (parse_8(hi), parse_8(lo)) {
        (Some(hi), Some(lo)) => Ok(u64::from(hi) << 32 | u64::from(lo)),
        _ => Err(ProtocolError::BadKey),
    }
}

/// Eight hex digits (most significant first) as a u32, or `None` if any byte is not one.
#[inline]
fn parse_8(digits: &[u8]) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut word = [0u8; 8];
    word.copy_from_slice(digits);
    // Big-endian: the first digit lands in the top byte, where its nibble belongs.
    let x = u64::from_be_bytes(word);
    if x & HIGH != 0 {
        return None;
    }
    // Per byte b < 0x80 (checked above), `b + (0x80 - lo)` has its top bit set iff b >= lo,
    // and `b + (0x7f - hi)` iff b > hi; neither carries into the next byte or out of the u64.
    let in_range = |v: u64, lo: u64, hi: u64| (v + (0x80 - lo) * ONES) & !(v + (0x7f - hi) * ONES);
    let digit = in_range(x, 0x30, 0x39);
    // Setting bit 5 maps 'A'..'F' onto 'a'..'f' and nothing else onto them.
    let letter = in_range(x | (0x20 * ONES), 0x61, 0x66);
    if (digit | letter) & HIGH != HIGH {
        return None;
    }
    // A digit's value is its low nibble, plus 9 for letters (bit 6 set).
    let n = (x & (0x0f * ONES)) + ((x >> 6) & ONES) * 9;
    // Pack the nibbles: 8 bytes -> 4 -> 2 -> 1 u32.
    let n = (n | n >> 4) & 0x00ff_00ff_00ff_00ff;
    let n = (n | n >> 8) & 0x0000_ffff_0000_ffff;
    Some((n | n >> 16) as u32)
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

    /// A range as configs and Redistribute requests give it: `min <= max`, or the empty
    /// range's magic pair (`min` 0xffff_ffff_ffff_ffff, `max` 0: a node that owns no key);
    /// `None` for any other `min > max`.
    pub fn from_bounds(min: u64, max: u64) -> Option<HashRange> {
        if (min, max) == (HashRange::EMPTY.min, HashRange::EMPTY.max) {
            Some(HashRange::EMPTY)
        } else {
            HashRange::new(min, max)
        }
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

    /// What `parse_key` must agree with: the standard library's parse of exactly 16 hex digits
    /// (`from_str_radix` alone would also take a sign).
    fn parse_key_reference(hex: &[u8]) -> Option<u64> {
        std::str::from_utf8(hex)
            .ok()
            .filter(|s| s.len() == KEY_HEX_LEN && s.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|s| u64::from_str_radix(s, 16).ok())
    }

    #[test]
    fn parse_key_checks_every_byte_value_in_every_position() {
        for pos in 0..KEY_HEX_LEN {
            for b in 0..=255u8 {
                let mut hex = *b"0123456789abcdef";
                hex[pos] = b;
                assert_eq!(
                    parse_key(&hex).ok(),
                    parse_key_reference(&hex),
                    "byte {b:#04x} at {pos}"
                );
            }
        }
        assert_eq!(parse_key(b"FFFFFFFFFFFFFFFF").ok(), Some(u64::MAX));
        assert_eq!(
            parse_key(b"AbCdEf0123456789").ok(),
            Some(0xabcd_ef01_2345_6789)
        );
    }

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
        assert_eq!(HashRange::from_bounds(u64::MAX, 0), Some(HashRange::EMPTY));
        assert_eq!(HashRange::from_bounds(3, 3), HashRange::new(3, 3));
        assert_eq!(HashRange::from_bounds(4, 3), None);
    }

    #[test]
    fn fnv_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    proptest! {
        #[test]
        fn parse_agrees_with_the_standard_library(bytes in proptest::collection::vec(any::<u8>(), 16)) {
            prop_assert_eq!(parse_key(&bytes).ok(), parse_key_reference(&bytes));
        }

        /// Mostly hex digits, with their neighbours in ASCII, at lengths around 16.
        #[test]
        fn parse_key_matches_the_reference(hex in proptest::collection::vec(
            proptest::sample::select(b"0123456789abcdefABCDEFgG/:@`\x00\xff ".to_vec()), 14..18)) {
            prop_assert_eq!(parse_key(&hex).ok(), parse_key_reference(&hex));
        }

        #[test]
        fn key_roundtrip(k: u64) {
            prop_assert_eq!(parse_key(&format_key(k)), Ok(k));
            prop_assert_eq!(bit_reverse(bit_reverse(k)), k);
        }
    }
}
