//! Waiting for a future on the current thread, with no runtime: the blocking adapter's way to
//! use the very futures the async adapters return.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on this thread, parking between wake-ups, until it completes (`Some`) or
/// `timeout` passes (`None`; the future is dropped).
pub fn block_on<F: Future>(fut: F, timeout: Option<Duration>) -> Option<F::Output> {
    block_on_with(fut, timeout, |_| false)
}

/// [`block_on`], calling `instead_of_parking(time left)` each time the future is pending: when
/// it returns `true` (it did some work, such as reading the socket that delivers the reply, as
/// zk-blocking's callers do), the future is polled again at once; otherwise the thread parks
/// until woken.
pub fn block_on_with<F: Future>(
    fut: F,
    timeout: Option<Duration>,
    mut instead_of_parking: impl FnMut(Option<Duration>) -> bool,
) -> Option<F::Output> {
    // A timeout too large for the clock means no timeout.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        let left = match deadline {
            None => None,
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                Some(deadline - now)
            }
        };
        if instead_of_parking(left) {
            continue;
        }
        match left {
            None => std::thread::park(),
            Some(left) => std::thread::park_timeout(left),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_future_completed_by_another_thread_is_awaited() {
        let (tx, rx) = crate::oneshot::channel();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            tx.send(3)
        });
        assert_eq!(block_on(rx, Some(Duration::from_secs(10))), Some(Some(3)));
        t.join().unwrap();
        let (_tx, rx) = crate::oneshot::channel::<u8>();
        assert_eq!(block_on(rx, Some(Duration::from_millis(5))), None);
    }
}
