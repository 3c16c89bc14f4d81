//! Observing the session's state.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use zk_session::SessionState;

use crate::queue::{EventQueue, Received};
use crate::shared::Shared;
use crate::watch::Timeout;

/// The session's state: its current value and every change, in order.
///
/// Each observer buffers changes independently. One that falls far behind loses the changes
/// made while its buffer was full: in their place it receives the changes buffered after them,
/// or, when there are none, the state current when it reads there ([`StateWatcher::current`]).
/// So the states it sees never go back, and the last one is the current one. After a terminal
/// state the changes end.
#[derive(Debug)]
pub struct StateWatcher {
    shared: Arc<Shared>,
    queue: Arc<EventQueue<SessionState>>,
}

impl StateWatcher {
    pub(crate) fn new(shared: Arc<Shared>) -> StateWatcher {
        let (_, queue) = shared.subscribe_state();
        StateWatcher { shared, queue }
    }

    /// The state now.
    pub fn current(&self) -> SessionState {
        self.shared.state()
    }

    /// Why the session's most recent connection ended, if one has: the cause of the latest
    /// `Disconnected` (see `Client::last_disconnect`).
    pub fn last_disconnect(&self) -> Option<zk_session::DisconnectReason> {
        self.shared.read_session(|s| s.last_disconnect().cloned())
    }

    /// What a received entry reports, or `Err(())` for a gap to skip: changes buffered after
    /// it are newer than those dropped there and lead to the current state themselves, while
    /// reporting the current state before them would show the state going back.
    fn convert(&self, r: Received<SessionState>) -> Result<Option<SessionState>, ()> {
        match r {
            Received::Item(s) => Ok(Some(s)),
            Received::Missed(_) if self.queue.has_items() => Err(()),
            Received::Missed(_) => Ok(Some(self.current())),
            Received::Closed => Ok(None),
        }
    }

    /// The next change, or `None` after the terminal state was reported.
    pub async fn changed(&mut self) -> Option<SessionState> {
        std::future::poll_fn(|cx| self.poll_changed(cx)).await
    }

    /// Polls for the next change.
    pub fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Option<SessionState>> {
        loop {
            let received = std::task::ready!(self.queue.poll_recv(cx));
            if let Ok(change) = self.convert(received) {
                return Poll::Ready(change);
            }
        }
    }

    /// Blocks for the next change: `Ok(None)` after the terminal state was reported,
    /// `Err(Timeout)` when `timeout` passed first.
    pub fn recv_timeout(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<SessionState>, Timeout> {
        loop {
            match self.queue.recv_blocking(timeout) {
                Some(r) => match self.convert(r) {
                    Ok(change) => return Ok(change),
                    // The items after the gap are buffered: no wait.
                    Err(()) => continue,
                },
                None => return Err(Timeout),
            }
        }
    }

    /// Waits (async) until the state satisfies `pred`, returning it; `None` if the session
    /// ended without it.
    pub async fn wait_for(
        &mut self,
        mut pred: impl FnMut(SessionState) -> bool,
    ) -> Option<SessionState> {
        let now = self.current();
        if pred(now) {
            return Some(now);
        }
        while let Some(s) = self.changed().await {
            if pred(s) {
                return Some(s);
            }
        }
        let last = self.current();
        pred(last).then_some(last)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use zk_session::testing::ConnectedSession;
    use zk_session::Action;

    use super::*;
    use crate::queue::EventQueue;
    use crate::shared::EventLimits;

    fn events(capacity: usize) -> EventLimits {
        EventLimits {
            capacity,
            ..EventLimits::default()
        }
    }

    #[test]
    fn a_watcher_that_fell_behind_never_sees_the_state_go_back() {
        let connected = ConnectedSession::new(0);
        let shared = Shared::new(connected.session, Arc::new(Instant::now), events(16));
        let queue = Arc::new(EventQueue::new(2));
        let mut watcher = StateWatcher {
            shared: shared.clone(),
            queue: queue.clone(),
        };
        let mut wakers = Vec::new();
        queue.push(SessionState::Disconnected, &mut wakers);
        queue.push(SessionState::Connecting, &mut wakers);
        queue.push(SessionState::Connected, &mut wakers); // dropped: a gap
        let first = watcher.recv_timeout(Some(Duration::ZERO));
        queue.push(SessionState::Connected, &mut wakers); // after the gap
        queue.push_last(SessionState::Closed, &mut wakers);
        shared.driver_gone(); // the current state is now Closed
        let mut seen = vec![first.unwrap().unwrap()];
        while let Ok(Some(state)) = watcher.recv_timeout(Some(Duration::ZERO)) {
            seen.push(state);
        }
        assert_eq!(
            seen,
            [
                SessionState::Disconnected,
                SessionState::Connecting,
                SessionState::Connected,
                SessionState::Closed
            ]
        );
    }

    #[test]
    fn a_watcher_that_fell_behind_ends_on_the_current_state() {
        let connected = ConnectedSession::new(0);
        let (conn, mut now) = (connected.conn, connected.now);
        // Room for one change: the reconnection's later changes are dropped.
        let shared = Shared::new(connected.session, Arc::new(Instant::now), events(1));
        let mut watcher = StateWatcher::new(shared.clone());

        shared.with_session(|s| s.handle_closed(conn, now));
        let conn = loop {
            let action = shared.with_session(|s| s.poll_action());
            match action {
                Some(Action::Connect { conn, .. }) => break conn,
                Some(_) => {}
                None => {
                    now += Duration::from_secs(3);
                    shared.with_session(|s| s.handle_timeout(now));
                }
            }
        };
        let handshake = ConnectedSession::handshake();
        shared.with_session(|s| {
            s.handle_connected(conn, None, now);
            s.poll_transmit(now, &mut Vec::new());
            s.handle_data(conn, &handshake, now);
        });
        assert_eq!(watcher.current(), SessionState::Connected);

        let mut seen = Vec::new();
        while let Ok(Some(state)) = watcher.recv_timeout(Some(Duration::ZERO)) {
            seen.push(state);
        }
        assert_eq!(
            seen,
            [SessionState::Disconnected, SessionState::Connected],
            "the buffered change, then the current state in place of the dropped ones"
        );
    }
}
