//! A runtime-agnostic timeout.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use crate::runtime::Runtime;

/// Runs `fut` until it completes (`Some`) or `wait` passes on the runtime's clock (`None`).
pub async fn with_timeout<R: Runtime, F: Future>(
    runtime: &R,
    wait: Duration,
    fut: F,
) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let Some(deadline) = runtime.now().checked_add(wait) else {
        // Too far in the future for the clock: no timeout at all.
        return Some(fut.await);
    };
    let mut sleep = pin!(runtime.sleep_until(deadline));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}
