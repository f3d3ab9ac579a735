//! Ring tests: the original's unit cases, the wrap and the skipped tail, refusals that change
//! nothing, 100,000 records in order, dump data round trips, and a model-based proptest.

use super::*;
use proptest::prelude::*;
use std::collections::VecDeque;

fn drain(ring: &mut Ring) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(r) = ring.pop() {
        out.push(r.to_vec());
    }
    out
}

fn contents(ring: &Ring) -> Vec<Vec<u8>> {
    ring.iter().map(<[u8]>::to_vec).collect()
}

#[test]
fn empty_ring() {
    let mut ring = Ring::new(64);
    assert_eq!(ring.capacity(), 64);
    assert!(ring.is_empty());
    assert_eq!(ring.used_bytes(), 0);
    assert_eq!(ring.peek(), None);
    assert_eq!(ring.pop(), None);
    assert_eq!(ring.iter().count(), 0);
    assert_eq!(ring.as_slices(), (&[][..], &[][..]));
}

#[test]
fn original_fill_test() {
    // ocean's FlexibleRingQueue unittest: ten 9-byte records fill (9 + 8) * 10 bytes exactly.
    let mut ring = Ring::new((9 + HEADER_LEN) * 10);
    ring.push(b"Element 1").unwrap();
    assert_eq!(ring.pop(), Some(&b"Element 1"[..]));
    assert!(ring.is_empty());
    for i in 1..=10 {
        ring.push(format!("Element{i:>2}").as_bytes()).unwrap();
    }
    assert_eq!(ring.len(), 10);
    assert_eq!(ring.used_bytes(), ring.capacity());
    assert!(ring.push(b"more").is_err());
    assert_eq!(ring.len(), 10);
    assert_eq!(ring.peek(), Some(&b"Element 1"[..]));
}

#[test]
fn original_middle_test_wraps() {
    let rec = 1 + HEADER_LEN;
    let mut ring = Ring::new(rec * 5);
    for r in [b"1", b"2", b"3", b"4"] {
        ring.push(r).unwrap();
    }
    assert_eq!(ring.pop(), Some(&b"1"[..]));
    assert_eq!(ring.used_bytes(), rec * 3);
    ring.push(b"5").unwrap(); // the last slot of the upper part
    ring.push(b"6").unwrap(); // wraps into the slot "1" left
    assert_eq!(ring.used_bytes(), rec * 5);
    assert_eq!(ring.push(b"7").unwrap_err().needed, rec);
    let (head, tail) = ring.as_slices();
    assert_eq!((head.len(), tail.len()), (rec * 4, rec));
    assert_eq!(contents(&ring), [b"2", b"3", b"4", b"5", b"6"]);
    assert_eq!(drain(&mut ring), [b"2", b"3", b"4", b"5", b"6"]);
}

#[test]
fn skipped_tail_refuses_below_capacity() {
    // 40 bytes: two 10-byte records (18 each) leave a 4-byte tail that no record can use.
    let mut ring = Ring::new(40);
    ring.push(&[1; 10]).unwrap();
    ring.push(&[2; 10]).unwrap();
    assert_eq!(ring.pop(), Some(&[1u8; 10][..]));
    // 22 bytes free in total (4 at the end, 18 at the start), but no 19-byte gap anywhere.
    assert!(!ring.fits(11));
    assert!(ring.push(&[3; 11]).is_err());
    ring.push(&[3; 10]).unwrap(); // wraps to offset 0
    assert_eq!(ring.used_bytes(), 36);
    assert!(
        ring.push(&[]).is_err(),
        "nothing left between writer and reader"
    );
    assert_eq!(ring.pop(), Some(&[2u8; 10][..])); // reader skips the tail and wraps
    assert_eq!(ring.used_bytes(), 18);
    ring.push(&[4; 4]).unwrap();
    assert_eq!(drain(&mut ring), [vec![3; 10], vec![4; 4]]);
}

#[test]
fn record_larger_than_ring_is_refused() {
    let mut ring = Ring::new(16);
    let err = ring.push(&[0; 9]).unwrap_err();
    assert_eq!(
        err,
        Full {
            needed: 17,
            capacity: 16
        }
    );
    assert!(err.to_string().contains("larger than the ring"), "{err}");
    ring.push(&[7; 8]).unwrap(); // exactly the capacity
    assert_eq!(ring.used_bytes(), 16);
    assert_eq!(ring.pop(), Some(&[7u8; 8][..]));
    let mut zero = Ring::new(0);
    assert!(zero.push(&[]).is_err());
}

#[test]
fn fifo_of_100_000_records_through_a_small_ring() {
    // A ring of ~100 records' room, kept half full: the 100,000 records wrap it many times.
    let mut ring = Ring::new(2_000);
    let (mut next_in, mut next_out) = (0u32, 0u32);
    while next_out < 100_000 {
        while next_in < 100_000 && ring.fits(4 + (next_in % 13) as usize) && ring.len() < 60 {
            let mut rec = next_in.to_le_bytes().to_vec();
            rec.resize(4 + (next_in % 13) as usize, 0xAB);
            ring.push(&rec).unwrap();
            next_in += 1;
        }
        let rec = ring.pop().expect("records were pushed");
        assert_eq!(rec[..4], next_out.to_le_bytes());
        assert_eq!(rec.len(), 4 + (next_out % 13) as usize);
        next_out += 1;
    }
    assert!(ring.is_empty());
}

#[test]
fn fifo_of_100_000_records_held_at_once() {
    let mut ring = Ring::new(100_000 * push_size(4));
    for i in 0..100_000u32 {
        ring.push(&i.to_le_bytes()).unwrap();
    }
    assert!(ring.push(&[]).is_err());
    assert!(ring
        .iter()
        .enumerate()
        .all(|(i, r)| r == (i as u32).to_le_bytes()));
    for i in 0..100_000u32 {
        assert_eq!(ring.pop(), Some(&i.to_le_bytes()[..]));
    }
    assert!(ring.is_empty());
}

#[test]
fn full_ring_loses_and_reorders_nothing_across_the_wrap() {
    let mut ring = Ring::new(100);
    let mut model: VecDeque<Vec<u8>> = VecDeque::new();
    let mut counter = 0u8;
    for round in 0..50 {
        // Fill until refused; a refusal must leave the ring as it was.
        loop {
            let rec = vec![counter; 3 + (round % 7)];
            let before = contents(&ring);
            if ring.push(&rec).is_err() {
                assert_eq!(contents(&ring), before);
                break;
            }
            model.push_back(rec);
            counter = counter.wrapping_add(1);
        }
        for _ in 0..(1 + round % 4) {
            assert_eq!(ring.pop().map(<[u8]>::to_vec), model.pop_front());
        }
        assert_eq!(contents(&ring), Vec::from(model.clone()));
    }
    assert_eq!(drain(&mut ring), Vec::from(model));
}

#[test]
fn pop_batch_stops_at_the_budget() {
    let mut ring = Ring::new(1000);
    for i in 0..10u8 {
        ring.push(&[i; 12]).unwrap(); // 20 bytes each with the header
    }
    let mut got = Vec::new();
    assert_eq!(ring.pop_batch(70, |r| got.push(r[0])), 3);
    assert_eq!(got, [0, 1, 2]);
    // A budget below one record still pops one, so a large record cannot stall a stream.
    assert_eq!(ring.pop_batch(1, |r| got.push(r[0])), 1);
    assert_eq!(ring.pop_batch(usize::MAX, |r| got.push(r[0])), 6);
    assert_eq!(got, (0..10).collect::<Vec<u8>>());
    assert_eq!(ring.pop_batch(100, |_| unreachable!()), 0);
}

#[test]
fn clear_keeps_the_capacity() {
    let mut ring = Ring::new(50);
    ring.push(b"abc").unwrap();
    ring.clear();
    assert!(ring.is_empty());
    assert_eq!(ring.used_bytes(), 0);
    assert_eq!(ring.capacity(), 50);
    ring.push(&[1; 42]).unwrap();
}

fn dump_data(ring: &Ring) -> Vec<u8> {
    let (head, tail) = ring.as_slices();
    [head, tail].concat()
}

#[test]
fn dump_data_round_trips_a_wrapped_ring() {
    let rec = 1 + HEADER_LEN;
    let mut ring = Ring::new(rec * 5);
    for r in [b"1", b"2", b"3", b"4"] {
        ring.push(r).unwrap();
    }
    ring.pop();
    ring.push(b"5").unwrap();
    ring.push(b"6").unwrap();
    let data = dump_data(&ring);
    let mut loaded = Ring::from_dump(rec * 5, ring.len() as u64, &data).unwrap();
    assert_eq!(loaded.capacity(), rec * 5);
    assert_eq!(contents(&loaded), contents(&ring));
    assert_eq!(loaded.used_bytes(), ring.used_bytes());
    assert_eq!(drain(&mut loaded), [b"2", b"3", b"4", b"5", b"6"]);
}

#[test]
fn oversized_dump_gets_a_ring_of_its_own_size() {
    let mut big = Ring::new(1000);
    for i in 0..20u8 {
        big.push(&[i; 30]).unwrap();
    }
    let data = dump_data(&big);
    let mut loaded = Ring::from_dump(100, 20, &data).unwrap();
    assert_eq!(loaded.capacity(), data.len());
    assert!(loaded.push(&[]).is_err(), "exactly full");
    assert_eq!(drain(&mut loaded), contents(&big));
    loaded.push(&[9; 30]).unwrap();
}

#[test]
fn bad_dump_data_is_refused() {
    let mut data = 3u64.to_le_bytes().to_vec();
    data.extend_from_slice(b"abc");
    assert!(Ring::from_dump(64, 1, &data).is_ok());
    assert_eq!(
        Ring::from_dump(64, 2, &data).unwrap_err(),
        DumpError::CountMismatch {
            declared: 2,
            found: 1
        }
    );
    assert_eq!(
        Ring::from_dump(64, 1, &data[..10]).unwrap_err(),
        DumpError::Truncated { offset: 0 }
    );
    data.extend_from_slice(&[0; 5]); // a cut header after the record
    assert_eq!(
        Ring::from_dump(64, 2, &data).unwrap_err(),
        DumpError::Truncated { offset: 11 }
    );
    let huge = u64::MAX.to_le_bytes();
    assert!(Ring::from_dump(64, 1, &huge).is_err());
    let empty = Ring::from_dump(64, 0, &[]).unwrap();
    assert!(empty.is_empty());
}

#[derive(Debug, Clone)]
enum Op {
    Push(usize),
    Pop,
    Batch(usize),
}

fn ops(capacity: usize) -> impl Strategy<Value = Vec<Op>> {
    let max = capacity.saturating_sub(HEADER_LEN) + 4;
    let op = prop_oneof![
        4 => (0..=max).prop_map(Op::Push),
        // Records near the capacity exercise the wrap and the refusal of large records.
        1 => (max.saturating_sub(12)..=max).prop_map(Op::Push),
        3 => Just(Op::Pop),
        1 => (0..capacity).prop_map(Op::Batch),
    ];
    prop::collection::vec(op, 1..300)
}

proptest! {
    #[test]
    fn ring_matches_a_vecdeque_model(
        (capacity, ops) in (8usize..200).prop_flat_map(|c| (Just(c), ops(c)))
    ) {
        let mut ring = Ring::new(capacity);
        let mut model: VecDeque<Vec<u8>> = VecDeque::new();
        let mut stamp = 0u8;
        for op in ops {
            match op {
                Op::Push(len) => {
                    stamp = stamp.wrapping_add(1);
                    let rec = vec![stamp; len];
                    let used: usize = model.iter().map(|r| push_size(r.len())).sum();
                    let fits = ring.fits(len);
                    match ring.push(&rec) {
                        Ok(()) => {
                            prop_assert!(fits);
                            prop_assert!(used + push_size(len) <= capacity);
                            model.push_back(rec);
                        }
                        Err(full) => {
                            prop_assert!(!fits);
                            prop_assert_eq!(full.needed, push_size(len));
                            // An empty ring takes anything up to its capacity.
                            prop_assert!(!model.is_empty() || push_size(len) > capacity);
                        }
                    }
                }
                Op::Pop => {
                    prop_assert_eq!(ring.pop().map(<[u8]>::to_vec), model.pop_front());
                }
                Op::Batch(budget) => {
                    let mut got = Vec::new();
                    let n = ring.pop_batch(budget, |r| got.push(r.to_vec()));
                    prop_assert_eq!(n, got.len());
                    let total: usize = got.iter().map(|r| push_size(r.len())).sum();
                    prop_assert!(n <= 1 || total <= budget);
                    for r in got {
                        prop_assert_eq!(Some(r), model.pop_front());
                    }
                    if let Some(next) = model.front() {
                        prop_assert!(n > 0 && total + push_size(next.len()) > budget);
                    }
                }
            }
            prop_assert_eq!(ring.len(), model.len());
            let used: usize = model.iter().map(|r| push_size(r.len())).sum();
            prop_assert_eq!(ring.used_bytes(), used);
            prop_assert_eq!(ring.peek().map(<[u8]>::to_vec), model.front().cloned());
            prop_assert_eq!(contents(&ring), Vec::from(model.clone()));
            let data = dump_data(&ring);
            prop_assert_eq!(data.len(), used);
            let loaded = Ring::from_dump(capacity, model.len() as u64, &data).unwrap();
            prop_assert_eq!(contents(&loaded), Vec::from(model.clone()));
        }
    }
}
