//! An allocator that refuses any single allocation over [`ALLOC_CAP`]: the refusal aborts the
//! process (`handle_alloc_error`), which libFuzzer reports as a crash and `cargo test` as a
//! failed test binary. Without AddressSanitizer, libFuzzer's own `-malloc_limit_mb` sees no
//! allocations, so this is what holds the decoders to "never allocate past the limits".

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a check may make: four times the protocol's 10 MiB array and
/// batch limit, room for a decoder's output buffer and its copy, far below what a length field
/// of 2^40 or more would ask for.
pub const ALLOC_CAP: usize = 40 * 1024 * 1024;

/// [`System`], with allocations over [`ALLOC_CAP`] refused. Install it with
/// `#[global_allocator] static A: CappedAlloc = CappedAlloc;`.
#[derive(Debug)]
pub struct CappedAlloc;

// SAFETY: every call is forwarded to `System` with the caller's layout and pointer unchanged;
// the only difference is returning null (an allowed allocation failure) for oversized layouts.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller upholds `alloc`'s contract (non-zero size), passed through.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, hence from `System`, with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > ALLOC_CAP {
            return std::ptr::null_mut();
        }
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
