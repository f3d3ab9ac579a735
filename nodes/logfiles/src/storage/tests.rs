//! The storage as a whole: sizes kept current and recounted at open, scans seeing buffered
//! records, RemoveChannel, and a checkpoint that crash recovery cuts back to.

use super::*;
use crate::checkpoint;
use crate::storage::recover::truncate_to_checkpoint;

fn keys(s: &mut Storage, ch: &str, min: u64, max: u64) -> Vec<u64> {
    let mut scan = s.scan(ch, min, max).unwrap();
    let (mut out, mut v) = (Vec::new(), Vec::new());
    while let Some(k) = scan.next_into(&mut v).unwrap() {
        out.push(k);
    }
    out
}

#[test]
fn sizes_are_kept_and_recounted_and_scans_see_buffered_records() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Storage::open(dir.path(), 1 << 20, 4096).unwrap();
    for k in 0..1000u64 {
        s.put("logs", k * 4099, b"0123456789").unwrap();
    }
    s.put("other", 7, b"x").unwrap();
    assert_eq!(
        s.size("logs"),
        ChannelSize {
            records: 1000,
            bytes: 10_000
        }
    );
    assert_eq!(
        s.total(),
        ChannelSize {
            records: 1001,
            bytes: 10_001
        }
    );
    // Still in the 1 MiB buffers: the scan flushes first.
    assert_eq!(keys(&mut s, "logs", 0, u64::MAX).len(), 1000);
    assert_eq!(keys(&mut s, "logs", 4099, 4099 * 2), [4099, 8198]);
    assert!(keys(&mut s, "missing", 0, u64::MAX).is_empty());
    s.close().unwrap();
    let mut again = Storage::open(dir.path(), 64, 0).unwrap();
    assert_eq!(again.channel_names().collect::<Vec<_>>(), ["logs", "other"]);
    assert_eq!(
        again.size("logs"),
        ChannelSize {
            records: 1000,
            bytes: 10_000
        }
    );
    assert!(again.remove_channel("other").unwrap());
    assert!(!again.remove_channel("other").unwrap());
    assert!(!dir.path().join("other").exists());
    assert_eq!(again.size("other"), ChannelSize::default());
}

#[test]
fn records_after_the_checkpoint_are_cut_at_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Storage::open(dir.path(), 4096, 4096).unwrap();
    for k in 0..10u64 {
        s.put("c", k, b"before").unwrap();
    }
    checkpoint::write(dir.path(), &s.sync().unwrap()).unwrap();
    for k in 10..20u64 {
        s.put("c", k, b"after").unwrap();
    }
    s.close().unwrap();
    // A crash now: the next start applies the checkpoint.
    let entries = checkpoint::read(dir.path()).unwrap().unwrap();
    let r = truncate_to_checkpoint(dir.path(), &entries).unwrap();
    assert_eq!(r.truncated, 1);
    let mut s = Storage::open(dir.path(), 4096, 4096).unwrap();
    assert_eq!(keys(&mut s, "c", 0, u64::MAX), (0..10).collect::<Vec<_>>());
    assert_eq!(s.size("c").records, 10);
}
