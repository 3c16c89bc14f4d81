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
/// made while its buffer was full: in their place it receives the state current when it reads
/// there ([`StateWatcher::current`]), so the last state it sees is always the current one.
/// After a terminal state the changes end.
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

    fn convert(&self, r: Received<SessionState>) -> Option<SessionState> {
        match r {
            Received::Item(s) => Some(s),
            Received::Missed(_) => Some(self.current()),
            Received::Closed => None,
        }
    }

    /// The next change, or `None` after the terminal state was reported.
    pub async fn changed(&mut self) -> Option<SessionState> {
        std::future::poll_fn(|cx| self.poll_changed(cx)).await
    }

    /// Polls for the next change.
    pub fn poll_changed(&mut self, cx: &mut Context<'_>) -> Poll<Option<SessionState>> {
        self.queue.poll_recv(cx).map(|r| self.convert(r))
    }

    /// Blocks for the next change: `Ok(None)` after the terminal state was reported,
    /// `Err(Timeout)` when `timeout` passed first.
    pub fn recv_timeout(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<SessionState>, Timeout> {
        match self.queue.recv_blocking(timeout) {
            Some(r) => Ok(self.convert(r)),
            None => Err(Timeout),
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

    use zk_session::bench_support::ConnectedSession;
    use zk_session::Action;

    use super::*;

    #[test]
    fn a_watcher_that_fell_behind_ends_on_the_current_state() {
        let connected = ConnectedSession::new(0);
        let (conn, mut now) = (connected.conn, connected.now);
        // Room for one change: the reconnection's later changes are dropped.
        let shared = Shared::new(connected.session, Arc::new(Instant::now), 1);
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
            s.handle_connected(conn, now);
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
