//! The reply to one request, as every adapter waits for it: a future to await, or a blocking
//! wait; on runtimes that drive the session inline ([`InlineDriver`]) it drives the session
//! while it waits.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::lead::Lead;
use crate::oneshot::Receiver;
use crate::runtime::InlineDriver;
use crate::shared::RawResult;

/// The reply to one request: a future that, with an [`InlineDriver`], drives the session while it
/// waits.
#[derive(Debug)]
pub(crate) struct Reply {
    /// `None` once the reply came or [`Reply::wait`] took it.
    rx: Option<Receiver<RawResult>>,
    lead: Lead,
}

impl Reply {
    pub(crate) fn new(rx: Receiver<RawResult>, inline: Option<Arc<dyn InlineDriver>>) -> Reply {
        Reply {
            rx: Some(rx),
            lead: Lead::new(inline),
        }
    }

    /// Whether the reply is here (or will never come): waiting would not block.
    pub(crate) fn is_ready(&self) -> bool {
        self.rx.as_ref().is_none_or(Receiver::is_ready)
    }

    /// Blocks until the reply arrives (`None`: it never will) or `timeout` passes (`Err`).
    pub(crate) fn wait(mut self, timeout: Option<Duration>) -> Result<Option<RawResult>, ()> {
        // About to block: what was submitted goes out first.
        self.lead.flush();
        self.lead.resign();
        match self.rx.take() {
            Some(rx) => rx.wait(timeout).map_err(drop),
            None => Ok(None),
        }
    }

    /// The reply came: nothing is waited for any more.
    fn finish(&mut self) {
        self.rx = None;
        self.lead.resign();
    }

    fn poll_rx(&mut self, cx: &mut Context<'_>) -> Poll<Option<RawResult>> {
        match self.rx.as_mut() {
            Some(rx) => Pin::new(rx).poll(cx),
            None => Poll::Ready(None),
        }
    }
}

impl Future for Reply {
    type Output = Option<RawResult>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RawResult>> {
        let this = self.get_mut();
        if this.lead.is_inline() {
            // Check without leaving a waker: a reply that this poll of the driver delivers
            // must not wake the task that is running it.
            if let Some(out) = this.rx.as_mut().and_then(Receiver::try_take) {
                this.finish();
                return Poll::Ready(out);
            }
            this.lead.wait(cx.waker());
        }
        let out = std::task::ready!(this.poll_rx(cx));
        this.finish();
        Poll::Ready(out)
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        // A call dropped before its reply came will not be waited for: its request goes out
        // now (the lead resigns when dropped).
        if self.rx.is_some() {
            self.lead.flush();
        }
    }
}
