//! Counts heap allocations on the request path with a counting global allocator.
//!
//! One test function only: the counter is process-wide, so parallel tests would disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use zk_session::ops::{GetData, Operation};
use zk_session::testing::ConnectedSession;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` unchanged; only a counter is added. This is the
// only `unsafe` in the crate's tests and it is needed because `GlobalAlloc` is an unsafe trait.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn round_trips(s: &mut ConnectedSession, op: &GetData, depth: usize, out: &mut Vec<u8>) {
    for _ in 0..depth {
        s.session.submit(op, s.now).unwrap();
    }
    out.clear();
    s.session.poll_transmit(s.now, out);
    for _ in 0..depth {
        s.answer_next();
    }
    for _ in 0..depth {
        let done = s.next_completion().unwrap();
        let (data, _stat) = op.complete(done.result).unwrap();
        assert_eq!(data.len(), 1024);
    }
}

#[test]
fn a_request_round_trip_costs_at_most_one_allocation_alone_or_pipelined() {
    let mut s = ConnectedSession::new(1024);
    let op = GetData::new("/app/config/node-0001");
    let mut out = Vec::with_capacity(1 << 20);
    // Warm up: buffers and queues reach their working size.
    for depth in [1, 256, 1, 256] {
        round_trips(&mut s, &op, depth, &mut out);
    }
    for depth in [1usize, 256] {
        let rounds = 20;
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        for _ in 0..rounds {
            round_trips(&mut s, &op, depth, &mut out);
        }
        let per_request =
            (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / (rounds * depth) as f64;
        println!("depth {depth}: {per_request:.3} allocations per request");
        assert!(
            per_request <= 1.0,
            "depth {depth}: {per_request} allocations per request"
        );
    }
}
