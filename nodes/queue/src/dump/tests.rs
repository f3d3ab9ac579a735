//! Dump-then-load tests: several channels, a wrapped ring, the order of every record, and the
//! directory's preparation and lock.

use super::*;
use crate::config::ChannelSizes;
use crate::storage::{MemoryStore, QueueStore};

fn drain(store: &mut MemoryStore, channel: &[u8]) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| store.pop(channel).map(<[u8]>::to_vec)).collect()
}

/// The entries of `dir`, sorted (the dump's tests, `load`'s and `write`'s).
pub(in crate::dump) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn several_channels_and_a_wrapped_ring_come_back_in_order() {
    let mut sizes = ChannelSizes::new(10_000);
    sizes.add("wrap", 64).unwrap();
    let mut s = MemoryStore::new(sizes.clone(), 0);
    // 4 records of 16 bytes fill the 64-byte ring; popping two and pushing one wraps it.
    for r in [b"00000001", b"00000002", b"00000003", b"00000004"] {
        s.push(b"wrap", r).unwrap();
    }
    s.pop(b"wrap");
    s.pop(b"wrap");
    s.push(b"wrap", b"00000005").unwrap();
    let ring = s.ring(b"wrap").unwrap();
    assert!(!ring.as_slices().1.is_empty(), "the ring wrapped");
    let many: Vec<Vec<u8>> = (0..500u32)
        .map(|i| i.to_le_bytes().repeat(i as usize % 7))
        .collect();
    for r in &many {
        s.push(b"many", r).unwrap();
    }
    s.push(b"one", b"x").unwrap();
    s.create_channel(b"empty").unwrap();

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(dump_all(dir.path(), &s), 0);
    assert_eq!(names(dir.path()), ["many.rq", "one.rq", "wrap.rq"]);

    let mut back = MemoryStore::new(sizes, 0);
    let report = load_data_dir(dir.path(), &mut back).unwrap();
    assert_eq!(report.channels, 3);
    assert_eq!(report.records, s.total_size().records);
    assert_eq!(report.bytes, s.total_size().bytes);
    assert!(names(dir.path()).is_empty());
    assert_eq!(back.ring(b"wrap").map(|r| r.capacity()), Some(64));
    assert_eq!(
        drain(&mut back, b"wrap"),
        [
            b"00000003".to_vec(),
            b"00000004".to_vec(),
            b"00000005".to_vec()
        ]
    );
    assert_eq!(drain(&mut back, b"many"), many);
    assert_eq!(drain(&mut back, b"one"), [b"x".to_vec()]);
    assert_eq!(
        back.channel_size(b"empty"),
        None,
        "an empty channel is not dumped"
    );
}

#[test]
fn a_restart_with_a_smaller_configured_ring_keeps_every_record() {
    let mut s = MemoryStore::new(ChannelSizes::new(1000), 0);
    let records: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 30]).collect();
    for r in &records {
        s.push(b"ch", r).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(dump_all(dir.path(), &s), 0);
    let mut small = MemoryStore::new(ChannelSizes::new(100), 0);
    load_data_dir(dir.path(), &mut small).unwrap();
    assert_eq!(small.ring(b"ch").map(|r| r.capacity()), Some(20 * 38));
    assert_eq!(drain(&mut small, b"ch"), records);
}

#[test]
fn prepare_creates_the_directory_and_the_lock_keeps_a_second_node_out() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("a/b/data");
    prepare_data_dir(&data).unwrap();
    prepare_data_dir(&data).unwrap();
    assert!(data.is_dir());
    let locks = lock_data_dir(&data, None).unwrap();
    assert_eq!(locks.len(), 1);
    let err = lock_data_dir(&data, None).unwrap_err();
    assert!(err.to_string().contains("in use"), "{err}");
    drop(locks);
    let pid = dir.path().join("pid.lock");
    assert_eq!(lock_data_dir(&data, Some(&pid)).unwrap().len(), 2);
    // The lock file is not a dump: a load with it in place finds nothing.
    let report = load_data_dir(&data, &mut MemoryStore::new(ChannelSizes::new(10), 0)).unwrap();
    assert_eq!(report, LoadReport::default());
    assert_eq!(names(&data), ["node.lock"]);

    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    let err = prepare_data_dir(&file.join("data")).unwrap_err();
    assert!(err.to_string().contains("file/data"), "{err}");
}
