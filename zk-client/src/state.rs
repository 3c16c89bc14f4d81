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
/// Each observer buffers changes independently; one that falls far behind loses the oldest
/// changes it did not read (never the current value, always available from
/// [`StateWatcher::current`]). After a terminal state the changes end.
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
        self.shared.read_session(|s| s.state())
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
