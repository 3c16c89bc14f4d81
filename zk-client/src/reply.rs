//! The reply to one request, as every adapter waits for it: a future to await, or a blocking
//! wait; on runtimes that drive the session inline ([`crate::assist`]) it drives the session
//! while it waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::assist::{next_token, Assist};
use crate::oneshot::Receiver;
use crate::shared::RawResult;

/// The reply to one request: a future that, with an [`Assist`], drives the session while it
/// waits.
#[derive(Debug)]
pub(crate) struct Reply {
    /// `None` once [`Reply::wait`] took it.
    rx: Option<Receiver<RawResult>>,
    assist: Option<Arc<Assist>>,
    token: u64,
}

impl Reply {
    pub(crate) fn new(rx: Receiver<RawResult>, assist: Option<Arc<Assist>>) -> Reply {
        Reply {
            rx: Some(rx),
            assist,
            token: 0,
        }
    }

    /// Whether the reply is here (or will never come): waiting would not block.
    pub(crate) fn is_ready(&self) -> bool {
        self.rx.as_ref().map_or(true, Receiver::is_ready)
    }

    /// Blocks until the reply arrives (`None`: it never will) or `timeout` passes (`Err`).
    pub(crate) fn wait(mut self, timeout: Option<Duration>) -> Result<Option<RawResult>, ()> {
        if let Some(assist) = &self.assist {
            // About to block: what was submitted goes out first.
            assist.flush_deferred();
        }
        self.resign();
        match self.rx.take() {
            Some(rx) => rx.wait(timeout).map_err(drop),
            None => Ok(None),
        }
    }

    fn poll_rx(&mut self, cx: &mut Context<'_>) -> Poll<Option<RawResult>> {
        match self.rx.as_mut() {
            Some(rx) => Pin::new(rx).poll(cx),
            None => Poll::Ready(None),
        }
    }

    fn resign(&mut self) {
        if let Some(assist) = self.assist.take() {
            if self.token != 0 {
                assist.resign(self.token);
            }
        }
    }
}

impl Future for Reply {
    type Output = Option<RawResult>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RawResult>> {
        let this = self.get_mut();
        if let Some(assist) = &this.assist {
            // Check without leaving a waker: a reply that this poll of the driver delivers
            // must not wake the task that is running it.
            if let Some(out) = this.rx.as_mut().and_then(Receiver::try_take) {
                this.resign();
                return Poll::Ready(out);
            }
            if this.token == 0 {
                this.token = next_token();
            }
            assist.lead(this.token, cx.waker());
            assist.drive();
        }
        let out = std::task::ready!(this.poll_rx(cx));
        this.resign();
        Poll::Ready(out)
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(assist) = &self.assist {
            // A dropped call will not be waited for: its request goes out now.
            assist.flush_deferred();
        }
        self.resign();
    }
}
