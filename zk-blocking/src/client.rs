//! The blocking client: the shared handle's calls, each waited for on the calling thread.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use zk_client::adapter::{block_on, check_chroot, give_up, shared_core, BuilderParts, Launch};
use zk_client::proto::SessionId;
use zk_client::session::Operation;
use zk_client::{ConnectError, Pending, SessionState, StateWatcher};

use crate::io::{Connector, Io, IoThread};

/// The "runtime" of a client built for plain threads (see [`Client`]): how its connections are
/// opened. The value [`Blocking`](const@Blocking) (or `Blocking::default()`)
/// opens plain TCP connections; `ClientBuilder::tls` (feature `tls`) makes them TLS.
#[derive(Clone, Default)]
pub struct Blocking {
    connector: Connector,
}

/// The default [`Blocking`](struct@Blocking) runtime (plain TCP), usable as a value the way a
/// unit struct is: `ClientBuilder::new(connect_string, Blocking)`.
#[allow(non_upper_case_globals)]
pub const Blocking: Blocking = Blocking {
    connector: Connector::PLAIN,
};

impl std::fmt::Debug for Blocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Blocking");
        #[cfg(feature = "tls")]
        d.field("tls", &self.connector.tls.is_some());
        d.finish()
    }
}

/// Options for a [`Client`]: the same as the async adapters'.
pub type ClientBuilder = zk_client::ClientBuilder<Blocking>;

/// Writes the closeSession frame when the last handle is dropped (the I/O thread may be
/// blocked in a read).
struct FlushOnDrop {
    io: Arc<Io>,
}

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.io.flush();
    }
}

/// How much longer than its call timeout a blocking call waits before giving up on its own.
const CALL_TIMEOUT_BACKSTOP: Duration = Duration::from_millis(100);

/// A blocking ZooKeeper client: a cheap, clonable handle to one session, usable from any
/// thread (`Clone + Send + Sync`).
///
/// Calls block the calling thread until their reply; requests go on the wire in call order.
/// Dropping the last handle closes the session in the background.
#[derive(Clone)]
pub struct Client {
    // Declared before `flusher` so the session is closed before the final flush.
    inner: zk_client::Client<Blocking>,
    io: Arc<Io>,
    flusher: Arc<FlushOnDrop>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl Launch for Blocking {
    type Client = Client;
    type Connect = Result<Client, ConnectError>;

    fn start(parts: BuilderParts<Blocking>) -> Result<Client, ConnectError> {
        let follow = parts.follow_ensemble;
        let (inner, runtime) = parts.into_client(Arc::new(std::time::Instant::now))?;
        let io = Io::new(shared_core(&inner).clone());
        let thread = IoThread::new(io.clone(), runtime.connector);
        let writer = io.clone();
        std::thread::Builder::new()
            .name("zk-write".into())
            .spawn(move || writer.run_writer())
            .map_err(|e| ConnectError::Start(format!("cannot start the writer thread: {e}")))?;
        if let Err(e) = std::thread::Builder::new()
            .name("zk-session".into())
            .spawn(move || thread.run())
        {
            io.end_writer();
            return Err(ConnectError::Start(format!(
                "cannot start the I/O thread: {e}"
            )));
        }
        if follow {
            let follower = zk_client::adapter::ensemble_follower(&inner);
            std::thread::Builder::new()
                .name("zk-ensemble".into())
                .spawn(move || zk_client::adapter::block_on(follower, None))
                .map_err(|e| {
                    ConnectError::Start(format!("cannot start the ensemble follower: {e}"))
                })?;
        }
        Ok(Client {
            inner,
            flusher: Arc::new(FlushOnDrop { io: io.clone() }),
            io,
        })
    }

    fn connect(
        parts: Result<BuilderParts<Blocking>, ConnectError>,
    ) -> Result<Client, ConnectError> {
        let parts = parts?;
        let wait = parts.connect_wait;
        let chroot_checked = parts.check_chroot;
        let client = Blocking::start(parts)?;
        let mut states = client.state_watcher();
        let reached = block_on(
            states.wait_for(|s| s.is_connected() || s.is_terminal()),
            Some(wait),
        );
        let Client { inner, io, flusher } = client;
        let inner =
            inner.connected_or_closed(reached.map(|s| s.unwrap_or(SessionState::Closed)), wait)?;
        let client = Client { inner, io, flusher };
        if chroot_checked {
            check_chroot(client.exists("/"), shared_core(&client.inner))?;
        }
        Ok(client)
    }

    #[cfg(feature = "tls")]
    fn enable_tls(
        &mut self,
        options: zk_client::tls::TlsOptions,
    ) -> Result<(), zk_client::tls::TlsError> {
        self.connector.tls = Some(zk_client::tls::TlsSetup::new(options)?);
        Ok(())
    }
}

/// A call made with [`Client::submit`]: its request is queued in call order and goes out with
/// the client's next write (see [`Client::submit`]); [`Submitted::wait`] blocks for its typed
/// result.
#[must_use = "the request is sent either way, but its result is lost unless waited for"]
pub struct Submitted<O: Operation> {
    /// `None` once waited for.
    pending: Option<Pending<O>>,
    io: Arc<Io>,
}

impl<O: Operation> std::fmt::Debug for Submitted<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitted")
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl<O: Operation> Submitted<O> {
    /// Blocks until the reply arrives, or at most `timeout`. A timeout returns
    /// [`CommonError::RequestTimeout`](zk_client::CommonError::RequestTimeout): the request stays in flight and its outcome is unknown.
    pub fn wait(mut self, timeout: Option<Duration>) -> Result<O::Output, O::Error> {
        let Some(mut pending) = self.pending.take() else {
            unreachable!("a call is waited for once: `wait` takes it by value");
        };
        if pending.is_ready() {
            return pending.wait(None);
        }
        self.io.flush();
        match self.io.wait_for(&mut pending, timeout) {
            Some(result) => result,
            None => Err(give_up(pending)),
        }
    }
}

impl<O: Operation> Submitted<O> {
    /// Whether the result is here: [`Submitted::wait`] would return at once.
    pub fn is_ready(&self) -> bool {
        self.pending.as_ref().is_none_or(Pending::is_ready)
    }
}

impl<O: Operation> Drop for Submitted<O> {
    fn drop(&mut self) {
        if self.pending.is_some() {
            // Never waited for: nothing else may be about to write its request.
            self.io.flush();
        }
    }
}

impl Client {
    /// Connects to `connect_string` (`h1:p1,h2:p2/chroot`) with default options and waits until
    /// a server accepts the session.
    pub fn connect(connect_string: &str) -> Result<Client, ConnectError> {
        ClientBuilder::new(connect_string, Blocking).connect()
    }

    /// Starts building a client for `connect_string`.
    pub fn builder(connect_string: &str) -> ClientBuilder {
        ClientBuilder::new(connect_string, Blocking)
    }

    /// A handle on the same session whose calls have `timeout` as their deadline (`None`: no
    /// deadline), whatever the builder said (its default: none). A call past it fails with
    /// [`CommonError::RequestTimeout`](zk_client::CommonError::RequestTimeout): a request already sent may still be applied; one still
    /// waiting for a connection is never sent. The connection is kept, unless that reply has not
    /// come a read timeout after the deadline (the server is then taken for stuck).
    pub fn with_call_timeout(&self, timeout: Option<Duration>) -> Client {
        Client {
            inner: self.inner.with_call_timeout(timeout),
            ..self.clone()
        }
    }

    /// The session's shared core (for the workspace's own tests).
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn shared_core(&self) -> &Arc<zk_client::adapter::Shared> {
        shared_core(&self.inner)
    }

    /// Sends what the call just submitted, then blocks for its result.
    fn wait<T, E>(&self, call: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        // The session ends the call at its deadline (and drops it if unsent); waiting a little
        // longer here only guards against an I/O thread that stopped firing timers.
        let backstop = self
            .inner
            .call_timeout()
            .map(|t| t.saturating_add(CALL_TIMEOUT_BACKSTOP));
        self.io.call(call, backstop)
    }

    /// Submits `op` without waiting, and returns the call to wait for later: the blocking
    /// way to keep many requests in flight from one thread.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use zk_blocking::{ops, Client};
    ///
    /// let client = Client::connect("127.0.0.1:2181")?;
    /// let calls: Vec<_> = ["/a", "/b", "/c"]
    ///     .into_iter()
    ///     .map(|path| client.submit(ops::GetData::new(path)))
    ///     .collect();
    /// for call in calls {
    ///     let (data, stat) = call.wait(None)?;
    ///     println!("{} bytes at version {}", data.len(), stat.version);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// Requests go on the wire in call order. Like a buffered writer, `submit` leaves its
    /// request for the next write, so that requests submitted one after another share one. The
    /// request is written when a call of this client is about to block ([`Submitted::wait`] on
    /// a reply not yet here, or any other method of `Client`), when a `Submitted` is dropped,
    /// on [`Client::flush`], or else on the I/O thread's next turn: when data arrives, and
    /// within about a second at the latest. Waiting on a watch or on the state observer does
    /// not write: call [`Client::flush`] first when such a wait depends on submitted requests.
    /// Dropping a `Submitted` discards its result, never its request.
    ///
    /// Operations that set a watch have their own methods (`get_data_and_watch`, `add_watch`,
    /// ...): submitted here, an operation's watch flag sets a server watch whose events nobody
    /// receives.
    pub fn submit<O: Operation>(&self, op: O) -> Submitted<O> {
        Submitted {
            pending: Some(self.inner.call(op)),
            io: self.io.clone(),
        }
    }

    /// Writes every request submitted so far (see [`Client::submit`]).
    pub fn flush(&self) {
        self.io.flush();
    }

    zk_client::for_each_operation!(blocking_operations, blocking_examples);

    /// Closes the session and waits until the server confirms (bounded by the close timeout).
    /// Returns the final state: `Closed`, or the terminal state the session had already met.
    pub fn close(&self) -> SessionState {
        let closing = self.inner.close();
        self.io.flush();
        self.io
            .wait_for(closing, None)
            .unwrap_or(SessionState::Closed)
    }

    /// The session's state now.
    pub fn state(&self) -> SessionState {
        self.inner.state()
    }

    /// Why the session ended, once it has: which expiry (declared by the server, another
    /// session granted, or client-side), which refused credential, or a close.
    pub fn end_reason(&self) -> Option<zk_client::SessionEnd> {
        self.inner.end_reason()
    }

    /// Why the session's most recent connection ended (a read timeout, the server closing
    /// it, a refused connection, a protocol violation...), if one has: what explains a
    /// `Disconnected` state. Kept until the next connection ends.
    pub fn last_disconnect(&self) -> Option<zk_client::DisconnectReason> {
        self.inner.last_disconnect()
    }

    /// What the client has done since it was created: connection attempts, connections,
    /// disconnects by reason, requests, replies, watch notifications, bytes, calls in flight,
    /// and watch events dropped by full streams.
    pub fn stats(&self) -> zk_client::Stats {
        self.inner.stats()
    }

    /// An observer of the session's state and its changes.
    pub fn state_watcher(&self) -> StateWatcher {
        self.inner.state_watcher()
    }

    /// The server the session is connected (or connecting) to.
    pub fn current_host(&self) -> Option<zk_client::HostAddr> {
        self.inner.current_host()
    }

    /// The session's id (0 before the first handshake).
    pub fn session_id(&self) -> SessionId {
        self.inner.session_id()
    }

    /// The session's password, to resume it elsewhere with [`ClientBuilder::resume`].
    pub fn session_password(&self) -> Bytes {
        self.inner.session_password()
    }

    /// The negotiated session timeout, once connected.
    pub fn negotiated_timeout(&self) -> Option<Duration> {
        self.inner.negotiated_timeout()
    }

    /// The servers the client connects to, in the order it tries them.
    pub fn hosts(&self) -> Vec<zk_client::HostAddr> {
        self.inner.hosts()
    }

    /// Replaces the servers the client connects to (see the async client's `update_hosts`):
    /// returns whether the session moves to another server.
    pub fn update_hosts(
        &self,
        connect_string: &str,
    ) -> Result<bool, zk_client::session::ConfigError> {
        self.inner.update_hosts(connect_string)
    }

    /// How long ago a server last confirmed the session (a handshake, a reply, a ping's
    /// answer, a watch event). Past the negotiated timeout the servers may have expired it,
    /// even if the client has not noticed yet (after a pause of the process, say).
    pub fn unconfirmed_for(&self) -> Duration {
        self.inner.unconfirmed_for()
    }
}

/// Generates the blocking client's operation methods from `zk_client::for_each_operation`:
/// each makes the async handle's call and blocks until its result.
macro_rules! blocking_operations {
    ($kind:ident [$($doc:tt)*] $name:ident [$($arg:ident: $ty:ty),*] $out:ty, $err:ty, $op:ty, $make:expr) => {
        $($doc)*
        pub fn $name(&self, $($arg: $ty),*) -> Result<$out, $err> {
            self.wait(self.inner.$name($($arg),*))
        }
    };
}
use blocking_operations;
