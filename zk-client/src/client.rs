//! The async client handle and its builder.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use zk_session::ops::Operation;
use zk_session::proto::SessionId;
use zk_session::{
    CommonError, Config, ConfigError, DisconnectReason, HostAddr, HostFailure, Session,
    SessionState,
};

use crate::call::Pending;
use crate::driver::Driver;
use crate::runtime::Runtime;
use crate::shared::{Clock, EventLimits, Shared};
use crate::state::StateWatcher;
use crate::watch::WatchParts;

/// Why a client could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The configuration is invalid.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// No server accepted the session in time; the attempt was abandoned. The message lists
    /// why the last connection to each host tried failed (`127.0.0.1:2181: connection refused;
    /// ...`).
    #[error("no server accepted the session within {waited:?}{}", failure_list(.failures))]
    Timeout {
        /// How long the client waited.
        waited: Duration,
        /// Why the last connection to each host tried failed, in the order first tried.
        failures: Vec<HostFailure>,
    },
    /// TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// The client could not start: no thread for its I/O, or (zk-tokio) no runtime to run it on.
    #[error("the client could not start: {0}")]
    Start(String),
    /// The session ended before it was established (an expired resume).
    #[error("the session ended while connecting: {0:?}")]
    Ended(SessionState),
    /// A credential or SASL authentication was refused while connecting: the session is over
    /// ([`SessionState::AuthFailed`]); the end names the scheme or the mechanism, and why.
    #[error("authentication failed while connecting: {0}")]
    AuthFailed(zk_session::SessionEnd),
    /// With [`ClientBuilder::check_chroot`]: the chroot does not exist on the server (`error`
    /// `None`), or checking it failed.
    #[error("chroot {chroot}: {}", chroot_problem(.error))]
    Chroot {
        /// The chroot, as given in the connect string.
        chroot: String,
        /// Why it could not be checked; `None` when the server said it does not exist.
        error: Option<crate::ops::ExistsError>,
    },
}

/// What went wrong with the chroot, for [`ConnectError::Chroot`].
fn chroot_problem(error: &Option<crate::ops::ExistsError>) -> String {
    match error {
        None => "no such node on the server (create it, or connect without the chroot)".into(),
        Some(e) => format!("could not check that it exists: {e}"),
    }
}

/// The outcome of the chroot check (`exists("/")` under the chroot): the chroot exists, or
/// [`ConnectError::Chroot`] naming it, and the session is closed.
pub fn check_chroot(
    exists: Result<Option<zk_session::proto::Stat>, crate::ops::OpError<crate::ops::ExistsError>>,
    shared: &Shared,
) -> Result<(), ConnectError> {
    let error = match exists {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => None,
        Err(e) => Some(e.into_kind()),
    };
    shared.close_in_background();
    Err(ConnectError::Chroot {
        chroot: shared.read_session(|s| s.chroot().as_str().to_owned()),
        error,
    })
}

/// `: host: cause; host: cause` for a connect error, or nothing when no attempt has ended.
fn failure_list(failures: &[HostFailure]) -> String {
    let mut text = String::new();
    for (i, failure) in failures.iter().enumerate() {
        text.push_str(if i == 0 { ": " } else { "; " });
        text.push_str(&failure.to_string());
    }
    text
}

/// Closes the session when the last client handle is dropped.
#[derive(Debug)]
pub(crate) struct CloseOnDrop {
    shared: Arc<Shared>,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.shared.close_in_background();
    }
}

/// A ZooKeeper client: a cheap, clonable handle to one session, usable from any task.
///
/// * Every method submits its request when it is called, not when its future is first polled,
///   so call order is wire order. The futures are `'static + Send`; dropping one never disturbs
///   the session (the request still completes; its result is discarded).
/// * Every accepted request completes exactly once. After a connection loss, requests in flight
///   fail with [`CommonError::ConnectionLoss`] and are not re-sent; requests made while
///   disconnected wait for the next connection.
/// * Dropping the last handle closes the session in the background; after [`Client::close`]
///   every call fails at once.
///
/// `R` names the runtime the client was built for; the handle itself needs nothing from it.
pub struct Client<R> {
    pub(crate) shared: Arc<Shared>,
    pub(crate) closer: Arc<CloseOnDrop>,
    /// The deadline of each call made through this handle, counted from the call.
    pub(crate) call_timeout: Option<Duration>,
    pub(crate) runtime: PhantomData<fn() -> R>,
}

impl<R> Clone for Client<R> {
    fn clone(&self) -> Self {
        Client {
            shared: self.shared.clone(),
            closer: self.closer.clone(),
            call_timeout: self.call_timeout,
            runtime: PhantomData,
        }
    }
}

impl<R> std::fmt::Debug for Client<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (id, state) = (
            self.shared.read_session(|s| s.session_id()),
            self.shared.state(),
        );
        f.debug_struct("Client")
            .field("session_id", &id)
            .field("state", &state)
            .finish()
    }
}

/// Options for a new client; finish with [`ClientBuilder::connect`] (or
/// [`ClientBuilder::start`], which does not wait for a server).
#[derive(Debug)]
pub struct ClientBuilder<R> {
    config: Result<Config, ConfigError>,
    runtime: R,
    events: EventLimits,
    connect_wait: Option<Duration>,
    check_chroot: bool,
    follow_ensemble: bool,
    #[cfg(feature = "tls")]
    tls_error: Option<crate::tls::TlsError>,
}

impl<R: Launch> ClientBuilder<R> {
    /// A builder for the servers and chroot of `connect_string` (`h1:p1,h2:p2/chroot`).
    pub fn new(connect_string: &str, runtime: R) -> ClientBuilder<R> {
        ClientBuilder {
            config: Config::new(connect_string),
            runtime,
            events: EventLimits::default(),
            connect_wait: None,
            check_chroot: false,
            follow_ensemble: false,
            #[cfg(feature = "tls")]
            tls_error: None,
        }
    }

    fn config(mut self, f: impl FnOnce(&mut Config)) -> Self {
        if let Ok(c) = self.config.as_mut() {
            f(c);
        }
        self
    }

    /// The runtime the client will run on (adapters set their options, such as TLS, here).
    pub fn runtime_mut(&mut self) -> &mut R {
        &mut self.runtime
    }

    /// The session timeout to ask for (default 30 s; the server clamps it).
    pub fn session_timeout(self, timeout: Duration) -> Self {
        self.config(|c| c.session_timeout = timeout)
    }

    /// Bound on each connection attempt, TCP and handshake (default: session timeout divided by
    /// the number of hosts).
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.config(|c| c.connect_timeout = Some(timeout))
    }

    /// Let a read-only server (cut off from its quorum) take the session.
    pub fn read_only(self, allowed: bool) -> Self {
        self.config(|c| c.read_only_allowed = allowed)
    }

    /// A credential presented on every connection before anything else.
    pub fn auth(self, scheme: impl Into<String>, auth: impl Into<Bytes>) -> Self {
        let (scheme, auth) = (scheme.into(), auth.into());
        self.config(|c| c.auth.push((scheme, auth)))
    }

    /// A `digest` credential `user:password`.
    pub fn digest(self, user: &str, password: &str) -> Self {
        self.auth("digest", Bytes::from(format!("{user}:{password}")))
    }

    /// Follow the ensemble's configuration (dynamic reconfiguration, 3.5+): a task reads the
    /// config node with a watch and, when the ensemble changes, gives the session the new
    /// members, as [`Client::update_hosts`] does (the session moves only as much as spreading
    /// clients over the new ensemble needs, and keeps its id). Off by default.
    pub fn follow_ensemble(mut self, on: bool) -> Self {
        self.follow_ensemble = on;
        self
    }

    /// Authenticate every connection with SASL, right after its handshake and before anything
    /// else: [`crate::sasl::DigestMd5`], or a mechanism of your own ([`crate::sasl`]). A
    /// refusal ends the session with [`SessionState::AuthFailed`]; the session's end
    /// ([`Client::end_reason`]) names the mechanism and the reason.
    pub fn sasl(self, mechanism: impl zk_session::sasl::SaslMechanism + 'static) -> Self {
        let mechanism: std::sync::Arc<dyn zk_session::sasl::SaslMechanism> =
            std::sync::Arc::new(mechanism);
        self.config(|c| c.sasl = Some(mechanism))
    }

    /// Resume an existing session instead of creating one.
    pub fn resume(self, session_id: SessionId, password: impl Into<Bytes>) -> Self {
        let password = password.into();
        self.config(|c| c.resume = Some((session_id, password)))
    }

    /// Largest frame accepted or sent (default 0xfffff, the server's default).
    pub fn max_frame_len(self, len: usize) -> Self {
        self.config(|c| c.max_frame_len = len)
    }

    /// Bound on requests outstanding (default 1024).
    pub fn max_in_flight(self, max: usize) -> Self {
        self.config(|c| c.max_in_flight = max)
    }

    /// Declare the session expired after 4/3 of the timeout without hearing from any server
    /// (default on).
    pub fn client_side_expiry(self, on: bool) -> Self {
        self.config(|c| c.client_side_expiry = on)
    }

    /// Fail calls made while disconnected at once instead of queueing them for the next
    /// connection (default: queue).
    pub fn fail_fast(self, on: bool) -> Self {
        self.config(|c| c.queue_while_disconnected = !on)
    }

    /// How long a call made while disconnected may wait for a connection before it fails with
    /// connection loss (default: the session timeout).
    pub fn queue_timeout(self, timeout: Duration) -> Self {
        self.config(|c| c.queue_timeout = Some(timeout))
    }

    /// A deadline for every call, counted from the call (default: none, as in Java). A call
    /// not completed by then fails with [`CommonError::RequestTimeout`]: a request already sent
    /// may still be applied; one still waiting for a connection is never sent. The connection
    /// is kept, unless that reply has not come a read timeout after the deadline (the server is
    /// then taken for stuck). [`Client::with_call_timeout`] changes it for one handle.
    pub fn call_timeout(self, timeout: Duration) -> Self {
        self.config(|c| c.call_timeout = Some(timeout))
    }

    /// Delays between connection attempts (default: up to 1 s of jitter, plus 1 s after each
    /// pass over the hosts without a connection that lasted; see [`zk_session::Backoff`]).
    pub fn backoff(self, backoff: zk_session::Backoff) -> Self {
        self.config(|c| c.backoff = backoff)
    }

    /// First and largest delay between read-write server probes while connected read-only
    /// (default 100 ms doubling to 60 s).
    pub fn read_only_probe(self, first: Duration, max: Duration) -> Self {
        self.config(|c| c.read_only_probe = (first, max))
    }

    /// How long `close` waits for the server (default 2 s).
    pub fn close_timeout(self, timeout: Duration) -> Self {
        self.config(|c| c.close_timeout = timeout)
    }

    /// Seed for host shuffling and back-off jitter.
    pub fn seed(self, seed: u64) -> Self {
        self.config(|c| c.seed = seed)
    }

    /// Events a watch stream or state observer buffers before dropping new ones (default 1024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.events.capacity = capacity;
        self
    }

    /// Bytes of events (paths included) that one watch stream, and all the session's watch
    /// streams together, buffer for consumers that have not read them, before dropping new
    /// ones (reported as [`crate::WatchEvent::Lagged`]). Defaults: 1 MiB per stream and 4 MiB
    /// per session. An event larger than the limits is still delivered when nothing else is
    /// buffered.
    pub fn event_buffer_bytes(mut self, per_stream: usize, per_session: usize) -> Self {
        self.events.stream_bytes = per_stream;
        self.events.session_bytes = per_session;
        self
    }

    /// How long [`ClientBuilder::connect`] waits for the first session (default: the session
    /// timeout, but at least the 4 s a server grants at least, whatever was requested).
    pub fn connect_wait(mut self, wait: Duration) -> Self {
        self.connect_wait = Some(wait);
        self
    }

    /// Has [`ClientBuilder::connect`] check that the connect string's chroot exists once a
    /// server accepts the session, failing with [`ConnectError::Chroot`] naming it if not
    /// (default: off, as in Java, where calls then fail with NoNode).
    pub fn check_chroot(mut self, on: bool) -> Self {
        self.check_chroot = on;
        self
    }

    /// Connects with TLS (to the servers' `secureClientPort`).
    #[cfg(feature = "tls")]
    pub fn tls(mut self, options: crate::tls::TlsOptions) -> Self {
        if let Err(e) = self.runtime.enable_tls(options) {
            self.tls_error = Some(e);
        }
        self
    }

    /// Adjusts any session option directly.
    pub fn with_config(self, f: impl FnOnce(&mut Config)) -> Self {
        self.config(f)
    }

    /// Takes the builder apart, checking the options.
    fn into_parts(self) -> Result<BuilderParts<R>, ConnectError> {
        #[cfg(feature = "tls")]
        if let Some(e) = self.tls_error {
            return Err(ConnectError::Tls(e.0));
        }
        let config = self.config?;
        config.validate()?;
        Ok(BuilderParts {
            connect_wait: self.connect_wait.unwrap_or(
                config
                    .session_timeout
                    .max(zk_session::config::SERVER_MIN_SESSION_TIMEOUT),
            ),
            check_chroot: self.check_chroot && config.chroot.is_some(),
            follow_ensemble: self.follow_ensemble,
            config,
            events: self.events,
            runtime: self.runtime,
        })
    }

    /// Starts the session in the background and returns at once.
    pub fn start(self) -> Result<R::Client, ConnectError> {
        R::start(self.into_parts()?)
    }

    /// Starts the session and waits until a server accepts it (async adapters: a future;
    /// blocking adapter: a blocking call).
    pub fn connect(self) -> R::Connect {
        R::connect(self.into_parts())
    }
}

/// The task that follows the ensemble for `client` ([`ClientBuilder::follow_ensemble`]), for
/// [`Launch`] implementations to run when [`BuilderParts::follow_ensemble`] asks.
pub fn ensemble_follower<R: 'static>(client: &Client<R>) -> crate::runtime::BoxFuture<()> {
    client.ensemble_follower()
}

/// A checked builder, for [`Launch`] implementations: they make the client with
/// [`BuilderParts::into_client`], then start its I/O.
#[derive(Debug)]
pub struct BuilderParts<R> {
    /// The session's configuration.
    pub config: Config,
    /// Bounds on the events buffered for consumers.
    pub events: EventLimits,
    /// How long `connect` waits for the first session.
    pub connect_wait: Duration,
    /// Whether `connect` checks that the chroot exists (see [`check_chroot`]).
    pub check_chroot: bool,
    /// Whether the client follows the ensemble's configuration
    /// ([`ClientBuilder::follow_ensemble`]): the adapter starts [`ensemble_follower`].
    pub follow_ensemble: bool,
    /// The runtime (or marker) the client is built for.
    pub runtime: R,
}

impl<R> BuilderParts<R> {
    /// The session these options describe, in a new shared core that reads the time from
    /// `clock`, and the first handle on it; also the runtime. Nothing runs the session yet: the
    /// adapter starts its I/O next.
    pub fn into_client(self, clock: Clock) -> Result<(Client<R>, R), ConnectError> {
        let session = Session::new(self.config, clock())?;
        let shared = Shared::new(session, clock, self.events);
        Ok((Client::from_shared(shared), self.runtime))
    }
}

/// How an adapter starts a session's driver and what its `connect` returns. Every async
/// [`Runtime`] gets this for free; the blocking adapter implements it with its I/O thread.
pub trait Launch: Sized {
    /// The handle `start` and `connect` give.
    type Client;
    /// What `connect` returns: a future for async adapters, a result for the blocking one.
    type Connect;

    /// Starts the driver and returns the handle at once.
    fn start(parts: BuilderParts<Self>) -> Result<Self::Client, ConnectError>;

    /// Starts the driver and waits for the first session.
    fn connect(parts: Result<BuilderParts<Self>, ConnectError>) -> Self::Connect;

    /// Makes every later connection use TLS.
    #[cfg(feature = "tls")]
    fn enable_tls(&mut self, options: crate::tls::TlsOptions) -> Result<(), crate::tls::TlsError>;
}

impl<R: Runtime> Launch for R {
    type Client = Client<R>;
    type Connect = crate::runtime::BoxFuture<Result<Client<R>, ConnectError>>;

    fn start(parts: BuilderParts<R>) -> Result<Client<R>, ConnectError> {
        let follow = parts.follow_ensemble;
        let clock_runtime = parts.runtime.clone();
        let (client, runtime) = parts.into_client(Arc::new(move || clock_runtime.now()))?;
        let shared = client.shared.clone();
        let driver = Box::pin(Driver::new(shared.clone(), runtime.clone()));
        let inline = runtime
            .start_driver(driver)
            .map_err(|e| ConnectError::Start(format!("cannot start the session's driver: {e}")))?;
        if let Some(inline) = inline {
            shared.set_inline_driver(inline);
        }
        if follow {
            runtime.spawn(client.ensemble_follower()).map_err(|e| {
                ConnectError::Start(format!("cannot start the ensemble follower: {e}"))
            })?;
        }
        Ok(client)
    }

    fn connect(parts: Result<BuilderParts<R>, ConnectError>) -> Self::Connect {
        Box::pin(async move {
            let parts = parts?;
            let wait = parts.connect_wait;
            let chroot_checked = parts.check_chroot;
            let runtime = parts.runtime.clone();
            let client = R::start(parts)?;
            let mut states = client.state_watcher();
            let connected = crate::timeout::with_timeout(
                &runtime,
                wait,
                states.wait_for(|s| s.is_connected() || s.is_terminal()),
            )
            .await;
            let client = client
                .connected_or_closed(connected.map(|s| s.unwrap_or(SessionState::Closed)), wait)?;
            if chroot_checked {
                check_chroot(client.exists("/").await, &client.shared)?;
            }
            Ok(client)
        })
    }

    #[cfg(feature = "tls")]
    fn enable_tls(&mut self, options: crate::tls::TlsOptions) -> Result<(), crate::tls::TlsError> {
        Runtime::enable_tls(self, options)
    }
}

impl<R: Launch + Default> Client<R> {
    /// Connects to `connect_string` (`h1:p1,h2:p2/chroot`) with default options and waits until
    /// a server accepts the session.
    pub fn connect(connect_string: &str) -> R::Connect {
        ClientBuilder::new(connect_string, R::default()).connect()
    }

    /// Starts building a client for `connect_string`.
    pub fn builder(connect_string: &str) -> ClientBuilder<R> {
        ClientBuilder::new(connect_string, R::default())
    }
}

impl<R: Launch> Client<R> {
    /// Starts building a client for `connect_string` on a configured `runtime`.
    pub fn builder_on(connect_string: &str, runtime: R) -> ClientBuilder<R> {
        ClientBuilder::new(connect_string, runtime)
    }
}

impl<R> Client<R> {
    /// The first handle on a new core.
    fn from_shared(shared: Arc<Shared>) -> Client<R> {
        Client {
            closer: Arc::new(CloseOnDrop {
                shared: shared.clone(),
            }),
            call_timeout: shared.read_session(|s| s.config().call_timeout),
            shared,
            runtime: PhantomData,
        }
    }

    /// A handle on the same session whose calls have `timeout` as their deadline (`None`: no
    /// deadline), whatever the builder said. A call past it fails with
    /// [`CommonError::RequestTimeout`]; its request may still be applied.
    pub fn with_call_timeout(&self, timeout: Option<Duration>) -> Client<R> {
        Client {
            call_timeout: timeout,
            ..self.clone()
        }
    }

    /// The deadline of the calls made through this handle.
    pub fn call_timeout(&self) -> Option<Duration> {
        self.call_timeout
    }

    /// The outcome of waiting for the first session, as every adapter's `connect` reports it:
    /// `state` is the state reached, `None` when the wait timed out (the session is then
    /// closed).
    pub fn connected_or_closed(
        self,
        state: Option<SessionState>,
        waited: Duration,
    ) -> Result<Client<R>, ConnectError> {
        match state {
            Some(s) if s.is_connected() => Ok(self),
            Some(_) => match self.end_reason() {
                Some(
                    end @ (zk_session::SessionEnd::AuthFailed { .. }
                    | zk_session::SessionEnd::SaslFailed { .. }),
                ) => Err(ConnectError::AuthFailed(end)),
                _ => Err(ConnectError::Ended(self.state())),
            },
            None => {
                let failures = self.shared.read_session(|s| s.connect_report());
                self.shared.close_in_background();
                Err(ConnectError::Timeout { waited, failures })
            }
        }
    }

    /// Submits `op` now; the returned call resolves with its typed result.
    ///
    /// Operations that set a watch have their own methods (`get_data_and_watch`, `add_watch`,
    /// ...), which hand out the watch: submitted here, an operation's watch flag sets a server
    /// watch whose events nobody receives.
    pub fn call<O: Operation>(&self, op: O) -> Pending<O> {
        let reply = self.shared.submit(&op, self.call_timeout);
        Pending::new(op, reply)
    }

    fn call_watching<O>(
        &self,
        op: O,
        one_shot: bool,
    ) -> impl Future<Output = Result<(O::Output, WatchParts), O::Error>> + Send + 'static
    where
        O: Operation + Send + 'static,
        O::Output: Send,
        O::Error: Send,
    {
        let submitted = self
            .shared
            .submit_watching(&op, one_shot, self.call_timeout);
        async move {
            let (reply, parts) = submitted.map_err(|e| op.fail(e))?;
            let raw = reply.await.unwrap_or(Err(CommonError::Closed));
            let output = op.complete(raw)?;
            Ok((output, parts))
        }
    }

    crate::for_each_operation!(async_operations, async_examples);

    /// Closes the session and waits until the server confirms (bounded by the close timeout).
    /// Returns the final state: `Closed`, or the terminal state the session had already met.
    pub fn close(&self) -> impl Future<Output = SessionState> + Send + 'static {
        let mut states = self.state_watcher();
        self.shared.close_in_background();
        async move {
            states.wait_for(|s| s.is_terminal()).await;
            states.current()
        }
    }

    /// The session's state now.
    pub fn state(&self) -> SessionState {
        self.shared.state()
    }

    /// Why the session ended, once it has: which expiry (declared by the server, another
    /// session granted, or client-side), which refused credential, or a close.
    pub fn end_reason(&self) -> Option<zk_session::SessionEnd> {
        self.shared.end_reason()
    }

    /// Why the session's most recent connection ended (a read timeout, the server closing
    /// it, a refused connection, a protocol violation...), if one has: what explains a
    /// `Disconnected` state. Kept until the next connection ends.
    pub fn last_disconnect(&self) -> Option<DisconnectReason> {
        self.shared.read_session(|s| s.last_disconnect().cloned())
    }

    /// What the client has done since it was created: connection attempts, connections,
    /// disconnects by reason, requests, replies, watch notifications, bytes, calls in flight,
    /// and watch events dropped by full streams.
    pub fn stats(&self) -> crate::Stats {
        self.shared.stats()
    }

    /// An observer of the session's state and its changes.
    pub fn state_watcher(&self) -> StateWatcher {
        StateWatcher::new(self.shared.clone())
    }

    /// The server the session is connected (or connecting) to.
    pub fn current_host(&self) -> Option<HostAddr> {
        self.shared.read_session(|s| s.current_host().cloned())
    }

    /// The session's id (0 before the first handshake).
    pub fn session_id(&self) -> SessionId {
        self.shared.read_session(|s| s.session_id())
    }

    /// The session's password, to resume it elsewhere with [`ClientBuilder::resume`].
    pub fn session_password(&self) -> Bytes {
        self.shared.read_session(|s| s.session_password().clone())
    }

    /// The negotiated session timeout, once connected.
    pub fn negotiated_timeout(&self) -> Option<Duration> {
        self.shared.read_session(|s| s.negotiated_timeout())
    }

    /// The servers the client connects to, in the order it tries them.
    pub fn hosts(&self) -> Vec<HostAddr> {
        self.shared.read_session(|s| s.hosts().to_vec())
    }

    /// Replaces the servers the client connects to (the ensemble changed: read its members
    /// with [`Client::get_config_and_watch`] and `zk_session::ensemble::EnsembleConfig`), as
    /// the Java client's `updateServerList` does: the session moves only as much as spreading
    /// clients over the new ensemble needs ([`zk_session::Session::update_hosts`]); moving drops
    /// the connection (calls in flight fail with ConnectionLoss) and keeps the session. Returns
    /// whether the session moves. A chroot in `connect_string` is ignored.
    pub fn update_hosts(&self, connect_string: &str) -> Result<bool, ConfigError> {
        let parsed = zk_session::ConnectString::parse(connect_string)?;
        self.shared.update_hosts(parsed.hosts)
    }

    /// How long ago a server last confirmed the session (a handshake, a reply, a ping's
    /// answer, a watch event). Past the negotiated timeout the servers may have expired it,
    /// even if the client has not noticed yet (after a pause of the process, say).
    pub fn unconfirmed_for(&self) -> Duration {
        let now = self.shared.now();
        self.shared.read_session(|s| s.unconfirmed_for(now))
    }
}

/// The shared core of `client`'s session (for adapters built on the async handle).
pub fn shared_core<R>(client: &Client<R>) -> &Arc<Shared> {
    &client.shared
}

/// Generates the async handle's operation methods from [`crate::for_each_operation`]: each
/// submits its request when called and returns its call ([`Pending`]), or a future that also
/// gives the watch it sets.
macro_rules! async_operations {
    (call [$($doc:tt)*] $name:ident [$($arg:ident: $ty:ty),*] $out:ty, $err:ty, $op:ty, $make:expr) => {
        $($doc)*
        pub fn $name(&self, $($arg: $ty),*) -> Pending<$op> {
            self.call($make)
        }
    };
    (watch [$($doc:tt)*] $name:ident [$($arg:ident: $ty:ty),*] $out:ty, $err:ty, $op:ty, $make:expr) => {
        $($doc)*
        pub fn $name(
            &self,
            $($arg: $ty),*
        ) -> impl Future<Output = Result<$out, $err>> + Send + 'static {
            let call = self.call_watching($make, true);
            async move { call.await.map(|(out, parts)| (out, parts.one_shot())) }
        }
    };
    (stream [$($doc:tt)*] $name:ident [$($arg:ident: $ty:ty),*] $out:ty, $err:ty, $op:ty, $make:expr) => {
        $($doc)*
        pub fn $name(
            &self,
            $($arg: $ty),*
        ) -> impl Future<Output = Result<$out, $err>> + Send + 'static {
            let call = self.call_watching($make, false);
            async move { call.await.map(|((), parts)| parts.stream()) }
        }
    };
}
use async_operations;
