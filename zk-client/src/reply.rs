//! The reply to one request, as every adapter waits for it: a future to await, or a blocking
//! wait; on runtimes that drive the session inline ([`InlineDriver`]) it drives the session
//! while it waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::oneshot::Receiver;
use crate::runtime::InlineDriver;
use crate::shared::RawResult;

/// The reply to one request: a future that, with an [`InlineDriver`], drives the session while it
/// waits.
#[derive(Debug)]
pub(crate) struct Reply {
    /// `None` once [`Reply::wait`] took it.
    rx: Option<Receiver<RawResult>>,
    inline: Option<Arc<dyn InlineDriver>>,
    token: u64,
}

impl Reply {
    pub(crate) fn new(rx: Receiver<RawResult>, inline: Option<Arc<dyn InlineDriver>>) -> Reply {
        Reply {
            rx: Some(rx),
            inline,
            token: 0,
        }
    }

    /// Whether the reply is here (or will never come): waiting would not block.
    pub(crate) fn is_ready(&self) -> bool {
        self.rx.as_ref().is_none_or(Receiver::is_ready)
    }

    /// Blocks until the reply arrives (`None`: it never will) or `timeout` passes (`Err`).
    pub(crate) fn wait(mut self, timeout: Option<Duration>) -> Result<Option<RawResult>, ()> {
        if let Some(inline) = &self.inline {
            // About to block: what was submitted goes out first.
            inline.flush();
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
        if let Some(inline) = self.inline.take() {
            if self.token != 0 {
                inline.resign(self.token);
            }
        }
    }
}

impl Future for Reply {
    type Output = Option<RawResult>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RawResult>> {
        let this = self.get_mut();
        if let Some(inline) = &this.inline {
            // Check without leaving a waker: a reply that this poll of the driver delivers
            // must not wake the task that is running it.
            if let Some(out) = this.rx.as_mut().and_then(Receiver::try_take) {
                this.resign();
                return Poll::Ready(out);
            }
            if this.token == 0 {
                this.token = inline.new_token();
            }
            inline.wait(this.token, cx.waker());
        }
        let out = std::task::ready!(this.poll_rx(cx));
        this.resign();
        Poll::Ready(out)
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(inline) = &self.inline {
            // A dropped call will not be waited for: its request goes out now.
            inline.flush();
        }
        self.resign();
    }
}
