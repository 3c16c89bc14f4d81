//! [`Adapter`]: what differs between the adapters under test — how a future is run to
//! completion, how a client is connected, how to sleep, spawn and wait with a bound — and its
//! four implementations: [`TokioAdapter`], [`AsyncStdAdapter`], [`SmolAdapter`] and
//! [`BlockingAdapter`].

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use zk_client::adapter::Launch;
use zk_client::api::sasl::SaslMechanism;
use zk_client::proto::SessionId;
use zk_client::{
    ClientBuilder, ConnectError, SessionState, StateWatcher, Timeout, Watch, WatchEvent,
    WatchStream,
};

use super::api::Api;

/// How long a blocking call may wait for its reply before it fails with `RequestTimeout`
/// (so a hung call fails its scenario instead of hanging the suite).
pub const BLOCKING_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Options for a new client: every option the scenarios need, applied the same way to every
/// adapter (they all share `zk_client::ClientBuilder`).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// `host:port,...[/chroot]`.
    pub connect_string: String,
    /// Session timeout to ask for (default: the client's).
    pub session_timeout: Option<Duration>,
    /// Whether a read-only server may take the session.
    pub read_only: bool,
    /// A `digest` credential `(user, password)` presented on every connection.
    pub digest: Option<(String, String)>,
    /// A SASL mechanism run on every connection.
    pub sasl: Option<Arc<dyn SaslMechanism>>,
    /// Follow the ensemble's configuration.
    pub follow_ensemble: bool,
    /// Resume this session instead of creating one.
    pub resume: Option<(SessionId, Bytes)>,
    /// Fail calls made while disconnected at once instead of queueing them.
    pub fail_fast: bool,
    /// Capacity of watch streams and state observers (default: the client's).
    pub event_capacity: Option<usize>,
    /// How long `connect` waits for the first session (default: the session timeout, at least
    /// 4 s).
    pub connect_wait: Option<Duration>,
    /// Check at connect time that the chroot exists.
    pub check_chroot: bool,
    /// How long `close` waits for the server's reply (default: the client's).
    pub close_timeout: Option<Duration>,
    /// Seed for host shuffling and back-off jitter.
    pub seed: Option<u64>,
    /// Bound on one connection attempt, handshake included (default: the client's).
    pub connect_timeout: Option<Duration>,
    /// Default deadline of every call (default: none; the blocking adapter then uses
    /// [`BLOCKING_CALL_TIMEOUT`]).
    pub call_timeout: Option<Duration>,
    /// Delays between connection attempts (default: the client's).
    pub backoff: Option<zk_client::session::Backoff>,
    /// Bytes of events buffered `(per watch stream, per session)` before persistent watches
    /// report `Lagged` (default: the client's).
    pub event_buffer_bytes: Option<(usize, usize)>,
}

impl Connect {
    /// Default options for `connect_string`.
    pub fn new(connect_string: impl Into<String>) -> Connect {
        Connect {
            connect_string: connect_string.into(),
            ..Connect::default()
        }
    }

    /// Sets the session timeout.
    pub fn session_timeout(mut self, timeout: Duration) -> Connect {
        self.session_timeout = Some(timeout);
        self
    }

    /// Allows read-only servers.
    pub fn read_only(mut self, allowed: bool) -> Connect {
        self.read_only = allowed;
        self
    }

    /// Follows the ensemble's configuration (`ClientBuilder::follow_ensemble`).
    pub fn follow_ensemble(mut self) -> Connect {
        self.follow_ensemble = true;
        self
    }

    /// Authenticates every connection with SASL DIGEST-MD5.
    pub fn sasl_digest(self, user: &str, password: &str) -> Connect {
        self.sasl(zk_client::api::sasl::DigestMd5::new(user, password))
    }

    /// Authenticates every connection with a SASL mechanism.
    pub fn sasl(mut self, mechanism: impl SaslMechanism + 'static) -> Connect {
        self.sasl = Some(Arc::new(mechanism));
        self
    }

    /// Adds a digest credential.
    pub fn digest(mut self, user: &str, password: &str) -> Connect {
        self.digest = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// Resumes a session.
    pub fn resume(mut self, id: SessionId, password: Bytes) -> Connect {
        self.resume = Some((id, password));
        self
    }

    /// Fails calls at once while disconnected.
    pub fn fail_fast(mut self, on: bool) -> Connect {
        self.fail_fast = on;
        self
    }

    /// Sets the event capacity.
    pub fn event_capacity(mut self, capacity: usize) -> Connect {
        self.event_capacity = Some(capacity);
        self
    }

    /// Sets how long `close` waits for the server's reply.
    pub fn close_timeout(mut self, timeout: Duration) -> Connect {
        self.close_timeout = Some(timeout);
        self
    }

    /// Has `connect` check that the chroot exists.
    pub fn check_chroot(mut self, on: bool) -> Connect {
        self.check_chroot = on;
        self
    }

    /// Sets how long `connect` waits.
    pub fn connect_wait(mut self, wait: Duration) -> Connect {
        self.connect_wait = Some(wait);
        self
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Connect {
        self.seed = Some(seed);
        self
    }

    /// Sets the bound on one connection attempt.
    pub fn connect_timeout(mut self, timeout: Duration) -> Connect {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets the default deadline of every call.
    pub fn call_timeout(mut self, timeout: Duration) -> Connect {
        self.call_timeout = Some(timeout);
        self
    }

    /// Sets the delays between connection attempts.
    pub fn backoff(mut self, backoff: zk_client::session::Backoff) -> Connect {
        self.backoff = Some(backoff);
        self
    }

    /// Sets the event buffer bounds, in bytes, per watch stream and per session.
    pub fn event_buffer_bytes(mut self, per_stream: usize, per_session: usize) -> Connect {
        self.event_buffer_bytes = Some((per_stream, per_session));
        self
    }

    /// A builder on `runtime` with these options.
    pub fn builder<R: Launch>(&self, runtime: R) -> ClientBuilder<R> {
        let mut builder = ClientBuilder::new(&self.connect_string, runtime)
            .read_only(self.read_only)
            .fail_fast(self.fail_fast);
        if let Some(timeout) = self.session_timeout {
            builder = builder.session_timeout(timeout);
        }
        if let Some((user, password)) = &self.digest {
            builder = builder.digest(user, password);
        }
        if self.follow_ensemble {
            builder = builder.follow_ensemble(true);
        }
        if let Some(mechanism) = &self.sasl {
            builder = builder.sasl(mechanism.clone());
        }
        if let Some((id, password)) = &self.resume {
            builder = builder.resume(*id, password.clone());
        }
        if let Some(capacity) = self.event_capacity {
            builder = builder.event_capacity(capacity);
        }
        if let Some(wait) = self.connect_wait {
            builder = builder.connect_wait(wait);
        }
        if self.check_chroot {
            builder = builder.check_chroot(true);
        }
        if let Some(timeout) = self.close_timeout {
            builder = builder.close_timeout(timeout);
        }
        if let Some(seed) = self.seed {
            builder = builder.seed(seed);
        }
        if let Some(timeout) = self.connect_timeout {
            builder = builder.connect_timeout(timeout);
        }
        if let Some(timeout) = self.call_timeout {
            builder = builder.call_timeout(timeout);
        }
        if let Some(backoff) = self.backoff {
            builder = builder.backoff(backoff);
        }
        if let Some((per_stream, per_session)) = self.event_buffer_bytes {
            builder = builder.event_buffer_bytes(per_stream, per_session);
        }
        builder
    }
}

/// One adapter under test: the executor its futures run on and how its clients are made.
///
/// Waiting for watches and state changes goes through the adapter so that each adapter is
/// exercised the way its users wait: the async adapters await the shared handles, the blocking
/// adapter calls their blocking methods (`Watch::wait`, `WatchStream::recv_timeout`,
/// `StateWatcher::recv_timeout`).
pub trait Adapter: Sized + Send + Sync + 'static {
    /// The adapter's name in failure messages: `tokio`, `async-std`, `smol`, `blocking`.
    const NAME: &'static str;
    /// The client type under test.
    type Client: Api + zk_recipes::Zk;

    /// Runs `fut` to completion on this adapter's executor (from a plain test thread).
    fn block_on<F: Future>(fut: F) -> F::Output;

    /// Connects a client and waits for its first session.
    fn connect(
        options: &Connect,
    ) -> impl Future<Output = Result<Self::Client, ConnectError>> + Send;

    /// Starts a client without waiting for a server.
    fn start(options: &Connect) -> Result<Self::Client, ConnectError>;

    /// A future ready after `duration`.
    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send;

    /// Runs `fut` for at most `limit`: `None` when the limit passed first.
    fn timeout<F: Future>(limit: Duration, fut: F) -> impl Future<Output = Option<F::Output>> {
        race(fut, Self::sleep(limit))
    }

    /// Runs `fut` concurrently with the caller (a task, or a thread for the blocking adapter).
    fn spawn<F>(fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Waits at most `within` for a one-shot watch to fire (`None`: it did not).
    fn wait_watch(watch: &mut Watch, within: Duration) -> impl Future<Output = Option<WatchEvent>> {
        Self::timeout(within, watch)
    }

    /// Waits at most `within` for the next event of a watch stream: `Ok(None)` when the stream
    /// ended, `Err(Timeout)` when nothing came.
    fn next_event(
        stream: &mut WatchStream,
        within: Duration,
    ) -> impl Future<Output = Result<Option<WatchEvent>, Timeout>> {
        async move { Self::timeout(within, stream.next()).await.ok_or(Timeout) }
    }

    /// Waits at most `within` for the next state change: `Ok(None)` after the terminal state
    /// was reported, `Err(Timeout)` when nothing came.
    fn next_state(
        states: &mut StateWatcher,
        within: Duration,
    ) -> impl Future<Output = Result<Option<SessionState>, Timeout>> {
        async move { Self::timeout(within, states.changed()).await.ok_or(Timeout) }
    }
}

/// Polls `fut` and `timer` together: `Some(output)` if `fut` finished first.
pub async fn race<F: Future, T: Future>(fut: F, timer: T) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut timer = pin!(timer);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(None);
        }
        Poll::Pending
    })
    .await
}

/// The result of a spawned future; await it. Panics (failing the scenario) if the spawned
/// future panicked.
#[derive(Debug)]
pub struct Task<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

#[derive(Debug)]
struct Slot<T> {
    value: Option<T>,
    finished: bool,
    waker: Option<Waker>,
}

/// The spawned side of a [`Task`]: marks it finished when dropped, with or without a value.
struct Completer<T> {
    slot: Arc<Mutex<Slot<T>>>,
}

impl<T> Completer<T> {
    fn complete(self, value: T) {
        self.slot.lock().unwrap_or_else(|e| e.into_inner()).value = Some(value);
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        let waker = {
            let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
            slot.finished = true;
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Task<T> {
    /// Wraps `fut` so that its output completes the returned task; the wrapped future is what
    /// an adapter spawns.
    pub fn wrap<F>(fut: F) -> (impl Future<Output = ()> + Send + 'static, Task<T>)
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let slot = Arc::new(Mutex::new(Slot {
            value: None,
            finished: false,
            waker: None,
        }));
        let completer = Completer { slot: slot.clone() };
        let run = async move {
            let value = fut.await;
            completer.complete(value);
        };
        (run, Task { slot })
    }
}

impl<T> Future for Task<T> {
    type Output = T;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(value) = slot.value.take() {
            return Poll::Ready(value);
        }
        if slot.finished {
            panic!("a spawned task ended without a result (it panicked; see above)");
        }
        slot.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// `zk-tokio` on a multi-threaded tokio runtime (two workers), one runtime per test.
#[derive(Debug)]
pub struct TokioAdapter;

impl Adapter for TokioAdapter {
    const NAME: &'static str = "tokio";
    type Client = zk_tokio::Client;

    fn block_on<F: Future>(fut: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("build a tokio runtime");
        let out = runtime.block_on(fut);
        runtime.shutdown_timeout(Duration::from_secs(5));
        out
    }

    fn connect(options: &Connect) -> impl Future<Output = Result<Self::Client, ConnectError>> {
        options.builder(zk_tokio::Tokio::default()).connect()
    }

    fn start(options: &Connect) -> Result<Self::Client, ConnectError> {
        options.builder(zk_tokio::Tokio::default()).start()
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(duration)
    }

    fn spawn<F>(fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (run, task) = Task::wrap(fut);
        tokio::spawn(run);
        task
    }
}

/// `zk-async-std` under async-std (`async_std::task::block_on`, `async_std::task::spawn`).
#[derive(Debug)]
pub struct AsyncStdAdapter;

impl Adapter for AsyncStdAdapter {
    const NAME: &'static str = "async-std";
    type Client = zk_async_std::Client;

    fn block_on<F: Future>(fut: F) -> F::Output {
        async_std::task::block_on(fut)
    }

    fn connect(options: &Connect) -> impl Future<Output = Result<Self::Client, ConnectError>> {
        options.builder(zk_async_std::AsyncIo::default()).connect()
    }

    fn start(options: &Connect) -> Result<Self::Client, ConnectError> {
        options.builder(zk_async_std::AsyncIo::default()).start()
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + Send {
        async_std::task::sleep(duration)
    }

    fn spawn<F>(fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (run, task) = Task::wrap(fut);
        async_std::task::spawn(run);
        task
    }
}

/// `zk-async-std` under smol (`smol::block_on`, `smol::spawn`, `smol::Timer`).
#[derive(Debug)]
pub struct SmolAdapter;

impl Adapter for SmolAdapter {
    const NAME: &'static str = "smol";
    type Client = zk_async_std::Client;

    fn block_on<F: Future>(fut: F) -> F::Output {
        smol::block_on(fut)
    }

    fn connect(options: &Connect) -> impl Future<Output = Result<Self::Client, ConnectError>> {
        options.builder(zk_async_std::AsyncIo::default()).connect()
    }

    fn start(options: &Connect) -> Result<Self::Client, ConnectError> {
        options.builder(zk_async_std::AsyncIo::default()).start()
    }

    async fn sleep(duration: Duration) {
        smol::Timer::after(duration).await;
    }

    fn spawn<F>(fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (run, task) = Task::wrap(fut);
        smol::spawn(run).detach();
        task
    }
}

/// `zk-blocking`: calls block the test thread; spawned work runs on threads; waits use the
/// blocking methods of the watch and state handles.
#[derive(Debug)]
pub struct BlockingAdapter;

impl Adapter for BlockingAdapter {
    const NAME: &'static str = "blocking";
    type Client = zk_blocking::Client;

    fn block_on<F: Future>(fut: F) -> F::Output {
        // The scenario's futures are completed by blocking calls, by other threads (spawned
        // work) or by the client's I/O thread: parking until woken is all it takes.
        zk_client::adapter::block_on(fut, None)
            .expect("block_on without a timeout always completes")
    }

    fn connect(options: &Connect) -> impl Future<Output = Result<Self::Client, ConnectError>> {
        let outcome = options
            .builder(zk_blocking::Blocking)
            .connect()
            .map(|client| bounded_blocking_calls(options, client));
        std::future::ready(outcome)
    }

    fn start(options: &Connect) -> Result<Self::Client, ConnectError> {
        options
            .builder(zk_blocking::Blocking)
            .start()
            .map(|client| bounded_blocking_calls(options, client))
    }

    async fn sleep(duration: Duration) {
        std::thread::sleep(duration)
    }

    async fn timeout<F: Future>(limit: Duration, fut: F) -> Option<F::Output> {
        zk_client::adapter::block_on(fut, Some(limit))
    }

    fn spawn<F>(fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (run, task) = Task::wrap(fut);
        std::thread::spawn(move || zk_client::adapter::block_on(run, None));
        task
    }

    fn wait_watch(watch: &mut Watch, within: Duration) -> impl Future<Output = Option<WatchEvent>> {
        std::future::ready(watch.wait(Some(within)))
    }

    fn next_event(
        stream: &mut WatchStream,
        within: Duration,
    ) -> impl Future<Output = Result<Option<WatchEvent>, Timeout>> {
        std::future::ready(stream.recv_timeout(Some(within)))
    }

    fn next_state(
        states: &mut StateWatcher,
        within: Duration,
    ) -> impl Future<Output = Result<Option<SessionState>, Timeout>> {
        std::future::ready(states.recv_timeout(Some(within)))
    }
}

/// A blocking client whose calls cannot hang the suite: the call timeout the options give (set
/// by the builder, kept as it is), or else [`BLOCKING_CALL_TIMEOUT`].
fn bounded_blocking_calls(options: &Connect, client: zk_blocking::Client) -> zk_blocking::Client {
    if options.call_timeout.is_some() {
        client
    } else {
        client.with_call_timeout(Some(BLOCKING_CALL_TIMEOUT))
    }
}
