use super::*;
use crate::storage::scan::RangeScan;
use crate::storage::write::ChannelWriter;

/// A channel `ch` in `dir` with `n` records in the bucket of key 0x1000, closed; the bucket.
fn bucket_with(dir: &Path, n: u64) -> PathBuf {
    let ch = dir.join("ch");
    let mut w = ChannelWriter::new(4096);
    for i in 0..n {
        w.put_now(dir, &ch, 0x1000 + i, format!("value-{i:04}").as_bytes())
            .unwrap();
    }
    w.close_all().unwrap();
    crate::storage::write::bucket_file(&ch, 0x1000)
}

fn records(dir: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut scan = RangeScan::new(&dir.join("ch"), 0, u64::MAX, 4096).unwrap();
    let mut out = Vec::new();
    let mut v = Vec::new();
    while let Some(k) = scan.next_into(&mut v).unwrap() {
        out.push((k, v.clone()));
    }
    out.sort();
    out
}

/// The offset after the `i`-th record (0-based) of a v1 bucket of `value-NNNN` values.
fn after(i: u64) -> u64 {
    HEADER_LEN + (i + 1) * (17 + 10)
}

#[test]
fn nothing_sent_and_no_bucket_is_renamed_back() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket_with(dir.path(), 10);
    let want = records(dir.path());
    let tmp = with_suffix(&bucket, TMP_SUFFIX);
    write_sent(&tmp, 0).unwrap();
    fs::rename(&bucket, &tmp).unwrap();
    assert_eq!(put_back_all(dir.path()).unwrap(), Vec::<PathBuf>::new());
    assert_eq!(records(dir.path()), want);
    assert!(!tmp.exists() && !with_suffix(&tmp, SENT_SUFFIX).exists());
}

#[test]
fn a_tmp_the_original_left_is_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket_with(dir.path(), 3);
    let tmp = with_suffix(&bucket, TMP_SUFFIX);
    fs::rename(&bucket, &tmp).unwrap();
    assert_eq!(put_back_all(dir.path()).unwrap(), Vec::<PathBuf>::new());
    assert!(tmp.exists() && !bucket.exists());
    assert_eq!(records(dir.path()), Vec::new());
}

#[test]
fn records_after_the_acknowledged_offset_are_appended_once_even_when_repeated() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket_with(dir.path(), 10);
    let all = records(dir.path());
    let tmp = with_suffix(&bucket, TMP_SUFFIX);
    fs::rename(&bucket, &tmp).unwrap();
    write_sent(&tmp, after(3)).unwrap();
    // A new bucket file with one record of its own, written after the rename.
    let mut w = ChannelWriter::new(4096);
    w.put_now(dir.path(), &dir.path().join("ch"), 0x1fff, b"new")
        .unwrap();
    w.close_all().unwrap();
    let left = put_back_all(dir.path()).unwrap();
    assert_eq!(left, vec![tmp.clone()]);
    let mut want: Vec<_> = all[4..].to_vec();
    want.push((0x1fff, b"new".to_vec()));
    want.sort();
    assert_eq!(records(dir.path()), want);
    // Killed before `finish`: the next start finds the append complete and adds nothing.
    assert_eq!(put_back(&tmp).unwrap(), PutBack::AlreadyBack);
    // A checkpoint cut the append away: it is made again, once.
    let len = fs::metadata(&bucket).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&bucket)
        .unwrap()
        .set_len(len - 5)
        .unwrap();
    assert!(matches!(
        put_back(&tmp).unwrap(),
        PutBack::Appended { records: 6, .. }
    ));
    assert_eq!(records(dir.path()), want);
    finish(&tmp).unwrap();
    assert!(!tmp.exists() && !with_suffix(&tmp, SENT_SUFFIX).exists());
    assert!(!with_suffix(&tmp, BACK_SUFFIX).exists());
}

#[test]
fn a_torn_marker_puts_everything_back_and_stray_markers_go() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket_with(dir.path(), 4);
    let all = records(dir.path());
    let tmp = with_suffix(&bucket, TMP_SUFFIX);
    fs::rename(&bucket, &tmp).unwrap();
    // Torn: the offset and its complement disagree.
    fs::write(
        with_suffix(&tmp, SENT_SUFFIX),
        format!("{:020}:{:020}\n", 60u64, !70u64),
    )
    .unwrap();
    assert_eq!(read_sent(&tmp), Some(None));
    let stray = bucket.with_file_name("abc.tmp.sent");
    fs::write(&stray, b"100\n").unwrap();
    assert_eq!(put_back_all(dir.path()).unwrap(), Vec::<PathBuf>::new());
    assert_eq!(records(dir.path()), all);
    assert!(!stray.exists());
}

#[test]
fn a_batch_in_flight_to_a_destination_that_cannot_be_asked_is_put_back() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = bucket_with(dir.path(), 10);
    let all = records(dir.path());
    let tmp = with_suffix(&bucket, TMP_SUFFIX);
    fs::rename(&bucket, &tmp).unwrap();
    // Nothing listens on port 1 of 127.0.0.1: refused at once.
    let dest = "127.0.0.1:1".parse().unwrap();
    write_in_flight(&tmp, after(3), after(6), dest).unwrap();
    assert!(matches!(
        put_back(&tmp).unwrap(),
        PutBack::Appended { records: 6, .. }
    ));
    assert_eq!(records(dir.path()), all[4..].to_vec());
    // The outcome is recorded: nothing in flight any more, acknowledged as before.
    let m = read_marker(&tmp).flatten().unwrap();
    assert_eq!((m.acked, m.in_flight), (after(3), None));
}
