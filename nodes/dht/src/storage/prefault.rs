//! Value and slot chunks whose pages another thread has already faulted in, for loading a dump.
//!
//! A load's largest single cost is not parsing or hashing but the kernel zeroing the fresh
//! pages the values land in (about half of a 10 M-record load in a VM, where first-touched
//! memory comes at some 0.3 GB/s; see docs/BENCHMARKS.md). Touching those pages on the second
//! core while the loading thread parses overlaps that cost with the rest. While a
//! [`Prefaulter`] lives, the thread that started it takes its full-size value chunks
//! (`CHUNK_BYTES`) and its full-size slot chunks (`CHUNK_SLOTS`, about one per eight value
//! chunks at 100-byte values, made as they are taken) from it when one is ready, and allocates
//! as before when none is, so the helper can only ever speed a load up. Other threads (the
//! event loop) never see it.

use std::cell::RefCell;
use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
use std::thread::JoinHandle;

use super::channel::{Slot, CHUNK_SLOTS};
use super::values::CHUNK_BYTES;

/// Chunks made ahead at most: 32 MiB of touched memory waiting.
const AHEAD: usize = 8;
/// Bytes between two touches: a base page.
const PAGE: usize = 4096;

/// Slot chunks made ahead at most (a load takes about one per eight value chunks).
const SLOTS_AHEAD: usize = 2;

/// What the helper hands the loading thread.
#[derive(Debug)]
struct Ready {
    values: Receiver<Box<[u8]>>,
    slots: Receiver<Vec<Slot>>,
}

thread_local! {
    static READY: RefCell<Option<Ready>> = const { RefCell::new(None) };
}

/// A full-size value chunk from this thread's [`Prefaulter`], if one is ready.
pub(super) fn take_chunk() -> Option<Box<[u8]>> {
    // Empty (the helper is behind) or disconnected (it made its share): allocate as usual.
    READY.with(|r| r.borrow().as_ref()?.values.try_recv().ok())
}

/// An empty slot chunk of [`CHUNK_SLOTS`] capacity whose pages are faulted in, from this
/// thread's [`Prefaulter`], if one is ready.
pub(super) fn take_slot_chunk() -> Option<Vec<Slot>> {
    READY.with(|r| r.borrow().as_ref()?.slots.try_recv().ok())
}

/// A value chunk with its pages faulted in.
fn value_chunk() -> Box<[u8]> {
    let mut chunk = vec![0u8; CHUNK_BYTES].into_boxed_slice();
    // A write faults the page in (a read would map the shared zero page); the opaque zero
    // keeps the compiler from dropping the store into zeroed memory.
    for i in (0..chunk.len()).step_by(PAGE) {
        chunk[i] = std::hint::black_box(0);
    }
    chunk
}

/// An empty slot chunk whose pages were faulted in by filling it once.
fn slot_chunk() -> Vec<Slot> {
    let mut chunk = Vec::with_capacity(CHUNK_SLOTS);
    chunk.resize_with(CHUNK_SLOTS, || Slot::UNUSED);
    chunk.clear();
    chunk
}

/// The helper thread of one load: makes up to `bytes` of zeroed, touched value chunks for the
/// thread that started it. Dropping it stops the helper (chunks not taken are freed).
#[derive(Debug)]
pub struct Prefaulter {
    thread: Option<JoinHandle<()>>,
}

impl Prefaulter {
    /// Starts the helper for about `bytes` of values; `None` if the thread cannot be started
    /// (the load then goes on without it) or this thread already has one.
    pub fn start(bytes: u64) -> Option<Prefaulter> {
        if READY.with(|r| r.borrow().is_some()) {
            return None;
        }
        let chunks = usize::try_from(bytes / CHUNK_BYTES as u64).unwrap_or(usize::MAX);
        let (tx, values) = sync_channel::<Box<[u8]>>(AHEAD);
        let (slots_tx, slots) = sync_channel::<Vec<Slot>>(SLOTS_AHEAD);
        let thread = std::thread::Builder::new()
            .name("load-prefault".into())
            .spawn(move || {
                // One slot chunk kept until the queue has room, so none is made in vain.
                let mut slot = None;
                for _ in 0..chunks {
                    if tx.send(value_chunk()).is_err() {
                        return; // the load is over
                    }
                    match slots_tx.try_send(slot.take().unwrap_or_else(slot_chunk)) {
                        Err(TrySendError::Full(kept)) => slot = Some(kept),
                        Err(TrySendError::Disconnected(_)) => return,
                        Ok(()) => {}
                    }
                }
            })
            .ok()?;
        READY.with(|r| *r.borrow_mut() = Some(Ready { values, slots }));
        Some(Prefaulter {
            thread: Some(thread),
        })
    }
}

impl Drop for Prefaulter {
    fn drop(&mut self) {
        // Dropping the receiver ends the helper's next send.
        READY.with(|r| r.borrow_mut().take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_come_zeroed_only_to_the_starting_thread_and_stop_with_it() {
        let p = Prefaulter::start(3 * CHUNK_BYTES as u64).unwrap();
        assert!(Prefaulter::start(1).is_none(), "one per thread");
        let mut got = Vec::new();
        while got.len() < 3 {
            match take_chunk() {
                Some(c) => got.push(c),
                None => std::thread::yield_now(),
            }
        }
        assert!(got
            .iter()
            .all(|c| c.len() == CHUNK_BYTES && c.iter().all(|&b| b == 0)));
        let slots = loop {
            match take_slot_chunk() {
                Some(c) => break c,
                None => std::thread::yield_now(),
            }
        };
        assert!(slots.is_empty() && slots.capacity() >= CHUNK_SLOTS);
        assert!(std::thread::spawn(take_chunk).join().unwrap().is_none());
        assert!(std::thread::spawn(take_slot_chunk)
            .join()
            .unwrap()
            .is_none());
        drop(p);
        assert!(take_chunk().is_none());
        // Stopped while its helper waits on a full queue: the drop does not hang.
        let p = Prefaulter::start(1 << 40).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(p);
    }
}
