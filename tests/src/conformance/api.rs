//! [`Api`]: the client API as async methods, implemented once for the async client handle
//! (`zk_client::Client<R>`, which is `zk_tokio::Client` and `zk_async_std::Client`) and once
//! for `zk_blocking::Client`.
//!
//! Every method mirrors the client method of the same name, with the same argument, result and
//! error types, so a scenario written against `Api` reads like user code: the operations are
//! generated from the clients' own list (`zk_client::for_each_operation`), the rest are the
//! handles' other methods and a few test hooks.
//!
//! Submission timing, which scenarios about ordering rely on: the async handle submits a
//! request when the method is *called*; the blocking client performs the whole call when the
//! method is called and returns a future that is already complete. Either way a request is on
//! its way, in call order, once the method has returned.

use std::future::{ready, Future};
use std::time::Duration;

use bytes::Bytes;
use zk_client::ops::{self};
use zk_client::proto::{AddWatchMode, CreateMode, SessionId};
use zk_client::{HostAddr, SessionState, StateWatcher};

/// The client API every adapter offers, as futures. See the module documentation for when
/// requests are submitted.
pub trait Api: Clone + std::fmt::Debug + Send + Sync + 'static {
    zk_client::for_each_operation!(api_trait_operations);

    /// Submits a create and stops waiting for its result at once: the async handle drops the
    /// call's future, the blocking client drops the `Submitted` call (which writes its request,
    /// as a dropped future's request is written). The request must still be applied, and the
    /// session must not notice. (A zero call timeout is no way to abandon a call: a request
    /// still unwritten at its deadline is dropped unsent, by design.)
    fn create_abandoned(&self, path: &str, data: impl Into<Bytes>, mode: CreateMode);

    /// Submits an `add_watch` and stops waiting for it at once, like
    /// [`Api::create_abandoned`]. The watch's handle is never given out, so the session must
    /// not keep the server watch.
    fn add_watch_abandoned(&self, path: &str, mode: AddWatchMode);

    /// A handle on the same session whose calls use `timeout` as their deadline instead of the
    /// one the client was built with (`None`: no deadline).
    fn with_call_timeout(&self, timeout: Option<Duration>) -> Self;

    /// `close`: the final state.
    fn close(&self) -> impl Future<Output = SessionState> + Send;

    /// The session's state now.
    fn state(&self) -> SessionState;

    /// An observer of the session's state.
    fn state_watcher(&self) -> StateWatcher;

    /// The server the session is connected (or connecting) to.
    fn current_host(&self) -> Option<HostAddr>;

    /// The session's id.
    fn session_id(&self) -> SessionId;

    /// The session's password.
    fn session_password(&self) -> Bytes;

    /// The negotiated session timeout.
    fn negotiated_timeout(&self) -> Option<Duration>;

    /// `end_reason`.
    fn end_reason(&self) -> Option<zk_client::SessionEnd>;

    /// `last_disconnect`.
    fn last_disconnect(&self) -> Option<zk_client::DisconnectReason>;

    /// `update_hosts`: whether the session moves.
    fn update_hosts(&self, connect_string: &str) -> Result<bool, zk_client::session::ConfigError>;

    /// `hosts`.
    fn hosts(&self) -> Vec<zk_client::HostAddr>;

    /// `stats`.
    fn stats(&self) -> zk_client::Stats;

    /// Calls submitted and not completed, counted only when no request waits to be written
    /// to a ready connection (a test hook, read from the session: a blocking call spawned on a
    /// thread counts once it has submitted and written its request; while disconnected, calls
    /// waiting for a connection count).
    fn calls_outstanding(&self) -> usize;
}

impl<R: Send + Sync + 'static> Api for zk_client::Client<R> {
    fn with_call_timeout(&self, timeout: Option<Duration>) -> Self {
        zk_client::Client::with_call_timeout(self, timeout)
    }

    zk_client::for_each_operation!(async_api_operations);

    fn create_abandoned(&self, path: &str, data: impl Into<Bytes>, mode: CreateMode) {
        drop(zk_client::Client::create(self, path, data, mode));
    }

    fn add_watch_abandoned(&self, path: &str, mode: AddWatchMode) {
        drop(zk_client::Client::add_watch(self, path, mode));
    }

    fn close(&self) -> impl Future<Output = SessionState> + Send {
        zk_client::Client::close(self)
    }

    fn state(&self) -> SessionState {
        zk_client::Client::state(self)
    }

    fn state_watcher(&self) -> StateWatcher {
        zk_client::Client::state_watcher(self)
    }

    fn current_host(&self) -> Option<HostAddr> {
        zk_client::Client::current_host(self)
    }

    fn session_id(&self) -> SessionId {
        zk_client::Client::session_id(self)
    }

    fn session_password(&self) -> Bytes {
        zk_client::Client::session_password(self)
    }

    fn negotiated_timeout(&self) -> Option<Duration> {
        zk_client::Client::negotiated_timeout(self)
    }

    fn calls_outstanding(&self) -> usize {
        calls_outstanding(zk_client::adapter::shared_core(self))
    }

    fn end_reason(&self) -> Option<zk_client::SessionEnd> {
        zk_client::Client::end_reason(self)
    }

    fn last_disconnect(&self) -> Option<zk_client::DisconnectReason> {
        zk_client::Client::last_disconnect(self)
    }

    fn update_hosts(&self, connect_string: &str) -> Result<bool, zk_client::session::ConfigError> {
        zk_client::Client::update_hosts(self, connect_string)
    }

    fn hosts(&self) -> Vec<zk_client::HostAddr> {
        zk_client::Client::hosts(self)
    }

    fn stats(&self) -> zk_client::Stats {
        zk_client::Client::stats(self)
    }
}

impl Api for zk_blocking::Client {
    fn with_call_timeout(&self, timeout: Option<Duration>) -> Self {
        zk_blocking::Client::with_call_timeout(self, timeout)
    }

    zk_client::for_each_operation!(blocking_api_operations);

    fn create_abandoned(&self, path: &str, data: impl Into<Bytes>, mode: CreateMode) {
        drop(zk_blocking::Client::submit(
            self,
            ops::Create::new(path, data).mode(mode),
        ));
    }

    fn add_watch_abandoned(&self, path: &str, mode: AddWatchMode) {
        let impatient = self.with_call_timeout(Some(Duration::ZERO));
        // (A reply faster than the first poll would be fine too: the stream is dropped here.)
        let outcome = zk_blocking::Client::add_watch(&impatient, path, mode);
        assert!(
            matches!(
                outcome.as_ref().map_err(ops::OpError::kind),
                Ok(_) | Err(ops::AddWatchError::Common(zk_client::CommonError::RequestTimeout))
            ),
            "a blocking add_watch with a zero call timeout must report RequestTimeout, got {outcome:?}"
        );
    }

    fn close(&self) -> impl Future<Output = SessionState> + Send {
        ready(zk_blocking::Client::close(self))
    }

    fn state(&self) -> SessionState {
        zk_blocking::Client::state(self)
    }

    fn state_watcher(&self) -> StateWatcher {
        zk_blocking::Client::state_watcher(self)
    }

    fn current_host(&self) -> Option<HostAddr> {
        zk_blocking::Client::current_host(self)
    }

    fn session_id(&self) -> SessionId {
        zk_blocking::Client::session_id(self)
    }

    fn session_password(&self) -> Bytes {
        zk_blocking::Client::session_password(self)
    }

    fn negotiated_timeout(&self) -> Option<Duration> {
        zk_blocking::Client::negotiated_timeout(self)
    }

    fn calls_outstanding(&self) -> usize {
        calls_outstanding(self.shared_core())
    }

    fn end_reason(&self) -> Option<zk_client::SessionEnd> {
        zk_blocking::Client::end_reason(self)
    }

    fn last_disconnect(&self) -> Option<zk_client::DisconnectReason> {
        zk_blocking::Client::last_disconnect(self)
    }

    fn update_hosts(&self, connect_string: &str) -> Result<bool, zk_client::session::ConfigError> {
        zk_blocking::Client::update_hosts(self, connect_string)
    }

    fn hosts(&self) -> Vec<zk_client::HostAddr> {
        zk_blocking::Client::hosts(self)
    }

    fn stats(&self) -> zk_client::Stats {
        zk_blocking::Client::stats(self)
    }
}

/// [`Api::calls_outstanding`], read from the session of either client.
fn calls_outstanding(shared: &zk_client::adapter::Shared) -> usize {
    shared.read_session(|s| if s.has_transmit() { 0 } else { s.in_flight() })
}

/// The operation methods of [`Api`], from `zk_client::for_each_operation`: the client's
/// operations with their documentation, each returning a future of the client's result.
macro_rules! api_trait_operations {
    ($kind:ident [$($doc:tt)*] $name:ident [$($arg:ident: $ty:ty),*] $out:ty, $err:ty, $op:ty, $make:expr) => {
        $($doc)*
        fn $name(&self, $($arg: $ty),*) -> impl Future<Output = Result<$out, $err>> + Send;
    };
}
use api_trait_operations;

/// [`Api`]'s operations for the async handle: its own methods, which submit when called.
macro_rules! async_api_operations {
    ($kind:ident [$($doc:tt)*] $name:ident [$($arg:ident: $ty:ty),*] $out:ty, $err:ty, $op:ty, $make:expr) => {
        fn $name(&self, $($arg: $ty),*) -> impl Future<Output = Result<$out, $err>> + Send {
            zk_client::Client::$name(self, $($arg),*)
        }
    };
}
use async_api_operations;

/// [`Api`]'s operations for the blocking client: the whole call when the method is called, as
/// an already completed future.
macro_rules! blocking_api_operations {
    ($kind:ident [$($doc:tt)*] $name:ident [$($arg:ident: $ty:ty),*] $out:ty, $err:ty, $op:ty, $make:expr) => {
        fn $name(&self, $($arg: $ty),*) -> impl Future<Output = Result<$out, $err>> + Send {
            ready(zk_blocking::Client::$name(self, $($arg),*))
        }
    };
}
use blocking_api_operations;
