//! A global allocator that asks for transparent huge pages on large allocations.
//!
//! A Get or Put at 1,000,000 records is dominated, in user space, by two random memory accesses
//! (the index bucket and the value), and under virtualization each TLB miss is a two-level page
//! walk. The index table and the slot and value chunks of large channels are allocated in
//! pieces of 2 MiB or more; on systems where transparent huge pages are in `madvise` mode (a
//! common default), this allocator marks those pieces `MADV_HUGEPAGE` so they can be backed by
//! 2 MiB pages. Everything else is the system allocator, unchanged.

use std::alloc::{GlobalAlloc, Layout, System};

/// Allocations of at least this size are aligned to 2 MiB and advised.
const MIN_ADVISED: usize = 2 << 20;
const HUGE_PAGE: usize = 2 << 20;

/// The system allocator plus `madvise(MADV_HUGEPAGE)` on allocations of 2 MiB and more.
#[derive(Debug, Default, Clone, Copy)]
pub struct HugePageAlloc;

/// The layout a block of `layout.size()` bytes is really allocated with: large blocks are
/// aligned to 2 MiB and rounded up to whole 2 MiB pages, so that huge pages can cover all of
/// them (a value chunk of 40,329 cells of 104 bytes is 88 bytes short of 4 MiB; without the
/// rounding its second half would stay in small pages).
fn real_layout(layout: Layout) -> Layout {
    if layout.size() >= MIN_ADVISED && layout.align() <= HUGE_PAGE {
        Layout::from_size_align(layout.size().next_multiple_of(HUGE_PAGE), HUGE_PAGE)
            .unwrap_or(layout)
    } else {
        layout
    }
}

/// Advises the whole 2 MiB pages inside `[ptr, ptr + size)` (all of a block from
/// [`real_layout`]).
fn advise(ptr: *mut u8, size: usize) {
    if ptr.is_null() || size < MIN_ADVISED {
        return;
    }
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize + size) / HUGE_PAGE * HUGE_PAGE;
    if end > start {
        // SAFETY: [start, end) lies inside the allocation just made for the caller, which owns
        // it; MADV_HUGEPAGE only changes how the kernel backs those pages, never their
        // contents, and an error (e.g. THP disabled) leaves the memory as it was.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

// SAFETY: blocks are allocated by `System` with `real_layout(layout)` (the caller's layout, or
// its size rounded up with a larger alignment, which satisfies the caller's) and freed with the same
// `real_layout`, which depends only on the layout the caller passes to both; `advise` only
// touches memory inside the block it returned.
unsafe impl GlobalAlloc for HugePageAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let real = real_layout(layout);
        // SAFETY: `real_layout` keeps or grows the caller's non-zero size; see the impl's
        // comment.
        let p = unsafe { System.alloc(real) };
        advise(p, real.size());
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if real_layout(layout) == layout {
            // SAFETY: as in `alloc`.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // Advise before zeroing: zeroing faults the pages in, and pages faulted before the
        // advice are small ones.
        // SAFETY: as in `alloc`; the block is `layout.size()` bytes long, all zeroed here.
        unsafe {
            let real = real_layout(layout);
            let p = System.alloc(real);
            advise(p, real.size());
            if !p.is_null() {
                std::ptr::write_bytes(p, 0, layout.size());
            }
            p
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `real_layout(layout)`.
        unsafe { System.dealloc(ptr, real_layout(layout)) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = match Layout::from_size_align(new_size, layout.align()) {
            Ok(l) => l,
            Err(_) => return std::ptr::null_mut(),
        };
        if real_layout(layout) == layout && real_layout(new_layout) == new_layout {
            // SAFETY: neither block is large: `System` handles it with the caller's layouts.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: a fresh block for the new size; the old block (valid for `layout.size()`
        // bytes, from this allocator) is copied up to the smaller size, then freed.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_and_small_blocks_work() {
        let a = HugePageAlloc;
        for size in [16usize, 1 << 20, 3 << 20, (4 << 20) - 88, 8 << 20] {
            let layout = Layout::from_size_align(size, 8).unwrap();
            // SAFETY: a non-zero layout; the block is written within bounds and freed once.
            unsafe {
                let p = a.alloc_zeroed(layout);
                assert!(!p.is_null());
                assert_eq!(*p.add(size - 1), 0);
                *p.add(size - 1) = 7;
                if size >= MIN_ADVISED {
                    assert_eq!(p as usize % HUGE_PAGE, 0, "large blocks are 2 MiB aligned");
                }
                let q = a.realloc(p, layout, size * 2);
                assert_eq!(*q.add(size - 1), 7);
                a.dealloc(q, Layout::from_size_align(size * 2, 8).unwrap());
            }
        }
    }
}
