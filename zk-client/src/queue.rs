//! A bounded event queue with one consumer that can await or block, used for watch events and
//! session-state changes.
//!
//! The producer is the I/O driver and must never wait for a consumer: when the queue is full,
//! new items are dropped and counted, and the consumer is told how many it missed where they
//! would have been: after the items buffered before them, before the items pushed after them.
//! A queue is closed by its producer after the last item it will ever carry.
//!
//! Items are bounded by count and, for queues given a [`ByteLimit`], by the bytes they hold:
//! per queue, and in a pool shared by every queue of a session, so that a peer sending large
//! events to consumers that do not read cannot grow the process beyond a few frames.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// The bytes held by every limited queue of one session, and their bound.
#[derive(Debug)]
pub(crate) struct SessionBytes {
    held: AtomicUsize,
    limit: usize,
}

impl SessionBytes {
    pub(crate) fn new(limit: usize) -> Arc<SessionBytes> {
        Arc::new(SessionBytes {
            held: AtomicUsize::new(0),
            limit,
        })
    }

    /// Takes `bytes` from the pool if they fit, or if the pool is empty (so one item larger
    /// than the limit can still be delivered, alone).
    fn try_take(&self, bytes: usize) -> bool {
        self.held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held == 0 || held.saturating_add(bytes) <= self.limit)
                    .then(|| held.saturating_add(bytes))
            })
            .is_ok()
    }

    fn take(&self, bytes: usize) {
        self.held.fetch_add(bytes, Ordering::AcqRel);
    }

    fn give_back(&self, bytes: usize) {
        let _ = self
            .held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                Some(held.saturating_sub(bytes))
            });
    }

    /// Bytes held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }
}

/// Byte bounds of one queue: its own, and its session's pool.
#[derive(Debug)]
pub(crate) struct ByteLimit<T> {
    /// Bytes this queue may hold (one item is always accepted into an empty queue, if the
    /// session's pool allows it).
    pub(crate) per_queue: usize,
    /// The bytes an item holds: its own size and what it owns on the heap.
    pub(crate) size: fn(&T) -> usize,
    pub(crate) session: Arc<SessionBytes>,
}

/// What a consumer receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Received<T> {
    Item(T),
    /// Items were dropped because the consumer fell behind.
    Missed(u64),
    /// Nothing more will come.
    Closed,
}

/// One place in the queue: an item, or the items dropped there.
#[derive(Debug)]
enum Entry<T> {
    Item(T),
    Gap(u64),
}

#[derive(Debug)]
struct State<T> {
    /// Items and gaps in order. Gaps never follow each other, so at most `capacity` items and
    /// `capacity + 1` gaps are held.
    entries: VecDeque<Entry<T>>,
    /// How many of the entries are items.
    items: usize,
    /// Bytes the items hold (counted only for queues with a byte limit).
    bytes: usize,
    closed: bool,
    waker: Option<Waker>,
}

/// The queue, shared by the driver and one consumer.
#[derive(Debug)]
pub(crate) struct EventQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    capacity: usize,
    bytes: Option<ByteLimit<T>>,
}

impl<T> EventQueue<T> {
    /// A queue bounded by count alone.
    pub(crate) fn new(capacity: usize) -> EventQueue<T> {
        Self::bounded(capacity, None)
    }

    /// A queue bounded by count and by bytes.
    pub(crate) fn with_byte_limit(capacity: usize, limit: ByteLimit<T>) -> EventQueue<T> {
        Self::bounded(capacity, Some(limit))
    }

    fn bounded(capacity: usize, bytes: Option<ByteLimit<T>>) -> EventQueue<T> {
        EventQueue {
            state: Mutex::new(State {
                entries: VecDeque::new(),
                items: 0,
                bytes: 0,
                closed: false,
                waker: None,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            bytes,
        }
    }

    /// Whether `item` may be added to `s` under the byte limits; if so its bytes are counted.
    fn admit(&self, s: &mut State<T>, item: &T) -> bool {
        let Some(limit) = &self.bytes else {
            return true;
        };
        let size = (limit.size)(item);
        let fits_queue = s.bytes == 0 || s.bytes.saturating_add(size) <= limit.per_queue;
        if !fits_queue || !limit.session.try_take(size) {
            return false;
        }
        s.bytes += size;
        true
    }

    /// Counts the bytes of an item that is never dropped.
    fn count(&self, s: &mut State<T>, item: &T) {
        if let Some(limit) = &self.bytes {
            let size = (limit.size)(item);
            limit.session.take(size);
            s.bytes += size;
        }
    }

    /// Gives back the bytes of an item leaving the queue.
    fn release(&self, s: &mut State<T>, item: &T) {
        if let Some(limit) = &self.bytes {
            let size = (limit.size)(item).min(s.bytes);
            limit.session.give_back(size);
            s.bytes -= size;
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state under the lock, then wakes a blocked consumer thread; the consuming
    /// task's waker goes to `wakers`, for the caller to wake once it holds no lock (waking may
    /// run executor code). Nothing changes once the queue is closed.
    fn update(&self, wakers: &mut Vec<Waker>, change: impl FnOnce(&mut State<T>)) {
        let waker = {
            let mut s = self.lock();
            if s.closed {
                return;
            }
            change(&mut s);
            s.waker.take()
        };
        self.ready.notify_all();
        wakers.extend(waker);
    }

    /// Adds an item without ever waiting; drops it (counting it) when the queue is full, by
    /// count or by bytes. The consumer's waker is left in `wakers`. Returns whether the item
    /// was kept (or the queue was closed, after which nothing counts as dropped).
    pub(crate) fn push(&self, item: T, wakers: &mut Vec<Waker>) -> bool {
        let capacity = self.capacity;
        let mut kept = false;
        self.update(wakers, |s| {
            // After the close nothing counts as dropped (the router never pushes there).
            kept = s.closed;
            if s.items < capacity && self.admit(s, &item) {
                s.entries.push_back(Entry::Item(item));
                s.items += 1;
                kept = true;
            } else if let Some(Entry::Gap(n)) = s.entries.back_mut() {
                *n += 1;
            } else {
                s.entries.push_back(Entry::Gap(1));
            }
        });
        kept
    }

    /// Adds a last item that is never dropped, then closes the queue. The consumer's waker is
    /// left in `wakers`.
    pub(crate) fn push_last(&self, item: T, wakers: &mut Vec<Waker>) {
        self.update(wakers, |s| {
            self.count(s, &item);
            s.entries.push_back(Entry::Item(item));
            s.items += 1;
            s.closed = true;
        });
    }

    /// Closes the queue and wakes its consumer.
    pub(crate) fn close(&self) {
        let mut wakers = Vec::new();
        self.update(&mut wakers, |s| s.closed = true);
        wakers.into_iter().for_each(Waker::wake);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn take(&self, s: &mut State<T>) -> Option<Received<T>> {
        match s.entries.pop_front() {
            Some(Entry::Item(item)) => {
                s.items -= 1;
                self.release(s, &item);
                Some(Received::Item(item))
            }
            Some(Entry::Gap(n)) => Some(Received::Missed(n)),
            None => s.closed.then_some(Received::Closed),
        }
    }

    /// Whether an item is buffered (a gap does not count).
    pub(crate) fn has_items(&self) -> bool {
        self.lock().items > 0
    }

    /// Takes the next item if there is one.
    pub(crate) fn try_recv(&self) -> Option<Received<T>> {
        self.take(&mut self.lock())
    }

    /// Takes the next item if there is one; if not, forgets the consumer's waker, so that an
    /// item pushed before the consumer polls again wakes nobody (a consumer about to drive the
    /// session itself looks again after it, with [`EventQueue::poll_recv`]).
    pub(crate) fn try_recv_unwatched(&self) -> Option<Received<T>> {
        let mut s = self.lock();
        let received = self.take(&mut s);
        let forgotten = if received.is_none() {
            s.waker.take()
        } else {
            None
        };
        drop(s);
        // Dropped with no lock held: dropping a waker may run executor code.
        drop(forgotten);
        received
    }

    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Received<T>> {
        let mut s = self.lock();
        if let Some(r) = self.take(&mut s) {
            return Poll::Ready(r);
        }
        match &s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => s.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Blocks for the next item, at most `timeout` (`None` when it passes).
    pub(crate) fn recv_blocking(&self, timeout: Option<Duration>) -> Option<Received<T>> {
        // A timeout too large for the clock means no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut s = self.lock();
        loop {
            if let Some(r) = self.take(&mut s) {
                return Some(r);
            }
            s = match deadline {
                None => self.ready.wait(s).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    self.ready
                        .wait_timeout(s, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }
}

impl<T> Drop for EventQueue<T> {
    fn drop(&mut self) {
        // Items nobody will read give their bytes back to the session's pool.
        if let Some(limit) = &self.bytes {
            let s = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
            limit.session.give_back(s.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test item of a given size.
    #[derive(Debug, PartialEq, Eq)]
    struct Blob(usize);

    fn limited(per_queue: usize, session: &Arc<SessionBytes>) -> EventQueue<Blob> {
        EventQueue::with_byte_limit(
            100,
            ByteLimit {
                per_queue,
                size: |blob| blob.0,
                session: session.clone(),
            },
        )
    }

    /// A consumer about to drive the session itself looks without a waker: what is pushed
    /// meanwhile wakes nobody, and its next `poll_recv` finds it (or registers again).
    #[test]
    fn an_unwatched_look_forgets_the_consumers_waker() {
        let q = EventQueue::new(4);
        let waker = std::task::Waker::noop().clone();
        let mut cx = Context::from_waker(&waker);
        assert!(q.poll_recv(&mut cx).is_pending());
        let mut wakers = Vec::new();
        q.push(Blob(1), &mut wakers);
        assert_eq!(wakers.len(), 1, "a registered consumer is woken");
        assert_eq!(q.try_recv_unwatched(), Some(Received::Item(Blob(1))));

        assert!(q.poll_recv(&mut cx).is_pending());
        assert_eq!(q.try_recv_unwatched(), None);
        let mut wakers = Vec::new();
        q.push(Blob(2), &mut wakers);
        assert!(wakers.is_empty(), "the forgotten waker is not woken");
        assert_eq!(q.poll_recv(&mut cx), Poll::Ready(Received::Item(Blob(2))));
    }

    #[test]
    fn a_queue_drops_what_exceeds_its_own_bytes_and_reports_the_gap() {
        let pool = SessionBytes::new(1_000);
        let q = limited(100, &pool);
        q.push(Blob(60), &mut Vec::new());
        q.push(Blob(60), &mut Vec::new()); // over the queue's 100 bytes
        q.push(Blob(40), &mut Vec::new());
        assert_eq!(pool.held(), 100);
        assert_eq!(q.try_recv(), Some(Received::Item(Blob(60))));
        assert_eq!(q.try_recv(), Some(Received::Missed(1)));
        assert_eq!(q.try_recv(), Some(Received::Item(Blob(40))));
        assert_eq!(pool.held(), 0);
    }

    #[test]
    fn queues_share_the_session_pool_and_give_it_back_when_read_or_dropped() {
        let pool = SessionBytes::new(150);
        let a = limited(100, &pool);
        let b = limited(100, &pool);
        a.push(Blob(100), &mut Vec::new());
        b.push(Blob(60), &mut Vec::new()); // the pool holds 100 of 150
        b.push(Blob(50), &mut Vec::new());
        assert_eq!(pool.held(), 150);
        assert_eq!(b.try_recv(), Some(Received::Missed(1)));
        assert_eq!(b.try_recv(), Some(Received::Item(Blob(50))));
        drop(a);
        assert_eq!(pool.held(), 0);
        // One item larger than every limit still passes when nothing is held.
        b.push(Blob(500), &mut Vec::new());
        assert_eq!(b.try_recv(), Some(Received::Item(Blob(500))));
        assert_eq!(pool.held(), 0);
    }

    #[test]
    fn a_last_item_is_never_dropped_and_its_bytes_are_returned() {
        let pool = SessionBytes::new(10);
        let q = limited(10, &pool);
        q.push(Blob(10), &mut Vec::new());
        q.push_last(Blob(10), &mut Vec::new());
        assert_eq!(pool.held(), 20);
        drop(q);
        assert_eq!(pool.held(), 0);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let q = EventQueue::new(2);
        for i in 0..5 {
            q.push(i, &mut Vec::new());
        }
        assert_eq!(q.try_recv(), Some(Received::Item(0)));
        assert_eq!(q.try_recv(), Some(Received::Item(1)));
        assert_eq!(q.try_recv(), Some(Received::Missed(3)));
        assert_eq!(q.try_recv(), None);
        q.push_last(9, &mut Vec::new());
        assert_eq!(q.try_recv(), Some(Received::Item(9)));
        assert_eq!(q.try_recv(), Some(Received::Closed));
        q.push(10, &mut Vec::new());
        assert_eq!(q.try_recv(), Some(Received::Closed));
    }

    #[test]
    fn missed_items_are_reported_where_they_were_dropped() {
        let q = EventQueue::new(2);
        q.push(0, &mut Vec::new());
        q.push(1, &mut Vec::new());
        q.push(2, &mut Vec::new()); // dropped
        assert_eq!(q.try_recv(), Some(Received::Item(0)));
        q.push(3, &mut Vec::new()); // room for one: it comes after the gap
        q.push(4, &mut Vec::new()); // dropped: a new gap after 3
        q.push(5, &mut Vec::new()); // dropped: the same gap
        assert_eq!(q.try_recv(), Some(Received::Item(1)));
        assert_eq!(q.try_recv(), Some(Received::Missed(1)));
        assert_eq!(q.try_recv(), Some(Received::Item(3)));
        assert_eq!(q.try_recv(), Some(Received::Missed(2)));
        assert_eq!(q.try_recv(), None);
        q.push(6, &mut Vec::new());
        assert_eq!(q.try_recv(), Some(Received::Item(6)));
    }

    #[test]
    fn a_blocking_consumer_wakes_for_an_item_from_another_thread() {
        let q = std::sync::Arc::new(EventQueue::new(4));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.push(1, &mut Vec::new()));
        assert_eq!(q.recv_blocking(None), Some(Received::Item(1)));
        assert_eq!(q.recv_blocking(Some(Duration::from_millis(5))), None);
        t.join().unwrap();
    }
}
