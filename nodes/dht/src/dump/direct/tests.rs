#![allow(clippy::unwrap_used)]
use super::*;
use std::fs;

/// Bytes that differ at every offset (a misplaced or repeated buffer shows).
fn pattern(len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9) >> 7) as u8)
        .collect()
}

/// Writes `data` in pieces of `piece` bytes, flushing after the byte offsets in `flush_at`.
fn write_through(data: &[u8], piece: usize, flush_at: &[usize]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let mut w = BlockWriter::new(File::create(&path).unwrap());
    let mut at = 0;
    for chunk in data.chunks(piece) {
        w.write_all(chunk).unwrap();
        at += chunk.len();
        if flush_at.contains(&at) {
            w.flush().unwrap();
        }
    }
    let file = w.into_inner().unwrap();
    file.sync_all().unwrap();
    drop(file);
    fs::read(&path).unwrap()
}

#[test]
fn a_small_file_is_written_whole_without_a_thread() {
    let data = pattern(1000);
    assert_eq!(write_through(&data, 7, &[]), data);
    let dir = tempfile::tempdir().unwrap();
    let mut w = BlockWriter::new(File::create(dir.path().join("f")).unwrap());
    w.write_all(&data).unwrap();
    assert!(w.flusher.is_none());
}

#[test]
fn many_buffers_and_a_tail_of_any_length_arrive_in_order() {
    // Three and a half buffers: more than BUFFERS, so buffers are reused; the tail is not a
    // multiple of 512, so the last write cannot be a direct one.
    let data = pattern(3 * BUFFER_BYTES + BUFFER_BYTES / 2 + 13);
    assert_eq!(write_through(&data, 132, &[]), data);
    assert_eq!(write_through(&data, BUFFER_BYTES + 1, &[]), data);
}

#[test]
fn a_flush_in_the_middle_leaves_later_writes_unaligned_and_still_correct() {
    let data = pattern(3 * BUFFER_BYTES);
    let flush_at = [132 * 1000, BUFFER_BYTES + 132 * 1000];
    let flush_at: Vec<usize> = flush_at.iter().map(|&a| a / 132 * 132).collect();
    assert_eq!(write_through(&data, 132, &flush_at), data);
}

#[test]
fn a_write_error_on_the_thread_reaches_the_caller() {
    // /dev/full fails every write with ENOSPC; the first buffer goes to the thread, so the
    // error arrives at a later buffer or at the end, never lost.
    let Ok(full) = fs::OpenOptions::new().write(true).open("/dev/full") else {
        return; // no /dev/full here
    };
    let mut w = BlockWriter::new(full);
    let data = pattern(BUFFER_BYTES);
    let mut result = Ok(());
    for _ in 0..2 * BUFFERS + 2 {
        result = w.write_all(&data);
        if result.is_err() {
            break;
        }
    }
    let end = match result {
        Ok(()) => w.into_inner().map(drop),
        Err(e) => Err(e),
    };
    assert!(end.is_err(), "the ENOSPC was lost");
}

#[test]
fn buffers_are_page_aligned() {
    for _ in 0..4 {
        let b = Aligned::new();
        assert_eq!(b.bytes().as_ptr() as usize % ALIGN, 0);
        assert_eq!(b.bytes().len(), BUFFER_BYTES);
    }
}
