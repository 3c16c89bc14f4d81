//! A bounded event queue with one consumer that can await or block, used for watch events and
//! session-state changes.
//!
//! The producer is the I/O driver and must never wait for a consumer: when the queue is full,
//! new items are dropped and counted, and the consumer is told how many it missed where they
//! would have been: after the items buffered before them, before the items pushed after them.
//! A queue is closed by its producer after the last item it will ever carry.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

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
    closed: bool,
    waker: Option<Waker>,
}

/// The queue, shared by the driver and one consumer.
#[derive(Debug)]
pub(crate) struct EventQueue<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
    capacity: usize,
}

impl<T> EventQueue<T> {
    pub(crate) fn new(capacity: usize) -> EventQueue<T> {
        EventQueue {
            state: Mutex::new(State {
                entries: VecDeque::new(),
                items: 0,
                closed: false,
                waker: None,
            }),
            ready: Condvar::new(),
            capacity: capacity.max(1),
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

    /// Adds an item without ever waiting; drops it (counting it) when the queue is full. The
    /// consumer's waker is left in `wakers`.
    pub(crate) fn push(&self, item: T, wakers: &mut Vec<Waker>) {
        let capacity = self.capacity;
        self.update(wakers, |s| {
            if s.items < capacity {
                s.entries.push_back(Entry::Item(item));
                s.items += 1;
            } else if let Some(Entry::Gap(n)) = s.entries.back_mut() {
                *n += 1;
            } else {
                s.entries.push_back(Entry::Gap(1));
            }
        });
    }

    /// Adds a last item that is never dropped, then closes the queue. The consumer's waker is
    /// left in `wakers`.
    pub(crate) fn push_last(&self, item: T, wakers: &mut Vec<Waker>) {
        self.update(wakers, |s| {
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

    fn take(s: &mut State<T>) -> Option<Received<T>> {
        match s.entries.pop_front() {
            Some(Entry::Item(item)) => {
                s.items -= 1;
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
        Self::take(&mut self.lock())
    }

    pub(crate) fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Received<T>> {
        let mut s = self.lock();
        if let Some(r) = Self::take(&mut s) {
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
            if let Some(r) = Self::take(&mut s) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
