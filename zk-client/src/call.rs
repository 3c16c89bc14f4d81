//! A submitted call: await it, or block on it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use zk_session::{CommonError, Operation};

use crate::reply::Reply;

/// A call whose request was submitted when it was created. Await it, or [`Pending::wait`] for
/// it; dropping it discards the result but never disturbs the session.
#[derive(Debug)]
#[must_use = "the request is sent either way, but its result is lost unless awaited"]
pub struct Pending<O: Operation> {
    op: O,
    reply: Option<Result<Reply, CommonError>>,
}

impl<O: Operation> Pending<O> {
    pub(crate) fn new(op: O, reply: Result<Reply, CommonError>) -> Pending<O> {
        Pending {
            op,
            reply: Some(reply),
        }
    }

    /// Whether the result is here: [`Pending::wait`] would return at once.
    pub fn is_ready(&self) -> bool {
        match &self.reply {
            Some(Ok(reply)) => reply.is_ready(),
            _ => true,
        }
    }

    /// Blocks until the reply arrives, or at most `timeout`. A timeout returns
    /// [`CommonError::RequestTimeout`]: the request stays in flight and its outcome is unknown.
    pub fn wait(mut self, timeout: Option<Duration>) -> Result<O::Output, O::Error> {
        let raw = match self.reply.take() {
            Some(Ok(rx)) => match rx.wait(timeout) {
                Ok(Some(raw)) => raw,
                Ok(None) => Err(CommonError::Closed),
                Err(_still_waiting) => Err(CommonError::RequestTimeout),
            },
            Some(Err(e)) => Err(e),
            None => Err(CommonError::Closed),
        };
        self.op.complete(raw)
    }
}

// The operation is never pinned: `poll` only reads it to type the reply.
impl<O: Operation> Unpin for Pending<O> {}

impl<O: Operation> Future for Pending<O> {
    type Output = Result<O::Output, O::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let raw = match this.reply.as_mut() {
            Some(Ok(rx)) => match Pin::new(rx).poll(cx) {
                Poll::Ready(Some(raw)) => raw,
                Poll::Ready(None) => Err(CommonError::Closed),
                Poll::Pending => return Poll::Pending,
            },
            Some(Err(e)) => Err(e.clone()),
            None => Err(CommonError::Closed),
        };
        this.reply = None;
        Poll::Ready(this.op.complete(raw))
    }
}

/// Stops waiting for `call`: its `RequestTimeout` error. The request stays in flight and its
/// outcome is unknown. (For adapters that wait for calls their own way.)
pub fn give_up<O: Operation>(call: Pending<O>) -> O::Error {
    call.op.fail(CommonError::RequestTimeout)
}
