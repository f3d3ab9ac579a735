//! The storage as a whole: sizes kept current and recounted at open, scans seeing flushed
//! records, RemoveChannel, and a checkpoint that crash recovery cuts back to.

use super::*;
use crate::storage::scan::RangeScan;
use std::fs::File;

/// Puts a record, opening its bucket on this thread as a worker would.
fn put(s: &mut Storage, ch: &str, key: u64, value: &[u8]) {
    match s.put(ch, key, value) {
        Ok(()) => {}
        Err(PutError::NotOpen { .. }) => {
            let b = write::open_bucket(s.data_dir(), &s.channel_dir(ch), key, None).unwrap();
            s.install(ch, b).unwrap();
            s.put(ch, key, value).map_err(|_| "put").unwrap();
        }
        Err(PutError::Io(e)) => panic!("{e}"),
    }
}

fn keys(s: &mut Storage, ch: &str, min: u64, max: u64) -> Vec<u64> {
    s.flush_channel(ch).unwrap();
    let mut scan = RangeScan::new(&s.channel_dir(ch), min, max, 4096).unwrap();
    let (mut out, mut v) = (Vec::new(), Vec::new());
    while let Some(k) = scan.next_into(&mut v).unwrap() {
        out.push(k);
    }
    out
}

/// What a checkpoint does: fsync what is unsynced, then write the entries.
fn checkpoint_now(s: &mut Storage) {
    let (items, _) = s.take_unsynced().unwrap();
    for i in items {
        match i.file {
            Some(f) => f.sync_all().unwrap(),
            None => File::open(&i.path).unwrap().sync_all().unwrap(),
        }
    }
    let entries = s.take_checkpoint();
    checkpoint::write(s.data_dir(), &entries).unwrap();
}

#[test]
fn sizes_are_kept_and_recounted_and_scans_see_flushed_records() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, report) = Storage::open(dir.path(), 1 << 20, 4096, SyncMode::Checkpoint).unwrap();
    assert!(!report.crashed);
    for k in 0..1000u64 {
        put(&mut s, "logs", k * 4099, b"0123456789");
    }
    put(&mut s, "other", 7, b"x");
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
    assert_eq!(keys(&mut s, "logs", 0, u64::MAX).len(), 1000);
    assert_eq!(keys(&mut s, "logs", 4099, 4099 * 2), [4099, 8198]);
    assert!(keys(&mut s, "missing", 0, u64::MAX).is_empty());
    s.close().unwrap();
    let (mut again, report) = Storage::open(dir.path(), 64, 0, SyncMode::Checkpoint).unwrap();
    assert_eq!(report.total.records, 1001);
    assert_eq!(again.channel_names().collect::<Vec<_>>(), ["logs", "other"]);
    assert_eq!(
        again.size("logs"),
        ChannelSize {
            records: 1000,
            bytes: 10_000
        }
    );
    let gone = again.remove_channel("other").unwrap().unwrap();
    assert!(!dir.path().join("other").exists());
    assert!(gone.exists(), "renamed, for a worker to delete");
    assert!(again.remove_channel("other").unwrap().is_none());
    assert_eq!(again.size("other"), ChannelSize::default());
    // A removal a crash interrupted is finished at the next start.
    drop(again);
    let (s, _) = Storage::open(dir.path(), 64, 0, SyncMode::Checkpoint).unwrap();
    assert!(!gone.exists());
    assert_eq!(s.channel_names().collect::<Vec<_>>(), ["logs"]);
}

#[test]
fn records_after_the_checkpoint_are_cut_at_recovery_in_checkpoint_mode_only() {
    for mode in [SyncMode::Checkpoint, SyncMode::Group] {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = Storage::open(dir.path(), 4096, 4096, mode).unwrap();
        for k in 0..10u64 {
            put(&mut s, "c", k, b"before");
        }
        checkpoint_now(&mut s);
        for k in 10..20u64 {
            put(&mut s, "c", k, b"after");
        }
        // A crash now (buffers reached the OS, checkpoint.dat is there); a torn record too.
        s.flush_channel("c").unwrap();
        let path = dir
            .path()
            .join(swarm_protocol::bucket::path::bucket_path("c", 0));
        let mut bytes = fs::read(&path).unwrap();
        bytes.extend_from_slice(&[1, 2, 3]);
        fs::write(&path, &bytes).unwrap();
        drop(s);
        let (mut s, report) = Storage::open(dir.path(), 4096, 4096, mode).unwrap();
        assert!(report.crashed);
        let want: Vec<u64> = match mode {
            SyncMode::Checkpoint => (0..10).collect(),
            SyncMode::Group => (0..20).collect(),
        };
        assert_eq!(keys(&mut s, "c", 0, u64::MAX), want, "{mode:?}");
        assert_eq!(s.size("c").records, want.len() as u64);
        if mode == SyncMode::Group {
            assert_eq!(report.torn_cut, 1, "the torn tail is cut");
            assert_eq!(fs::metadata(&path).unwrap().len(), bytes.len() as u64 - 3);
        }
    }
}
