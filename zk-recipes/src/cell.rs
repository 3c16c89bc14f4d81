//! A recipe's state shared between its handle and its background task, with the wakers of
//! whoever waits for it to change.

use std::future::poll_fn;
use std::ops::{Deref, DerefMut};
use std::sync::{Mutex as StdMutex, MutexGuard as StdGuard};
use std::task::{Context, Poll, Waker};

/// State `S` and the tasks waiting for it to change.
#[derive(Debug, Default)]
pub(crate) struct Cell<S> {
    inner: StdMutex<Inner<S>>,
}

/// The state, and the wakers of the tasks waiting for its next change.
#[derive(Debug, Default)]
pub(crate) struct Inner<S> {
    state: S,
    wakers: Vec<Waker>,
}

impl<S> Deref for Inner<S> {
    type Target = S;

    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S> DerefMut for Inner<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.state
    }
}

impl<S> Cell<S> {
    /// A cell holding `state`.
    pub(crate) fn new(state: S) -> Cell<S> {
        Cell {
            inner: StdMutex::new(Inner {
                state,
                wakers: Vec::new(),
            }),
        }
    }

    /// The state, locked (a panic while it was held does not poison it for the others).
    pub(crate) fn lock(&self) -> StdGuard<'_, Inner<S>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state and wakes everyone waiting on it.
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut S) -> T) -> T {
        let (out, wakers) = {
            let mut inner = self.lock();
            let out = f(&mut inner.state);
            (out, std::mem::take(&mut inner.wakers))
        };
        wakers.into_iter().for_each(Waker::wake);
        out
    }

    /// Polls for `ready` on the state, registering `cx` for the next change.
    pub(crate) fn poll_state<T>(
        &self,
        cx: &mut Context<'_>,
        ready: impl FnOnce(&mut S) -> Option<T>,
    ) -> Poll<T> {
        let mut inner = self.lock();
        match ready(&mut inner.state) {
            Some(out) => Poll::Ready(out),
            None => {
                // Once per waiting task, however often it polls.
                if !inner.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    inner.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }
}

/// A state that keeps a queue of events for its reader, until it ends.
pub(crate) trait EventLog {
    /// The events.
    type Event;
    /// The oldest unread event.
    fn pop_event(&mut self) -> Option<Self::Event>;
    /// Whether no event will come any more.
    fn has_ended(&self) -> bool;
}

impl<S: EventLog> Cell<S> {
    /// The next event; `None` once the state ended and every event was taken.
    pub(crate) async fn next_event(&self) -> Option<S::Event> {
        poll_fn(|cx| {
            self.poll_state(cx, |s| match s.pop_event() {
                Some(event) => Some(Some(event)),
                None if s.has_ended() => Some(None),
                None => None,
            })
        })
        .await
    }
}
