//! Watch handles: a one-shot [`Watch`] returned with the read that set it, and a
//! [`WatchStream`] for persistent and recursive watches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use zk_session::proto::EventType;
use zk_session::{SessionState, WatchId, WatchNotice};

use crate::lead::Lead;
use crate::queue::{EventQueue, Received};
use crate::shared::Shared;

/// What a watch reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchEvent {
    /// Something happened to a node: `NodeCreated`, `NodeDeleted`, `NodeDataChanged`,
    /// `NodeChildrenChanged`, or the watch was removed (`DataWatchRemoved`,
    /// `ChildWatchRemoved`, `PersistentWatchRemoved`). The path is relative to the chroot.
    Node {
        /// What happened.
        event_type: EventType,
        /// The node's path.
        path: String,
    },
    /// The connection was lost and the watch re-registered on a new one: events that happened
    /// in between were not delivered (persistent watches only). Re-read what you cache.
    PossiblyMissedEvents,
    /// The consumer fell behind and this many events were dropped (persistent watches only).
    /// Re-read what you cache.
    Lagged(u64),
    /// The session ended; the watch will never fire.
    SessionEnded(SessionState),
}

impl WatchEvent {
    /// The bytes the event holds while buffered: its own size and its path.
    pub(crate) fn buffered_size(&self) -> usize {
        let path = match self {
            WatchEvent::Node { path, .. } => path.capacity(),
            _ => 0,
        };
        std::mem::size_of::<Self>() + path
    }
}

impl From<WatchNotice> for WatchEvent {
    fn from(notice: WatchNotice) -> WatchEvent {
        match notice {
            WatchNotice::Node { event_type, path } => WatchEvent::Node { event_type, path },
            WatchNotice::PossiblyMissedEvents => WatchEvent::PossiblyMissedEvents,
            WatchNotice::SessionEnded(state) => WatchEvent::SessionEnded(state),
            _ => WatchEvent::PossiblyMissedEvents,
        }
    }
}

/// What a watching call holds until it completes, then shapes into a [`Watch`] or a
/// [`WatchStream`]. It is already a registration: if the call is abandoned (its future dropped)
/// the watch is forgotten, and the server watch removed once the reply has set it.
pub(crate) struct WatchParts {
    registration: Registration,
}

impl WatchParts {
    pub(crate) fn new(
        shared: Arc<Shared>,
        id: WatchId,
        queue: Arc<EventQueue<WatchEvent>>,
    ) -> WatchParts {
        WatchParts {
            registration: Registration { shared, id, queue },
        }
    }

    #[cfg(test)]
    pub(crate) fn queue(&self) -> &EventQueue<WatchEvent> {
        &self.registration.queue
    }

    pub(crate) fn one_shot(self) -> Watch {
        Watch {
            lead: self.registration.lead(),
            registration: self.registration,
        }
    }

    pub(crate) fn stream(self) -> WatchStream {
        WatchStream {
            lead: self.registration.lead(),
            registration: self.registration,
        }
    }
}

/// Forgets the watch on drop unless it already ended.
#[derive(Debug)]
struct Registration {
    shared: Arc<Shared>,
    id: WatchId,
    queue: Arc<EventQueue<WatchEvent>>,
}

impl Registration {
    /// The watch's part in driving the session inline while its task awaits an event.
    fn lead(&self) -> Lead {
        Lead::new(self.shared.inline_driver())
    }

    /// The next event, a task about to sleep on it driving the session inline (see
    /// [`Lead`]); `lead` resigns once something was received.
    fn poll_recv(&self, lead: &mut Lead, cx: &mut Context<'_>) -> Poll<Received<WatchEvent>> {
        if lead.is_inline() {
            // Check and forget the waker left by an earlier poll first, as a reply does: an
            // event this poll of the driver delivers then wakes nobody.
            if let Some(received) = self.queue.try_recv_unwatched() {
                lead.resign();
                return Poll::Ready(received);
            }
            lead.wait_for_event(cx.waker());
        }
        let received = std::task::ready!(self.queue.poll_recv(cx));
        lead.resign();
        Poll::Ready(received)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if !self.queue.is_closed() {
            self.shared.forget_watch(self.id);
        }
    }
}

/// A one-shot watch: resolves with the one event that fires it, or with
/// [`WatchEvent::SessionEnded`]. Dropping it before it fires removes the server watch when no
/// other registration needs it.
#[derive(Debug)]
pub struct Watch {
    registration: Registration,
    lead: Lead,
}

impl Watch {
    /// The registration's id.
    pub fn id(&self) -> WatchId {
        self.registration.id
    }

    /// The event, if it already fired.
    pub fn try_event(&self) -> Option<WatchEvent> {
        match self.registration.queue.try_recv()? {
            Received::Item(e) => Some(e),
            _ => None,
        }
    }

    /// Blocks until the watch fires, at most `timeout` (`None`: it did not fire in time).
    pub fn wait(&self, timeout: Option<Duration>) -> Option<WatchEvent> {
        loop {
            match self.registration.queue.recv_blocking(timeout)? {
                Received::Item(e) => return Some(e),
                Received::Missed(_) => continue,
                Received::Closed => return None,
            }
        }
    }
}

impl Future for Watch {
    type Output = WatchEvent;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<WatchEvent> {
        let this = self.get_mut();
        loop {
            match this.registration.poll_recv(&mut this.lead, cx) {
                Poll::Ready(Received::Item(e)) => return Poll::Ready(e),
                Poll::Ready(Received::Missed(_)) => continue,
                // Closed without an event: only when the session dropped the route, which it
                // does after the final event; report the session's end as the best knowledge.
                Poll::Ready(Received::Closed) => {
                    return Poll::Ready(WatchEvent::SessionEnded(SessionState::Closed))
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// The events of a persistent or persistent-recursive watch, in server order, until it is
/// removed or the session ends (then the stream ends after the final event).
///
/// A consumer that falls behind never slows the session: past
/// [`crate::DEFAULT_EVENT_CAPACITY`] buffered events, or past
/// [`crate::DEFAULT_STREAM_BUFFER_BYTES`] of them (or when the session's streams together hold
/// [`crate::DEFAULT_SESSION_BUFFER_BYTES`]; all three configurable), new events are dropped
/// and the consumer receives [`WatchEvent::Lagged`] with their number in their place: after
/// the events buffered before them, before any that came after them. State re-read on
/// `Lagged` is thus never older than the events that follow.
/// Dropping the stream removes the server watch when no other registration needs it.
#[derive(Debug)]
pub struct WatchStream {
    registration: Registration,
    lead: Lead,
}

impl WatchStream {
    /// The registration's id.
    pub fn id(&self) -> WatchId {
        self.registration.id
    }

    fn convert(received: Received<WatchEvent>) -> Option<WatchEvent> {
        match received {
            Received::Item(e) => Some(e),
            Received::Missed(n) => Some(WatchEvent::Lagged(n)),
            Received::Closed => None,
        }
    }

    /// The next event, or `None` once the watch has ended.
    pub async fn next(&mut self) -> Option<WatchEvent> {
        std::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// Polls for the next event.
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        self.registration
            .poll_recv(&mut self.lead, cx)
            .map(Self::convert)
    }

    /// The next event if one is buffered.
    pub fn try_next(&mut self) -> Option<WatchEvent> {
        // Not awaited: the driver's wake-ups no longer go to this stream's task.
        self.lead.resign();
        self.registration.queue.try_recv().and_then(Self::convert)
    }

    /// Blocks for the next event: `Ok(None)` once the watch has ended, `Err(Timeout)` when
    /// `timeout` passed first.
    pub fn recv_timeout(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<WatchEvent>, Timeout> {
        // About to block this thread: the driver's wake-ups must not wait for its task.
        self.lead.resign();
        match self.registration.queue.recv_blocking(timeout) {
            Some(r) => Ok(Self::convert(r)),
            None => Err(Timeout),
        }
    }

    /// Blocks for the next event; `None` once the watch has ended.
    pub fn recv(&mut self) -> Option<WatchEvent> {
        self.recv_timeout(None).ok().flatten()
    }
}

impl futures_core::Stream for WatchStream {
    type Item = WatchEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchEvent>> {
        self.get_mut().poll_next_event(cx)
    }
}

impl Iterator for WatchStream {
    type Item = WatchEvent;

    /// Blocks for the next event.
    fn next(&mut self) -> Option<WatchEvent> {
        self.recv()
    }
}

/// A blocking wait ended without an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out")]
pub struct Timeout;
