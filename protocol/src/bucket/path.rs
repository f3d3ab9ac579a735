//! Where a key's record lives: the key -> `<channel>/<slot>/<bucket>` mapping, its inverse
//! (slot directory and bucket file names -> the keys the file may hold), and the key ranges of
//! buckets and slots that range scans and `logfiles_check` need.
//!
//! A key is a u64 (by convention Unix time in seconds). Its top 40 bits pick the slot
//! directory (`key >> 24`, 10 lowercase hex digits), the next 12 bits the bucket file in it
//! (`(key >> 12) & 0xfff`, 3 lowercase hex digits), and the low 12 bits a place in the
//! bucket's 4096 keys. Key `0x57275806` -> `0000000057/275`, which holds
//! `0x57275000..=0x57275fff`. The node never checks that a file's keys match its path; only
//! `logfiles_check` does, with [`parse_bucket_path`].

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

/// Low key bits inside one bucket.
pub const BUCKET_SHIFT: u32 = 12;
/// Low key bits inside one slot directory.
pub const SLOT_SHIFT: u32 = 24;
/// Keys one bucket file covers.
pub const KEYS_PER_BUCKET: u64 = 1 << BUCKET_SHIFT;
/// Highest bucket number in a slot (`fff`).
pub const MAX_BUCKET: u16 = 0xfff;
/// Highest slot number (`ffffffffff`): the top 40 bits of a key.
pub const MAX_SLOT: u64 = u64::MAX >> SLOT_SHIFT;
/// Hex digits of a slot directory name.
pub const SLOT_DIGITS: usize = 10;
/// Hex digits of a bucket file name.
pub const BUCKET_DIGITS: usize = 3;

/// The slot (directory) of `key`.
pub fn slot_of(key: u64) -> u64 {
    key >> SLOT_SHIFT
}

/// The bucket (file) number of `key` inside its slot.
pub fn bucket_of(key: u64) -> u16 {
    // Masked to 12 bits, so the cast keeps every bit.
    ((key >> BUCKET_SHIFT) & u64::from(MAX_BUCKET)) as u16
}

/// The first key of `key`'s bucket (`key & !0xfff`): the bucket's id in the checkpoint file.
pub fn bucket_first_key(key: u64) -> u64 {
    key & !(KEYS_PER_BUCKET - 1)
}

/// The last key of `key`'s bucket (`key | 0xfff`).
pub fn bucket_last_key(key: u64) -> u64 {
    key | (KEYS_PER_BUCKET - 1)
}

/// The first key of the bucket after `key`'s, where a range scan goes on; `None` after the
/// last bucket.
pub fn next_bucket_first_key(key: u64) -> Option<u64> {
    bucket_last_key(key).checked_add(1)
}

/// Every key of `key`'s bucket.
pub fn bucket_keys(key: u64) -> RangeInclusive<u64> {
    bucket_first_key(key)..=bucket_last_key(key)
}

/// Every key of bucket `bucket` in slot `slot`; `None` past [`MAX_SLOT`] or [`MAX_BUCKET`].
pub fn bucket_keys_in(slot: u64, bucket: u16) -> Option<RangeInclusive<u64>> {
    if slot > MAX_SLOT || bucket > MAX_BUCKET {
        return None;
    }
    let first = (slot << SLOT_SHIFT) | (u64::from(bucket) << BUCKET_SHIFT);
    Some(bucket_keys(first))
}

/// Every key of slot `slot`; `None` past [`MAX_SLOT`].
pub fn slot_keys(slot: u64) -> Option<RangeInclusive<u64>> {
    if slot > MAX_SLOT {
        return None;
    }
    let first = slot << SLOT_SHIFT;
    Some(first..=first | ((1 << SLOT_SHIFT) - 1))
}

/// The bucket numbers of slot `slot` whose keys meet `min..=max`, in scan order (`000..fff`,
/// cut to the bounds in the first and last slot); `None` when none do (or `min > max`).
pub fn slot_buckets(slot: u64, min: u64, max: u64) -> Option<RangeInclusive<u16>> {
    let keys = slot_keys(slot)?;
    let lo = min.max(*keys.start());
    let hi = max.min(*keys.end());
    if lo > hi {
        return None;
    }
    Some(bucket_of(lo)..=bucket_of(hi))
}

/// The name of slot `slot`'s directory: 10 lowercase hex digits (`0000000057`).
pub fn slot_dir_name(slot: u64) -> String {
    format!("{slot:0SLOT_DIGITS$x}")
}

/// The name of bucket file `bucket`: 3 lowercase hex digits (`275`).
pub fn bucket_file_name(bucket: u16) -> String {
    format!("{bucket:0BUCKET_DIGITS$x}")
}

/// The bucket file of `key` relative to the data directory: `<channel>/<slot>/<bucket>`.
/// `channel` is taken as it is (the caller validated it as a channel name).
pub fn bucket_path(channel: &str, key: u64) -> PathBuf {
    let mut p = PathBuf::from(channel);
    p.push(slot_dir_name(slot_of(key)));
    p.push(bucket_file_name(bucket_of(key)));
    p
}

/// `digits` lowercase hex digits exactly, as the node writes them, or `None`. Upper case, a
/// sign, other lengths and suffixes (`.gz`, `.tmp`, `.broken`) are not names the node made.
fn parse_hex(name: &str, digits: usize) -> Option<u64> {
    let ok = name.len() == digits
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if !ok {
        return None;
    }
    u64::from_str_radix(name, 16).ok()
}

/// The slot a directory name stands for, if it is one the node writes (10 lowercase hex
/// digits).
pub fn parse_slot_dir(name: &str) -> Option<u64> {
    parse_hex(name, SLOT_DIGITS)
}

/// The bucket number a file name stands for, if it is one the node writes (3 lowercase hex
/// digits).
pub fn parse_bucket_file(name: &str) -> Option<u16> {
    parse_hex(name, BUCKET_DIGITS).and_then(|b| u16::try_from(b).ok())
}

/// The keys a bucket file may hold, from the last two parts of its path (`.../<slot>/<bucket>`);
/// `None` when they are not a slot directory and a bucket file name.
pub fn parse_bucket_path(path: &Path) -> Option<RangeInclusive<u64>> {
    let bucket = parse_bucket_file(path.file_name()?.to_str()?)?;
    let slot = parse_slot_dir(path.parent()?.file_name()?.to_str()?)?;
    bucket_keys_in(slot, bucket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_example() {
        let key = 0x5727_5806;
        assert_eq!(bucket_path("ch", key), Path::new("ch/0000000057/275"));
        assert_eq!(bucket_keys(key), 0x5727_5000..=0x5727_5fff);
        assert_eq!(
            parse_bucket_path(Path::new("data/ch/0000000057/275")),
            Some(0x5727_5000..=0x5727_5fff)
        );
    }

    #[test]
    fn keys_zero_and_max() {
        assert_eq!(bucket_path("c", 0), Path::new("c/0000000000/000"));
        assert_eq!(bucket_path("c", u64::MAX), Path::new("c/ffffffffff/fff"));
        assert_eq!(bucket_keys(0), 0..=0xfff);
        assert_eq!(bucket_keys(u64::MAX), u64::MAX - 0xfff..=u64::MAX);
        assert_eq!(slot_keys(MAX_SLOT), Some(u64::MAX - 0xff_ffff..=u64::MAX));
        assert_eq!(slot_keys(MAX_SLOT + 1), None);
        assert_eq!(
            parse_bucket_path(Path::new("ffffffffff/fff")),
            Some(u64::MAX - 0xfff..=u64::MAX)
        );
        assert_eq!(
            parse_bucket_path(Path::new("0000000000/000")),
            Some(0..=0xfff)
        );
    }

    #[test]
    fn bucket_and_slot_boundaries() {
        // The last key of a bucket and the first of the next.
        assert_eq!(bucket_path("c", 0x5727_5fff), Path::new("c/0000000057/275"));
        assert_eq!(bucket_path("c", 0x5727_6000), Path::new("c/0000000057/276"));
        // The last key of a slot and the first of the next.
        assert_eq!(bucket_path("c", 0x57ff_ffff), Path::new("c/0000000057/fff"));
        assert_eq!(bucket_path("c", 0x5800_0000), Path::new("c/0000000058/000"));
        assert_eq!(bucket_keys_in(0x57, 0xfff), Some(0x57ff_f000..=0x57ff_ffff));
        assert_eq!(bucket_keys_in(0x57, 0x1000), None);
        assert_eq!(next_bucket_first_key(0x5727_5806), Some(0x5727_6000));
        assert_eq!(next_bucket_first_key(0x57ff_ffff), Some(0x5800_0000));
        assert_eq!(next_bucket_first_key(u64::MAX - 0xfff), None);
    }

    #[test]
    fn names_the_node_does_not_write_are_refused() {
        for name in ["275.gz", "275.tmp", "27", "2750", "27F", "+27", "xyz", ""] {
            assert_eq!(parse_bucket_file(name), None, "{name}");
        }
        for name in ["57", "00000000057", "000000005G", "000000005A"] {
            assert_eq!(parse_slot_dir(name), None, "{name}");
        }
        assert_eq!(parse_bucket_path(Path::new("275")), None);
        assert_eq!(parse_bucket_path(Path::new("ch/57/275")), None);
    }

    #[test]
    fn slot_buckets_cut_to_the_bounds() {
        assert_eq!(slot_buckets(0x57, 0, u64::MAX), Some(0..=0xfff));
        assert_eq!(
            slot_buckets(0x57, 0x5727_5806, 0x5727_8000),
            Some(0x275..=0x278)
        );
        assert_eq!(slot_buckets(0x57, 0x5800_0000, u64::MAX), None);
        assert_eq!(slot_buckets(0x57, 0, 0x56ff_ffff), None);
        assert_eq!(slot_buckets(0x57, 9, 8), None);
        assert_eq!(
            slot_buckets(MAX_SLOT, u64::MAX, u64::MAX),
            Some(0xfff..=0xfff)
        );
    }

    proptest::proptest! {
        #[test]
        fn path_round_trip(key: u64) {
            let range = parse_bucket_path(&bucket_path("ch", key)).expect("a bucket path");
            proptest::prop_assert!(range.contains(&key));
            proptest::prop_assert_eq!(range, bucket_keys(key));
        }
    }
}
