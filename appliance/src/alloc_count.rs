//! A global allocator that counts the heap allocations made by threads that
//! declare themselves part of the data path, so the bridge can prove (and
//! report in its stats file) that forwarding allocates nothing.
//!
//! Counting costs one thread-local flag read per allocation; threads that
//! are not marked pay nothing else.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The system allocator, counting allocations made on data-path threads.
#[derive(Debug)]
pub struct Counting;

static DATA_PATH_ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // const-initialised and without a destructor: reading it never
    // allocates, which matters inside the allocator.
    static ON_DATA_PATH: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    if ON_DATA_PATH.with(Cell::get) {
        DATA_PATH_ALLOCATIONS.fetch_add(1, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// GlobalAlloc contract; counting touches no allocator state.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// Count this thread's allocations from now on (or stop counting them).
pub fn set_data_path(on: bool) {
    ON_DATA_PATH.with(|f| f.set(on));
}

/// Allocations counted so far.
pub fn data_path_allocations() -> u64 {
    DATA_PATH_ALLOCATIONS.load(Relaxed)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn test_counts_only_marked_threads() {
        // The test binary uses the same global allocator (main.rs).
        let before = data_path_allocations();
        std::thread::spawn(|| {
            set_data_path(true);
            let v: Vec<u8> = Vec::with_capacity(64);
            std::hint::black_box(&v);
            set_data_path(false);
            let w: Vec<u8> = Vec::with_capacity(64);
            std::hint::black_box(&w);
        })
        .join()
        .unwrap();
        // Other tests may run data-path code concurrently; at least ours.
        assert!(data_path_allocations() > before);
    }
}
