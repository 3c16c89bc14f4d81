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
    // A timeout too large for the clock means no timeout.
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    let waker = Waker::from(Arc::new(Unparker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
        match deadline {
            None => std::thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return None;
                }
                std::thread::park_timeout(deadline - now);
            }
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
