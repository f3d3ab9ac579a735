//! The buffers' and the input budget's unit tests.

use super::*;

fn unlimited() -> InputBudget {
    InputBudget::new(usize::MAX)
}

fn receive(b: &mut InputBuffer, bytes: &[u8]) {
    let spare = b.spare(&mut unlimited()).expect("unlimited");
    assert!(spare.len() >= bytes.len().min(MIN_SPARE));
    let n = bytes.len().min(spare.len());
    spare[..n].copy_from_slice(&bytes[..n]);
    b.commit(n);
}

fn receive_all(b: &mut InputBuffer, budget: &mut InputBudget, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        let spare = b.spare(budget).expect("room");
        let n = bytes.len().min(spare.len());
        spare[..n].copy_from_slice(&bytes[..n]);
        b.commit(n);
        bytes = &bytes[n..];
    }
}

#[test]
fn input_rewinds_when_emptied() {
    let mut b = InputBuffer::default();
    receive(&mut b, b"hello world");
    b.consume(6);
    assert_eq!(b.data(), b"world");
    b.consume(5);
    assert!(b.is_empty());
    assert_eq!(b.start, 0);
    assert_eq!(b.end, 0);
}

#[test]
fn input_compacts_partial_request_instead_of_growing() {
    let mut b = InputBuffer::default();
    let cap = INITIAL_INPUT;
    receive(&mut b, &vec![7u8; cap - 10]);
    assert_eq!(b.capacity(), cap);
    // A complete request was consumed, 100 bytes of the next one remain near the end.
    b.consume(cap - 110);
    let spare = b.spare(&mut unlimited()).expect("unlimited");
    assert!(spare.len() >= MIN_SPARE);
    assert_eq!(b.capacity(), cap, "compacted, not grown");
    assert_eq!(b.start, 0);
    assert_eq!(b.data(), &vec![7u8; 100][..]);
}

#[test]
fn input_grows_for_large_request_and_shrinks_after() {
    let mut b = InputBuffer::default();
    let mut budget = unlimited();
    let big: Vec<u8> = (0..3 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    while sent < big.len() {
        let spare = b.spare(&mut budget).expect("unlimited");
        assert!(spare.len() <= READ_CHUNK);
        let n = spare.len().min(big.len() - sent);
        spare[..n].copy_from_slice(&big[sent..sent + n]);
        b.commit(n);
        sent += n;
    }
    assert_eq!(b.data(), &big[..]);
    assert_eq!(budget.used(), b.capacity() - FREE_INPUT);
    b.consume(big.len());
    assert!(b.shrink_if_idle(&mut budget));
    assert_eq!(b.capacity(), 0, "the memory was not given back");
    assert_eq!(budget.used(), 0);
    // The next request starts a buffer of the usual size.
    assert!(b.spare(&mut budget).is_some());
    assert_eq!(b.capacity(), INITIAL_INPUT);
}

#[test]
fn input_consume_and_commit_are_clamped() {
    let mut b = InputBuffer::default();
    receive(&mut b, b"abc");
    b.consume(100);
    assert!(b.is_empty());
    let len = b.spare(&mut unlimited()).expect("unlimited").len();
    b.commit(len + 100);
    assert_eq!(b.len(), len);
}

#[test]
fn a_large_announced_request_is_reserved_at_once_but_zeroed_as_it_arrives() {
    let mut budget = unlimited();
    let mut a = InputBuffer::default();
    receive(&mut a, &[1; 8]);
    a.set_need(10 * 1024 * 1024);
    receive(&mut a, &vec![2; INITIAL_INPUT - 8]);
    assert_eq!(a.spare(&mut budget).map(|s| s.len()), Some(READ_CHUNK));
    assert_eq!(a.capacity(), 10 * 1024 * 1024);
    assert_eq!(
        budget.used(),
        10 * 1024 * 1024 - FREE_INPUT,
        "charged at once"
    );
    assert!(
        a.buf.len() <= a.len() + READ_CHUNK,
        "only the next read zeroed"
    );
    let ptr = a.buf.as_ptr();
    let rest = 10 * 1024 * 1024 - a.len();
    receive_all(&mut a, &mut budget, &vec![3; rest]);
    assert_eq!(a.len(), 10 * 1024 * 1024);
    assert_eq!(a.buf.as_ptr(), ptr, "never moved");
}

#[test]
fn growth_past_the_free_size_is_charged_and_refused_when_over_budget() {
    let mut budget = InputBudget::new(1024 * 1024);
    let mut a = InputBuffer::default();
    // Told the request is 1 MiB + 10 KiB: one growth to exactly that, over the budget.
    receive(&mut a, &[1; 8]);
    a.set_need(FREE_INPUT + 1024 * 1024 + 10);
    receive(&mut a, &vec![2; INITIAL_INPUT - 8]);
    assert!(
        a.spare(&mut budget).is_none(),
        "1 MiB + 10 B over a 1 MiB budget"
    );
    assert_eq!(budget.used(), 0);
    // A smaller one fits, grown to its size at once.
    let mut b = InputBuffer::default();
    receive(&mut b, &vec![3; INITIAL_INPUT]);
    b.set_need(FREE_INPUT + 512 * 1024);
    assert!(b.spare(&mut budget).is_some());
    assert_eq!(b.capacity(), FREE_INPUT + 512 * 1024);
    assert_eq!(budget.used(), 512 * 1024);
    // Closing gives it back; then the first one fits.
    assert!(b.release(&mut budget));
    assert_eq!(budget.used(), 0);
    a.set_need(FREE_INPUT + 1024 * 1024);
    assert!(a.spare(&mut budget).is_some());
    // Up to one byte short of its announced end, the rest fits without growing again.
    let short = a.capacity() - 1 - a.len();
    receive_all(&mut a, &mut budget, &vec![5; short]);
    assert_eq!(a.spare(&mut budget).map(|s| s.len()), Some(1));
    assert_eq!(a.capacity(), FREE_INPUT + 1024 * 1024, "not grown again");
    // Doubling without a hint stays free up to FREE_INPUT.
    let mut c = InputBuffer::default();
    let mut none = InputBudget::new(0);
    receive(&mut c, &vec![4; INITIAL_INPUT]);
    assert!(c.spare(&mut none).is_some(), "16 -> 32 KiB is free");
    receive(&mut c, &vec![4; INITIAL_INPUT]);
    assert!(c.spare(&mut none).is_some(), "32 -> 64 KiB is free");
    receive(&mut c, &vec![4; 2 * INITIAL_INPUT]);
    assert!(c.spare(&mut none).is_none(), "64 -> 128 KiB is charged");
    assert_eq!(c.refused(), 2 * FREE_INPUT);
    assert!(!none.could_hold(c.refused()));
    assert!(budget.could_hold(c.refused()));
}

#[test]
fn output_partial_writes_and_compaction() {
    let mut o = OutputBuffer::default();
    o.vec().extend_from_slice(b"0123456789");
    o.advance(3);
    assert_eq!(o.pending(), b"3456789");
    // start (3) is below half of 10: no compaction yet.
    o.vec().extend_from_slice(b"ab");
    assert_eq!(o.pending(), b"3456789ab");
    o.advance(4);
    // start (7) is over half of 12: the prefix is dropped before appending.
    o.vec().extend_from_slice(b"c");
    assert_eq!(o.start, 0);
    assert_eq!(o.pending(), b"789abc");
    o.advance(6);
    assert!(o.is_empty());
    assert_eq!(o.len(), 0);
}

/// The `VmFlags` of the mapping holding `addr`, from /proc/self/smaps.
fn vm_flags_at(addr: usize) -> Option<String> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
        let range = line.split(' ').next().and_then(|r| r.split_once('-'));
        if let Some((lo, hi)) = range.filter(|_| !line.starts_with("VmFlags")) {
            if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
            {
                inside = (lo..hi).contains(&addr);
                continue;
            }
        }
        if inside {
            if let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.trim().to_owned());
            }
        }
    }
    None
}

#[test]
fn every_page_of_a_large_buffer_is_kept_off_huge_pages_the_last_partial_one_too() {
    // 10 MiB + 22 bytes: the announced size of a PutBatch head and a 10 MiB - 1 array; its
    // last 22 bytes once fell outside the advised range and faulted in a 2 MiB huge page.
    let need = 10 * 1024 * 1024 + 22;
    let mut a = InputBuffer::default();
    receive(&mut a, &[1; 8]);
    a.set_need(need);
    receive(&mut a, &vec![2; INITIAL_INPUT - 8]);
    assert!(a.spare(&mut unlimited()).is_some());
    assert!(a.capacity() >= need);
    let first = a.buf.as_ptr() as usize;
    let last = first + need - 1;
    for addr in [first, first + need / 2, last] {
        let flags = vm_flags_at(addr).expect("mapping of the buffer in /proc/self/smaps");
        assert!(
            flags.split(' ').any(|f| f == "nh"),
            "byte at {:#x} (offset {}) not advised MADV_NOHUGEPAGE: {flags}",
            addr,
            addr - first
        );
    }
}
