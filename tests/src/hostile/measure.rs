//! What the hostile cases measure besides outcomes: live heap bytes (through a counting global
//! allocator the test binaries install) and panics on every thread (through a panic hook).
//!
//! Each hostile test binary declares
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: zk_tests::hostile::measure::CountingAlloc =
//!     zk_tests::hostile::measure::CountingAlloc::new();
//! ```
//!
//! and the runner ([`crate::hostile::run`]) checks with [`installed`] that it did, so a binary
//! that forgot it fails instead of passing every memory bound vacuously.
//!
//! The counters are process-wide but skip the fake server's threads (which call
//! [`uncounted_thread`]), so they measure the client and the test. The runner runs one case at a
//! time per process, so a case's peak is its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::Once;

/// Bytes allocated and not freed yet by counted threads (signed: a counted thread may free
/// what an uncounted one allocated).
static LIVE: AtomicIsize = AtomicIsize::new(0);
/// The largest value [`LIVE`] reached since the last [`reset_peak`].
static PEAK: AtomicIsize = AtomicIsize::new(0);
/// Allocations made (and reallocations), ever: only grows.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Panics seen on any thread since the hook was installed.
static PANICS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Panics seen on this thread since the hook was installed.
    static OWN_PANICS: Cell<usize> = const { Cell::new(0) };
    /// Whether this thread's allocations are left out of the counts.
    static UNCOUNTED: Cell<bool> = const { Cell::new(false) };
}

/// Leaves the calling thread's allocations out of the live bytes from now on (the fake
/// server's threads call it: the bounds are the client's).
pub fn uncounted_thread() {
    UNCOUNTED.with(|u| u.set(true));
}

fn counted() -> bool {
    // A thread being torn down has no thread-locals left: count it.
    !UNCOUNTED.try_with(Cell::get).unwrap_or(false)
}

/// A global allocator that forwards every call to [`System`] and counts the live bytes and
/// their peak. Install it with `#[global_allocator]` in a test binary.
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAlloc {
    _private: (),
}

impl CountingAlloc {
    /// The allocator (usable in a `static`).
    pub const fn new() -> CountingAlloc {
        CountingAlloc { _private: () }
    }
}

fn grew(bytes: usize) {
    if counted() {
        let bytes = bytes as isize;
        let live = LIVE.fetch_add(bytes, Ordering::Relaxed) + bytes;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }
}

fn shrank(bytes: usize) {
    if counted() {
        LIVE.fetch_sub(bytes as isize, Ordering::Relaxed);
    }
}

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract, and returns `System`'s result unchanged; besides that it only updates
// atomic counters (which never allocate), so the contract holds for `CountingAlloc` as well.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` was allocated by this allocator, that is by
        // `System`, with `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) };
        shrank(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract, and `ptr` was
        // allocated by `System` with `layout`.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            let old_size = layout.size();
            if new_size >= old_size {
                grew(new_size - old_size);
            } else {
                shrank(old_size - new_size);
            }
        }
        new
    }
}

/// Bytes allocated and not freed yet (counted threads).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed).max(0) as usize
}

/// Restarts the peak at the current live bytes; returns them (the baseline of what follows).
pub fn reset_peak() -> usize {
    let live = LIVE.load(Ordering::Relaxed);
    PEAK.store(live, Ordering::Relaxed);
    // Allocations racing with the store may have raised the live bytes meanwhile.
    PEAK.fetch_max(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    live.max(0) as usize
}

/// The most live bytes since the last [`reset_peak`].
pub fn peak_bytes() -> usize {
    PEAK.load(Ordering::Relaxed).max(0) as usize
}

/// Whether [`CountingAlloc`] is this process's global allocator: allocates a small vector and
/// checks that the allocation was counted.
pub fn installed() -> bool {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let probe: Vec<u8> = std::hint::black_box(Vec::with_capacity(64));
    let after = ALLOCATIONS.load(Ordering::Relaxed);
    drop(probe);
    after > before
}

/// Installs (once per process) a panic hook that counts panics on every thread, then calls the
/// hook that was installed before it (which prints the message).
pub fn install_panic_counter() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            // A thread being torn down has no thread-locals left: its panic still counts
            // above, as one on another thread.
            let _ = OWN_PANICS.try_with(|own| own.set(own.get() + 1));
            previous(info);
        }));
    });
}

/// Panics seen on every thread since [`install_panic_counter`].
pub fn panics_seen() -> usize {
    PANICS.load(Ordering::SeqCst)
}

/// Panics seen on the calling thread since [`install_panic_counter`].
pub fn panics_on_this_thread() -> usize {
    OWN_PANICS.try_with(Cell::get).unwrap_or(0)
}
