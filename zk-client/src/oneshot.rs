//! A single-value channel that can be awaited or blocked on, with no runtime behind it.
//!
//! Every request's reply travels through one, so it is kept cheap: one lock to send, and the
//! condition variable is signalled only when a thread actually blocks on it (`notify_all` is a
//! system call even with no waiter).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct State<T> {
    value: Option<T>,
    waker: Option<Waker>,
    sender_gone: bool,
    /// A thread waits on the condition variable (set by [`Receiver::wait`] under the lock, so a
    /// sender that sees it clear knows no thread needs the signal).
    blocked: bool,
}

#[derive(Debug)]
struct Slot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending half: fills the slot once.
#[derive(Debug)]
pub(crate) struct Sender<T> {
    /// `None` once the value is sent, so that dropping the sender then does nothing.
    slot: Option<Arc<Slot<T>>>,
}

/// The receiving half: a future, or a blocking wait.
#[derive(Debug)]
pub(crate) struct Receiver<T> {
    slot: Arc<Slot<T>>,
}

pub(crate) fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let slot = Arc::new(Slot {
        state: Mutex::new(State {
            value: None,
            waker: None,
            sender_gone: false,
            blocked: false,
        }),
        ready: Condvar::new(),
    });
    (
        Sender {
            slot: Some(slot.clone()),
        },
        Receiver { slot },
    )
}

impl<T> Sender<T> {
    /// Fills the slot and wakes the receiver.
    #[cfg(test)]
    pub(crate) fn send(self, value: T) {
        let mut wakers = Vec::new();
        self.send_deferred(value, &mut wakers);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Fills the slot, wakes a thread blocked on it, and leaves the receiving task's waker in
    /// `wakers` for the caller to wake once it holds no lock (waking may run executor code).
    pub(crate) fn send_deferred(mut self, value: T, wakers: &mut Vec<Waker>) {
        if let Some(slot) = self.slot.take() {
            wakers.extend(slot.fill(|state| state.value = Some(value)));
        }
    }

    /// Drops the sender without sending, like `drop`, but leaves the waker in `wakers`.
    pub(crate) fn abandon_deferred(mut self, wakers: &mut Vec<Waker>) {
        if let Some(slot) = self.slot.take() {
            wakers.extend(slot.fill(|state| state.sender_gone = true));
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            if let Some(waker) = slot.fill(|state| state.sender_gone = true) {
                waker.wake();
            }
        }
    }
}

impl<T> Slot<T> {
    /// Updates the state and wakes a thread blocked on it; returns the receiving task's waker.
    fn fill(&self, update: impl FnOnce(&mut State<T>)) -> Option<Waker> {
        let (waker, blocked) = {
            let mut state = self.lock();
            update(&mut state);
            (state.waker.take(), state.blocked)
        };
        if blocked {
            self.ready.notify_all();
        }
        waker
    }
}

impl<T> Receiver<T> {
    /// Blocks until the value arrives (`Some`), the sender is dropped without sending (`None`),
    /// or the timeout passes (`Err(self)`, to wait again later).
    pub(crate) fn wait(self, timeout: Option<Duration>) -> Result<Option<T>, Receiver<T>> {
        // A timeout too large for the clock means no timeout.
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut state = self.slot.lock();
        loop {
            if let Some(v) = state.value.take() {
                return Ok(Some(v));
            }
            if state.sender_gone {
                return Ok(None);
            }
            state.blocked = true;
            match deadline {
                None => {
                    state = self
                        .slot
                        .ready
                        .wait(state)
                        .unwrap_or_else(|e| e.into_inner())
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        drop(state);
                        return Err(self);
                    }
                    state = self
                        .slot
                        .ready
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
    }
}

impl<T> Receiver<T> {
    /// Whether waiting would return at once (the value arrived, or never will).
    pub(crate) fn is_ready(&self) -> bool {
        let state = self.slot.lock();
        state.value.is_some() || state.sender_gone
    }

    /// The value if it arrived (`Some(Some)`), `Some(None)` if it never will, `None` if it is
    /// still to come. Forgets the waker of an earlier poll: the caller is awake, and polls
    /// again before it sleeps.
    pub(crate) fn try_take(&mut self) -> Option<Option<T>> {
        let mut state = self.slot.lock();
        if let Some(v) = state.value.take() {
            return Some(Some(v));
        }
        if state.sender_gone {
            return Some(None);
        }
        state.waker = None;
        None
    }
}

impl<T> Future for Receiver<T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let mut state = self.slot.lock();
        if let Some(v) = state.value.take() {
            return Poll::Ready(Some(v));
        }
        if state.sender_gone {
            return Poll::Ready(None);
        }
        match &state.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_sent_from_another_thread_is_received_by_a_blocking_wait() {
        let (tx, rx) = channel();
        let t = std::thread::spawn(move || tx.send(7));
        assert_eq!(rx.wait(None).ok().flatten(), Some(7));
        t.join().unwrap();
    }

    #[test]
    fn a_sender_dropped_while_a_thread_blocks_ends_the_wait() {
        let (tx, rx) = channel::<u8>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            drop(tx);
        });
        assert_eq!(rx.wait(None).ok(), Some(None));
        t.join().unwrap();
    }

    #[test]
    fn a_value_sent_after_a_timed_out_wait_is_received_by_the_next_wait() {
        let (tx, rx) = channel();
        let rx = rx.wait(Some(Duration::from_millis(5))).unwrap_err();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(9)
        });
        assert_eq!(rx.wait(Some(Duration::from_secs(10))).ok(), Some(Some(9)));
        t.join().unwrap();
    }

    #[test]
    fn a_dropped_sender_ends_the_wait_and_a_timeout_returns_the_receiver() {
        let (tx, rx) = channel::<u8>();
        let rx = rx.wait(Some(Duration::from_millis(10))).unwrap_err();
        drop(tx);
        assert_eq!(rx.wait(None).ok(), Some(None));
    }
}
