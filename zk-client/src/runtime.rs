//! What the client needs from an async runtime: a clock, timers, a way to run the driver, name
//! resolution and transports. Each adapter crate implements these few primitives; everything
//! else (the driver, the handles, connection attempts, read-write probes) is written once, here.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use zk_session::probe::Answer;
use zk_session::HostAddr;

use crate::attempt::Attempt;
use crate::timeout::with_timeout;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// A connected byte stream (TCP, or TLS over TCP).
pub trait Transport: Send + Unpin + 'static {
    /// Reads into `buf`; `Ok(0)` means the peer closed the stream.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;
    /// Writes some of `buf`.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;
    /// Flushes buffered bytes (TLS records) to the socket.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// The primitives of an async runtime.
pub trait Runtime: Clone + Send + Sync + 'static {
    /// The transport `connect` produces.
    type Transport: Transport;
    /// A timer future.
    type Sleep: Future<Output = ()> + Send + 'static;

    /// The runtime's clock (virtual in tests that pause time).
    fn now(&self) -> Instant;
    /// A future ready at `deadline`.
    fn sleep_until(&self, deadline: Instant) -> Self::Sleep;
    /// Runs `task` in the background. By default on a thread of its own, parked between
    /// wake-ups: right for a runtime whose reactor runs without help, wrong for one that needs
    /// its own tasks (tokio's overrides it).
    ///
    /// Fails when the task cannot be started (no thread, or no runtime to run it on).
    fn spawn(&self, task: BoxFuture<()>) -> io::Result<()> {
        std::thread::Builder::new()
            .name("zk-session".into())
            .spawn(move || crate::block_on::block_on(task, None))
            .map(drop)
    }

    /// Starts the session's `driver`: by default as a task of [`Runtime::spawn`] (`Ok(None)`).
    /// A runtime whose cross-thread wake-ups are costly may instead have the driver polled by
    /// the tasks that wait for its replies, and return the [`InlineDriver`] they use for it
    /// (zk-async-std does).
    fn start_driver(&self, driver: BoxFuture<()>) -> io::Result<Option<Arc<dyn InlineDriver>>> {
        self.spawn(driver).map(|()| None)
    }
    /// Every address of `host`, resolved now (so DNS changes are seen on each attempt).
    fn resolve(&self, host: &HostAddr) -> BoxFuture<io::Result<Vec<SocketAddr>>>;
    /// Opens a transport to `addr`; `server_name` is the host as written in the connect string
    /// (for TLS name checks).
    fn connect(
        &self,
        addr: SocketAddr,
        server_name: &str,
    ) -> BoxFuture<io::Result<Self::Transport>>;

    /// Makes every later connection use TLS with `options`.
    #[cfg(feature = "tls")]
    fn enable_tls(&mut self, options: crate::tls::TlsOptions) -> Result<(), crate::tls::TlsError> {
        let _ = options;
        Err(crate::tls::TlsError(
            "this runtime adapter was built without TLS".into(),
        ))
    }
}

/// A session driver polled by the tasks that wait for its replies rather than run as a task of
/// its own (see [`Runtime::start_driver`]): what the handles tell it.
///
/// A call's reply, or a watch awaited for its event, while pending, identifies its task with a
/// token from [`InlineDriver::new_token`] and calls [`InlineDriver::wait`] on every poll, which
/// polls the driver on that task's thread when it has work and routes the driver's later
/// wake-ups to the task; [`InlineDriver::resign`] ends that when the reply or event has come or
/// the call or watch is dropped.
pub trait InlineDriver: Send + Sync + std::fmt::Debug + 'static {
    /// A token, never 0, identifying one waiting call.
    fn new_token(&self) -> u64;
    /// The waiter `token` waits for a reply or event that has not arrived and its task is about
    /// to sleep: poll the driver now if it has work (writing what was submitted), and route its
    /// next wake-up to `waker`.
    fn wait(&self, token: u64, waker: &Waker);
    /// As [`InlineDriver::wait`], for a waiter on a watch event: events may be rare, so the
    /// driver need not keep watching long for this waiter to stop polling.
    fn wait_for_event(&self, token: u64, waker: &Waker) {
        self.wait(token, waker);
    }
    /// The waiter `token` waits no more (its reply or event came, or it was dropped).
    fn resign(&self, token: u64);
    /// A request was submitted: it goes out with the next poll of the driver, so that requests
    /// submitted together share a write.
    fn submitted(&self);
    /// A caller blocks, or drops a call: what was submitted goes out now.
    fn flush(&self);
    /// New work that no source signals (a dropped watch, a close): poll the driver now.
    fn kick(&self);
}

/// Opens a transport to the first address of `host` that accepts (see [`Attempt`]), and says
/// which address that was. The session's connect timer bounds the whole attempt.
pub(crate) async fn open<R: Runtime>(
    runtime: R,
    host: HostAddr,
) -> io::Result<(R::Transport, SocketAddr)> {
    let mut attempt = Attempt::new(&host, runtime.resolve(&host).await);
    while let Some(addr) = attempt.next_address() {
        match runtime.connect(addr, &host.host).await {
            Ok(transport) => return Ok((transport, addr)),
            Err(e) => attempt.failed(e),
        }
    }
    Err(attempt.into_error())
}

/// How long each step of a read-only probe may take: opening the connection, then the
/// `isro` exchange. A host that accepts and never answers is given up after twice this.
pub const PROBE_STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// Asks `host` whether it serves reads and writes (the four-letter word `isro`), within
/// [`PROBE_STEP_TIMEOUT`] per step; no answer in time is [`Answer::Unknown`].
pub(crate) async fn ask_server<R: Runtime>(runtime: R, host: HostAddr) -> Answer {
    let opened = with_timeout(&runtime, PROBE_STEP_TIMEOUT, open(runtime.clone(), host)).await;
    let Some(Ok((mut transport, _))) = opened else {
        return Answer::Unknown;
    };
    let exchange = async move {
        let request = zk_session::probe::REQUEST;
        let mut sent = 0;
        while sent < request.len() {
            match std::future::poll_fn(|cx| transport.poll_write(cx, &request[sent..])).await {
                Ok(0) | Err(_) => return Answer::Unknown,
                Ok(n) => sent += n,
            }
        }
        if std::future::poll_fn(|cx| transport.poll_flush(cx))
            .await
            .is_err()
        {
            return Answer::Unknown;
        }
        let mut answer = [0u8; zk_session::probe::ANSWER_LEN];
        let mut got = 0;
        while got < answer.len() {
            match std::future::poll_fn(|cx| transport.poll_read(cx, &mut answer[got..])).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got += n,
            }
        }
        Answer::parse(&answer[..got])
    };
    with_timeout(&runtime, PROBE_STEP_TIMEOUT, exchange)
        .await
        .unwrap_or(Answer::Unknown)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A runtime whose clock moves 100 ms each time it is read, and whose hosts accept a
    /// connection that never answers (or that never opens, with `silent_connect`).
    #[derive(Clone)]
    struct Mute {
        clock: Arc<Mutex<Instant>>,
        silent_connect: bool,
    }

    impl Mute {
        fn new(silent_connect: bool) -> Mute {
            Mute {
                clock: Arc::new(Mutex::new(Instant::now())),
                silent_connect,
            }
        }
    }

    /// A transport that accepts every write and never has anything to read.
    struct Silent;

    impl Transport for Silent {
        fn poll_read(&mut self, _: &mut Context<'_>, _: &mut [u8]) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
        fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl Runtime for Mute {
        type Transport = Silent;
        type Sleep = BoxFuture<()>;

        fn now(&self) -> Instant {
            let mut clock = self.clock.lock().unwrap();
            *clock += Duration::from_millis(100);
            *clock
        }

        fn sleep_until(&self, deadline: Instant) -> BoxFuture<()> {
            let runtime = self.clone();
            Box::pin(std::future::poll_fn(move |cx| {
                if runtime.now() >= deadline {
                    return Poll::Ready(());
                }
                cx.waker().wake_by_ref();
                Poll::Pending
            }))
        }

        fn resolve(&self, _: &HostAddr) -> BoxFuture<io::Result<Vec<SocketAddr>>> {
            Box::pin(async { Ok(vec![SocketAddr::from(([127, 0, 0, 1], 2181))]) })
        }

        fn connect(&self, _: SocketAddr, _: &str) -> BoxFuture<io::Result<Silent>> {
            if self.silent_connect {
                Box::pin(std::future::pending())
            } else {
                Box::pin(async { Ok(Silent) })
            }
        }
    }

    #[test]
    fn a_probe_of_a_host_that_never_answers_gives_up() {
        let host = HostAddr {
            host: "127.0.0.1".into(),
            port: 2181,
        };
        for silent_connect in [true, false] {
            let runtime = Mute::new(silent_connect);
            let started = *runtime.clock.lock().unwrap();
            let asked = ask_server(runtime.clone(), host.clone());
            let answer = crate::block_on::block_on(asked, Some(Duration::from_secs(10)));
            assert_eq!(
                answer,
                Some(Answer::Unknown),
                "silent connect: {silent_connect}"
            );
            let took = *runtime.clock.lock().unwrap() - started;
            assert!(
                took <= PROBE_STEP_TIMEOUT * 2 + Duration::from_secs(1),
                "the probe took {took:?} of the runtime's time"
            );
        }
    }
}
