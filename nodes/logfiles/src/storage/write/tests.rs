//! Writers against real files, read back through the range scan.

use super::*;
use crate::storage::scan::RangeScan;
use swarm_protocol::bucket::path::bucket_path;

/// A writer that opens its buckets itself, and syncs as a checkpoint does.
struct Blocking {
    w: ChannelWriter,
    root: PathBuf,
    dir: PathBuf,
}

impl Blocking {
    fn new(root: &Path, dir: &Path, buffer: usize) -> Blocking {
        Blocking {
            w: ChannelWriter::new(buffer),
            root: root.to_path_buf(),
            dir: dir.to_path_buf(),
        }
    }
    fn put(&mut self, key: u64, value: &[u8]) -> io::Result<u64> {
        self.w.put_now(&self.root, &self.dir, key, value)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
    fn close_all(&mut self) -> io::Result<()> {
        self.w.close_all()
    }
    fn open_buckets(&self) -> usize {
        self.w.open_buckets()
    }
    /// fsyncs what is unsynced and returns the checkpoint entries.
    fn sync(&mut self) -> io::Result<Vec<(u64, u64)>> {
        for item in self.w.take_unsynced()? {
            let f = match item.file {
                Some(f) => f,
                None => File::open(&item.path)?,
            };
            f.sync_all()?;
        }
        Ok(self.w.take_checkpoint())
    }
}

fn scan_all(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut s = RangeScan::new(dir, 0, u64::MAX, 4096).unwrap();
    let (mut out, mut v) = (Vec::new(), Vec::new());
    while let Some(k) = s.next_into(&mut v).unwrap() {
        out.push((k, v.clone()));
    }
    out
}

#[test]
fn records_reach_their_buckets_with_at_most_three_open() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ch");
    let mut w = Blocking::new(root.path(), &dir, 64);
    // Five buckets in two slots, revisited: evictions and reopenings.
    let keys = [
        0x1000u64,
        0x2000,
        0x3000,
        0x4000,
        0x0100_0000,
        0x1001,
        0x2001,
        0x1002,
    ];
    for (i, k) in keys.iter().enumerate() {
        w.put(*k, format!("value {i}").as_bytes()).unwrap();
        assert!(w.open_buckets() <= MAX_OPEN_WRITERS);
    }
    w.flush().unwrap();
    let got = scan_all(&dir);
    let got_keys: Vec<u64> = got.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        got_keys,
        [
            0x1000,
            0x1001,
            0x1002,
            0x2000,
            0x2001,
            0x3000,
            0x4000,
            0x0100_0000
        ]
    );
    // Every file is v1, with its header once.
    let bytes = fs::read(root.path().join(bucket_path("ch", 0x1000))).unwrap();
    assert_eq!(
        bytes[..16],
        [1, 0, 0, 0, 0, 0, 0, 0, b'D', b'L', b'S', b'B', b'U', b'C', b'K', b'T']
    );
    assert_eq!(bytes.windows(8).filter(|w| w == b"DLSBUCKT").count(), 1);
}

#[test]
fn flush_makes_buffered_records_visible_and_sync_reports_file_lengths() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ch");
    let mut w = Blocking::new(root.path(), &dir, 1 << 20);
    w.put(0x10, b"buffered").unwrap();
    assert!(scan_all(&dir).is_empty(), "still in the 1 MiB buffer");
    w.flush().unwrap();
    assert_eq!(scan_all(&dir).len(), 1);
    // Four buckets: one evicted before the sync, reported once.
    for k in [0x1010, 0x2010, 0x3010] {
        w.put(k, b"x").unwrap();
    }
    let entries = w.sync().unwrap();
    let firsts: Vec<u64> = entries.iter().map(|e| e.0).collect();
    assert_eq!(firsts, [0x0, 0x1000, 0x2000, 0x3000]);
    for (first, len) in &entries {
        let path = root.path().join(bucket_path("ch", *first));
        assert_eq!(
            fs::metadata(&path).unwrap().len(),
            *len,
            "{}",
            path.display()
        );
    }
    // The evicted bucket is not reported again.
    let again: Vec<u64> = w.sync().unwrap().iter().map(|e| e.0).collect();
    assert_eq!(again, [0x1000, 0x2000, 0x3000]);
    // Evicted, then opened again before the sync: one entry, with the file's full length.
    w.put(0x4010, b"evicts 0x1000").unwrap();
    w.put(0x1011, b"reopens it").unwrap();
    let entries = w.sync().unwrap();
    let e = entries.iter().find(|e| e.0 == 0x1000).unwrap();
    let len = fs::metadata(root.path().join(bucket_path("ch", 0x1000)))
        .unwrap()
        .len();
    assert_eq!(e.1, len);
    assert_eq!(entries.iter().filter(|e| e.0 == 0x1000).count(), 1);
}

#[test]
fn a_legacy_file_stays_legacy_and_short_files_start_afresh() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ch");
    let legacy = dir.join("0000000000/000");
    fs::create_dir_all(legacy.parent().unwrap()).unwrap();
    // A legacy record: key, len, value.
    let mut rec = 0x5u64.to_le_bytes().to_vec();
    rec.extend(3u64.to_le_bytes());
    rec.extend(b"old");
    fs::write(&legacy, &rec).unwrap();
    let short = dir.join("0000000000/001");
    fs::write(&short, b"DLSB").unwrap();
    let mut w = Blocking::new(root.path(), &dir, 64);
    w.put(0x6, b"new").unwrap();
    w.put(0x1006, b"fresh").unwrap();
    w.close_all().unwrap();
    let bytes = fs::read(&legacy).unwrap();
    assert_eq!(bytes.len(), 2 * 16 + 6, "two legacy records, no header");
    assert_ne!(&bytes[8..16], b"DLSBUCKT");
    assert_eq!(&fs::read(&short).unwrap()[8..16], b"DLSBUCKT");
    let got: Vec<(u64, Vec<u8>)> = scan_all(&dir);
    assert_eq!(
        got,
        vec![
            (5, b"old".to_vec()),
            (6, b"new".to_vec()),
            (0x1006, b"fresh".to_vec())
        ]
    );
}

#[test]
fn a_detached_bucket_is_flushed_closed_left_out_of_the_checkpoint_and_still_synced() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ch");
    let mut b = Blocking::new(root.path(), &dir, 4096);
    b.put(0x1001, b"one").unwrap();
    b.put(0x2001, b"two").unwrap();
    let path = dir.join("0000000000").join("001");
    b.w.detach(0x1000, &path).unwrap();
    assert_eq!(b.open_buckets(), 1, "only the other bucket stays open");
    // Renamed as a Redistribute does: the record was flushed into it.
    let tmp = root.path().join("moved");
    std::fs::rename(&path, &tmp).unwrap();
    let items = b.w.take_unsynced().unwrap();
    let moved = items
        .iter()
        .find(|i| i.path == path)
        .expect("still to be fsynced");
    assert!(
        moved.file.is_some(),
        "by its handle, which follows the rename"
    );
    let entries = b.w.take_checkpoint();
    assert_eq!(
        entries.iter().map(|e| e.0).collect::<Vec<_>>(),
        vec![0x2000]
    );
    // A later record for its keys starts a new bucket file.
    b.put(0x1002, b"new").unwrap();
    b.close_all().unwrap();
    assert_eq!(
        scan_all(&dir),
        vec![(0x1002, b"new".to_vec()), (0x2001, b"two".to_vec())]
    );
    let len = std::fs::metadata(&tmp).unwrap().len();
    assert_eq!(len, HEADER_LEN + 17 + 3);
}

#[test]
fn a_bucket_whose_buffer_cannot_be_written_is_not_evicted_with_its_records() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ch");
    let mut w = ChannelWriter::new(4096);
    // Every write to /dev/full fails with ENOSPC: a full disk.
    let full = OpenedBucket {
        first_key: 0,
        path: PathBuf::from("/dev/full"),
        file: OpenOptions::new().append(true).open("/dev/full").unwrap(),
        format: None,
        len: 0,
        changed_dirs: Vec::new(),
    };
    w.install(full).unwrap();
    w.put(1, b"buffered").unwrap();
    for key in [0x1000, 0x2000] {
        w.install(open_bucket(root.path(), &dir, key, None).unwrap())
            .unwrap();
        w.put(key, b"x").unwrap();
    }
    let fourth = open_bucket(root.path(), &dir, 0x3000, None).unwrap();
    let e = w.install(fourth).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
    assert!(w.is_open(0), "the bucket keeps its buffered record");
    assert_eq!(w.open_buckets(), 3);
    assert!(w.detach(0, Path::new("/dev/full")).is_err());
    assert!(w.is_open(0));
}
